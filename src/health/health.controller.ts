import { Controller, Get, ServiceUnavailableException } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { HealthCheckService, HealthIndicatorService, TypeOrmHealthIndicator } from '@nestjs/terminus';
import { ApiError } from '../common/api-error';
import { CredentialCheck } from '../portals/credential-check';
import { RedisService } from '../redis/redis.service';

const PROBE_TIMEOUT_MS = 1_500;

@ApiTags('health')
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly postgres: TypeOrmHealthIndicator,
    private readonly indicators: HealthIndicatorService,
    private readonly redis: RedisService,
    private readonly credentials: CredentialCheck,
  ) {}

  @Get('live')
  @ApiOperation({ summary: 'The process is up' })
  live() {
    return { status: 'ok' };
  }

  @Get('ready')
  @ApiOperation({ summary: 'PostgreSQL and Redis answer (503 while either does not)' })
  async ready() {
    try {
      return await this.health.check([
        () => this.postgres.pingCheck('postgres', { timeout: PROBE_TIMEOUT_MS }),
        () => this.pingRedis(),
        () => this.checkCredentials(),
      ]);
    } catch (error) {
      if (error instanceof ServiceUnavailableException) {
        throw new ApiError(503, 'unavailable', 'Not ready: a backing service does not answer', error.getResponse());
      }
      throw error;
    }
  }

  /** Stored credentials decrypt with the configured keys (checked once PostgreSQL answers; see CredentialCheck). */
  private async checkCredentials() {
    const indicator = this.indicators.check('credentials');
    try {
      const problem = await this.credentials.problem();
      return problem === undefined ? indicator.up() : indicator.down({ message: problem });
    } catch (error) {
      return indicator.down({ message: `not checked yet: ${(error as Error).message}` });
    }
  }

  private async pingRedis() {
    const indicator = this.indicators.check('redis');
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        this.redis.client.ping(),
        new Promise((_, reject) => (timer = setTimeout(() => reject(new Error('timed out')), PROBE_TIMEOUT_MS))),
      ]);
      return indicator.up();
    } catch (error) {
      return indicator.down({ message: (error as Error).message });
    } finally {
      clearTimeout(timer);
    }
  }
}
