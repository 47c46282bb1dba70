import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { LeadAssignmentHandler } from '../src/handlers/lead-assignment/lead-assignment.handler';
import { createHubSpotSimulator, HubSpotSimulator } from '../tools/simulators/hubspot';
import { ADMIN_TOKEN, configFor, envFor, eventually, HttpClient, isolate, Isolation, loggingErrors, RunningOffload, startOffload } from './support/offload-harness';
import { firstAnswer, freePort, spawnOffload, START_WITHIN_MS, stop } from './support/spawned-offload';

/** A second HubSpot portal with four owners of its own, for the concurrency test. */
const FAIR_PORTAL = 87654321;

describe('lead-assignment: territories, pools and fair rotation through the running app', () => {
  let isolation: Isolation;
  let sim: HubSpotSimulator;
  let offload: RunningOffload;
  let admin: HttpClient;
  let client: HttpClient;
  let portalId: string;
  let db: Client;

  beforeAll(async () => {
    sim = await createHubSpotSimulator({ seedContacts: 5 });
    sim.seedOwners([
      { id: '201', email: 'ada@acme.example', firstName: 'Ada', lastName: 'Lovelace', teams: [{ id: '7', name: 'Sales', primary: true }] },
      { id: '202', email: 'bob@acme.example', firstName: 'Bob', lastName: 'Moog' },
      { id: '203', email: 'cyd@acme.example', firstName: 'Cyd', lastName: 'Charisse' },
      { id: '204', email: 'dee@acme.example', firstName: 'Dee', lastName: 'Dee' },
      { id: '205', email: 'gone@acme.example', firstName: 'Gone', lastName: 'Away', archived: true },
      { id: '206', email: 'lead-desk@acme.example', firstName: 'Lead', lastName: 'Desk' },
      { id: '207', email: 'kim@acme.example', firstName: 'Kim', lastName: 'Gordon' },
      { id: '208', email: 'lou@acme.example', firstName: 'Lou', lastName: 'Reed' },
    ]);
    isolation = await isolate();
    offload = await startOffload(configFor(isolation, { HUBSPOT_BASE_URL: sim.url }), [LeadAssignmentHandler]);
    admin = new HttpClient(offload.url, ADMIN_TOKEN);
    ({ id: portalId, client } = await connectedPortal(sim.portalId, sim.token));
    db = loggingErrors(new Client({ connectionString: isolation.databaseUrl }), 'PostgreSQL');
    await db.connect();
  });

  afterAll(async () => {
    await db?.end();
    await offload?.close();
    await sim?.close();
    await isolation?.cleanup();
  });

  async function connectedPortal(hubspotPortalId: number, hubspotAccessToken: string) {
    const created = await admin.post('/v1/admin/portals', { hubspotPortalId, name: `Portal ${hubspotPortalId}`, hubspotAccessToken });
    expect(created.status).toBe(201);
    return { id: created.body.id as string, client: new HttpClient(offload.url, created.body.apiKey) };
  }

  async function configure(settings: unknown, portal = portalId) {
    const answer = await admin.request('PUT', `/v1/admin/portals/${portal}/handlers/lead-assignment/config`, settings);
    expect(answer.status).toBe(200);
  }

  async function assign(body: Record<string, unknown> = {}) {
    const enqueued = await client.post('/v1/jobs', { type: 'lead-assignment', input: {}, idempotencyKey: randomUUID(), ...body });
    expect(enqueued.status).toBe(202);
    return (await client.get(`/v1/jobs/${enqueued.body.id}?wait=10`)).body;
  }

  const rotation = async (pool: string, portal = portalId) =>
    Number((await db.query('SELECT position FROM lead_assignment_rotations WHERE portal_id = $1 AND pool = $2', [portal, pool])).rows[0]?.position ?? 0);

  it('is listed with its settings and writes the owner to hubspot_owner_id; without settings it deals to every active owner', async () => {
    const listed = (await client.get('/v1/handlers')).body.find((handler: { type: string }) => handler.type === 'lead-assignment');
    expect(listed).toMatchObject({ configDefault: { pools: { everyone: { strategy: 'round_robin' } } }, configSchema: { type: 'object' } });
    expect(listed.outputs).toEqual([
      expect.objectContaining({ name: 'owner_id', hubspotType: 'string', property: 'hubspot_owner_id' }),
      expect.objectContaining({ name: 'territory', property: null }),
      expect.objectContaining({ name: 'assignment_reason', property: null }),
    ]);

    const owners = [];
    for (let i = 0; i < 7; i++) owners.push((await assign()).output.owner_id);
    // The seven active owners in id order, then the first again; the archived one never.
    expect(owners).toEqual(['201', '202', '203', '204', '206', '207', '208']);
    expect((await assign()).output).toMatchObject({ owner_id: '201', territory: '' });
  });

  it('refuses bad settings with 400, naming the field, and keeps the settings it had', async () => {
    const unknownPool = await admin.request('PUT', `/v1/admin/portals/${portalId}/handlers/lead-assignment/config`, {
      territories: [{ name: 'DACH', when: [{ property: 'country', in: ['Germany'] }], pool: 'dach' }],
      pools: { emea: { strategy: 'round_robin', owners: [{ owner: '201' }] } },
      fallback: { pool: 'emea' },
    });
    expect(unknownPool.status).toBe(400);
    expect(unknownPool.body.error.details).toEqual([{ path: 'territories[0].pool', message: 'names no pool: "dach" (the pools are: emea)' }]);

    const badShape = await admin.request('PUT', `/v1/admin/portals/${portalId}/handlers/lead-assignment/config`, {
      territories: [],
      pools: { emea: { strategy: 'random', owners: [{ owner: '201', weight: 0 }] } },
      fallback: { pool: 'emea' },
    });
    expect(badShape.status).toBe(400);
    expect(badShape.body.error.code).toBe('validation_failed');
    expect(badShape.body.error.details.map((detail: { path: string }) => detail.path).sort()).toEqual(['pools.emea.owners[0].weight', 'pools.emea.strategy']);

    expect((await admin.get(`/v1/admin/portals/${portalId}/handlers/lead-assignment/config`)).body.isDefault).toBe(true);
  });

  it('reads what the input leaves out from the record, and writes the owner back to hubspot_owner_id only', async () => {
    const country = sim.getObject('contacts', 3)!.properties.country!;
    await configure({
      territories: [{ name: 'Home market', when: [{ property: 'country', in: [country] }], pool: 'home' }],
      pools: { home: { strategy: 'round_robin', owners: [{ owner: 'cyd@acme.example' }] } },
      fallback: { owner: 'lead-desk@acme.example' },
    });
    sim.resetCalls();
    const job = await assign({ object: { type: 'CONTACT', id: '3' }, writeback: true });
    // The simulator refuses unknown properties as HubSpot does: a write of territory or assignment_reason would fail the job.
    expect(job).toMatchObject({ status: 'succeeded', output: { owner_id: '203', territory: 'Home market' } });
    expect(job.output.assignment_reason).toBe(
      `Territory "Home market" matched (country = ${country}). Pool "home", round-robin: Cyd Charisse <cyd@acme.example>, next in turn of 1 available owner.`,
    );
    // One read by the handler, for every property it needed; one by write-back, before it writes (the portal's default).
    expect(sim.listCalls({ endpoint: 'crm.objects.batch.read' })).toHaveLength(2);
    expect(sim.getObject('contacts', 3)!.properties).toMatchObject({ hubspot_owner_id: '203', country });
  });

  it('skips owners HubSpot no longer lists and owners marked unavailable, and falls back when nobody is left', async () => {
    const settings = {
      territories: [{ name: 'Everywhere', when: [], pool: 'mixed' }],
      pools: { mixed: { strategy: 'round_robin', owners: [{ owner: 'gone@acme.example' }, { owner: '202' }, { owner: '203' }, { owner: 'never@acme.example' }] } },
      fallback: { owner: '206' },
      unavailable: ['cyd@acme.example'],
    };
    await configure(settings);
    const jobs = await Promise.all(Array.from({ length: 4 }, () => assign()));
    expect(jobs.map((job) => job.output.owner_id)).toEqual(['202', '202', '202', '202']);
    expect(jobs[0].output.assignment_reason).toBe(
      'Territory "Everywhere" matched. Pool "mixed", round-robin: Bob Moog <bob@acme.example>, next in turn of 1 available owner; ' +
        'skipped 2 not active in HubSpot: gone@acme.example, never@acme.example; skipped 1 marked unavailable: Cyd Charisse <cyd@acme.example>.',
    );

    await configure({ ...settings, unavailable: ['cyd@acme.example', 'bob@acme.example'] });
    const fallback = await assign();
    expect(fallback.output).toMatchObject({ owner_id: '206', territory: 'Everywhere' });
    expect(fallback.output.assignment_reason).toMatch(/Pool "mixed" had no available owner \(.*\)\. Fallback owner: Lead Desk <lead-desk@acme.example>\.$/);

    await configure({ ...settings, unavailable: ['cyd@acme.example', 'bob@acme.example', 'lead-desk@acme.example'] });
    const nobody = await assign();
    expect(nobody).toMatchObject({ status: 'failed', attempts: 1, error: { code: 'lead_assignment_no_owner', retryable: false } });
    expect(nobody.error.message).toMatch(/And the fallback owner Lead Desk <lead-desk@acme.example> is marked unavailable\.$/);
  });

  it('gives a lead no territory takes to the fallback pool, saying on which values', async () => {
    await configure({
      territories: [{ name: 'DACH', when: [{ property: 'country', in: ['Germany', 'Austria'] }, { property: 'numberofemployees', min: 50 }], pool: 'dach' }],
      pools: { dach: { strategy: 'round_robin', owners: [{ owner: '201' }] }, sales: { strategy: 'round_robin', team: 'Sales' } },
      fallback: { pool: 'sales' },
    });
    expect((await assign({ input: { country: 'Austria', numberofemployees: 120 } })).output).toMatchObject({ owner_id: '201', territory: 'DACH' });
    const brazil = await assign({ input: { country: 'Brazil', numberofemployees: 120 } });
    expect(brazil.output).toMatchObject({ owner_id: '201', territory: '' });
    expect(brazil.output.assignment_reason).toBe(
      'No territory matched (country = Brazil, numberofemployees = 120). Fallback pool "sales", round-robin: Ada Lovelace <ada@acme.example>, next in turn of 1 available owner.',
    );
  });

  it('deals by open leads against capacity, and past capacity to the fallback', async () => {
    await configure({
      territories: [{ name: 'Inbound', when: [], pool: 'inbound' }],
      pools: { inbound: { strategy: 'capacity', owners: [{ owner: '207', capacity: 2 }, { owner: '208' }], capacity: 3 } },
      fallback: { owner: '206' },
      openLeadDays: 30,
    });
    // Open leads are every assignment of the window, in any pool: the default rotation above gave these owners some.
    const openLeads = async () =>
      Object.fromEntries(
        (
          await db.query(`SELECT owner_id, count(*)::int AS n FROM lead_assignments WHERE portal_id = $1 AND owner_id IN ('207', '208') GROUP BY 1`, [portalId])
        ).rows.map((row) => [row.owner_id, row.n]),
      );
    const before = await openLeads();
    expect(before).toEqual({ '207': 1, '208': 1 });

    const jobs = await Promise.all(Array.from({ length: 6 }, () => assign()));
    expect(await openLeads()).toEqual({ '207': 2, '208': 3 });
    const owners = jobs.map((job) => job.output.owner_id).sort();
    expect(owners).toEqual(['206', '206', '206', '207', '208', '208']);
    expect(jobs.find((job) => job.output.owner_id === '207').output.assignment_reason).toMatch(/^Territory "Inbound" matched\. Pool "inbound", capacity: Kim Gordon <kim@acme.example>, fewest open leads \(1 of 2\)\.$/);
    expect(jobs.find((job) => job.output.owner_id === '206').output.assignment_reason).toBe(
      'Territory "Inbound" matched. Pool "inbound" had all 2 available owners at capacity. Fallback owner: Lead Desk <lead-desk@acme.example>.',
    );
  });

  it('gives a job run again the owner it got the first time, without taking another turn', async () => {
    await configure({
      territories: [{ name: 'DACH', when: [{ property: 'country', in: ['Germany'] }], pool: 'dach' }],
      pools: { dach: { strategy: 'round_robin', owners: [{ owner: '201' }, { owner: '202' }, { owner: '204' }] } },
      fallback: { owner: '206' },
    });
    const before = await rotation('dach');
    // The record does not exist yet: HubSpot refuses the write-back and the job fails after its owner was chosen.
    const first = await assign({ input: { country: 'Germany' }, object: { type: 'CONTACT', id: '9001' }, writeback: true });
    expect(first).toMatchObject({ status: 'failed', error: { code: 'writeback_rejected', retryable: false } });
    const chosen = (await db.query('SELECT owner_id FROM lead_assignments WHERE job_id = $1', [first.id])).rows[0].owner_id;

    const others = [await assign({ input: { country: 'Germany' } }), await assign({ input: { country: 'Germany' } })];
    expect(new Set([chosen, ...others.map((job) => job.output.owner_id)]).size).toBe(3);

    sim.seed('contacts', [{ id: 9001, properties: { email: 'new-lead@example.com' } }]);
    expect((await client.post(`/v1/jobs/${first.id}/retry`)).status).toBe(202);
    const retried = (await eventually(() => client.get(`/v1/jobs/${first.id}?wait=5`), (answer) => answer.body.status === 'succeeded')).body;
    expect(retried.output).toMatchObject({ owner_id: chosen, territory: 'DACH' });
    expect(sim.getObject('contacts', 9001)!.properties.hubspot_owner_id).toBe(chosen);
    expect((await db.query('SELECT count(*)::int AS n FROM lead_assignments WHERE job_id = $1', [first.id])).rows[0].n).toBe(1);
    expect((await rotation('dach')) - before).toBe(3);
  });

  describe('with several Offload instances on the same database and Redis', () => {
    const others: RunningOffload[] = [];
    let spawned: ReturnType<typeof spawnOffload> | undefined;

    afterAll(async () => {
      await Promise.all(others.map((other) => other.close()));
      if (spawned) await stop(spawned);
    });

    it('deals 1,000 leads to a pool of 4 in exactly 250 each', async () => {
      sim.addPortal({ portalId: FAIR_PORTAL, privateAppTokens: ['pat-fair'] });
      sim.seedOwners(
        ['ann', 'ben', 'cat', 'dan', 'eli'].map((name, i) => ({ id: String(301 + i), email: `${name}@fair.example`, firstName: name })),
        FAIR_PORTAL,
      );
      const fair = await connectedPortal(FAIR_PORTAL, 'pat-fair');
      await configure(
        {
          territories: [{ name: 'All', when: [], pool: 'four' }],
          pools: { four: { strategy: 'round_robin', owners: ['301', '302', '303', '304'].map((owner) => ({ owner })) } },
          fallback: { owner: '305' },
        },
        fair.id,
      );

      others.push(await startOffload(configFor(isolation, { ROLE: 'worker', HUBSPOT_BASE_URL: sim.url }), [LeadAssignmentHandler]));
      const port = await freePort();
      spawned = spawnOffload(envFor(isolation, { ROLE: 'worker', PORT: String(port), HUBSPOT_BASE_URL: sim.url }));
      if ((await firstAnswer(spawned, '/health/live', START_WITHIN_MS))?.status !== 200) throw new Error(`the worker did not start:\n${spawned.stderr()}`);

      for (let batch = 0; batch < 10; batch++) {
        const jobs = Array.from({ length: 100 }, (_, i) => ({ type: 'lead-assignment', input: {}, idempotencyKey: `fair-${batch * 100 + i}` }));
        const answer = await fair.client.post('/v1/jobs/batch', { jobs });
        expect(answer.body.results.every((result: { status: number }) => result.status === 202)).toBe(true);
      }
      await eventually(
        async () => (await db.query(`SELECT count(*)::int AS n FROM jobs WHERE portal_id = $1 AND status IN ('succeeded', 'failed')`, [fair.id])).rows[0].n,
        (ended) => ended === 1000,
        60_000,
      );

      const dealt = await db.query(
        `SELECT output->>'owner_id' AS owner, count(*)::int AS n FROM jobs WHERE portal_id = $1 AND status = 'succeeded' GROUP BY 1 ORDER BY 1`,
        [fair.id],
      );
      expect(dealt.rows).toEqual([
        { owner: '301', n: 250 },
        { owner: '302', n: 250 },
        { owner: '303', n: 250 },
        { owner: '304', n: 250 },
      ]);
      expect(await rotation('four', fair.id)).toBe(1000);
      // Each instance lists the portal's owners once, when it first runs one of its jobs: all three took part.
      expect(sim.listCalls({ endpoint: 'crm.owners.list', portalId: FAIR_PORTAL })).toHaveLength(3);
    });
  });
});
