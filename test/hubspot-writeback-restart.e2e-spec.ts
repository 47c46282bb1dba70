import { Client } from 'pg';
import { createHubSpotSimulator, HubSpotSimulator } from '../src/hubspot/simulator';
import { configFor, envFor, eventually, isolate, Isolation, newPortal, RunningOffload, startOffload } from './support/offload-harness';
import { firstAnswer, freePort, spawnOffload, stop, stopAll } from './support/spawned-offload';

const CONTACTS = 600;
/** Long enough that a batch call is still on its way to HubSpot when the worker is told to stop. */
const HUBSPOT_LATENCY_MS = 1_500;

describe('a worker restarted in the middle of write-back batches', () => {
  let isolation: Isolation;
  let sim: HubSpotSimulator;
  let api: RunningOffload;
  let db: Client;

  beforeAll(async () => {
    sim = await createHubSpotSimulator({ seedContacts: CONTACTS });
    sim.defineProperties('contacts', ['ok', 'attempts']);
    isolation = await isolate();
    api = await startOffload(configFor(isolation, { ROLE: 'api', HUBSPOT_BASE_URL: sim.url }));
    db = new Client({ connectionString: isolation.databaseUrl });
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
    expect((await firstAnswer(spawned, '/health/ready', 30_000))?.status).toBe(200);
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
    const exit = await stop(first, 15_000);
    expect(exit).toEqual({ code: 0, signal: null });
    const afterStop = await statuses();
    expect(afterStop.succeeded ?? 0).toBeLessThan(CONTACTS);
    expect(afterStop.running ?? 0).toBe(0);

    sim.inject.clear();
    await worker();
    await eventually(statuses, (counts) => counts.succeeded === CONTACTS, 45_000);

    for (let id = 1; id <= CONTACTS; id++) expect(sim.getObject('contacts', id)!.properties.ok).toBe('true');
    const written = sim
      .listCalls({ endpoint: 'crm.objects.batch.update' })
      .filter((call) => call.status === 200)
      .reduce((sum, call) => sum + Number(call.summary?.inputs ?? 0), 0);
    expect(written).toBe(CONTACTS);
  });
});
