import { Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import type Redis from 'ioredis';
import { Gauge } from 'prom-client';
import { AppConfig } from '../config/app-config';
import { APP_CONFIG } from '../config/config.module';
import { MetricsService } from '../metrics/metrics.service';
import { RedisService } from '../redis/redis.service';

/** The only policy under which Redis never drops a key of its own accord: queued jobs, locks, rate counts. */
export const REQUIRED_POLICY = 'noeviction';
export const POLICY_FIX = `maxmemory-policy ${REQUIRED_POLICY}`;

/** What Redis said of its maxmemory-policy (undefined when it refuses both ways of asking), and whether that lets Offload be ready. */
export interface EvictionPolicy {
  policy: string | undefined;
  /** noeviction, or a policy Redis would not tell. */
  ok: boolean;
}

/** The policy in the text of INFO (its memory section): a `maxmemory_policy:<name>` line. */
export function policyFromInfo(info: string): string | undefined {
  return /^maxmemory_policy:(\S+)/m.exec(info)?.[1];
}

let bullMqWarningQuiet = false;

/**
 * BullMQ prints "IMPORTANT! Eviction policy is <policy>. It should be "noeviction"" on the console
 * for every connection it opens: unstructured, and repeated by every queue and worker. The
 * readiness check below reports the same thing once, as a structured error with the fix, so that
 * line alone is dropped; every other console warning goes through.
 */
export function quietBullMqEvictionWarning(): void {
  if (bullMqWarningQuiet) return;
  bullMqWarningQuiet = true;
  const warn = console.warn.bind(console);
  console.warn = (...args: unknown[]) => {
    if (typeof args[0] === 'string' && args[0].startsWith('IMPORTANT! Eviction policy is ')) return;
    warn(...args);
  };
}

/**
 * Redis must not evict: an evicted BullMQ key loses a queued job or a lock (PostgreSQL and the
 * reconciler bring the job back, late), an evicted rate count lets requests through. The policy is
 * read at start and by every readiness probe; a wrong one is logged as an error naming the fix,
 * shown by offload_redis_eviction_policy_ok (0), and makes the process not ready, unless
 * REDIS_EVICTION_ALLOWED says that is known and accepted.
 */
@Injectable()
export class RedisEvictionPolicy implements OnApplicationBootstrap {
  private readonly logger = new Logger(RedisEvictionPolicy.name);
  private readonly gauge: Gauge;
  /** The policy last read ('' when Redis would not say; null before the first read): a wrong one is logged when found, not at every probe. */
  private lastRead: string | null = null;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly redis: RedisService,
    metrics: MetricsService,
  ) {
    this.gauge = new Gauge({
      name: 'offload_redis_eviction_policy_ok',
      help: `1 when Redis' maxmemory-policy is ${REQUIRED_POLICY}, 0 when Redis may evict Offload's keys`,
      registers: [metrics.registry],
    });
  }

  get allowed(): boolean {
    return this.config.redisEvictionAllowed;
  }

  onApplicationBootstrap(): void {
    this.check().catch((error: Error) => this.logger.warn(`Redis' maxmemory-policy not read at start: ${error.message}`));
  }

  /** Reads the policy; throws only when Redis cannot be reached. */
  async check(): Promise<EvictionPolicy> {
    const policy = await this.read();
    const changed = (policy ?? '') !== this.lastRead;
    this.lastRead = policy ?? '';
    if (policy === undefined) {
      if (changed) this.logger.warn(`Redis refuses CONFIG GET and INFO: its maxmemory-policy cannot be checked`);
      return { policy, ok: true };
    }
    const ok = policy === REQUIRED_POLICY;
    this.gauge.set(ok ? 1 : 0);
    if (!ok && changed) {
      this.logger.error(
        { event: 'redis_eviction_policy', policy, required: REQUIRED_POLICY, fix: POLICY_FIX, readiness: this.allowed ? 'allowed' : 'not ready' },
        `Redis may evict Offload's keys (maxmemory-policy ${policy}): set ${POLICY_FIX} in Redis' configuration` +
          (this.allowed ? '' : ', or REDIS_EVICTION_ALLOWED=true to be ready regardless'),
      );
    }
    return { policy, ok };
  }

  /**
   * Every master's policy (a cluster's masters each hold part of the keys): the first that may
   * evict, else noeviction when every master said so, else undefined (some would not say).
   */
  private async read(): Promise<string | undefined> {
    const policies = await Promise.all((await this.redis.masters()).map((master) => this.readFrom(master)));
    return policies.find((policy) => policy !== undefined && policy !== REQUIRED_POLICY) ?? (policies.includes(undefined) ? undefined : REQUIRED_POLICY);
  }

  /** CONFIG GET first; managed Redis services often disable CONFIG, and INFO says the same. */
  private async readFrom(client: Redis): Promise<string | undefined> {
    try {
      const [, policy] = (await client.config('GET', 'maxmemory-policy')) as string[];
      if (policy) return policy;
    } catch (error) {
      if (!isRefusal(error)) throw error;
    }
    try {
      return policyFromInfo(await client.info('memory'));
    } catch (error) {
      if (!isRefusal(error)) throw error;
      return undefined;
    }
  }
}

/** Redis answered, refusing the command (unknown or renamed, or not permitted): not a connection failure. */
function isRefusal(error: unknown): boolean {
  return (error as Error)?.name === 'ReplyError';
}
