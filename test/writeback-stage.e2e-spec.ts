import { Client } from 'pg';
import { NoopHandler } from '../src/handlers/noop/noop.handler';
import { createHubSpotSimulator, HubSpotSimulator } from '../tools/simulators/hubspot';
import { ADMIN_TOKEN, configFor, envFor, eventually, HttpClient, isolate, Isolation, loggingErrors, newPortal, RunningOffload, startOffload } from './support/offload-harness';
import { firstAnswer, freePort, spawnOffload, START_WITHIN_MS, stopAll } from './support/spawned-offload';
import { expectContactsWrittenOnce, recordsWritten } from './support/writeback-count';

/** One query on a connection of its own. */
async function query(isolation: Isolation, text: string, values: unknown[] = []): Promise<any[]> {
  const pg = loggingErrors(new Client({ connectionString: isolation.databaseUrl }), 'PostgreSQL');
  await pg.connect();
  try {
    return (await pg.query(text, values)).rows;
  } finally {
    await pg.end();
  }
}

async function statusCounts(isolation: Isolation, portalId?: string): Promise<Record<string, number>> {
  const rows = await query(
    isolation,
    `SELECT status, count(*)::int AS n FROM jobs WHERE $1::uuid IS NULL OR portal_id = $1 GROUP BY status`,
    [portalId ?? null],
  );
  return Object.fromEntries(rows.map((row) => [row.status, row.n]));
}

/** Enqueues one noop job with write-back per contact id, 100 per request. */
async function enqueueWritebacks(client: HttpClient, contactIds: number[]): Promise<void> {
  for (let i = 0; i < contactIds.length; i += 100) {
    const jobs = contactIds.slice(i, i + 100).map((id) => ({ type: 'noop', object: { type: 'contacts', id: String(id) }, writeback: true }));
    const answer = await client.post('/v1/jobs/batch', { jobs });
    expect(answer.status).toBe(200);
    expect(answer.body.results.every((result: { status: number }) => result.status === 202)).toBe(true);
  }
}

const range = (from: number, count: number) => Array.from({ length: count }, (_, i) => from + i);

describe('write-back as a stage of its own: journaled, sent by writers within each portal’s budget', () => {
  describe('in one process', () => {
    let isolation: Isolation;
    let sim: HubSpotSimulator;
    let offload: RunningOffload;
    let admin: HttpClient;

    beforeAll(async () => {
      sim = await createHubSpotSimulator({ seedContacts: 0 });
      isolation = await isolate();
      offload = await startOffload(configFor(isolation, { HUBSPOT_BASE_URL: sim.url }), [NoopHandler]);
      admin = new HttpClient(offload.url, ADMIN_TOKEN);
    });

    afterAll(async () => {
      await offload?.close();
      await sim?.close();
      await isolation?.cleanup();
    });

    /** A HubSpot account with `contacts` contacts (ids 1..n) and a rate limit, and the Offload portal connected to it. */
    async function connectedPortal(hubspotPortalId: number, contacts: number, requestsPer10s: number): Promise<{ id: string; client: HttpClient }> {
      sim.addPortal({ portalId: hubspotPortalId, rateLimit: requestsPer10s, privateAppTokens: [`pat-${hubspotPortalId}`] });
      sim.defineProperties('contacts', ['ok', 'attempts'], hubspotPortalId);
      sim.seed('contacts', range(1, contacts).map((id) => ({ id })), hubspotPortalId);
      const created = await admin.post('/v1/admin/portals', {
        hubspotPortalId,
        name: `Portal ${hubspotPortalId}`,
        hubspotAccessToken: `pat-${hubspotPortalId}`,
        rateLimit: { requestsPer10s },
      });
      expect(created.status).toBe(201);
      return { id: created.body.id, client: new HttpClient(offload.url, created.body.apiKey) };
    }

    it('finishes an idle portal’s write-backs while a starved portal’s thousands wait for their budget, holding no worker', async () => {
      const starved = await connectedPortal(7_100_001, 20_000, 10);
      const idle = await connectedPortal(7_100_002, 20, 100);
      await enqueueWritebacks(starved.client, range(1, 20_000));
      await enqueueWritebacks(idle.client, range(1, 20));

      await eventually(() => statusCounts(isolation, idle.id), (counts) => counts.succeeded === 20, 120_000);
      const starvedCounts = await statusCounts(isolation, starved.id);
      // The order, not a time: the idle portal is done while most of the starved one's runs have ended and wait to be written.
      expect(starvedCounts.succeeded ?? 0).toBeLessThan(10_000);
      expect(starvedCounts.writing).toBeGreaterThan(10_000);
      expect(sim.listCalls({ endpoint: 'crm.objects.batch.update' }).filter((call) => call.status === 429)).toHaveLength(0);
      for (const id of range(1, 20)) expect(sim.getObject('contacts', id, 7_100_002)!.properties).toMatchObject({ ok: 'true', attempts: '1' });

      // Cancelling a job whose write waits withdraws the write.
      const [waiting] = await query(
        isolation,
        `SELECT j.id FROM jobs j JOIN writebacks w ON w.job_id = j.id WHERE j.portal_id = $1 AND w.status = 'pending' ORDER BY w.id DESC LIMIT 1`,
        [starved.id],
      );
      expect((await starved.client.post(`/v1/jobs/${waiting.id}/cancel`)).status).toBe(200);
      expect(await query(isolation, `SELECT status FROM writebacks WHERE job_id = $1`, [waiting.id])).toEqual([{ status: 'withdrawn' }]);
    }, 240_000);

    it('writes 50 portals at once, each within its own budget, every record once', async () => {
      const PORTALS = 50;
      const JOBS = 150;
      const LIMIT = 10;
      const portals = await Promise.all(range(7_200_001, PORTALS).map((hubspotPortalId) => connectedPortal(hubspotPortalId, JOBS, LIMIT)));
      sim.resetCalls();
      await Promise.all(portals.map((portal) => enqueueWritebacks(portal.client, range(1, JOBS))));

      await eventually(
        () => query(isolation, `SELECT count(*)::int AS n FROM jobs WHERE status = 'succeeded' AND portal_id = ANY($1::uuid[])`, [portals.map((p) => p.id)]),
        ([{ n }]) => n === PORTALS * JOBS,
        180_000,
      );
      const updates = sim.listCalls({ endpoint: 'crm.objects.batch.update' });
      expect(updates.filter((call) => call.status === 429)).toHaveLength(0);
      for (const hubspotPortalId of range(7_200_001, PORTALS)) {
        const calls = updates.filter((call) => call.portalId === hubspotPortalId && call.status === 200);
        expect(calls.reduce((sum, call) => sum + Number(call.summary?.inputs ?? 0), 0)).toBe(JOBS);
        // Within its own budget: no rolling 10 s holds more calls than the portal's limit.
        const times = calls.map((call) => Date.parse(call.time)).sort((a, b) => a - b);
        times.forEach((time) => expect(times.filter((other) => other >= time && other < time + 10_000).length).toBeLessThanOrEqual(LIMIT));
        for (const id of range(1, JOBS)) expect(sim.getObject('contacts', id, hubspotPortalId)!.properties).toMatchObject({ ok: 'true', attempts: '1' });
      }
    }, 240_000);
  });

  describe('across processes', () => {
    let isolation: Isolation;
    let sim: HubSpotSimulator;
    const CONTACTS = 300;

    beforeAll(async () => {
      isolation = await isolate();
      sim = await createHubSpotSimulator({ seedContacts: CONTACTS });
      sim.defineProperties('contacts', ['ok', 'attempts']);
    });

    afterAll(async () => {
      await stopAll();
      await sim?.close();
      await isolation?.cleanup().catch(() => undefined);
    });

    async function spawnRole(role: 'api' | 'worker') {
      const port = await freePort();
      const spawned = spawnOffload(envFor(isolation, { ROLE: role, PORT: String(port), HUBSPOT_BASE_URL: sim.url, LOG_LEVEL: 'error' }));
      expect((await firstAnswer(spawned, '/health/ready', START_WITHIN_MS))?.status).toBe(200);
      return spawned;
    }

    it('confirms by reading back, never sends again, the writes a worker SIGKILLed had on their way', async () => {
      const api = await spawnRole('api');
      const first = await spawnRole('worker');
      const { portal, client, admin } = await newPortal(`http://127.0.0.1:${api.port}`, sim.portalId);
      expect((await admin.request('PATCH', `/v1/admin/portals/${portal.id}`, { hubspotAccessToken: sim.token })).status).toBe(200);

      // HubSpot answers batch updates slowly, so they are on their way when the worker dies; it applies them all the same.
      sim.inject.faults({ latencyMs: 4_000, pathIncludes: '/batch/update' });
      await enqueueWritebacks(client, range(1, CONTACTS));
      await eventually(
        async () => ({ counts: await statusCounts(isolation), inFlight: sim.stats().inFlight }),
        ({ counts, inFlight }) => (counts.writing ?? 0) + (counts.succeeded ?? 0) === CONTACTS && inFlight > 0,
        60_000,
      );
      first.child.kill('SIGKILL');
      await first.exited;
      await spawnRole('worker');

      await eventually(() => statusCounts(isolation), (counts) => counts.succeeded === CONTACTS, 180_000);
      expect(await query(isolation, `SELECT attempts, count(*)::int AS n FROM jobs GROUP BY attempts`)).toEqual([{ attempts: 1, n: CONTACTS }]);
      expectContactsWrittenOnce(sim, CONTACTS);
      expect(recordsWritten(sim)).toBe(CONTACTS);
      // The writes the dead worker had sent were read back, not sent again.
      expect(sim.listCalls({ endpoint: 'crm.objects.batch.read' }).length).toBeGreaterThan(0);
      // Every write is settled written. (A batch the dead worker had claimed but not yet put on the
      // wire counts two sends in the journal, and one write in HubSpot, as counted above.)
      const journal = await query(isolation, `SELECT status, count(*)::int AS n FROM writebacks GROUP BY status`);
      expect(journal).toEqual([{ status: 'written', n: CONTACTS }]);
    }, 300_000);
  });
});
