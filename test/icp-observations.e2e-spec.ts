import { randomBytes } from 'node:crypto';
import { AppConfig } from '../src/config/app-config';
import { IcpObservations, MAX_DISTINCT_VALUES } from '../src/handlers/icp-score/icp-observations';
import { RedisService } from '../src/redis/redis.service';

/** Every timer but Date's stays real: Redis I/O and the batching of observations run as usual. */
const ONLY_DATE = ['hrtime', 'nextTick', 'performance', 'queueMicrotask', 'setImmediate', 'clearImmediate', 'setInterval', 'clearInterval', 'setTimeout', 'clearTimeout'] as const;

describe('IcpObservations (on Redis)', () => {
  const prefix = `offload-test-${randomBytes(5).toString('hex')}`;
  let redis: RedisService;
  let portal = 0;
  const nextPortal = () => `portal-${++portal}`;

  beforeAll(() => {
    redis = new RedisService({ redis: { host: '127.0.0.1', port: 6379, db: 0 }, redisPrefix: prefix } as AppConfig);
  });

  afterAll(async () => {
    const keys = await redis.client.keys(`${prefix}:*`);
    if (keys.length > 0) await redis.client.del(...keys);
    await redis.onApplicationShutdown();
  });

  it('counts the observations of concurrent records per portal and property, shared through Redis', async () => {
    const [portalId, other] = [nextPortal(), nextPortal()];
    const writer = new IcpObservations(redis);
    await Promise.all([
      ...Array.from({ length: 30 }, (_, i) => writer.record(portalId, { industry: i % 3 === 0 ? 'banking' : 'internet', numberofemployees: '50' })),
      writer.record(other, { industry: 'retail' }),
      writer.record(portalId, {}),
    ]);
    const reader = new IcpObservations(redis);
    expect(await reader.histograms(portalId, ['industry', 'numberofemployees', 'country'])).toEqual({
      industry: { banking: 10, internet: 20 },
      numberofemployees: { '50': 30 },
      country: {},
    });
    expect(await reader.histograms(other, ['industry'])).toEqual({ industry: { retail: 1 } });
  });

  it('reads a distribution at most once per cache interval in a process', async () => {
    jest.useFakeTimers({ doNotFake: [...ONLY_DATE] });
    try {
      const portalId = nextPortal();
      const observations = new IcpObservations(redis, 2_000);
      await observations.record(portalId, { country: 'us' });
      expect(await observations.histograms(portalId, ['country'])).toEqual({ country: { us: 1 } });
      await observations.record(portalId, { country: 'us' });
      jest.setSystemTime(Date.now() + 1_999);
      expect(await observations.histograms(portalId, ['country'])).toEqual({ country: { us: 1 } });
      jest.setSystemTime(Date.now() + 1);
      expect(await observations.histograms(portalId, ['country'])).toEqual({ country: { us: 2 } });
    } finally {
      jest.useRealTimers();
    }
  });

  it(`keeps at most ${MAX_DISTINCT_VALUES} distinct values of a property, and goes on counting those it has`, async () => {
    const portalId = nextPortal();
    const observations = new IcpObservations(redis);
    await Promise.all(Array.from({ length: MAX_DISTINCT_VALUES }, (_, i) => observations.record(portalId, { industry: `industry ${i}` })));
    await Promise.all([observations.record(portalId, { industry: 'one too many' }), observations.record(portalId, { industry: 'industry 7' })]);
    const { industry } = await new IcpObservations(redis).histograms(portalId, ['industry']);
    expect(Object.keys(industry!)).toHaveLength(MAX_DISTINCT_VALUES);
    expect(industry).not.toHaveProperty('one too many');
    expect(industry!['industry 7']).toBe(2);
  });
});
