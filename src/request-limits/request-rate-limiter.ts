import { Inject, Injectable, Logger } from '@nestjs/common';
import { MicroBatcher } from '../common/micro-batcher';
import { sha256Hex } from '../common/sha256';
import { AppConfig } from '../config/app-config';
import { APP_CONFIG } from '../config/config.module';
import { RedisService } from '../redis/redis.service';

/** Requests are counted in fixed windows of this length, the same for every process (they share the clock's windows). */
export const RATE_WINDOW_MS = 10_000;

/** What a request's count says: go on, or wait this many seconds (the rest of the window) and try again. */
export type RateVerdict = { allowed: true } | { allowed: false; limit: 'key' | 'ip'; retryAfterSeconds: number };

/** A request to count: its client address and, when it has one, its bearer token. */
export interface RateSubject {
  ip: string;
  token: string | undefined;
}

/** The window a time falls in, and the whole seconds left of it (at least 1: a Retry-After of 0 would invite an instant retry). */
export function rateWindow(now: number): { index: number; retryAfterSeconds: number } {
  const index = Math.floor(now / RATE_WINDOW_MS);
  return { index, retryAfterSeconds: Math.max(1, Math.ceil(((index + 1) * RATE_WINDOW_MS - now) / 1000)) };
}

/**
 * Per-key and per-address request limits, counted in Redis so every API process shares them. The
 * counts of concurrent requests go to Redis in one pipeline. A key is its token's hash: the token
 * itself never reaches Redis, and a wrong token is limited as a right one is. When Redis cannot
 * count, requests go on: the limit protects the service, and refusing work Offload could take
 * (PostgreSQL is the truth; the queue is filled again) would make a Redis outage an API outage.
 */
@Injectable()
export class RequestRateLimiter {
  private readonly logger = new Logger(RequestRateLimiter.name);
  private readonly counts = new MicroBatcher<string, number>({ maxBatchSize: 1000, maxInFlight: 4, execute: (keys) => this.increment(keys) });
  private warnedAt = 0;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly redis: RedisService,
  ) {}

  get enabled(): boolean {
    return this.config.rateLimits.perKey > 0 || this.config.rateLimits.perIp > 0;
  }

  async check(subject: RateSubject, now = Date.now()): Promise<RateVerdict> {
    const { perKey, perIp } = this.config.rateLimits;
    const window = rateWindow(now);
    const byKey = perKey > 0 && subject.token !== undefined;
    try {
      const [ipCount, keyCount] = await Promise.all([
        perIp > 0 ? this.counts.add(this.redis.key('rate', 'ip', subject.ip, String(window.index))) : 0,
        byKey ? this.counts.add(this.redis.key('rate', 'key', sha256Hex(subject.token!).slice(0, 32), String(window.index))) : 0,
      ]);
      if (perIp > 0 && ipCount > perIp) return { allowed: false, limit: 'ip', retryAfterSeconds: window.retryAfterSeconds };
      if (byKey && keyCount > perKey) return { allowed: false, limit: 'key', retryAfterSeconds: window.retryAfterSeconds };
    } catch (error) {
      if (now - this.warnedAt >= RATE_WINDOW_MS) {
        this.warnedAt = now;
        this.logger.warn(`Request limits not counted (requests go on unlimited): ${(error as Error).message}`);
      }
    }
    return { allowed: true };
  }

  /** One round trip for the batch; each counter expires with its window. */
  private async increment(keys: string[]): Promise<number[]> {
    const replies = await this.redis.pipelinePerKey(keys, (pipeline, key) => pipeline.incr(key).pexpire(key, RATE_WINDOW_MS));
    return replies.map(([[error, count] = [new Error('no reply'), undefined]]) => {
      if (error) throw error;
      return count as number;
    });
  }
}
