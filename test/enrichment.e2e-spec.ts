import { createServer, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { EnrichmentHandler, enrichedOutputs, notEnriched } from '../src/handlers/enrichment/enrichment.handler';
import { pdlCompanyFirmographics } from '../src/handlers/enrichment/pdl-provider';
import { companyForDomain, createEnrichmentSimulator, DEFAULT_API_KEY, EnrichmentSimulator } from '../tools/simulators/enrichment';
import { createHubSpotSimulator, HubSpotSimulator } from '../tools/simulators/hubspot';
import { ADMIN_TOKEN, configFor, eventually, HttpClient, isolate, Isolation, RunningOffload, startOffload } from './support/offload-harness';

/** What the simulator's company for a domain comes out as. */
const expectedFor = (domain: string) => enrichedOutputs(pdlCompanyFirmographics(companyForDomain(domain)));

describe('enrichment handler (through the running app, against the PDL simulator)', () => {
  let isolation: Isolation;
  let sim: EnrichmentSimulator;
  let hub: HubSpotSimulator;
  let offload: RunningOffload;
  let admin: HttpClient;
  let portalId: string;
  let client: HttpClient;
  let attacker: Server;
  let attackerUrl: string;
  const attackerRequests: string[] = [];

  beforeAll(async () => {
    sim = await createEnrichmentSimulator();
    hub = await createHubSpotSimulator();
    hub.seed('companies', [{ id: '1001', properties: { domain: 'written-back.com', name: 'Written Back' } }]);
    hub.defineProperties('companies', ['enriched', 'pdl_industry', 'employee_range', 'annual_revenue_range', 'enrichment_error']);
    attacker = createServer((req, res) => {
      attackerRequests.push(`${req.method} ${req.url}`);
      res.end('{}');
    });
    await new Promise<void>((resolve) => attacker.listen(0, '127.0.0.1', resolve));
    attackerUrl = `http://127.0.0.1:${(attacker.address() as AddressInfo).port}`;

    isolation = await isolate();
    offload = await startOffload(configFor(isolation, { ENRICHMENT_BASE_URL: sim.url, HUBSPOT_BASE_URL: hub.url }), [EnrichmentHandler]);
    admin = new HttpClient(offload.url, ADMIN_TOKEN);
    ({ id: portalId, client } = await configuredPortal(hub.portalId, hub.token));
  });

  afterAll(async () => {
    await offload?.close();
    await Promise.all([sim?.close(), hub?.close(), new Promise<void>((resolve) => (attacker ? attacker.close(() => resolve()) : resolve()))]);
    await isolation?.cleanup();
  });

  beforeEach(() => {
    sim.modes.clear();
    sim.resetCalls();
  });

  /** A portal with the provider key as a secret and a short provider timeout (so hangs cost little). */
  async function configuredPortal(hubspotPortalId: number, hubspotAccessToken?: string, apiKey: string | null = DEFAULT_API_KEY) {
    const created = await admin.post('/v1/admin/portals', { hubspotPortalId, name: `Portal ${hubspotPortalId}`, hubspotAccessToken });
    expect(created.status).toBe(201);
    const id: string = created.body.id;
    if (apiKey !== null) expect((await admin.request('PUT', `/v1/admin/portals/${id}/secrets/ENRICHMENT_API_KEY`, { value: apiKey })).status).toBe(204);
    expect((await admin.request('PUT', `/v1/admin/portals/${id}/handlers/enrichment/config`, { provider: 'pdl', timeoutMs: 300 })).status).toBe(200);
    return { id, client: new HttpClient(offload.url, created.body.apiKey) };
  }

  async function enqueue(on: HttpClient, jobs: Array<Record<string, unknown>>): Promise<string[]> {
    const answer = await on.post('/v1/jobs/batch', { jobs: jobs.map((job) => ({ type: 'enrichment', idempotencyKey: randomUUID(), ...job })) });
    expect(answer.status).toBe(200);
    return answer.body.results.map((result: { status: number; job: { id: string }; error?: unknown }) => {
      expect(result).toMatchObject({ status: 202 });
      return result.job.id;
    });
  }

  async function ended(ids: string[], on = client): Promise<any[]> {
    const isEnded = (answer: { body: { status: string } }) => ['succeeded', 'failed', 'cancelled'].includes(answer.body.status);
    return Promise.all(ids.map(async (id) => (await eventually(() => on.get(`/v1/jobs/${id}?wait=10`), isEnded, 30_000)).body));
  }

  const run = async (input: Record<string, unknown>, extra: Record<string, unknown> = {}, on = client) => (await ended(await enqueue(on, [{ input, ...extra }]), on))[0];

  it('enriches a company by website with one provider call, and answers the next job from the cache', async () => {
    const job = await run({ domain: 'https://www.cache-me.com/pricing' });
    expect(job).toMatchObject({ status: 'succeeded', attempts: 1, output: expectedFor('cache-me.com') });
    expect(sim.calls()).toMatchObject([{ endpoint: 'company.enrich', status: 200, subjects: ['cache-me.com'] }]);

    sim.resetCalls();
    const again = await run({ domain: 'cache-me.com', name: 'Cache Me' });
    expect(again).toMatchObject({ status: 'succeeded', output: expectedFor('cache-me.com') });
    expect(sim.stats().total).toBe(0);
  });

  it('makes one provider call for 20 concurrent jobs about the same domain', async () => {
    const jobs = await ended(await enqueue(client, Array.from({ length: 20 }, () => ({ input: { domain: 'twenty-at-once.com' } }))));
    expect(jobs.every((job) => job.status === 'succeeded')).toBe(true);
    for (const job of jobs) expect(job.output).toEqual(expectedFor('twenty-at-once.com'));
    expect(sim.stats().total).toBe(1);
  });

  it('serves many waiting jobs about different domains with bulk calls of up to 100', async () => {
    const domains = Array.from({ length: 150 }, (_, i) => `bulk-${i}.example.com`);
    const ids = [...(await enqueue(client, domains.slice(0, 100).map((domain) => ({ input: { domain } })))), ...(await enqueue(client, domains.slice(100).map((domain) => ({ input: { domain } }))))];
    const jobs = await ended(ids);
    jobs.forEach((job, i) => expect(job).toMatchObject({ status: 'succeeded', output: expectedFor(domains[i]) }));
    const stats = sim.stats();
    expect(stats.lookups).toBe(150);
    expect(stats.bulk).toBeGreaterThanOrEqual(1);
    // how many calls depends on how the jobs' starts spread out on this machine: five lookups a call at the least
    expect(stats.total).toBeLessThanOrEqual(domains.length / 5);
    expect(sim.calls().every((call) => call.lookups <= 100)).toBe(true);
  });

  it('succeeds unenriched on no match, without retrying', async () => {
    const job = await run({ domain: 'nobody-here.invalid' });
    expect(job).toMatchObject({ status: 'succeeded', attempts: 1, output: notEnriched('no_match') });
    expect(sim.stats().total).toBe(1);
  });

  it('waits as long as a 429 says, then succeeds', async () => {
    sim.modes.set({ mode: 'rate_limit', domain: 'rate-limited.com', retryAfterS: 1, times: 1 });
    const job = await run({ domain: 'rate-limited.com' });
    expect(job).toMatchObject({ status: 'succeeded', attempts: 2, output: expectedFor('rate-limited.com') });
    const [refused, served] = sim.calls();
    expect([refused.status, served.status]).toEqual([429, 200]);
    expect(Date.parse(served.time) - Date.parse(refused.time)).toBeGreaterThanOrEqual(950);
  });

  it('retries a 5xx and a timeout with backoff, then succeeds', async () => {
    sim.modes.set({ mode: 'server_error', domain: 'flaky.com', status: 502, times: 1 });
    sim.modes.set({ mode: 'hang', domain: 'hung.com', hangMs: 2_000, times: 1 });
    // One after the other: together they would share a bulk call, and each would fail the other's run too.
    const flaky = await run({ domain: 'flaky.com' });
    const hung = await run({ domain: 'hung.com' });
    expect(flaky).toMatchObject({ status: 'succeeded', attempts: 2, output: expectedFor('flaky.com') });
    expect(hung).toMatchObject({ status: 'succeeded', attempts: 2, output: expectedFor('hung.com') });
    expect(sim.calls({ subject: 'flaky.com' }).map((call) => call.status)).toEqual([502, 200]);
    expect(sim.calls({ subject: 'hung.com' }).map((call) => call.status)).toEqual([0, 200]);
  });

  it('on the last attempt of an outage succeeds unenriched with the reason', async () => {
    sim.modes.set({ mode: 'server_error', domain: 'always-down.com' });
    const job = await run({ domain: 'always-down.com' });
    expect(job).toMatchObject({ status: 'succeeded', attempts: 4, output: notEnriched('provider_unavailable') });
    expect(sim.calls().map((call) => call.status)).toEqual([503, 503, 503, 503]);
  });

  it('fails a malformed answer at once, writing nothing back', async () => {
    sim.modes.set({ mode: 'malformed', domain: 'written-back.com' });
    const job = await run({ domain: 'written-back.com' }, { object: { type: 'COMPANY', id: '1001' }, writeback: true });
    expect(job).toMatchObject({ status: 'failed', attempts: 1, error: { code: 'enrichment_malformed_answer', retryable: false } });
    expect(hub.getObject('companies', '1001')!.properties.enriched ?? null).toBeNull();
    expect(hub.listCalls({ endpoint: 'crm.objects.batch.update' })).toHaveLength(0);
  });

  it('writes the outputs back to the HubSpot record, where the portal maps them', async () => {
    const mapped = await admin.request('PUT', `/v1/admin/portals/${portalId}/property-mappings`, {
      COMPANY: { industry: 'pdl_industry', employee_count: 'numberofemployees' },
    });
    expect(mapped.status).toBe(200);
    const job = await run({ domain: 'written-back.com' }, { object: { type: 'COMPANY', id: '1001' }, writeback: true });
    const expected = expectedFor('written-back.com');
    expect(job).toMatchObject({ status: 'succeeded', output: expected });
    expect(hub.getObject('companies', '1001')!.properties).toMatchObject({
      enriched: 'true',
      pdl_industry: expected.industry,
      numberofemployees: String(expected.employee_count),
      employee_range: expected.employee_range,
      annual_revenue_range: expected.annual_revenue_range,
      country: expected.country,
      enrichment_error: '',
    });
  });

  it('fails clearly, without retrying, when the portal has no provider key', async () => {
    const { client: keyless } = await configuredPortal(hub.portalId + 1, undefined, null);
    const job = await run({ domain: 'acme.com' }, {}, keyless);
    expect(job).toMatchObject({ status: 'failed', attempts: 1, error: { code: 'enrichment_not_configured', retryable: false } });
    expect(job.error.message).toContain('ENRICHMENT_API_KEY');
    expect(sim.stats().total).toBe(0);
  });

  it('fails at once, without retrying, when the provider refuses the portal’s key', async () => {
    const { client: wrongKey } = await configuredPortal(hub.portalId + 3, undefined, 'wrong');
    const job = await run({ domain: 'acme.com' }, {}, wrongKey);
    expect(job).toMatchObject({ status: 'failed', attempts: 1, error: { code: 'enrichment_refused', retryable: false } });
    expect(job.error.message).toMatch(/401/);
  });

  it("enriches a contact known only by email through the employer's record", async () => {
    const job = await run({ email: 'jane@acme.com' });
    expect(job).toMatchObject({ status: 'succeeded', output: expectedFor('acme.com') });
    expect(sim.calls()).toMatchObject([{ endpoint: 'person.enrich', status: 200 }]);
  });

  it('never sends a request anywhere but the configured provider, whatever the input or the portal config say', async () => {
    const ipJob = await run({ domain: `${attackerUrl}/steal` });
    expect(ipJob).toMatchObject({ status: 'failed', error: { code: 'enrichment_invalid_input', retryable: false } });

    const hostJob = await run({ domain: 'https://elsewhere.example:9999/steal?x=1' });
    expect(hostJob.status).toBe('succeeded');
    expect(sim.calls()).toMatchObject([{ subjects: ['elsewhere.example'] }]);

    expect((await client.post('/v1/jobs', { type: 'enrichment', input: { domain: 'acme.com', baseUrl: attackerUrl } })).status).toBe(400);
    const offHost = await admin.request('PUT', `/v1/admin/portals/${portalId}/handlers/enrichment/config`, {
      provider: 'generic',
      generic: { urlTemplate: `${attackerUrl}/steal?d={domain}`, keyHeader: 'X-Api-Key', fields: { industry: 'industry' } },
    });
    expect(offHost.status).toBe(400);
    expect(attackerRequests).toEqual([]);
  });

  it('uses the generic JSON-over-HTTP provider and mapping a portal configures', async () => {
    const { id, client: generic } = await configuredPortal(hub.portalId + 2);
    const config = {
      provider: 'generic',
      timeoutMs: 1000,
      generic: {
        urlTemplate: '/v5/company/enrich?website={domain}',
        keyHeader: 'X-Api-Key',
        fields: { industry: 'industry', employee_count: 'employee_count', country: 'location.country' },
      },
    };
    expect((await admin.request('PUT', `/v1/admin/portals/${id}/handlers/enrichment/config`, config)).status).toBe(200);
    const job = await run({ domain: 'generic-mapping.com' }, {}, generic);
    const pdl = expectedFor('generic-mapping.com');
    expect(job).toMatchObject({
      status: 'succeeded',
      output: { ...pdl, employee_range: 'unknown', annual_revenue_range: 'unknown' },
    });
    expect(sim.calls()).toMatchObject([{ endpoint: 'company.enrich', status: 200 }]);
  });
});
