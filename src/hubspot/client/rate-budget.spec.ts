import type Redis from 'ioredis';
import { RateBudget, effectiveLimits, rateLimitPause, utcDay } from './rate-budget';

describe('effectiveLimits', () => {
  it('keeps the safety margin and the live reserve off the stated limits', () => {
    expect(effectiveLimits({ requestsPer10s: 190, daily: 625_000 }, 0.95, 0.2)).toEqual({
      perWindow: 180,
      bulkPerWindow: 144,
      daily: 593_750,
    });
    expect(effectiveLimits({ requestsPer10s: 110 }, 0.95, 0)).toEqual({ perWindow: 104, bulkPerWindow: 104, daily: undefined });
  });

  it('always leaves at least one request per window', () => {
    expect(effectiveLimits({ requestsPer10s: 1 }, 0.5, 0.5)).toEqual({ perWindow: 1, bulkPerWindow: 0, daily: undefined });
  });

  it('refuses limits that are not positive integers', () => {
    expect(() => effectiveLimits({ requestsPer10s: 0 }, 1, 0)).toThrow(RangeError);
    expect(() => effectiveLimits({ requestsPer10s: 10, daily: 2.5 }, 1, 0)).toThrow(RangeError);
  });
});

describe('utcDay', () => {
  it('counts days from UTC midnight to the next', () => {
    expect(utcDay(Date.parse('2026-03-08T23:59:59.999Z'))).toEqual({
      key: '2026-03-08',
      resetsAt: Date.parse('2026-03-09T00:00:00Z'),
    });
    expect(utcDay(Date.parse('2026-03-09T00:00:00Z'))).toEqual({
      key: '2026-03-09',
      resetsAt: Date.parse('2026-03-10T00:00:00Z'),
    });
  });
});

describe('rateLimitPause', () => {
  const now = Date.parse('2026-01-01T00:00:00Z');

  it('honours Retry-After in seconds or as a date, then the interval header, then the fallback', () => {
    expect(rateLimitPause({ 'Retry-After': '3' }, undefined, 10_000, now)).toEqual({ daily: false, ms: 3000 });
    const date = { 'retry-after': 'Thu, 01 Jan 2026 00:00:07 GMT' };
    expect(rateLimitPause(date, undefined, 10_000, now)).toEqual({ daily: false, ms: 7000 });
    const interval = { 'x-hubspot-ratelimit-interval-milliseconds': '10000' };
    expect(rateLimitPause(interval, undefined, 1, now)).toEqual({ daily: false, ms: 10_000 });
    expect(rateLimitPause({}, undefined, 2500, now)).toEqual({ daily: false, ms: 2500 });
    const fetchHeaders = new Headers({ 'retry-after': '2' }) as unknown as Record<string, unknown>;
    expect(rateLimitPause(fetchHeaders, undefined, 1, now)).toEqual({ daily: false, ms: 2000 });
  });

  it("recognises HubSpot's daily policy in a parsed or raw body", () => {
    const body = { status: 'error', errorType: 'RATE_LIMIT', policyName: 'DAILY' };
    expect(rateLimitPause({ 'retry-after': '1' }, body, 10_000, now)).toEqual({ daily: true });
    expect(rateLimitPause({}, JSON.stringify(body), 10_000, now)).toEqual({ daily: true });
    expect(rateLimitPause({}, { policyName: 'TEN_SECONDLY_ROLLING' }, 10_000, now)).toEqual({ daily: false, ms: 10_000 });
    expect(rateLimitPause({}, 'not json', 10_000, now)).toEqual({ daily: false, ms: 10_000 });
  });
});

describe('RateBudget', () => {
  it('loads its script with EVAL when Redis does not know it yet', async () => {
    const calls: string[] = [];
    const redis = {
      evalsha: async () => {
        calls.push('evalsha');
        throw new Error('NOSCRIPT No matching script. Please use EVAL.');
      },
      eval: async (source: string) => {
        calls.push(source.includes('ZREMRANGEBYSCORE') ? 'eval acquire' : 'eval other');
        return [1, 1234];
      },
    } as unknown as Redis;
    const budget = new RateBudget(redis, { keyPrefix: 't', limits: () => ({ requestsPer10s: 10 }) });
    await expect(budget.acquire(1, { priority: 'live' })).resolves.toMatchObject({ grantedAt: 1234, attempts: 1 });
    expect(calls).toEqual(['evalsha', 'eval acquire']);
  });

  it('refuses a cost the window can never hold, and bad portal ids, before touching Redis', async () => {
    const redis = {} as Redis;
    const budget = new RateBudget(redis, { keyPrefix: 't', limits: () => ({ requestsPer10s: 20 }) });
    await expect(budget.acquire(1, { priority: 'bulk', cost: 20 })).rejects.toThrow(/cost must be an integer from 1 to 19/);
    await expect(budget.acquire(1, { priority: 'bulk', cost: 0 })).rejects.toThrow(RangeError);
    await expect(budget.acquire('a:b', { priority: 'bulk' })).rejects.toThrow(/invalid portal id/);
  });

  it('refuses options out of range', () => {
    const redis = {} as Redis;
    const limits = () => ({ requestsPer10s: 1 });
    expect(() => new RateBudget(redis, { keyPrefix: 't', limits, safetyMargin: 1.2 })).toThrow(RangeError);
    expect(() => new RateBudget(redis, { keyPrefix: 't', limits, liveReserve: 1 })).toThrow(RangeError);
    expect(() => new RateBudget(redis, { keyPrefix: 't', limits, windowMs: 0 })).toThrow(RangeError);
  });
});
