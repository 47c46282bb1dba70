import { randomUUID } from 'node:crypto';
import { DEFAULT_ICP_CONFIG, IcpConfig } from '../src/handlers/icp-score/icp-config';
import { icpOutputs, IcpScoreHandler } from '../src/handlers/icp-score/icp-score.handler';
import { factsOf, RecordValues } from '../src/handlers/icp-score/icp-scoring';
import { createHubSpotSimulator, HubSpotSimulator } from '../tools/simulators/hubspot';
import { ADMIN_TOKEN, configFor, eventually, HttpClient, isolate, Isolation, RunningOffload, startOffload } from './support/offload-harness';

const CONTACTS = 60;
const INDUSTRIES = ['COMPUTER_SOFTWARE', 'BANKING', 'RETAIL', 'Internet'];
const TITLES = ['CTO', 'VP Marketing', 'Head of Sales', 'Account Manager', 'Software Engineer'];
const COUNTRIES = ['United States', 'Germany', 'France', 'Brazil'];
const STAGES = ['lead', 'opportunity', 'subscriber', 'customer', 'marketingqualifiedlead'];

/** What the simulated portal holds for contact i: every scored property, varied. */
function contactProperties(i: number): Record<string, string> {
  return {
    email: `person${i}@example.com`,
    industry: INDUSTRIES[i % INDUSTRIES.length],
    numberofemployees: String(3 * i * i),
    annualrevenue: String(400_000 * i),
    country: COUNTRIES[i % COUNTRIES.length],
    jobtitle: TITLES[i % TITLES.length],
    lifecyclestage: STAGES[i % STAGES.length],
  };
}

/** The outputs the scoring rules give for these property values, with nothing observed yet. */
const expectedFor = (values: RecordValues, config: IcpConfig = DEFAULT_ICP_CONFIG) => icpOutputs(factsOf(values, config), config, {});

describe('icp-score (through the running app, reading from and writing to the HubSpot simulator)', () => {
  let isolation: Isolation;
  let sim: HubSpotSimulator;
  let offload: RunningOffload;
  let admin: HttpClient;

  beforeAll(async () => {
    sim = await createHubSpotSimulator();
    isolation = await isolate();
    offload = await startOffload(configFor(isolation, { HUBSPOT_BASE_URL: sim.url }), [IcpScoreHandler]);
    admin = new HttpClient(offload.url, ADMIN_TOKEN);
  });

  afterAll(async () => {
    await offload?.close();
    await sim?.close();
    await isolation?.cleanup();
  });

  let nextHubSpotPortal = 7_000_000;

  /**
   * A portal of the test's own (its own settings and observed values), connected to a HubSpot
   * account of its own in the simulator: contacts 1..CONTACTS with every property, and contact 500
   * with a country only.
   */
  async function connectedPortal(): Promise<{ id: string; hubspotPortalId: number; client: HttpClient }> {
    const hubspotPortalId = ++nextHubSpotPortal;
    sim.addPortal({ portalId: hubspotPortalId, privateAppTokens: [`pat-icp-${hubspotPortalId}`] });
    const contacts = Array.from({ length: CONTACTS }, (_, i) => ({ id: String(i + 1), properties: contactProperties(i + 1) }));
    sim.seed('contacts', [...contacts, { id: '500', properties: { email: 'sparse@example.com', country: 'Canada' } }], hubspotPortalId);
    sim.defineProperties('contacts', ['icp_score', 'icp_tier', 'icp_imputed_fields', 'icp_reasons'], hubspotPortalId);
    const created = await admin.post('/v1/admin/portals', { hubspotPortalId, name: 'ICP', hubspotAccessToken: `pat-icp-${hubspotPortalId}` });
    expect(created.status).toBe(201);
    return { id: created.body.id, hubspotPortalId, client: new HttpClient(offload.url, created.body.apiKey) };
  }

  const putConfig = (portalId: string, config: unknown) => admin.request('PUT', `/v1/admin/portals/${portalId}/handlers/icp-score/config`, config);

  /** Enqueues the jobs in one batch (each its own idempotency key) and answers them once ended, in order. */
  async function run(client: HttpClient, jobs: Array<{ input?: Record<string, unknown>; object?: { type: string; id: string }; writeback?: boolean }>) {
    const answer = await client.post('/v1/jobs/batch', {
      jobs: jobs.map((job) => ({ type: 'icp-score', input: {}, idempotencyKey: randomUUID(), ...job })),
    });
    expect(answer.status).toBe(200);
    const ids: string[] = answer.body.results.map((result: { status: number; job: { id: string } }) => {
      expect(result.status).toBe(202);
      return result.job.id;
    });
    const ended = (job: { body: { status: string } }) => ['succeeded', 'failed'].includes(job.body.status);
    return Promise.all(ids.map(async (id) => (await eventually(() => client.get(`/v1/jobs/${id}?wait=10`), ended, 20_000)).body));
  }

  it('is listed by GET /v1/handlers with its outputs, settings schema and default ruleset', async () => {
    const { client } = await connectedPortal();
    const handlers = await client.get('/v1/handlers');
    const icp = handlers.body.find((handler: { type: string }) => handler.type === 'icp-score');
    expect(icp).toMatchObject({ version: '1.0.0', configDefault: DEFAULT_ICP_CONFIG, configSchema: { type: 'object' } });
    expect(icp.outputs).toEqual([
      expect.objectContaining({ name: 'icp_score', hubspotType: 'number' }),
      expect.objectContaining({ name: 'icp_tier', hubspotType: 'enumeration', options: ['A', 'B', 'C', 'D'] }),
      expect.objectContaining({ name: 'icp_imputed_fields', hubspotType: 'string' }),
      expect.objectContaining({ name: 'icp_reasons', hubspotType: 'string' }),
    ]);
    expect(Object.keys(icp.inputSchema.properties)).toEqual(['industry', 'numberofemployees', 'annualrevenue', 'country', 'jobtitle', 'lifecyclestage']);
  });

  it('takes a portal’s own ruleset, and refuses a bad one with a 400 naming each field, keeping the last good one', async () => {
    const { id, client } = await connectedPortal();
    const strict: IcpConfig = { ...DEFAULT_ICP_CONFIG, tiers: { A: 98, B: 90, C: 80 } };
    const good = await putConfig(id, strict);
    expect(good.status).toBe(200);
    expect(good.body).toMatchObject({ config: strict, isDefault: false });

    const refusals: Array<[string, unknown, string[]]> = [
      [
        'overlapping bands',
        { ...strict, criteria: { ...strict.criteria, numberofemployees: { weight: 20, bands: [{ min: 0, max: 100, fit: 1 }, { min: 50, max: 200, fit: 0.5 }] } } },
        ['criteria.numberofemployees.bands[1]'],
      ],
      ['weights adding up to 0', { ...strict, criteria: { industry: { weight: 0, groups: [] } } }, ['criteria']],
      ['unordered tiers', { ...strict, tiers: { A: 50, B: 60, C: 70 } }, ['tiers.B', 'tiers.C']],
      ['values the schema refuses', { ...strict, tiers: { A: 150, B: 60, C: 10 }, colour: 'red' }, ['colour', 'tiers.A']],
      ['an unknown seniority level', { ...strict, imputation: { defaults: { jobtitle: 'boss' } } }, ['imputation.defaults.jobtitle']],
    ];
    for (const [what, config, paths] of refusals) {
      const answer = await putConfig(id, config);
      expect({ what, status: answer.status, code: answer.body.error?.code }).toEqual({ what, status: 400, code: 'validation_failed' });
      expect([...new Set(answer.body.error.details.map((detail: { path: string }) => detail.path))].sort()).toEqual(paths);
    }
    expect((await admin.get(`/v1/admin/portals/${id}/handlers/icp-score/config`)).body).toMatchObject({ config: strict, isDefault: false });

    const input = { industry: 'COMPUTER_SOFTWARE', numberofemployees: 350, annualrevenue: '$25M', country: 'Germany', jobtitle: 'VP of Engineering', lifecyclestage: 'opportunity' };
    const [job] = await run(client, [{ input }]);
    expect(job.output).toMatchObject({ icp_score: 97, icp_tier: 'B' });
  });

  it('scores a job whose input carries every property, without reading HubSpot', async () => {
    const { client } = await connectedPortal();
    sim.resetCalls();
    const input = { industry: 'COMPUTER_SOFTWARE', numberofemployees: 350, annualrevenue: '$25M', country: 'Germany', jobtitle: 'VP of Engineering', lifecyclestage: 'opportunity' };
    const [job] = await run(client, [{ input }]);
    expect(job).toMatchObject({
      status: 'succeeded',
      output: {
        icp_score: 97,
        icp_tier: 'A',
        icp_imputed_fields: '',
        icp_reasons:
          'Industry COMPUTER_SOFTWARE matches "Software and internet" (+30); Employees 350 in 200-999 (+20); Annual revenue 25M in 10M-100M (+15); ' +
          'Seniority VP (+13.5 of 15); Lifecycle stage opportunity matches "Sales-ready or won" (+10); Country Germany matches "UK, Ireland and DACH" (+8 of 10)',
      },
    });
    expect(sim.listCalls({ endpoint: 'crm.objects.batch.read' })).toHaveLength(0);
  });

  it('reads what the input lacks from the job’s contact: 50 concurrent jobs share a few batch reads', async () => {
    const { client } = await connectedPortal();
    sim.resetCalls();
    const ids = Array.from({ length: 50 }, (_, i) => i + 1);
    // Half the jobs give their own job title: only the other properties are read for them.
    const jobs = await run(
      client,
      ids.map((id) => ({ object: { type: 'CONTACT', id: String(id) }, input: id % 2 === 0 ? { jobtitle: 'Chief Revenue Officer' } : {} })),
    );
    for (const [index, job] of jobs.entries()) {
      const id = ids[index];
      const values = { ...contactProperties(id), ...(id % 2 === 0 ? { jobtitle: 'Chief Revenue Officer' } : {}) };
      expect({ id, status: job.status, output: job.output }).toEqual({ id, status: 'succeeded', output: expectedFor(values) });
    }
    const reads = sim.listCalls({ endpoint: 'crm.objects.batch.read' });
    expect(reads.length).toBeGreaterThanOrEqual(1);
    // how many reads depends on how the jobs' starts spread out on this machine: five records a read at the least
    expect(reads.length).toBeLessThanOrEqual(ids.length / 5);
    expect(new Set(jobs.map((job) => job.output.icp_tier)).size).toBeGreaterThan(1);
  });

  it('writes icp_* back to the contact once scored', async () => {
    const { client, hubspotPortalId } = await connectedPortal();
    const [job] = await run(client, [{ object: { type: 'CONTACT', id: '7' }, writeback: true }]);
    expect(job.status).toBe('succeeded');
    const expected = expectedFor(contactProperties(7));
    expect(job.output).toEqual(expected);
    expect(sim.getObject('contacts', 7, hubspotPortalId)!.properties).toMatchObject({
      icp_score: String(expected.icp_score),
      icp_tier: expected.icp_tier,
      icp_imputed_fields: '',
      icp_reasons: expected.icp_reasons,
    });
    expect(sim.stats().propertyValuesNotStrings).toBe(0);
  });

  it('imputes what neither input nor record has: the portal defaults first, the values it observed once it has enough', async () => {
    const { id, client } = await connectedPortal();
    const config: IcpConfig = { ...DEFAULT_ICP_CONFIG, imputation: { minObservations: 5, defaults: { industry: 'RETAIL', jobtitle: 'manager' } } };
    expect((await putConfig(id, config)).status).toBe(200);

    const [sparse] = await run(client, [{ object: { type: 'CONTACT', id: '500' } }]);
    expect(sparse.output).toMatchObject({ icp_imputed_fields: 'industry,jobtitle' });
    expect(sparse.output.icp_reasons).toContain('Industry RETAIL (imputed) does not match (+0 of 30)');
    expect(sparse.output.icp_reasons).toContain('Employees unknown (+0 of 20)');
    expect(sparse.output.icp_reasons).toContain('Country Canada matches "North America" (+10)');

    const seen = await run(
      client,
      [120, 300, 450, 800, 2000].map((numberofemployees) => ({ input: { industry: 'INTERNET', numberofemployees, jobtitle: 'Director of Sales' } })),
    );
    expect(seen.every((job) => job.status === 'succeeded')).toBe(true);
    // Each process rereads a distribution at most every two seconds.
    const imputed = await eventually(
      async () => (await run(client, [{ input: { country: 'US' } }]))[0],
      (job) => job.output.icp_imputed_fields === 'industry,numberofemployees,jobtitle' && job.output.icp_reasons.includes('internet'),
      10_000,
    );
    expect(imputed.output.icp_reasons).toContain('Industry internet (imputed) matches "Software and internet" (+30)');
    expect(imputed.output.icp_reasons).toContain('Employees 450 (imputed) in 200-999 (+20)');
    expect(imputed.output.icp_reasons).toContain('Seniority Director (imputed) (+11.3 of 15)');
  });

  it('gives the same record the same score every time', async () => {
    const { client } = await connectedPortal();
    const jobs = await run(client, [{ object: { type: 'CONTACT', id: '13' } }, { object: { type: 'CONTACT', id: '13' } }]);
    const [again] = await run(client, [{ object: { type: 'CONTACT', id: '13' } }]);
    expect(new Set([...jobs, again].map((job) => job.id)).size).toBe(3);
    expect(jobs[0].output).toEqual(expectedFor(contactProperties(13)));
    expect(jobs[1].output).toEqual(jobs[0].output);
    expect(again.output).toEqual(jobs[0].output);
  });
});
