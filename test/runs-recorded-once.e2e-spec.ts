import { setTimeout as sleep } from 'node:timers/promises';
import { Client } from 'pg';
import { createHubSpotSimulator, HubSpotSimulator } from '../tools/simulators/hubspot';
import { envFor, eventually, isolate, Isolation, loggingErrors, newPortal } from './support/offload-harness';
import { createPgCluster, PgCluster } from './support/pg-cluster';
import { firstAnswer, freePort, spawnOffload, START_WITHIN_MS, stop, stopAll } from './support/spawned-offload';
import { expectContactsWrittenOnce } from './support/writeback-count';

const CONTACTS = 2_000;
/** How long HubSpot takes to answer a batch update: long enough that it answers while PostgreSQL is down. */
const WRITE_LATENCY_MS = 3_000;
const OUTAGE_MS = 30_000;

describe('runs whose end PostgreSQL could not take while it was down', () => {
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

  /** One query on a connection of its own: the server may have been restarted since the last one. */
  async function query(text: string): Promise<any[]> {
    const pg = loggingErrors(new Client({ connectionString: isolation.databaseUrl }), 'PostgreSQL');
    await pg.connect();
    try {
      return (await pg.query(text)).rows;
    } finally {
      await pg.end();
    }
  }

  const statuses = async (): Promise<Record<string, number>> =>
    Object.fromEntries((await query(`SELECT status, count(*)::int AS n FROM jobs GROUP BY status`)).map((row) => [row.status, row.n]));

  it('are recorded once it is back: every job succeeds on its first run and every record is written once', async () => {
    const port = await freePort();
    const offload = spawnOffload(envFor(isolation, { PORT: String(port), HUBSPOT_BASE_URL: sim.url, LOG_LEVEL: 'error' }));
    expect((await firstAnswer(offload, '/health/ready', START_WITHIN_MS))?.status).toBe(200);
    const { portal, client, admin } = await newPortal(`http://127.0.0.1:${port}`, sim.portalId);
    expect((await admin.request('PATCH', `/v1/admin/portals/${portal.id}`, { hubspotAccessToken: sim.token })).status).toBe(200);

    sim.inject.faults({ latencyMs: WRITE_LATENCY_MS, pathIncludes: '/batch/update' });
    for (let i = 0; i < CONTACTS; i += 100) {
      const jobs = Array.from({ length: 100 }, (_, j) => ({ type: 'noop', object: { type: 'contacts', id: String(i + j + 1) }, writeback: true }));
      expect((await client.post('/v1/jobs/batch', { jobs })).status).toBe(200);
    }
    await eventually(async () => sim.stats().inFlight, (inFlight) => inFlight > 0, 30_000);
    await cluster.crash();
    await sleep(OUTAGE_MS);
    await cluster.start();

    await eventually(statuses, (counts) => counts.succeeded === CONTACTS, 180_000);
    expect(await query(`SELECT attempts, count(*)::int AS n FROM jobs GROUP BY attempts`)).toEqual([{ attempts: 1, n: CONTACTS }]);
    expectContactsWrittenOnce(sim, CONTACTS);
    expect((await stop(offload, 30_000)).code).toBe(0);
  }, 360_000);
});
