import { Queue } from 'bullmq';
import { Client } from 'pg';
import { queueNameFor } from '../src/queue/queue-names';
import { configFor, envFor, eventually, isolate, Isolation, loggingErrors, newPortal, RunningOffload, startOffload } from './support/offload-harness';
import { firstAnswer, freePort, SpawnedOffload, spawnOffload, START_WITHIN_MS, stopAll } from './support/spawned-offload';

const JOBS = 20;
/** Long enough that every run is still going when its worker is killed. */
const RUN_MS = 10_000;

describe('a worker SIGKILLed mid-run', () => {
  let isolation: Isolation;
  let api: RunningOffload;
  let pg: Client;
  let queue: Queue;

  beforeAll(async () => {
    isolation = await isolate();
    api = await startOffload(configFor(isolation, { ROLE: 'api' }));
    pg = loggingErrors(new Client({ connectionString: isolation.databaseUrl }), 'PostgreSQL');
    await pg.connect();
    queue = new Queue(queueNameFor('noop'), {
      connection: { host: '127.0.0.1', port: 6379, db: isolation.redisDb },
      prefix: `${isolation.redisPrefix}:bull`,
    });
  });

  afterAll(async () => {
    await stopAll();
    await queue?.close();
    await pg?.end();
    await api?.close();
    await isolation?.cleanup();
  });

  async function worker(): Promise<SpawnedOffload> {
    const port = await freePort();
    const spawned = spawnOffload(envFor(isolation, { ROLE: 'worker', PORT: String(port), LOG_LEVEL: 'error' }));
    if ((await firstAnswer(spawned, '/health/ready', START_WITHIN_MS))?.status !== 200) throw new Error(`the worker did not start:\n${spawned.stderr()}`);
    return spawned;
  }

  const jobs = async () =>
    (await pg.query(`SELECT id, status, attempts, output FROM jobs ORDER BY id`)).rows as Array<{
      id: string;
      status: string;
      attempts: number;
      output: { ok: boolean; attempts: number } | null;
    }>;

  it("has its jobs run again by the other worker, each once more, and each ends once", async () => {
    const doomed = await worker();
    const { client } = await newPortal(api.url);
    const batch = await client.post('/v1/jobs/batch', { jobs: Array.from({ length: JOBS }, (_, i) => ({ type: 'noop', input: { sleepMs: RUN_MS }, idempotencyKey: `mid-run-${i}` })) });
    expect(batch.body.results.every((result: { status: number }) => result.status === 202)).toBe(true);
    await eventually(jobs, (rows) => rows.length === JOBS && rows.every((row) => row.status === 'running'), 30_000);
    const survivor = await worker();

    doomed.child.kill('SIGKILL');
    await doomed.exited;
    const killedAt = Date.now();
    const ids = (await jobs()).map((row) => row.id);
    const seconds = (at: number) => ((at - killedAt) / 1000).toFixed(1);

    // Delivered again: BullMQ found the dead worker's locks expired and handed the jobs out anew.
    await eventually(
      async () => Promise.all(ids.map(async (id) => (await queue.getJob(id))?.stalledCounter ?? 0)),
      (counters) => counters.every((count) => count > 0),
      120_000,
    );
    const deliveredAt = Date.now();
    // Run again: a new run claimed each job in PostgreSQL.
    await eventually(jobs, (rows) => rows.every((row) => row.attempts === 2), 120_000);
    const rerunAt = Date.now();
    const ended = await eventually(jobs, (rows) => rows.every((row) => row.status === 'succeeded'), 120_000);
    const endedAt = Date.now();
    process.stdout.write(
      `Dead worker recovery (${JOBS} jobs of ${RUN_MS / 1000} s): delivered again ${seconds(deliveredAt)} s after SIGKILL, ` +
        `running again ${seconds(rerunAt)} s after, all succeeded ${seconds(endedAt)} s after\n`,
    );

    // The killed run was the first attempt; the survivor's run the second, and the last.
    expect(ended.map((row) => ({ attempts: row.attempts, output: row.output }))).toEqual(
      Array(JOBS).fill({ attempts: 2, output: { ok: true, attempts: 2 } }),
    );
    const { rows: events } = await pg.query(
      `SELECT payload->>'event' AS event, count(*)::int AS n FROM outbox_events WHERE key = ANY($1) GROUP BY 1 ORDER BY 1`,
      [ids],
    );
    expect(events).toEqual([
      { event: 'job.queued', n: JOBS },
      { event: 'job.succeeded', n: JOBS },
    ]);
    expect(survivor.hasExited()).toBe(false);
  }, 240_000);
});
