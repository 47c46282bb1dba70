import { Logger } from '@nestjs/common';
import { ReplyError } from 'ioredis';
import { Registry } from 'prom-client';
import { AppConfig } from '../config/app-config';
import { MetricsService } from '../metrics/metrics.service';
import { RedisService } from '../redis/redis.service';
import { policyFromInfo, quietBullMqEvictionWarning, RedisEvictionPolicy } from './redis-eviction-policy';

type ServerState = { policy: string; configRefused?: boolean; infoRefused?: boolean };

/** A Redis server that answers CONFIG GET and INFO as one with this policy does, or refuses them as a managed one may. */
function serverWith(state: ServerState) {
  return {
    config: async () => {
      if (state.configRefused) throw new ReplyError("ERR unknown command 'CONFIG', with args beginning with: 'GET' 'maxmemory-policy'");
      return ['maxmemory-policy', state.policy];
    },
    info: async () => {
      if (state.infoRefused) throw new ReplyError("NOPERM this user has no permissions to run the 'info' command");
      return `# Memory\r\nused_memory:1000\r\nmaxmemory:0\r\nmaxmemory_policy:${state.policy}\r\nallocator_frag_ratio:1.0\r\n`;
    },
  };
}

/** Offload's Redis, of these masters: one server, or a cluster's. */
function redisOf(...masters: unknown[]) {
  return { masters: async () => masters } as unknown as RedisService;
}

function policyCheck(states: ServerState | ServerState[], allowed = false) {
  const registry = new Registry();
  const redis = redisOf(...[states].flat().map(serverWith));
  const check = new RedisEvictionPolicy({ redisEvictionAllowed: allowed } as AppConfig, redis, { registry } as MetricsService);
  const gauge = async () => (await registry.getSingleMetric('offload_redis_eviction_policy_ok')!.get()).values[0]?.value;
  return { check, gauge };
}

describe('RedisEvictionPolicy', () => {
  let errors: jest.SpyInstance;
  let warnings: jest.SpyInstance;

  beforeEach(() => {
    errors = jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
    warnings = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
  });
  afterEach(() => jest.restoreAllMocks());

  it('is satisfied by noeviction', async () => {
    const { check, gauge } = policyCheck({ policy: 'noeviction' });
    expect(await check.check()).toEqual({ policy: 'noeviction', ok: true });
    expect(await gauge()).toBe(1);
    expect(errors).not.toHaveBeenCalled();
  });

  it('reports any other policy as a structured error naming the fix, once until it changes, and sets the gauge to 0', async () => {
    const state = { policy: 'allkeys-lru' };
    const { check, gauge } = policyCheck(state);
    expect(await check.check()).toEqual({ policy: 'allkeys-lru', ok: false });
    await check.check();
    expect(await gauge()).toBe(0);
    expect(errors).toHaveBeenCalledTimes(1);
    expect(errors.mock.calls[0][0]).toMatchObject({
      event: 'redis_eviction_policy',
      policy: 'allkeys-lru',
      fix: 'maxmemory-policy noeviction',
      readiness: 'not ready',
    });
    expect(errors.mock.calls[0][1]).toMatch(/maxmemory-policy noeviction.*REDIS_EVICTION_ALLOWED=true/);

    state.policy = 'volatile-ttl';
    await check.check();
    expect(errors).toHaveBeenCalledTimes(2);
    state.policy = 'noeviction';
    expect(await check.check()).toMatchObject({ ok: true });
    expect(await gauge()).toBe(1);
  });

  it('reads the policy from INFO when CONFIG is disabled, as managed Redis services do', async () => {
    const { check } = policyCheck({ policy: 'volatile-lru', configRefused: true });
    expect(await check.check()).toEqual({ policy: 'volatile-lru', ok: false });
    expect(errors.mock.calls[0][0]).toMatchObject({ policy: 'volatile-lru' });
  });

  it('says so, and does not block readiness, when Redis refuses both ways of asking', async () => {
    const { check } = policyCheck({ policy: 'allkeys-lru', configRefused: true, infoRefused: true });
    expect(await check.check()).toEqual({ policy: undefined, ok: true });
    await check.check();
    expect(warnings).toHaveBeenCalledTimes(1);
    expect(errors).not.toHaveBeenCalled();
  });

  it("checks every master of a cluster: one that may evict is reported, one that will not say leaves the policy unknown", async () => {
    expect(await policyCheck([{ policy: 'noeviction' }, { policy: 'noeviction' }, { policy: 'noeviction' }]).check.check()).toEqual({ policy: 'noeviction', ok: true });
    const evicting = policyCheck([{ policy: 'noeviction' }, { policy: 'allkeys-lru' }, { policy: 'noeviction', configRefused: true, infoRefused: true }]);
    expect(await evicting.check.check()).toEqual({ policy: 'allkeys-lru', ok: false });
    expect(await evicting.gauge()).toBe(0);
    const silent = policyCheck([{ policy: 'noeviction' }, { policy: 'allkeys-lru', configRefused: true, infoRefused: true }]);
    expect(await silent.check.check()).toEqual({ policy: undefined, ok: true });
  });

  it('lets a connection failure through: that is for the Redis ping to report', async () => {
    const client = { config: async () => Promise.reject(new Error('Connection is closed.')) };
    const check = new RedisEvictionPolicy({} as AppConfig, redisOf(client), { registry: new Registry() } as MetricsService);
    await expect(check.check()).rejects.toThrow('Connection is closed.');
  });
});

describe('policyFromInfo', () => {
  it('reads maxmemory_policy from INFO memory', () => {
    expect(policyFromInfo('# Memory\r\nmaxmemory:0\r\nmaxmemory_policy:allkeys-lfu\r\n')).toBe('allkeys-lfu');
    expect(policyFromInfo('# Memory\nmaxmemory_policy:noeviction')).toBe('noeviction');
    expect(policyFromInfo('# Server\r\nredis_version:7.0.15\r\n')).toBeUndefined();
  });
});

describe('quietBullMqEvictionWarning', () => {
  it("drops BullMQ's plain-text eviction line and lets every other console warning through", () => {
    const seen: unknown[][] = [];
    const original = console.warn;
    console.warn = (...args: unknown[]) => seen.push(args);
    try {
      quietBullMqEvictionWarning();
      console.warn('IMPORTANT! Eviction policy is allkeys-lru. It should be "noeviction"');
      console.warn('something else', 1);
    } finally {
      console.warn = original;
    }
    expect(seen).toEqual([['something else', 1]]);
  });
});
