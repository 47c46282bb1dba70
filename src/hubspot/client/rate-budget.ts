import { createHash, randomBytes } from 'node:crypto';
import type { RedisClient } from '../../redis/redis-connection';

/**
 * One HubSpot API budget per portal, shared in Redis by every Offload process. Every HubSpot call
 * first acquires from it.
 *
 * Rolling window: HubSpot's per-10-second limit is rolling, so grants are kept as a sliding-window
 * log (a sorted set of grant times, trimmed to the window). A grant is made only when the log holds
 * fewer than the limit, which guarantees at most N grants in *any* window-long span. A GCRA or token
 * bucket with a burst of N would not: after a full burst it refills continuously and lets nearly 2N
 * through in one rolling window, and with no burst it spaces calls out and wastes the budget. The log
 * costs at most N small entries per portal (N <= 250), and tells a denied caller exactly when the
 * slot it needs frees up, so waiters sleep that long instead of polling.
 *
 * Clock: the script reads Redis's own clock (TIME), so processes with skewed clocks still share one
 * timeline. Only the daily boundary uses this process's clock (a few milliseconds of skew at midnight
 * are harmless).
 *
 * Daily limit: counted per UTC day (see {@link utcDay}). When the day is spent, acquire rejects with
 * {@link DailyBudgetExhaustedError} at once: waiting for tomorrow is the caller's decision (fail or
 * defer).
 *
 * Priorities: each window keeps a share (`liveReserve`) for live workflow calls. While live demand
 * exists for a portal (a live grant within the last window, or a live caller waiting), a bulk call is
 * granted only while the window holds less than `(1 - liveReserve)` of the limit, counting every
 * grant in it; live calls may use all of it. So live calls within the reserve never wait; a live
 * caller arriving while bulk saturates the window takes the next slots that free up, within one
 * window, ahead of bulk; and bulk is guaranteed nothing: while live demand alone fills the budget,
 * backfills (the work that can be deferred) wait. With no live demand for a window, bulk may use the
 * whole budget. Live demand is a timestamp in Redis, so every process honours it.
 *
 * HubSpot's own 429s (another integration spent the budget): {@link RateBudget.pause} stops every
 * process until the given time; {@link RateBudget.recordRateLimited} derives it from the answer.
 *
 * Safety margin: only `safetyMargin` (95% by default) of the stated limits is used, which absorbs the
 * network jitter between granting a slot here and the request reaching HubSpot.
 *
 * Within one process, callers for the same portal and priority wait in a local FIFO line and only
 * the head of each line talks to Redis, so a thousand waiters cost one attempt per freed slot.
 */

export type RatePriority = 'live' | 'bulk';

/** A portal's use of its budget, as operators read it. */
export interface BudgetUsage {
  limits: PortalRateLimits;
  effective: ReturnType<typeof effectiveLimits>;
  window: { ms: number; used: number };
  day: { key: string; used: number; exhausted: boolean; resetsAt: Date };
  /** Every process waits until then: HubSpot answered 429. */
  pausedUntil?: Date;
}

export interface PortalRateLimits {
  /** HubSpot's stated limit per rolling window (10 s) for this portal's app. */
  requestsPer10s: number;
  /** HubSpot's stated daily limit for the account; absent when none applies (public OAuth apps). */
  daily?: number;
}

export interface RateBudgetOptions {
  /** Namespace of every key, e.g. `redisService.key('hubspot', 'budget')`. */
  keyPrefix: string;
  /** The stated limits of a portal (HubSpot's portal id). */
  limits: (portalId: string) => PortalRateLimits | Promise<PortalRateLimits>;
  /** The rolling window the per-10-second limit applies to; only tests shorten it. */
  windowMs?: number;
  /** The share of HubSpot's stated limits Offload lets itself use. */
  safetyMargin?: number;
  /** The share of each window that bulk calls may not take while live calls are about. */
  liveReserve?: number;
  /** This process's clock, for the daily boundary only. */
  now?: () => number;
}

export interface AcquireOptions {
  priority: RatePriority;
  /** How many requests to reserve at once. */
  cost?: number;
  signal?: AbortSignal;
}

export interface Grant {
  portalId: string;
  /** The day the grant counts against. */
  day: string;
  /** The grant's entries in the window, one per request reserved. */
  slots: string[];
  /** When the slot was reserved, on Redis's clock (ms since the epoch). */
  grantedAt: number;
  waitedMs: number;
  /** Script runs this grant took, the granting one included. */
  attempts: number;
}

export class DailyBudgetExhaustedError extends Error {
  override readonly name = 'DailyBudgetExhaustedError';

  constructor(
    readonly portalId: string,
    readonly resetsAt: Date,
  ) {
    super(`HubSpot's daily API budget for portal ${portalId} is spent until ${resetsAt.toISOString()}`);
  }
}

/** Limits as this budget applies them: margins and reserve taken off. */
export interface EffectiveLimits {
  perWindow: number;
  bulkPerWindow: number;
  daily: number | undefined;
}

export function effectiveLimits(limits: PortalRateLimits, safetyMargin: number, liveReserve: number): EffectiveLimits {
  if (!Number.isInteger(limits.requestsPer10s) || limits.requestsPer10s < 1) {
    throw new RangeError(`requestsPer10s must be a positive integer (got ${limits.requestsPer10s})`);
  }
  if (limits.daily !== undefined && (!Number.isInteger(limits.daily) || limits.daily < 1)) {
    throw new RangeError(`the daily limit must be a positive integer (got ${limits.daily})`);
  }
  const perWindow = Math.max(1, Math.floor(limits.requestsPer10s * safetyMargin));
  return {
    perWindow,
    bulkPerWindow: Math.floor(perWindow * (1 - liveReserve)),
    daily: limits.daily === undefined ? undefined : Math.max(1, Math.floor(limits.daily * safetyMargin)),
  };
}

export interface BudgetDay {
  /** The calendar date, YYYY-MM-DD. */
  key: string;
  /** When that day ends, ms since the epoch. */
  resetsAt: number;
}

const DAY_MS = 86_400_000;

/**
 * The day `now` falls in, in UTC. HubSpot resets an account's daily limit at midnight in the
 * account's time zone, which Offload is never told, so every portal's day is the UTC day. Where the
 * two midnights differ, HubSpot's own daily count (observe) and its DAILY 429 (recordRateLimited)
 * still keep Offload from overspending; the cost is that a nearly spent budget may be held back for
 * the hours between the two midnights.
 */
export function utcDay(now: number): BudgetDay {
  const start = now - (now % DAY_MS);
  return { key: new Date(start).toISOString().slice(0, 10), resetsAt: start + DAY_MS };
}

/**
 * How long to stop after HubSpot answered 429, or `daily` when its daily limit is spent. Honours
 * Retry-After (seconds or an HTTP date), then X-HubSpot-RateLimit-Interval-Milliseconds.
 */
export function rateLimitPause(
  headers: Record<string, unknown>,
  body: unknown,
  fallbackMs: number,
  now = Date.now(),
): { daily: true } | { daily: false; ms: number } {
  const policy = policyName(body);
  if (policy === 'DAILY') return { daily: true };
  const retryAfter = headerValue(headers, 'retry-after');
  if (retryAfter !== undefined) {
    if (/^\d+$/.test(retryAfter)) return { daily: false, ms: Number(retryAfter) * 1000 };
    const date = Date.parse(retryAfter);
    if (!Number.isNaN(date)) return { daily: false, ms: Math.max(0, date - now) };
  }
  const interval = Number(headerValue(headers, 'x-hubspot-ratelimit-interval-milliseconds'));
  return { daily: false, ms: Number.isInteger(interval) && interval > 0 ? interval : fallbackMs };
}

function policyName(body: unknown): string | undefined {
  let parsed = body;
  if (typeof body === 'string') {
    try {
      parsed = JSON.parse(body);
    } catch {
      return undefined;
    }
  }
  const policy = (parsed as { policyName?: unknown } | null)?.policyName;
  return typeof policy === 'string' ? policy.toUpperCase() : undefined;
}

function headerValue(headers: Record<string, unknown>, name: string): string | undefined {
  const get = (headers as { get?: unknown }).get;
  const raw =
    typeof get === 'function'
      ? (get.call(headers, name) as unknown)
      : Object.entries(headers).find(([key]) => key.toLowerCase() === name)?.[1];
  const value = Array.isArray(raw) ? raw[0] : raw;
  return value === undefined || value === null ? undefined : String(value).trim();
}

// KEYS: 1 grant log, 2 day counter, 3 paused-until, 4 live-demand-until, 5 day-exhausted flag.
// ARGV: 1 limit, 2 bulk limit, 3 window ms, 4 cost, 5 priority, 6 daily limit (-1: none),
//       7 day counter ttl ms, 8 grant id.
// Answers {1, grantedAt} | {0, waitMs} | {-1, 0} (the day is spent).
const ACQUIRE = `
if redis.replicate_commands then redis.replicate_commands() end
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local limit = tonumber(ARGV[1])
local bulkLimit = tonumber(ARGV[2])
local window = tonumber(ARGV[3])
local cost = tonumber(ARGV[4])
local live = ARGV[5] == 'live'
local daily = tonumber(ARGV[6])

local function demandLiveUntil(untilMs)
  local current = tonumber(redis.call('GET', KEYS[4]) or '0')
  if untilMs > current then redis.call('SET', KEYS[4], untilMs, 'PX', untilMs - now) end
end

local pausedUntil = tonumber(redis.call('GET', KEYS[3]) or '0')
if pausedUntil > now then
  if live then demandLiveUntil(pausedUntil + window) end
  return {0, pausedUntil - now}
end
if redis.call('EXISTS', KEYS[5]) == 1 then return {-1, 0} end
if daily >= 0 and tonumber(redis.call('GET', KEYS[2]) or '0') + cost > daily then return {-1, 0} end

redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local count = redis.call('ZCARD', KEYS[1])
local liveUntil = tonumber(redis.call('GET', KEYS[4]) or '0')
local cap = limit
if not live and liveUntil > now then cap = bulkLimit end

if count + cost <= cap then
  for i = 1, cost do redis.call('ZADD', KEYS[1], now, ARGV[8] .. ':' .. i) end
  redis.call('PEXPIRE', KEYS[1], window)
  redis.call('INCRBY', KEYS[2], cost)
  redis.call('PEXPIRE', KEYS[2], ARGV[7])
  if live then demandLiveUntil(now + window) end
  return {1, now}
end

-- When enough of the oldest grants will have left the window for 'cost' more to fit under 'ceiling'.
local function freedUnder(ceiling)
  local excess = count + cost - ceiling
  if excess <= 0 then return 0 end
  if excess > count then return nil end
  local entry = redis.call('ZRANGE', KEYS[1], excess - 1, excess - 1, 'WITHSCORES')
  return tonumber(entry[2]) + window - now
end

local wait = freedUnder(cap)
if cap < limit then
  local lifted = math.max(liveUntil - now, freedUnder(limit) or 0)
  if wait == nil or lifted < wait then wait = lifted end
end
if wait == nil then wait = window elseif wait < 1 then wait = 1 end
if live then demandLiveUntil(now + wait + window) end
return {0, wait}
`;

// KEYS: 1 paused-until. ARGV: 1 pause ms. Never shortens a longer pause; answers the pause's end.
const PAUSE = `
if redis.replicate_commands then redis.replicate_commands() end
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local untilMs = now + tonumber(ARGV[1])
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if untilMs <= current then return current end
redis.call('SET', KEYS[1], untilMs, 'PX', ARGV[1])
return untilMs
`;

// KEYS: 1 day counter, 2 day-exhausted flag. ARGV: 1 used (by everyone), 2 remaining, 3 ttl ms.
const OBSERVE = `
local used = tonumber(ARGV[1])
if used > tonumber(redis.call('GET', KEYS[1]) or '0') then redis.call('SET', KEYS[1], used, 'PX', ARGV[3]) end
if tonumber(ARGV[2]) <= 0 then redis.call('SET', KEYS[2], 1, 'PX', ARGV[3]) end
return 0
`;

// KEYS: 1 grant log. ARGV: 1 window ms, 2.. the grant's entries. Restamps entries still in the window.
const SETTLE = `
if redis.replicate_commands then redis.replicate_commands() end
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
for i = 2, #ARGV do redis.call('ZADD', KEYS[1], 'XX', now, ARGV[i]) end
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 0
`;

// KEYS: 1 grant log, 2 day counter. ARGV: the grant's entries. Takes back what a grant reserved.
const RELEASE = `
local removed = redis.call('ZREM', KEYS[1], unpack(ARGV))
if removed > 0 and tonumber(redis.call('GET', KEYS[2]) or '0') >= removed then redis.call('DECRBY', KEYS[2], removed) end
return removed
`;

class LuaScript {
  private readonly sha: string;

  constructor(private readonly source: string) {
    this.sha = createHash('sha1').update(source).digest('hex');
  }

  async run(redis: RedisClient, keys: string[], args: Array<string | number>): Promise<unknown> {
    try {
      return await redis.evalsha(this.sha, keys.length, ...keys, ...args);
    } catch (error) {
      if (!(error as Error).message?.startsWith('NOSCRIPT')) throw error;
      return redis.eval(this.source, keys.length, ...keys, ...args);
    }
  }
}

const acquireScript = new LuaScript(ACQUIRE);
const pauseScript = new LuaScript(PAUSE);
const observeScript = new LuaScript(OBSERVE);
const settleScript = new LuaScript(SETTLE);
const releaseScript = new LuaScript(RELEASE);

/** Day counters outlive their day by this much, for inspection. */
const DAY_KEY_LINGER_MS = 3_600_000;

interface Waiter {
  portalId: string;
  priority: RatePriority;
  cost: number;
  limits: PortalRateLimits;
  signal?: AbortSignal;
  enqueuedAt: number;
  attempts: number;
  resolve(grant: Grant): void;
  reject(error: unknown): void;
}

interface Line {
  waiters: Waiter[];
  driving: boolean;
  /** Ends the head's current sleep early (its caller gave up). */
  wake?: () => void;
}

export class RateBudget {
  private readonly windowMs: number;
  private readonly safetyMargin: number;
  private readonly liveReserve: number;
  private readonly now: () => number;
  private readonly lines = new Map<string, Line>();

  constructor(
    private readonly redis: RedisClient,
    private readonly options: RateBudgetOptions,
  ) {
    this.windowMs = options.windowMs ?? 10_000;
    this.safetyMargin = options.safetyMargin ?? 0.95;
    this.liveReserve = options.liveReserve ?? 0.2;
    this.now = options.now ?? Date.now;
    if (!Number.isInteger(this.windowMs) || this.windowMs < 1) throw new RangeError('windowMs must be a positive integer');
    if (!(this.safetyMargin > 0 && this.safetyMargin <= 1)) throw new RangeError('safetyMargin must be in (0, 1]');
    if (!(this.liveReserve >= 0 && this.liveReserve < 1)) throw new RangeError('liveReserve must be in [0, 1)');
  }

  /**
   * Waits until the portal's budget has room for `cost` requests and reserves them. Rejects with
   * {@link DailyBudgetExhaustedError} when the day's budget cannot cover them, and with the signal's
   * reason when it aborts.
   */
  async acquire(portalId: string | number, options: AcquireOptions): Promise<Grant> {
    const portal = portalKey(portalId);
    const cost = options.cost ?? 1;
    options.signal?.throwIfAborted();
    const limits = await this.options.limits(portal);
    const effective = effectiveLimits(limits, this.safetyMargin, this.liveReserve);
    if (!Number.isInteger(cost) || cost < 1 || cost > effective.perWindow) {
      throw new RangeError(`cost must be an integer from 1 to ${effective.perWindow} for portal ${portal} (got ${cost})`);
    }
    options.signal?.throwIfAborted();

    const lineKey = `${portal}\u0000${options.priority}`;
    let line = this.lines.get(lineKey);
    if (!line) {
      line = { waiters: [], driving: false };
      this.lines.set(lineKey, line);
    }
    const current = line;
    return new Promise<Grant>((resolve, reject) => {
      const signal = options.signal;
      const onAbort = () => {
        const index = current.waiters.indexOf(waiter);
        if (index < 0) return;
        current.waiters.splice(index, 1);
        if (index === 0) current.wake?.();
        reject(signal!.reason);
      };
      const waiter: Waiter = {
        portalId: portal,
        priority: options.priority,
        cost,
        limits,
        signal,
        enqueuedAt: Date.now(),
        attempts: 0,
        resolve: (grant) => {
          signal?.removeEventListener('abort', onAbort);
          resolve(grant);
        },
        reject: (error) => {
          signal?.removeEventListener('abort', onAbort);
          reject(error);
        },
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      current.waiters.push(waiter);
      void this.drive(lineKey, current);
    });
  }

  /**
   * Marks a grant's requests as answered. HubSpot counts a request when it arrives, which is after
   * it was granted here; counting it from its answer instead keeps every request inside HubSpot's
   * window as long as HubSpot does, so a slot freed here is always free there too.
   */
  async settle(grant: Grant): Promise<void> {
    await settleScript.run(this.redis, [this.key(grant.portalId, 'window')], [this.windowMs, ...grant.slots]);
  }

  /** Gives back a grant whose requests were never sent. */
  async release(grant: Grant): Promise<void> {
    await releaseScript.run(this.redis, [this.key(grant.portalId, 'window'), this.key(grant.portalId, 'day', grant.day)], grant.slots);
  }

  /** Stops every process from calling the portal for `ms` (never shortens a longer pause); answers its end. */
  async pause(portalId: string | number, ms: number): Promise<Date> {
    const portal = portalKey(portalId);
    if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`pause must be a non-negative number of ms (got ${ms})`);
    if (ms < 1) return new Date(this.now());
    const until = await pauseScript.run(this.redis, [this.key(portal, 'paused')], [Math.ceil(ms)]);
    return new Date(Number(until));
  }

  /**
   * Records that HubSpot answered 429 for the portal: pauses every process for the interval the
   * answer gives, or, for the daily limit, marks the day spent so acquire rejects until it resets.
   */
  async recordRateLimited(
    portalId: string | number,
    answer: { headers: Record<string, unknown>; body?: unknown },
  ): Promise<{ daily: true; resetsAt: Date } | { daily: false; pausedUntil: Date }> {
    const portal = portalKey(portalId);
    const pause = rateLimitPause(answer.headers, answer.body, this.windowMs, this.now());
    if (!pause.daily) return { daily: false, pausedUntil: await this.pause(portal, pause.ms) };
    const day = utcDay(this.now());
    const ttl = day.resetsAt - this.now() + DAY_KEY_LINGER_MS;
    await this.redis.set(this.key(portal, 'exhausted', day.key), '1', 'PX', ttl);
    return { daily: true, resetsAt: new Date(day.resetsAt) };
  }

  /**
   * Takes in HubSpot's own count of the day from a response's rate-limit headers, so calls other
   * integrations made on the same account count against this budget too.
   */
  async observe(portalId: string | number, headers: Record<string, unknown>): Promise<void> {
    const limit = Number(headerValue(headers, 'x-hubspot-ratelimit-daily'));
    const remaining = Number(headerValue(headers, 'x-hubspot-ratelimit-daily-remaining'));
    if (!Number.isInteger(limit) || !Number.isInteger(remaining) || limit <= 0 || remaining < 0) return;
    const portal = portalKey(portalId);
    const day = utcDay(this.now());
    await observeScript.run(
      this.redis,
      [this.key(portal, 'day', day.key), this.key(portal, 'exhausted', day.key)],
      [Math.max(0, limit - remaining), remaining, day.resetsAt - this.now() + DAY_KEY_LINGER_MS],
    );
  }

  /** What the portal has used of its budget: requests in the current window, today's count, and any pause or spent day. */
  async usage(portalId: string | number): Promise<BudgetUsage> {
    const portal = portalKey(portalId);
    const limits = await this.options.limits(portal);
    const day = utcDay(this.now());
    const [[, inWindow], [, today], [, pausedUntil], [, exhausted]] = (await this.redis
      .multi()
      .zcount(this.key(portal, 'window'), Date.now() - this.windowMs, '+inf')
      .get(this.key(portal, 'day', day.key))
      .get(this.key(portal, 'paused'))
      .exists(this.key(portal, 'exhausted', day.key))
      .exec()) as Array<[unknown, unknown]>;
    const paused = Number(pausedUntil ?? 0);
    return {
      limits,
      effective: effectiveLimits(limits, this.safetyMargin, this.liveReserve),
      window: { ms: this.windowMs, used: Number(inWindow) },
      day: { key: day.key, used: Number(today ?? 0), exhausted: exhausted === 1, resetsAt: new Date(day.resetsAt) },
      ...(paused > Date.now() ? { pausedUntil: new Date(paused) } : {}),
    };
  }

  /** The portal is a hash tag: every script and the MULTI above name one portal's keys, which a Redis Cluster takes only from one slot. */
  private key(portal: string, ...parts: string[]): string {
    return [this.options.keyPrefix, `{${portal}}`, ...parts].join(':');
  }

  /** Serves a line head first; only the head talks to Redis, and it sleeps as long as the script says. */
  private async drive(lineKey: string, line: Line): Promise<void> {
    if (line.driving) return;
    line.driving = true;
    try {
      while (line.waiters.length > 0) {
        const waiter = line.waiters[0];
        let outcome: { granted: Grant } | { waitMs: number } | { exhausted: Date };
        try {
          outcome = await this.attempt(waiter);
        } catch (error) {
          if (line.waiters[0] === waiter) {
            line.waiters.shift();
            waiter.reject(error);
          }
          continue;
        }
        if (line.waiters[0] !== waiter) continue;
        if ('granted' in outcome) {
          line.waiters.shift();
          waiter.resolve(outcome.granted);
        } else if ('exhausted' in outcome) {
          line.waiters.shift();
          waiter.reject(new DailyBudgetExhaustedError(waiter.portalId, outcome.exhausted));
        } else {
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, outcome.waitMs);
            line.wake = () => {
              clearTimeout(timer);
              resolve();
            };
          });
          line.wake = undefined;
        }
      }
    } finally {
      line.driving = false;
      if (line.waiters.length === 0 && this.lines.get(lineKey) === line) this.lines.delete(lineKey);
    }
  }

  private async attempt(waiter: Waiter): Promise<{ granted: Grant } | { waitMs: number } | { exhausted: Date }> {
    const effective = effectiveLimits(waiter.limits, this.safetyMargin, this.liveReserve);
    const day = utcDay(this.now());
    const portal = waiter.portalId;
    waiter.attempts += 1;
    const grantId = `${Date.now().toString(36)}.${randomBytes(6).toString('hex')}`;
    const [code, value] = (await acquireScript.run(
      this.redis,
      [
        this.key(portal, 'window'),
        this.key(portal, 'day', day.key),
        this.key(portal, 'paused'),
        this.key(portal, 'live'),
        this.key(portal, 'exhausted', day.key),
      ],
      [
        effective.perWindow,
        effective.bulkPerWindow,
        this.windowMs,
        waiter.cost,
        waiter.priority,
        effective.daily ?? -1,
        day.resetsAt - this.now() + DAY_KEY_LINGER_MS,
        grantId,
      ],
    )) as [number, number];
    if (code === 1) {
      const slots = Array.from({ length: waiter.cost }, (_, i) => `${grantId}:${i + 1}`);
      return { granted: { portalId: portal, day: day.key, slots, grantedAt: value, waitedMs: Date.now() - waiter.enqueuedAt, attempts: waiter.attempts } };
    }
    if (code === -1) return { exhausted: new Date(day.resetsAt) };
    return { waitMs: value };
  }
}

function portalKey(portalId: string | number): string {
  const portal = String(portalId);
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(portal)) throw new RangeError(`invalid portal id "${portal}"`);
  return portal;
}
