import Redis from 'ioredis';
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { NoopHandler } from '../src/handlers/noop/noop.handler';
import { JobQueue } from '../src/queue/job-queue.service';
import { configFor, envFor, eventually, HttpClient, isolate, Isolation, loggingErrors, newPortal, RunningOffload, startOffload } from './support/offload-harness';
import { ProbeHandler, probeLog } from './support/probe-handler';
import { firstAnswer, freePort, SpawnedOffload, spawnOffload, START_WITHIN_MS, stopAll } from './support/spawned-offload';

const HANDLERS = [NoopHandler, ProbeHandler];

/** Enqueues `count` jobs of a portal through the batch call, 100 at a time, each under a key of its own; answers their ids in order. */
async function enqueue(client: HttpClient, count: number, job: Record<string, unknown>): Promise<string[]> {
  const ids: string[] = [];
  const tag = randomUUID();
  for (let i = 0; i < count; i += 100) {
    const jobs = Array.from({ length: Math.min(100, count - i) }, (_, j) => ({ ...job, idempotencyKey: `${tag}-${i + j}` }));
    const answer = await client.post('/v1/jobs/batch', { jobs });
    if (answer.status !== 200) throw new Error(`enqueue answered ${answer.status}: ${JSON.stringify(answer.body)}`);
    ids.push(...answer.body.results.map((result: { status: number; job: { id: string } }) => result.job.id));
  }
  return ids;
}

async function schedule(admin: HttpClient, portalId: string, scheduling: Record<string, unknown>): Promise<void> {
  const answer = await admin.request('PATCH', `/v1/admin/portals/${portalId}`, { scheduling });
  if (answer.status !== 200) throw new Error(`PATCH answered ${answer.status}: ${JSON.stringify(answer.body)}`);
}

/** How many of the first `count` probe runs started of each portal, as a share. */
function shares(portals: string[], count: number): number[] {
  const first = probeLog.starts.filter((start) => portals.includes(start.portalId)).slice(0, count);
  return portals.map((portal) => first.filter((start) => start.portalId === portal).length / first.length);
}

describe('fair share of the workers across portals', () => {
  let isolation: Isolation;
  let pg: Client;
  const apps: RunningOffload[] = [];
  const start = async (role: 'api' | 'worker', env: Record<string, string> = {}) => {
    const app = await startOffload(configFor(isolation, { ROLE: role, ...env }), HANDLERS);
    apps.push(app);
    return app;
  };
  const closeAll = async () => {
    await Promise.all(apps.splice(0).map((app) => app.close()));
  };
  const countJobs = async (where: string, params: unknown[]) => Number((await pg.query(`SELECT count(*) FROM jobs WHERE ${where}`, params)).rows[0].count);

  beforeAll(async () => {
    isolation = await isolate();
    pg = loggingErrors(new Client({ connectionString: isolation.databaseUrl }), 'PostgreSQL');
    await pg.connect();
  });

  beforeEach(() => probeLog.reset());

  afterEach(async () => {
    await closeAll();
    await stopAll();
    // What a test left waiting does not run in the next one.
    await pg.query(`UPDATE jobs SET status = 'cancelled', finished_at = now() WHERE finished_at IS NULL`);
    const redis = loggingErrors(new Redis({ host: '127.0.0.1', port: 6379, db: isolation.redisDb }), 'Redis');
    const keys = await redis.keys(`${isolation.redisPrefix}:*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
  });

  afterAll(async () => {
    await pg?.end();
    await isolation?.cleanup();
  });

  it("starts a new portal's jobs ahead of another portal's backlog of 20,000", async () => {
    const api = await start('api');
    const a = await newPortal(api.url);
    const b = await newPortal(api.url);
    await enqueue(a.client, 20_000, { type: 'noop' });
    const bIds = await enqueue(b.client, 10, { type: 'noop' });

    await Promise.all([start('worker'), start('worker')]);
    for (const id of bIds) expect((await b.client.get(`/v1/jobs/${id}?wait=15`)).body.status).toBe('succeeded');
    const aheadOfB = await countJobs(
      `portal_id = $1 AND started_at < (SELECT max(started_at) FROM jobs WHERE portal_id = $2)`,
      [a.portal.id, b.portal.id],
    );
    // In arrival order, all 20,000 would have started first.
    expect(aheadOfB).toBeLessThan(2_000);
  });

  it('gives portals with deep backlogs started-job shares in proportion to their weights, 1:1:2', async () => {
    const api = await start('api');
    const portals = [await newPortal(api.url), await newPortal(api.url), await newPortal(api.url)];
    await schedule(portals[2].admin, portals[2].portal.id, { weight: 2 });
    expect((await portals[2].admin.get(`/v1/admin/portals/${portals[2].portal.id}`)).body.scheduling).toEqual({ weight: 2, maxConcurrency: null });
    for (const [index, portal] of portals.entries()) await enqueue(portal.client, index === 2 ? 400 : 200, { type: 'probe', input: { sleepMs: 2 } });

    await Promise.all([start('worker'), start('worker')]);
    await eventually(async () => probeLog.starts.length, (count) => count === 800);
    // Over the first 400 starts every portal still has jobs waiting.
    const [first, second, third] = shares(
      portals.map((portal) => portal.portal.id),
      400,
    );
    expect(Math.abs(first - 0.25)).toBeLessThanOrEqual(0.05);
    expect(Math.abs(second - 0.25)).toBeLessThanOrEqual(0.05);
    expect(Math.abs(third - 0.5)).toBeLessThanOrEqual(0.05);
  });

  it("never runs more of a portal's jobs at once than its maxConcurrency, across two workers", async () => {
    const api = await start('api');
    const capped = await newPortal(api.url);
    const free = await newPortal(api.url);
    await schedule(capped.admin, capped.portal.id, { maxConcurrency: 2 });
    await Promise.all([start('worker'), start('worker')]);
    const ids = [
      ...(await enqueue(capped.client, 40, { type: 'probe', input: { sleepMs: 30 } })),
      ...(await enqueue(free.client, 40, { type: 'probe', input: { sleepMs: 30 } })),
    ];
    await eventually(() => countJobs(`id = ANY($1) AND status = 'succeeded'`, [ids]), (count) => count === 80);
    expect(probeLog.mostRunning.get(capped.portal.id)).toBe(2);
    expect(probeLog.mostRunning.get(free.portal.id)).toBeGreaterThan(2);
  });

  it('lists the jobs waiting by portal and type, the longest waiting first, and shows the portals with the most in metrics', async () => {
    const api = await start('api');
    const older = await newPortal(api.url);
    const newer = await newPortal(api.url);
    await enqueue(older.client, 3, { type: 'probe' });
    await enqueue(newer.client, 5, { type: 'probe' });
    await pg.query(`UPDATE jobs SET created_at = created_at - interval '1 hour' WHERE portal_id = $1`, [older.portal.id]);

    const listed = await older.admin.get('/v1/admin/portals/waiting?limit=2');
    expect(listed.status).toBe(200);
    expect(listed.body.waiting).toEqual([
      expect.objectContaining({ portalId: older.portal.id, type: 'probe', waiting: 3 }),
      expect.objectContaining({ portalId: newer.portal.id, type: 'probe', waiting: 5 }),
    ]);
    expect((await older.admin.get('/v1/admin/portals/waiting?limit=0')).status).toBe(400);
    const metrics = (await older.admin.get('/metrics')).body as string;
    expect(metrics).toContain(`offload_portal_jobs_waiting{portal="${newer.portal.id}",type="probe"} 5`);
  });

  it('takes a cancelled job out of its portal backlog: it never runs, and the others do', async () => {
    const api = await start('api');
    const { client } = await newPortal(api.url);
    const ids = await enqueue(client, 50, { type: 'probe' });
    const waiting = ids[ids.length - 1];
    // It waits in its portal's backlog, not in BullMQ.
    expect(await api.app.get(JobQueue).queueFor('probe').getJobState(waiting)).toBe('unknown');
    expect((await client.post(`/v1/jobs/${waiting}/cancel`)).body.status).toBe('cancelled');

    await start('worker');
    await eventually(() => countJobs(`id = ANY($1) AND status = 'succeeded'`, [ids]), (count) => count === 49);
    expect(probeLog.starts.map((started) => started.jobId)).not.toContain(waiting);
    expect((await client.get(`/v1/jobs/${waiting}`)).body.status).toBe('cancelled');
  });

  it("puts a retry back in its portal's share: another portal's jobs do not wait behind a mass of retries", async () => {
    const api = await start('api');
    const a = await newPortal(api.url);
    const b = await newPortal(api.url);
    const worker = await start('worker');
    const aIds = await enqueue(a.client, 60, { type: 'probe', input: { failFirst: true, retryAfterMs: 3_000 } });
    await eventually(() => countJobs(`id = ANY($1) AND status = 'queued' AND attempts = 1`, [aIds]), (count) => count === 60);
    await worker.close();
    apps.splice(apps.indexOf(worker), 1);
    await new Promise((resolve) => setTimeout(resolve, 3_200));

    // Every retry of A is due now; B's jobs join the schedule beside them.
    const bIds = await enqueue(b.client, 20, { type: 'probe' });
    await start('worker');
    await eventually(() => countJobs(`id = ANY($1) AND status = 'succeeded'`, [[...aIds, ...bIds]]), (count) => count === 80);
    const lastB = probeLog.starts.findLastIndex((started) => started.portalId === b.portal.id);
    const retriesBefore = probeLog.starts.slice(0, lastB).filter((started) => started.portalId === a.portal.id && started.attempt === 2).length;
    // Taking turns, B's 20 go with about as many of A's 60 retries, not after them all.
    expect(retriesBefore).toBeLessThan(40);
    expect(probeLog.starts.filter((started) => started.attempt === 2)).toHaveLength(60);
  });

  it('keeps the shares after a worker is killed mid-run, and runs every job', async () => {
    const api = await start('api');
    const a = await newPortal(api.url);
    const b = await newPortal(api.url);
    const ids: string[] = [];
    // 1,600 three-second jobs on 400 slots: 12 s of work, so the kill below leaves most of them to share out, however late this process notices the 400th start.
    for (let i = 0; i < 8; i++) for (const portal of [a, b]) ids.push(...(await enqueue(portal.client, 100, { type: 'noop', input: { sleepMs: 3_000 } })));

    const spawnWorker = async (): Promise<SpawnedOffload> => {
      const port = await freePort();
      const worker = spawnOffload(envFor(isolation, { ROLE: 'worker', PORT: String(port) }));
      if ((await firstAnswer(worker, '/health/live', START_WITHIN_MS))?.status !== 200) throw new Error(`the worker did not start:\n${worker.stderr()}`);
      return worker;
    };
    const doomed = await spawnWorker();
    await spawnWorker();
    await eventually(() => countJobs(`id = ANY($1) AND started_at IS NOT NULL`, [ids]), (count) => count >= 400, 60_000);

    doomed.child.kill('SIGKILL');
    await doomed.exited;
    const killedAt = (await pg.query(`SELECT now() AS at`)).rows[0].at;
    await spawnWorker();

    // Its runs are taken up again once BullMQ finds them stalled and their deadline has passed; every job succeeds, each once.
    await eventually(() => countJobs(`id = ANY($1) AND status = 'succeeded'`, [ids]), (count) => count === ids.length, 180_000);
    const started = await pg.query(
      `SELECT portal_id, count(*)::int AS n FROM jobs WHERE id = ANY($1) AND started_at > $2
         AND started_at < (SELECT min(last) FROM (SELECT max(started_at) AS last FROM jobs WHERE id = ANY($1) GROUP BY portal_id) l)
       GROUP BY portal_id`,
      [ids, killedAt],
    );
    const counts = started.rows.map((row) => row.n as number);
    // Within 5% of half each.
    expect(counts).toHaveLength(2);
    expect(Math.abs(counts[0] / (counts[0] + counts[1]) - 0.5)).toBeLessThanOrEqual(0.05);
    expect(await countJobs(`id = ANY($1) AND (SELECT count(*) FROM outbox_events e WHERE e.key = jobs.id::text AND e.payload->>'event' = 'job.succeeded') <> 1`, [ids])).toBe(0);
  }, 240_000);
});

describe('fair share after Redis lost everything', () => {
  let isolation: Isolation;
  let port: number;
  let redis: Redis;
  let pidFile: string;
  const apps: RunningOffload[] = [];

  beforeAll(async () => {
    isolation = await isolate();
    port = await freePort();
    pidFile = join(tmpdir(), `offload-fair-redis-${port}.pid`);
    execFileSync('redis-server', ['--port', String(port), '--save', '', '--appendonly', 'no', '--daemonize', 'yes', '--pidfile', pidFile]);
    redis = loggingErrors(new Redis({ host: '127.0.0.1', port }), 'Redis');
    await eventually(() => redis.ping().catch(() => ''), (pong) => pong === 'PONG');
    probeLog.reset();
  });

  afterAll(async () => {
    await Promise.all(apps.map((app) => app.close()));
    redis?.disconnect();
    const pid = Number(readFileSync(pidFile, 'utf8'));
    if (pid > 0) process.kill(pid, 'SIGTERM');
    await isolation?.cleanup();
  });

  it("re-feeds the jobs in their portals' shares, weights included, and runs each once", async () => {
    const env = { REDIS_URL: `redis://127.0.0.1:${port}/0` };
    const api = await startOffload(configFor(isolation, { ROLE: 'api', ...env }), HANDLERS);
    apps.push(api);
    const a = await newPortal(api.url);
    const b = await newPortal(api.url);
    await schedule(b.admin, b.portal.id, { weight: 2 });
    const aIds = await enqueue(a.client, 300, { type: 'probe', input: { sleepMs: 5 } });
    const bIds = await enqueue(b.client, 600, { type: 'probe', input: { sleepMs: 5 } });

    await redis.flushall();
    for (let i = 0; i < 2; i++) apps.push(await startOffload(configFor(isolation, { ROLE: 'worker', ...env }), HANDLERS));
    const pg = loggingErrors(new Client({ connectionString: isolation.databaseUrl }), 'PostgreSQL');
    await pg.connect();
    try {
      await eventually(
        async () => Number((await pg.query(`SELECT count(*) FROM jobs WHERE id = ANY($1) AND status = 'succeeded'`, [[...aIds, ...bIds]])).rows[0].count),
        (count) => count === 900,
      );
    } finally {
      await pg.end();
    }
    expect(probeLog.starts).toHaveLength(900);
    // While both have jobs waiting, B (weight 2) gets two starts to A's one.
    const [aShare, bShare] = shares([a.portal.id, b.portal.id], 450);
    expect(Math.abs(aShare - 1 / 3)).toBeLessThanOrEqual(0.1);
    expect(Math.abs(bShare - 2 / 3)).toBeLessThanOrEqual(0.1);
  });
});
