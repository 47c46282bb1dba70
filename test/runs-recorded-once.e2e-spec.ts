import { setTimeout as sleep } from 'node:timers/promises';
import { Client } from 'pg';
import { createHubSpotSimulator, HubSpotSimulator } from '../tools/simulators/hubspot';
import { configFor, envFor, eventually, HttpClient, isolate, Isolation, newPortal, RunningOffload, startOffload } from './support/offload-harness';
import { createPgCluster, PgCluster } from './support/pg-cluster';
import { firstAnswer, freePort, spawnOffload, stop, stopAll } from './support/spawned-offload';

const CONTACTS = 300;

/** Write-back noop jobs for contacts 1..CONTACTS, in batches of 100. */
async function enqueueWritebacks(client: HttpClient): Promise<void> {
  for (let i = 0; i < CONTACTS; i += 100) {
    const jobs = Array.from({ length: 100 }, (_, j) => ({ type: 'noop', object: { type: 'contacts', id: String(i + j + 1) }, writeback: true }));
    const answer = await client.post('/v1/jobs/batch', { jobs });
    expect(answer.status).toBe(200);
  }
}

/** How many record updates HubSpot applied, over every batch call it answered 200. */
function recordsWritten(sim: HubSpotSimulator): number {
  return sim
    .listCalls({ endpoint: 'crm.objects.batch.update' })
    .filter((call) => call.status === 200)
    .reduce((sum, call) => sum + Number(call.summary?.inputs ?? 0), 0);
}

/** Every contact written by the first run of its job, and no record written twice (CONTACTS updates for CONTACTS records). */
function expectEachRecordWrittenOnce(sim: HubSpotSimulator): void {
  for (let id = 1; id <= CONTACTS; id++) expect(sim.getObject('contacts', id)!.properties).toMatchObject({ ok: 'true', attempts: '1' });
  expect(recordsWritten(sim)).toBe(CONTACTS);
}

/** One query on a connection of its own: the server may have been restarted since the last one. */
async function query(databaseUrl: string, text: string): Promise<any[]> {
  const pg = new Client({ connectionString: databaseUrl });
  await pg.connect();
  try {
    return (await pg.query(text)).rows;
  } finally {
    await pg.end();
  }
}

const statuses = async (databaseUrl: string): Promise<Record<string, number>> =>
  Object.fromEntries((await query(databaseUrl, `SELECT status, count(*)::int AS n FROM jobs GROUP BY status`)).map((row) => [row.status, row.n]));

describe('runs whose end PostgreSQL could not take while it was down', () => {
  /** How long HubSpot takes to answer a batch update: it answers while PostgreSQL is down. */
  const WRITE_LATENCY_MS = 3_000;
  const OUTAGE_MS = 12_000;
  let cluster: PgCluster;
  let isolation: Isolation;
  let sim: HubSpotSimulator;

  beforeAll(async () => {
    cluster = await createPgCluster();
    isolation = await isolate({ postgres: cluster.url });
    sim = await createHubSpotSimulator({ seedContacts: CONTACTS });
    sim.defineProperties('contacts', ['ok', 'attempts']);
  });

  afterAll(async () => {
    await stopAll();
    await sim?.close();
    await isolation?.cleanup().catch(() => undefined);
    await cluster?.drop();
  });

  it('are recorded once it is back: every job succeeds on its first run and every record is written once', async () => {
    const port = await freePort();
    const offload = spawnOffload(envFor(isolation, { PORT: String(port), HUBSPOT_BASE_URL: sim.url, LOG_LEVEL: 'error' }));
    expect((await firstAnswer(offload, '/health/ready', 30_000))?.status).toBe(200);
    const { portal, client, admin } = await newPortal(`http://127.0.0.1:${port}`, sim.portalId);
    expect((await admin.request('PATCH', `/v1/admin/portals/${portal.id}`, { hubspotAccessToken: sim.token })).status).toBe(200);

    sim.inject.faults({ latencyMs: WRITE_LATENCY_MS, pathIncludes: '/batch/update' });
    await enqueueWritebacks(client);
    await eventually(async () => sim.stats().inFlight, (inFlight) => inFlight > 0, 30_000);
    await cluster.crash();
    await sleep(OUTAGE_MS);
    await cluster.start();

    await eventually(() => statuses(isolation.databaseUrl), (counts) => counts.succeeded === CONTACTS, 120_000);
    const attempts = await query(isolation.databaseUrl, `SELECT attempts, count(*)::int AS n FROM jobs GROUP BY attempts`);
    expect(attempts).toEqual([{ attempts: 1, n: CONTACTS }]);
    expectEachRecordWrittenOnce(sim);
    expect(offload.hasExited()).toBe(false);
    expect((await stop(offload, 30_000)).code).toBe(0);
  }, 240_000);
});

describe('a worker stopped while HubSpot is slow to answer its writes', () => {
  const GRACE_MS = 1_000;
  /** Longer than the grace period plus the few seconds a stopping process used to allow itself before forcing its exit. */
  const HUBSPOT_LATENCY_MS = 8_000;
  let isolation: Isolation;
  let sim: HubSpotSimulator;
  let api: RunningOffload;

  beforeAll(async () => {
    sim = await createHubSpotSimulator({ seedContacts: CONTACTS });
    sim.defineProperties('contacts', ['ok', 'attempts']);
    isolation = await isolate();
    api = await startOffload(configFor(isolation, { ROLE: 'api', HUBSPOT_BASE_URL: sim.url }));
  });

  afterAll(async () => {
    await stopAll();
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

  it('waits for the writes it sent, exits 0, and leaves the rest to another worker: every record written once', async () => {
    const { portal, client, admin } = await newPortal(api.url, sim.portalId);
    expect((await admin.request('PATCH', `/v1/admin/portals/${portal.id}`, { hubspotAccessToken: sim.token })).status).toBe(200);

    sim.inject.latency(HUBSPOT_LATENCY_MS);
    const first = await worker({ SHUTDOWN_GRACE_MS: String(GRACE_MS) });
    await enqueueWritebacks(client);
    await eventually(async () => sim.stats().inFlight, (inFlight) => inFlight > 0, 30_000);
    first.child.kill('SIGTERM');
    expect(await first.exited).toEqual({ code: 0, signal: null });
    expect((await statuses(isolation.databaseUrl)).running ?? 0).toBe(0);

    sim.inject.clear();
    await worker();
    await eventually(() => statuses(isolation.databaseUrl), (counts) => counts.succeeded === CONTACTS, 60_000);
    const attempts = await query(isolation.databaseUrl, `SELECT attempts, count(*)::int AS n FROM jobs GROUP BY attempts`);
    expect(attempts).toEqual([{ attempts: 1, n: CONTACTS }]);
    expectEachRecordWrittenOnce(sim);
  }, 180_000);
});
