import Redis from 'ioredis';
import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { JobWaiter } from '../src/jobs/job-waiter';
import { JobQueue } from '../src/queue/job-queue.service';
import {
  configFor,
  eventually,
  HttpClient,
  isolate,
  Isolation,
  newPortal,
  envFor,
  loggingErrors,
  RunningOffload,
  startOffload,
} from './support/offload-harness';
import { firstAnswer, freePort, SpawnedOffload, spawnOffload, START_WITHIN_MS, stopAll } from './support/spawned-offload';

async function countRows(databaseUrl: string, sql: string, params: unknown[]): Promise<number> {
  const pg = loggingErrors(new Client({ connectionString: databaseUrl }), 'PostgreSQL');
  await pg.connect();
  try {
    const { rows } = await pg.query(sql, params);
    return Number(rows[0].count);
  } finally {
    await pg.end();
  }
}

describe('idempotency under concurrency', () => {
  let isolation: Isolation;
  let first: RunningOffload;
  let second: RunningOffload;

  beforeAll(async () => {
    isolation = await isolate();
    first = await startOffload(configFor(isolation));
    second = await startOffload(configFor(isolation, { ROLE: 'api' }));
  });

  afterAll(async () => {
    await Promise.all([first?.close(), second?.close()]);
    await isolation?.cleanup();
  });

  it('makes 40 simultaneous identical enqueues, across two instances, into one job run once', async () => {
    const { portal, client } = await newPortal(first.url);
    const other = new HttpClient(second.url, portal.apiKey);
    const body = { type: 'noop', input: { sleepMs: 200 }, object: { type: 'CONTACT', id: '77' }, callbackId: 'ap-9-9-9-9' };
    const answers = await Promise.all(Array.from({ length: 40 }, (_, i) => (i % 2 ? other : client).post('/v1/jobs', body)));

    const statuses = answers.map((a) => a.status).sort();
    expect(statuses.filter((s) => s === 202)).toHaveLength(1);
    expect(statuses.filter((s) => s === 200)).toHaveLength(39);
    const ids = new Set(answers.map((a) => a.body.id));
    expect(ids.size).toBe(1);
    const [id] = ids;

    const done = await client.get(`/v1/jobs/${id}?wait=10`);
    expect(done.body).toMatchObject({ status: 'succeeded', attempts: 1 });
    const key = done.body.idempotencyKey;
    expect(await countRows(isolation.databaseUrl, 'SELECT count(*) FROM jobs WHERE idempotency_key = $1', [key])).toBe(1);
    expect(
      await countRows(isolation.databaseUrl, `SELECT count(*) FROM outbox_events WHERE key = $1 AND payload->>'event' = 'job.succeeded'`, [id]),
    ).toBe(1);
  });
});

describe('recovery after Redis loses the queue', () => {
  let isolation: Isolation;
  let api: RunningOffload | undefined;
  let worker: RunningOffload | undefined;

  beforeAll(async () => {
    isolation = await isolate();
  });

  afterAll(async () => {
    await Promise.all([api?.close(), worker?.close()]);
    await isolation?.cleanup();
  });

  it('runs every accepted job once, after Redis lost them before any ran', async () => {
    api = await startOffload(configFor(isolation, { ROLE: 'api' }));
    const { client } = await newPortal(api.url);
    const answer = await client.post('/v1/jobs/batch', { jobs: Array.from({ length: 60 }, (_, i) => ({ type: 'noop', idempotencyKey: `lost-${i}` })) });
    expect(answer.body.results.every((r: { status: number }) => r.status === 202)).toBe(true);
    const ids: string[] = answer.body.results.map((r: { job: { id: string } }) => r.job.id);

    // Every key of this test's prefix goes, as a flush would take them; the shared Redis keeps the rest.
    const redis = loggingErrors(new Redis({ host: '127.0.0.1', port: 6379, db: isolation.redisDb }), 'Redis');
    const queued = await eventually(() => redis.keys(`${isolation.redisPrefix}:*`), (keys) => keys.some((key) => key.includes(':bull:')));
    await redis.del(...queued);
    redis.disconnect();

    worker = await startOffload(configFor(isolation, { ROLE: 'worker', RECONCILE_INTERVAL_MS: '300' }));
    for (const id of ids) {
      const done = await client.get(`/v1/jobs/${id}?wait=15`);
      expect(done.body).toMatchObject({ status: 'succeeded', attempts: 1 });
    }
  });
});

describe('a job delivered again while another run holds it', () => {
  let isolation: Isolation;
  let pg: Client;
  let api: RunningOffload | undefined;
  let worker: RunningOffload | undefined;

  beforeAll(async () => {
    isolation = await isolate();
    pg = loggingErrors(new Client({ connectionString: isolation.databaseUrl }), 'PostgreSQL');
    await pg.connect();
  });

  afterAll(async () => {
    await Promise.all([api?.close(), worker?.close()]);
    await pg?.end();
    await isolation?.cleanup();
  });

  it('is not run while its holder is within its deadline, and is run once the holder is past it', async () => {
    api = await startOffload(configFor(isolation, { ROLE: 'api' }));
    const { client } = await newPortal(api.url);
    const { id } = (await client.post('/v1/jobs', { type: 'noop' })).body;
    const holder = randomUUID();
    await pg.query(
      `UPDATE jobs SET status = 'running', attempts = 1, started_at = now(), run_id = $2, run_deadline_at = now() + interval '1 hour' WHERE id = $1`,
      [id, holder],
    );

    worker = await startOffload(configFor(isolation, { ROLE: 'worker' }));
    const queue = worker.app.get(JobQueue).queueFor('noop');
    await eventually(() => queue.getJobState(id), (state) => state === 'delayed');
    const { rows } = await pg.query(`SELECT status, attempts, run_id FROM jobs WHERE id = $1`, [id]);
    expect(rows).toEqual([{ status: 'running', attempts: 1, run_id: holder }]);

    // The holder is gone: its deadline passes, and the delayed delivery comes due.
    await pg.query(`UPDATE jobs SET run_deadline_at = now() - interval '1 second' WHERE id = $1`, [id]);
    await (await queue.getJob(id))!.promote();
    const done = await client.get(`/v1/jobs/${id}?wait=10`);
    expect(done.body).toMatchObject({ status: 'succeeded', attempts: 2, output: { ok: true, attempts: 2 } });
  });
});

describe('graceful shutdown on SIGTERM', () => {
  let isolation: Isolation;
  let api: RunningOffload;
  let client: HttpClient;
  let rescuer: RunningOffload | undefined;

  /** A worker in a process of its own, as a deployment runs it, serving /health/live. */
  async function workerProcess(env: Record<string, string>): Promise<SpawnedOffload> {
    const port = await freePort();
    const worker = spawnOffload(envFor(isolation, { ROLE: 'worker', PORT: String(port), ...env }));
    if ((await firstAnswer(worker, '/health/live', START_WITHIN_MS))?.status !== 200) {
      throw new Error(`the worker did not start:\n${worker.stderr()}`);
    }
    return worker;
  }

  beforeAll(async () => {
    isolation = await isolate();
    api = await startOffload(configFor(isolation, { ROLE: 'api' }));
    ({ client } = await newPortal(api.url));
  });

  afterEach(() => stopAll());

  afterAll(async () => {
    await Promise.all([api?.close(), rescuer?.close()]);
    await isolation?.cleanup();
  });

  it('lets a running job finish within the grace period, then exits cleanly', async () => {
    const worker = await workerProcess({ SHUTDOWN_GRACE_MS: '10000' });
    const created = await client.post('/v1/jobs', { type: 'noop', input: { sleepMs: 1500 } });
    await eventually(() => client.get(`/v1/jobs/${created.body.id}`), (a) => a.body.status === 'running');
    worker.child.kill('SIGTERM');
    expect((await worker.exited).code).toBe(0);
    const job = await client.get(`/v1/jobs/${created.body.id}`);
    expect(job.body).toMatchObject({ status: 'succeeded', attempts: 1 });
  });

  it('hands a job that outlives the grace period back to the queue, where another worker completes it', async () => {
    const worker = await workerProcess({ SHUTDOWN_GRACE_MS: '300' });
    const created = await client.post('/v1/jobs', { type: 'noop', input: { sleepMs: 4000 } });
    await eventually(() => client.get(`/v1/jobs/${created.body.id}`), (a) => a.body.status === 'running');
    worker.child.kill('SIGTERM');
    expect((await worker.exited).code).toBe(0);

    // still queued, never run to its end: the worker left after its grace, not after the job
    const handedBack = await client.get(`/v1/jobs/${created.body.id}`);
    expect(handedBack.body).toMatchObject({ status: 'queued', attempts: 0 });

    rescuer = await startOffload(configFor(isolation, { ROLE: 'worker' }));
    const done = await client.get(`/v1/jobs/${created.body.id}?wait=10`);
    expect(done.body).toMatchObject({ status: 'succeeded', attempts: 1, output: { ok: true, attempts: 1 } });
  });
});

describe('closing while requests are in flight', () => {
  let isolation: Isolation;

  beforeAll(async () => {
    isolation = await isolate();
  });

  afterAll(async () => {
    await isolation?.cleanup();
  });

  it('answers each of them, then closes: no connection is left holding the close open', async () => {
    const api = await startOffload(configFor(isolation, { ROLE: 'api' }));
    const { client } = await newPortal(api.url);
    // No worker: the jobs stay queued, so each long-poll is still waiting when the close begins.
    const batch = await client.post('/v1/jobs/batch', { jobs: Array.from({ length: 5 }, () => ({ type: 'noop' })) });
    const ids: string[] = batch.body.results.map((result: { job: { id: string } }) => result.job.id);
    const server = api.app.getHttpServer();
    const connections = () => new Promise<number>((resolve, reject) => server.getConnections((error, count) => (error ? reject(error) : resolve(count))));
    const watched = jest.spyOn(api.app.get(JobWaiter), 'watch');
    const polls = ids.map((id) => client.get(`/v1/jobs/${id}?wait=3`));
    await eventually(async () => watched.mock.calls.length, (count) => count === ids.length);

    await api.close();
    const answers = await Promise.all(polls);
    expect(answers.map((answer) => answer.status)).toEqual(ids.map(() => 200));
    expect(await connections()).toBe(0);
  });
});
