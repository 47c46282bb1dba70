import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { AppConfig } from '../../config/app-config';
import { RedisService } from '../../redis/redis.service';
import { egressHttp, egressOrigins } from '../../worker/egress-http';
import { EnrichmentConfig } from './enrichment-config';
import { EnrichmentLookups, LookupRequest } from './enrichment-lookups';
import { pdlCompanyFirmographics } from './pdl-provider';
import { Lookup } from './provider';
import { companyForDomain, createEnrichmentSimulator, DEFAULT_API_KEY, EnrichmentSimulator } from '../../../tools/simulators/enrichment';

const PDL: EnrichmentConfig = { provider: 'pdl', timeoutMs: 2_000 };

describe('EnrichmentLookups (cache, coalescing, bulk batching) on real Redis', () => {
  let sim: EnrichmentSimulator;
  let redis: RedisService;
  let lookups: EnrichmentLookups;
  const prefix = `offload-test-${randomBytes(5).toString('hex')}`;
  const settings = { enrichmentCacheTtlS: 600, enrichmentNoMatchTtlS: 60 };

  beforeAll(async () => {
    sim = await createEnrichmentSimulator();
    redis = new RedisService({ redis: { host: '127.0.0.1', port: 6379, db: 0 }, redisPrefix: prefix } as AppConfig);
  });

  beforeEach(async () => {
    sim.modes.clear();
    sim.resetCalls();
    sim.setLimits({ latencyMs: 0 });
    lookups = new EnrichmentLookups(redis, { ...settings, enrichmentBaseUrl: sim.url });
  });

  afterAll(async () => {
    const keys = await redis.client.keys(`${prefix}:*`);
    if (keys.length > 0) await redis.client.del(...keys);
    await redis.onApplicationShutdown();
    await sim.close();
  });

  let portalCounter = 0;
  /** A portal of its own per test, so that no test finds another's cache. */
  const portal = () => `portal-${++portalCounter}`;

  function request(portalId: string, lookup: Lookup, signal = new AbortController().signal, config = PDL): LookupRequest {
    return { portalId, config, lookup, apiKey: DEFAULT_API_KEY, http: egressHttp(egressOrigins([sim.url]), signal), signal };
  }

  const company = (domain: string): Lookup => ({ kind: 'company', domain });

  it('serves 20 concurrent lookups of one domain with one provider call', async () => {
    const p = portal();
    const outcomes = await Promise.all(Array.from({ length: 20 }, () => lookups.lookup(request(p, company('acme.com')))));
    expect(sim.stats()).toMatchObject({ total: 1, single: 1, bulk: 0 });
    const expected = { kind: 'match', firmographics: pdlCompanyFirmographics(companyForDomain('acme.com')) };
    for (const outcome of outcomes) expect(outcome).toEqual(expected);
  });

  it('sends lookups of many domains made together as one bulk call, and a lone lookup as a single call', async () => {
    const p = portal();
    const domains = Array.from({ length: 50 }, (_, i) => `bulk-${i}.com`);
    const outcomes = await Promise.all(domains.map((domain) => lookups.lookup(request(p, company(domain)))));
    expect(outcomes.every((outcome) => outcome.kind === 'match')).toBe(true);
    expect(sim.stats()).toMatchObject({ total: 1, bulk: 1, single: 0, lookups: 50 });
    expect(sim.calls()[0].subjects.sort()).toEqual([...domains].sort());

    sim.resetCalls();
    await lookups.lookup(request(p, company('alone.com')));
    expect(sim.stats()).toMatchObject({ total: 1, single: 1, bulk: 0 });
  });

  it('splits more than 100 waiting lookups into bulk calls of at most 100', async () => {
    const p = portal();
    const domains = Array.from({ length: 230 }, (_, i) => `many-${i}.com`);
    await Promise.all(domains.map((domain) => lookups.lookup(request(p, company(domain)))));
    const calls = sim.calls();
    expect(calls.every((call) => call.lookups <= 100)).toBe(true);
    expect(calls.reduce((sum, call) => sum + call.lookups, 0)).toBe(230);
    expect(calls.length).toBeLessThanOrEqual(4);
  });

  it('answers from the cache for the configured TTL, a no match for the shorter one', async () => {
    const p = portal();
    await lookups.lookup(request(p, company('cached.com')));
    await lookups.lookup(request(p, company('nobody.invalid')));
    sim.resetCalls();
    expect((await lookups.lookup(request(p, company('cached.com')))).kind).toBe('match');
    expect(await lookups.lookup(request(p, company('nobody.invalid')))).toEqual({ kind: 'no_match' });
    expect(sim.stats().total).toBe(0);

    const fingerprintedKeys = await redis.client.keys(redis.key('enrichment', p, '*'));
    const ttls = Object.fromEntries(
      await Promise.all(fingerprintedKeys.map(async (key) => [key.split(':').at(-1), await redis.client.ttl(key)] as const)),
    );
    expect(ttls['cached.com']).toBeGreaterThan(60);
    expect(ttls['cached.com']).toBeLessThanOrEqual(600);
    expect(ttls['nobody.invalid']).toBeGreaterThan(0);
    expect(ttls['nobody.invalid']).toBeLessThanOrEqual(60);
  });

  it('keeps portals and provider settings apart, and caches no failure', async () => {
    const [a, b] = [portal(), portal()];
    await lookups.lookup(request(a, company('shared.com')));
    await lookups.lookup(request(b, company('shared.com')));
    await lookups.lookup(request(a, company('shared.com'), undefined, { ...PDL, minLikelihood: 2 }));
    expect(sim.stats().total).toBe(3);

    sim.resetCalls();
    sim.modes.set({ mode: 'server_error', domain: 'flaky.com', times: 1 });
    expect(await lookups.lookup(request(a, company('flaky.com')))).toMatchObject({ kind: 'failed', failure: { reason: 'unavailable' } });
    expect((await lookups.lookup(request(a, company('flaky.com')))).kind).toBe('match');
    expect(sim.stats().total).toBe(2);
  });

  it('lets one of two processes call while the other waits for its answer in the cache', async () => {
    const p = portal();
    const other = new EnrichmentLookups(redis, { ...settings, enrichmentBaseUrl: sim.url });
    sim.setLimits({ latencyMs: 150 });
    const [first, second] = await Promise.all([lookups.lookup(request(p, company('two-processes.com'))), other.lookup(request(p, company('two-processes.com')))]);
    expect(first).toEqual(second);
    expect(first.kind).toBe('match');
    expect(sim.stats().total).toBe(1);
  });

  it('when the job whose client carries a shared call stops, makes the call again for the jobs still waiting', async () => {
    const p = portal();
    sim.setLimits({ latencyMs: 200 });
    const carrier = new AbortController();
    const first = lookups.lookup(request(p, company('carried.com'), carrier.signal));
    const second = lookups.lookup(request(p, company('carried.com')));
    await sleep(100);
    carrier.abort('cancelled');
    const [a, b] = await Promise.all([first, second]);
    expect(a).toBe(b);
    expect(b).toEqual({ kind: 'match', firmographics: pdlCompanyFirmographics(companyForDomain('carried.com')) });
    // The first call was abandoned by its client half way; the simulator still saw it.
    await sleep(250);
    expect(sim.calls()).toHaveLength(2);
  });
});
