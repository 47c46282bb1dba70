import { Controller, Get, ServiceUnavailableException } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { HealthCheckService, HealthIndicatorService, TypeOrmHealthIndicator } from '@nestjs/terminus';
import { ApiError } from '../common/api-error';
import { RedisService } from '../redis/redis.service';
import { POLICY_FIX, RedisEvictionPolicy, REQUIRED_POLICY } from './redis-eviction-policy';
import { SchemaVersion } from './schema-version';

const PROBE_TIMEOUT_MS = 1_500;

async function withinProbeTime<T>(work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([work, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('timed out')), PROBE_TIMEOUT_MS)))]);
  } finally {
    clearTimeout(timer);
  }
}

@ApiTags('health')
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly postgres: TypeOrmHealthIndicator,
    private readonly indicators: HealthIndicatorService,
    private readonly redis: RedisService,
    private readonly schema: SchemaVersion,
    private readonly evictionPolicy: RedisEvictionPolicy,
  ) {}

  @Get('live')
  @ApiOperation({ summary: 'The process is up' })
  live() {
    return { status: 'ok' };
  }

  @Get('ready')
  @ApiOperation({
    summary:
      'PostgreSQL and Redis answer, the database has every migration this code ships, and Redis does not evict keys ' +
      '(503 while any of these does not hold; details name what)',
  })
  async ready() {
    try {
      return await this.health.check([
        () => this.postgres.pingCheck('postgres', { timeout: PROBE_TIMEOUT_MS }),
        () => this.pingRedis(),
        () => this.checkSchema(),
        () => this.checkEvictionPolicy(),
      ]);
    } catch (error) {
      if (error instanceof ServiceUnavailableException) {
        throw new ApiError(503, 'unavailable', 'Not ready: a backing service does not answer', error.getResponse());
      }
      throw error;
    }
  }

  private async checkSchema() {
    const indicator = this.indicators.check('schema');
    try {
      const pending = await withinProbeTime(this.schema.pending());
      if (pending.length === 0) return indicator.up({ version: this.schema.expected });
      return indicator.down({ message: 'The database lacks migrations this code ships: run npm run migrate', expected: this.schema.expected, pending });
    } catch (error) {
      return indicator.down({ message: `The applied migrations cannot be read: ${(error as Error).message}` });
    }
  }

  private async checkEvictionPolicy() {
    const indicator = this.indicators.check('redisEvictionPolicy');
    try {
      const { policy, ok } = await withinProbeTime(this.evictionPolicy.check());
      if (ok) return indicator.up({ policy: policy ?? 'unknown (Redis refuses CONFIG GET and INFO)' });
      if (this.evictionPolicy.allowed) return indicator.up({ policy, allowedBy: 'REDIS_EVICTION_ALLOWED' });
      return indicator.down({ message: `Redis may evict Offload's keys: set ${POLICY_FIX}`, policy, required: REQUIRED_POLICY });
    } catch (error) {
      return indicator.down({ message: `The maxmemory-policy cannot be read: ${(error as Error).message}` });
    }
  }

  private async pingRedis() {
    const indicator = this.indicators.check('redis');
    try {
      await withinProbeTime(this.redis.client.ping());
      return indicator.up();
    } catch (error) {
      return indicator.down({ message: (error as Error).message });
    }
  }
}
