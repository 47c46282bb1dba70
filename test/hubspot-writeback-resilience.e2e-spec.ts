import { Client } from 'pg';
import { createHubSpotSimulator, HubSpotSimulator } from '../tools/simulators/hubspot';
import { configFor, envFor, eventually, isolate, Isolation, loggingErrors, newPortal, RunningOffload, startOffload } from './support/offload-harness';
import { firstAnswer, freePort, spawnOffload, START_WITHIN_MS, stop, stopAll } from './support/spawned-offload';
import { expectContactsWrittenOnce } from './support/writeback-count';

const CONTACTS = 600;
/**
 * Long enough that a batch call is still on its way to HubSpot when the worker is told to stop, and
 * far longer than the grace period: its writes already sent must be waited for, not abandoned.
 */
const HUBSPOT_LATENCY_MS = 12_000;

describe('write-back when a worker is restarted in the middle of its batches', () => {
  let isolation: Isolation;
  let sim: HubSpotSimulator;
  let api: RunningOffload;
  let db: Client;

  beforeAll(async () => {
    sim = await createHubSpotSimulator({ seedContacts: CONTACTS });
    sim.defineProperties('contacts', ['ok', 'attempts']);
    isolation = await isolate();
    api = await startOffload(configFor(isolation, { ROLE: 'api', HUBSPOT_BASE_URL: sim.url }));
    db = loggingErrors(new Client({ connectionString: isolation.databaseUrl }), 'PostgreSQL');
    await db.connect();
  });

  afterAll(async () => {
    await stopAll();
    await db?.end();
    await api?.close();
    await sim?.close();
    await isolation?.cleanup();
  });

  async function worker(env: Record<string, string> = {}) {
    const port = await freePort();
    const spawned = spawnOffload(envFor(isolation, { ROLE: 'worker', PORT: String(port), HUBSPOT_BASE_URL: sim.url, LOG_LEVEL: 'error', ...env }));
    expect((await firstAnswer(spawned, '/health/ready', START_WITHIN_MS))?.status).toBe(200);
    return spawned;
  }

  const statuses = async () =>
    Object.fromEntries((await db.query(`SELECT status, count(*)::int AS n FROM jobs GROUP BY status`)).rows.map((row) => [row.status, row.n]));

  it('loses no write and applies none twice', async () => {
    const { portal, client, admin } = await newPortal(api.url, sim.portalId);
    expect((await admin.request('PATCH', `/v1/admin/portals/${portal.id}`, { hubspotAccessToken: sim.token })).status).toBe(200);

    sim.inject.latency(HUBSPOT_LATENCY_MS);
    // A short grace: jobs whose writes still wait for a batch are handed back, not finished.
    const first = await worker({ SHUTDOWN_GRACE_MS: '200' });
    for (let i = 0; i < CONTACTS; i += 100) {
      const jobs = Array.from({ length: 100 }, (_, j) => ({ type: 'noop', object: { type: 'contacts', id: String(i + j + 1) }, writeback: true }));
      expect((await client.post('/v1/jobs/batch', { jobs })).status).toBe(200);
    }

    await eventually(async () => sim.stats().inFlight, (inFlight) => inFlight > 0, 20_000);
    const exit = await stop(first, 40_000);
    expect(exit).toEqual({ code: 0, signal: null });
    const afterStop = await statuses();
    expect(afterStop.succeeded ?? 0).toBeLessThan(CONTACTS);
    expect(afterStop.running ?? 0).toBe(0);
    // Every write it sent was answered and settled before it exited: none is left to read back.
    expect((await db.query(`SELECT count(*)::int AS n FROM writebacks WHERE status = 'sent'`)).rows).toEqual([{ n: 0 }]);

    sim.inject.clear();
    await worker();
    await eventually(statuses, (counts) => counts.succeeded === CONTACTS, 45_000);

    expectContactsWrittenOnce(sim, CONTACTS);
  });
});

describe('write-back under a sustained load that needs more than one window of the budget', () => {
  const LIMIT = 20;
  const JOBS = 2_500;
  let isolation: Isolation;
  let sim: HubSpotSimulator;
  let offload: RunningOffload;

  beforeAll(async () => {
    // HubSpot's own rolling 10 s window, at a fifth of the Starter limit: 25 batch calls need two windows.
    sim = await createHubSpotSimulator({ seedContacts: JOBS, rateLimit: LIMIT });
    sim.defineProperties('contacts', ['ok', 'attempts']);
    isolation = await isolate();
    offload = await startOffload(configFor(isolation, { HUBSPOT_BASE_URL: sim.url }));
  });

  afterAll(async () => {
    await offload?.close();
    await sim?.close();
    await isolation?.cleanup();
  });

  it('causes no 429 and writes every record once', async () => {
    const { portal, client, admin } = await newPortal(offload.url, sim.portalId);
    const connected = await admin.request('PATCH', `/v1/admin/portals/${portal.id}`, { hubspotAccessToken: sim.token, rateLimit: { requestsPer10s: LIMIT } });
    expect(connected.status).toBe(200);
    const ids: string[] = [];
    for (let i = 0; i < JOBS; i += 100) {
      const jobs = Array.from({ length: 100 }, (_, j) => ({ type: 'noop', object: { type: 'contacts', id: String(i + j + 1) }, writeback: true }));
      const answer = await client.post('/v1/jobs/batch', { jobs });
      ids.push(...answer.body.results.map((result: { job: { id: string } }) => result.job.id));
    }
    const last = await eventually(() => client.get(`/v1/jobs/${ids.at(-1)}?wait=10`), (answer) => answer.body.status === 'succeeded', 40_000);
    expect(last.body.status).toBe('succeeded');
    // A hundred reads at a time: thousands of connections at once overflow a busy machine's listen backlog.
    const jobs: string[] = [];
    for (let i = 0; i < ids.length; i += 100) {
      jobs.push(...(await Promise.all(ids.slice(i, i + 100).map(async (id) => (await client.get(`/v1/jobs/${id}?wait=10`)).body.status))));
    }
    expect(jobs.filter((status) => status !== 'succeeded')).toEqual([]);

    const calls = sim.listCalls({});
    expect(calls.filter((call) => call.status === 429)).toEqual([]);
    const updates = calls.filter((call) => call.endpoint === 'crm.objects.batch.update');
    expect(updates.length).toBeGreaterThan(LIMIT);
    expect(updates.reduce((sum, call) => sum + Number(call.summary?.inputs ?? 0), 0)).toBe(JOBS);
  });
});
