import { randomBytes } from 'node:crypto';
import { AppConfig } from '../src/config/app-config';
import { EnrichmentConfig } from '../src/handlers/enrichment/enrichment-config';
import { EnrichmentLookups, LookupRequest } from '../src/handlers/enrichment/enrichment-lookups';
import { EnrichmentSettings } from '../src/handlers/enrichment/enrichment-settings';
import { pdlCompanyFirmographics } from '../src/handlers/enrichment/pdl-provider';
import { Lookup } from '../src/handlers/enrichment/provider';
import { jsonResponse } from '../src/handlers/enrichment/recording-http.testing';
import { RedisService } from '../src/redis/redis.service';
import { EgressHttp } from '../src/registry/job-handler';

const PDL: EnrichmentConfig = { provider: 'pdl', timeoutMs: 2_000 };
const SETTINGS: EnrichmentSettings = { ENRICHMENT_BASE_URL: 'https://pdl.test', ENRICHMENT_CACHE_TTL_S: 600, ENRICHMENT_NO_MATCH_TTL_S: 60 };

/** A PDL company record for a domain; nobody under .invalid. */
function recordFor(domain: string): Record<string, unknown> | undefined {
  if (domain.endsWith('.invalid')) return undefined;
  return { status: 200, name: domain, industry: 'computer software', employee_count: domain.length, size: '1-10', location: { country: 'france' }, likelihood: 8 };
}

/**
 * People Data Labs as the lookups reach it, through each job's HTTP client, answered in memory:
 * company enrichment, single and bulk. It keeps the subjects of every call; `failNext` makes a
 * domain's next calls answer 503; while `held`, answers wait for release (or for their job to stop).
 */
class FakePdl {
  readonly calls: Array<{ bulk: boolean; subjects: string[] }> = [];
  private readonly failures = new Map<string, number>();
  private gate: { opened: Promise<void>; open: () => void } | undefined;
  private callListeners: Array<() => void> = [];

  failNext(domain: string, times = 1): void {
    this.failures.set(domain, times);
  }

  hold(): void {
    let open!: () => void;
    const opened = new Promise<void>((resolve) => (open = resolve));
    this.gate = { opened, open };
  }

  release(): void {
    this.gate?.open();
    this.gate = undefined;
  }

  /** Resolves once `count` calls have arrived. */
  async called(count: number): Promise<void> {
    while (this.calls.length < count) await new Promise<void>((resolve) => this.callListeners.push(resolve));
  }

  http(signal: AbortSignal): EgressHttp {
    return {
      fetch: async (url, init = {}) => {
        const target = new URL(url);
        const bulk = init.body !== undefined;
        const requests: Array<{ params: { website: string }; metadata: unknown }> = bulk
          ? JSON.parse(String(init.body)).requests
          : [{ params: { website: target.searchParams.get('website')! }, metadata: undefined }];
        this.calls.push({ bulk, subjects: requests.map((request) => request.params.website) });
        this.callListeners.splice(0).forEach((listener) => listener());
        if (this.gate) await Promise.race([this.gate.opened, stopped(signal)]);
        const items = requests.map(({ params, metadata }) => {
          const left = this.failures.get(params.website) ?? 0;
          if (left > 0) {
            this.failures.set(params.website, left - 1);
            return { status: 503, error: { type: 'api_error', message: 'unavailable' }, metadata };
          }
          return { ...(recordFor(params.website) ?? { status: 404 }), metadata };
        });
        return bulk ? jsonResponse(200, items) : jsonResponse(Number(items[0].status), items[0]);
      },
    };
  }
}

/** Rejects as a fetch does when its job stops. */
function stopped(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => {
    if (signal.aborted) reject(signal.reason);
    signal.addEventListener('abort', () => reject(signal.reason), { once: true });
  });
}

describe('EnrichmentLookups (cache, coalescing, bulk batching) on real Redis', () => {
  let pdl: FakePdl;
  let redis: RedisService;
  let lookups: EnrichmentLookups;
  const prefix = `offload-test-${randomBytes(5).toString('hex')}`;

  beforeAll(() => {
    redis = new RedisService({ redis: { host: '127.0.0.1', port: 6379, db: 0 }, redisPrefix: prefix } as AppConfig);
  });

  beforeEach(() => {
    pdl = new FakePdl();
    lookups = new EnrichmentLookups(redis);
  });

  afterAll(async () => {
    const keys = await redis.client.keys(`${prefix}:*`);
    if (keys.length > 0) await redis.client.del(...keys);
    await redis.onApplicationShutdown();
  });

  let portalCounter = 0;
  /** A portal of its own per test, so that no test finds another's cache. */
  const portal = () => `portal-${++portalCounter}`;

  function request(portalId: string, lookup: Lookup, signal = new AbortController().signal, config = PDL): LookupRequest {
    return { portalId, config, settings: SETTINGS, lookup, apiKey: 'key-1', http: pdl.http(signal), signal };
  }

  const company = (domain: string): Lookup => ({ kind: 'company', domain });
  const matchFor = (domain: string) => ({ kind: 'match', firmographics: pdlCompanyFirmographics(recordFor(domain)!) });

  it('serves 20 concurrent lookups of one domain with one provider call', async () => {
    const p = portal();
    const outcomes = await Promise.all(Array.from({ length: 20 }, () => lookups.lookup(request(p, company('acme.com')))));
    expect(pdl.calls).toEqual([{ bulk: false, subjects: ['acme.com'] }]);
    for (const outcome of outcomes) expect(outcome).toEqual(matchFor('acme.com'));
  });

  it('sends lookups of many domains made together as one bulk call, and a lone lookup as a single call', async () => {
    const p = portal();
    const domains = Array.from({ length: 50 }, (_, i) => `bulk-${i}.com`);
    const outcomes = await Promise.all(domains.map((domain) => lookups.lookup(request(p, company(domain)))));
    outcomes.forEach((outcome, i) => expect(outcome).toEqual(matchFor(domains[i])));
    expect(pdl.calls).toHaveLength(1);
    expect(pdl.calls[0].bulk).toBe(true);
    expect([...pdl.calls[0].subjects].sort()).toEqual([...domains].sort());

    await lookups.lookup(request(p, company('alone.com')));
    expect(pdl.calls[1]).toEqual({ bulk: false, subjects: ['alone.com'] });
  });

  it('splits more than 100 waiting lookups into bulk calls of at most 100', async () => {
    const p = portal();
    const domains = Array.from({ length: 230 }, (_, i) => `many-${i}.com`);
    await Promise.all(domains.map((domain) => lookups.lookup(request(p, company(domain)))));
    expect(pdl.calls.every((call) => call.subjects.length <= 100)).toBe(true);
    expect(pdl.calls.flatMap((call) => call.subjects).sort()).toEqual([...domains].sort());
    expect(pdl.calls.length).toBeLessThanOrEqual(4);
  });

  it('answers from the cache for the configured TTL, a no match for the shorter one', async () => {
    const p = portal();
    await lookups.lookup(request(p, company('cached.com')));
    await lookups.lookup(request(p, company('nobody.invalid')));
    expect(pdl.calls).toHaveLength(2);
    expect(await lookups.lookup(request(p, company('cached.com')))).toEqual(matchFor('cached.com'));
    expect(await lookups.lookup(request(p, company('nobody.invalid')))).toEqual({ kind: 'no_match' });
    expect(pdl.calls).toHaveLength(2);

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
    expect(pdl.calls).toHaveLength(3);

    pdl.failNext('flaky.com');
    expect(await lookups.lookup(request(a, company('flaky.com')))).toMatchObject({ kind: 'failed', failure: { reason: 'unavailable' } });
    expect(await lookups.lookup(request(a, company('flaky.com')))).toEqual(matchFor('flaky.com'));
    expect(pdl.calls).toHaveLength(5);
  });

  it('lets one of two processes call while the other waits for its answer in the cache', async () => {
    const p = portal();
    const other = new EnrichmentLookups(redis);
    pdl.hold();
    const both = Promise.all([lookups.lookup(request(p, company('two-processes.com'))), other.lookup(request(p, company('two-processes.com')))]);
    await pdl.called(1);
    pdl.release();
    const [first, second] = await both;
    expect(first).toEqual(matchFor('two-processes.com'));
    expect(second).toEqual(first);
    expect(pdl.calls).toHaveLength(1);
  });

  it('when the job whose client carries a shared call stops, makes the call again for the jobs still waiting', async () => {
    const p = portal();
    pdl.hold();
    const carrier = new AbortController();
    const first = lookups.lookup(request(p, company('carried.com'), carrier.signal));
    const second = lookups.lookup(request(p, company('carried.com')));
    await pdl.called(1);
    carrier.abort('cancelled');
    await pdl.called(2);
    pdl.release();
    const [a, b] = await Promise.all([first, second]);
    expect(a).toBe(b);
    expect(b).toEqual(matchFor('carried.com'));
    expect(pdl.calls).toHaveLength(2);
  });
});
