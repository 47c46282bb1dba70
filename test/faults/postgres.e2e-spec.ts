import { setTimeout as sleep } from 'node:timers/promises';
import { WritebackWriter } from '../../src/hubspot/client/writeback-writer';
import { createHubSpotSimulator } from '../../tools/simulators/hubspot';
import { configFor, isolate, loggingErrors, newPortal, startOffload } from '../support/offload-harness';
import { Client } from 'pg';
import { FaultEnv, probeSummary, until, writebackJobs } from './support/fault-env';
import { expectEveryJobDoneOnce } from './support/job-audit';
import { report, seconds } from './support/summary';

const JOBS = 2_000;
const OUTAGE_MS = 30_000;

describe('fault suite: PostgreSQL, the source of truth, goes away', () => {
  let env: FaultEnv | undefined;

  afterEach(async () => {
    await env?.stop();
    env = undefined;
  });

  it('stopped with -m immediate for 30 s, then started: the API answers 503 unavailable throughout, never 500; runs and writes are recorded once it is back', async () => {
    env = await FaultEnv.start({ contacts: JOBS });
    // Batch updates take 3 s, so that HubSpot answers some of them while PostgreSQL is down.
    env.sim.inject.faults({ latencyMs: 3_000, pathIncludes: '/batch/update' });
    const ids = await env.enqueue(writebackJobs(1, JOBS, { sleepMs: 500 }));
    await until(async () => env!.sim.stats().inFlight, (inFlight) => inFlight > 0, 60_000);

    await env.cluster.crash();
    const crashedAt = Date.now();
    let phase: 'down' | 'starting' | 'up' = 'down';
    const probing = env.probeWhile(() => phase !== 'up', ids[0]);
    await sleep(OUTAGE_MS);
    phase = 'starting';
    const startingAt = Date.now();
    await env.cluster.start();
    const upAt = Date.now();
    phase = 'up';
    const { answers, keys } = await probing;
    ids.push(...(await env.acceptProbes(keys, 60_000)));
    await env.allEnded(ids.length, 300_000);

    const audit = await expectEveryJobDoneOnce(env, ids);
    expect(audit.runs).toBe(ids.length);
    const refused = answers.filter((answer) => answer.status < 200 || answer.status >= 300);
    const { lastEnd } = await env.timeline(upAt);
    report(
      'PostgreSQL stopped -m immediate for 30 s',
      `${ids.length} jobs; down ${seconds(crashedAt, startingAt)}, accepting connections ${seconds(startingAt, upAt)} after the start; ` +
        `meanwhile the API answered ${probeSummary(answers)}; all ended ${seconds(upAt, lastEnd)} after`,
    );
    // Down, and while it starts, a request either gets through or is refused as the contract says.
    expect(refused.filter((answer) => answer.status !== 503 || answer.code !== 'unavailable')).toEqual([]);
    expect(refused.length).toBeGreaterThan(0);
  }, 420_000);

  it('a claim of writes that PostgreSQL committed but whose answer never came back: the writes are not held forever; their lease lapses and each is made once', async () => {
    // A writer's claim marks writes sent under its lease; should the connection drop between the
    // commit and the answer, the writer never learns of them. Here, one such write, made by hand.
    const isolation = await isolate();
    const sim = await createHubSpotSimulator({ seedContacts: 1 });
    sim.defineProperties('contacts', ['ok', 'attempts']);
    const api = await startOffload(configFor(isolation, { ROLE: 'api', HUBSPOT_BASE_URL: sim.url, LOG_LEVEL: 'error' }));
    let worker: Awaited<ReturnType<typeof startOffload>> | undefined;
    try {
      const { portal, client, admin } = await newPortal(api.url, sim.portalId);
      expect((await admin.request('PATCH', `/v1/admin/portals/${portal.id}`, { hubspotAccessToken: sim.token })).status).toBe(200);
      const job = (await client.post('/v1/jobs', { type: 'noop', object: { type: 'contacts', id: '1' }, writeback: true })).body;
      const pg = loggingErrors(new Client({ connectionString: isolation.databaseUrl }), 'PostgreSQL');
      await pg.connect();
      try {
        await pg.query(`UPDATE jobs SET status = 'writing', attempts = 1, started_at = now(), output = '{"ok": true, "attempts": 1}' WHERE id = $1`, [job.id]);
        worker = await startOffload(configFor(isolation, { ROLE: 'worker', HUBSPOT_BASE_URL: sim.url, LOG_LEVEL: 'error' }));
        const claimedAt = Date.now();
        await pg.query(
          `INSERT INTO writebacks (job_id, portal_id, object_type, object_id, priority, job_order, properties, status, sends, sent_by, lease_until, sent_at, handler_type, handler_version)
           SELECT id, portal_id, 'contacts', '1', priority, created_at, '{"ok": "true", "attempts": "1"}', 'sent', 1, $2, now() + interval '1 second', now(), type, handler_version
           FROM jobs WHERE id = $1`,
          [job.id, worker.app.get(WritebackWriter).id],
        );
        const ended = await until(
          async () => (await pg.query(`SELECT status FROM jobs WHERE id = $1`, [job.id])).rows[0].status,
          (status) => status !== 'writing',
          120_000,
        );
        expect(ended).toBe('succeeded');
        expect(sim.getObject('contacts', 1)).toMatchObject({ writes: 1, properties: { ok: 'true', attempts: '1' } });
        report('a claim whose answer was lost', `the write was read back and made ${seconds(claimedAt, Date.now())} after its claim`);
      } finally {
        await pg.end();
      }
    } finally {
      await worker?.close();
      await api.close();
      await sim.close();
      await isolation.cleanup();
    }
  }, 300_000);
});
