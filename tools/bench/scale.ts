/**
 * `npm run bench:scale`: how Offload's cost grows with the work, in one run.
 *   1. The process-count curve: end-to-end noop throughput (tools/bench/throughput.ts) with one API
 *      and 1, 2 and 4 worker processes, then with 2 API and 2 worker processes, next to bare BullMQ
 *      in the same run.
 *   2. The large jobs table: the latency of enqueue, poll, operator listing, claim, finish and
 *      reconcile on an empty jobs table, then again once --rows rows (10 million by default), made
 *      by SQL, sit in it, side by side.
 * Each part has its own database and Redis prefix, dropped at the end. It exits 0 whatever the
 * figures (a measurement), 1 when the run fails, 2 for bad flags, 130 when interrupted.
 */
import { cpus, loadavg } from 'node:os';
import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { JobRepository } from '../../src/jobs/job.repository';
import { FlagsError, log, parseFlags } from './bench-session';
import { HttpClient } from './http';
import { dispose, Isolation, newIsolation, prepare } from './isolation';
import { ADMIN_TOKEN, OffloadProcesses, ProcessCounts } from './offload-processes';
import { LatencySummary, round, summarize, table } from './stats';
import { BareBullmq, OffloadThroughput, offloadThroughput } from './throughput';

const USAGE = `npm run bench:scale [-- flags]
  --jobs=N        jobs per end-to-end run of each process layout (default 20000)
  --rows=N        rows in the large jobs table (default 10000000; 0 skips the large-table part)
  --samples=N     requests or statements timed per operation (default 400; listings a tenth of it)
  --skip-curve=1  only the large-table part`;

const LAYOUTS: ProcessCounts[] = [
  { api: 1, worker: 1 },
  { api: 1, worker: 2 },
  { api: 1, worker: 4 },
  { api: 2, worker: 2 },
];
const BATCH = { batchSize: 100, batchConcurrency: 4 };
/** Rows the large table gets per INSERT: each is one transaction, so progress shows and WAL stays bounded. */
const FILL_CHUNK = 500_000;
/** Portals the generated rows are spread over. */
const FILL_PORTALS = 20;
/** Statements claim, finish and reconcile at most this many jobs at once, as the worker's micro-batches do. */
const STATEMENT_BATCH = 50;

const label = (counts: ProcessCounts) => `${counts.api} api + ${counts.worker} worker${counts.worker > 1 ? 's' : ''}`;

let stopRequested = false;
const cleanups: Array<() => Promise<unknown>> = [];

async function createPortal(client: HttpClient, purpose: string): Promise<{ id: string; apiKey: string }> {
  const hubspotPortalId = 1 + Math.floor(Math.random() * 2_000_000_000);
  const created = await client.json('POST', '/v1/admin/portals', { hubspotPortalId, name: `bench scale ${purpose}` }, ADMIN_TOKEN);
  if (created.status !== 201) throw new Error(`portal not created: ${created.status} ${JSON.stringify(created.body)}`);
  return created.body;
}

async function withServers<T>(isolation: Isolation, counts: ProcessCounts, body: (servers: OffloadProcesses, clients: HttpClient[]) => Promise<T>): Promise<T> {
  const servers = new OffloadProcesses(isolation, counts);
  const stop = () => servers.stop();
  cleanups.push(stop);
  try {
    await servers.start();
    const clients = servers.apiUrls.map((url) => new HttpClient(url, 8));
    try {
      const result = await body(servers, clients);
      servers.assertAlive();
      return result;
    } finally {
      clients.forEach((client) => client.close());
    }
  } finally {
    await servers.stop();
    cleanups.splice(cleanups.indexOf(stop), 1);
  }
}

interface CurvePoint {
  layout: string;
  run: OffloadThroughput;
}

async function processCurve(isolation: Isolation, jobs: number): Promise<{ points: CurvePoint[]; bareJobsPerSecond: number }> {
  const db = new Client({ connectionString: isolation.databaseUrl });
  await db.connect();
  const points: CurvePoint[] = [];
  const settings = (count: number) => ({ jobs: count, ...BATCH, shouldStop: () => stopRequested, log });
  try {
    for (const counts of LAYOUTS) {
      if (stopRequested) break;
      log(`curve: ${label(counts)}`);
      const run = await withServers(isolation, counts, async (_servers, clients) => {
        const warm = await createPortal(clients[0], 'warm-up');
        await offloadThroughput(clients, warm.apiKey, warm.id, db, `${isolation.runId}-warm-${counts.api}-${counts.worker}`, settings(Math.min(jobs, 4_000)));
        const measured = await createPortal(clients[0], label(counts));
        return offloadThroughput(clients, measured.apiKey, measured.id, db, `${isolation.runId}-${counts.api}-${counts.worker}`, settings(jobs));
      });
      log(`  ${round(run.jobsPerSecond, 0)} jobs/s${run.complete ? '' : ' (INCOMPLETE)'}`);
      points.push({ layout: label(counts), run });
    }
  } finally {
    await db.end();
  }
  const bare = new BareBullmq(isolation, 200);
  cleanups.push(() => bare.stop());
  await bare.start();
  try {
    await bare.run(settings(Math.min(jobs, 4_000)));
    const run = await bare.run(settings(jobs));
    log(`curve: bare BullMQ ${round(run.jobsPerSecond, 0)} jobs/s`);
    return { points, bareJobsPerSecond: run.jobsPerSecond };
  } finally {
    await bare.stop();
  }
}

type Operation = 'enqueue' | 'poll' | 'list (newest)' | 'list (busiest portal)' | 'list (failed)' | 'failure summary' | 'claim' | 'finish' | 'reconcile';

/** The latency of each operation, in milliseconds, on the table as it is now. */
async function tableLatencies(isolation: Isolation, samples: number): Promise<Map<Operation, LatencySummary>> {
  const results = new Map<Operation, LatencySummary>();
  const time: Timer = async (operation, count, step) => {
    const latencies = new Float64Array(count);
    for (let i = 0; i < count && !stopRequested; i++) {
      const started = performance.now();
      await step(i);
      latencies[i] = performance.now() - started;
    }
    results.set(operation, summarize(latencies, count));
  };

  const db = new DataSource({ type: 'postgres', url: isolation.databaseUrl, poolSize: 2 });
  await db.initialize();
  try {
    await apiLatencies(isolation, samples, db, time);
    await statementLatencies(samples, db, time);
  } finally {
    await db.destroy();
  }
  return results;
}

type Timer = (operation: Operation, count: number, step: (index: number) => Promise<void>) => Promise<void>;

/** Through the API, as a workflow step and an operator reach it: the worker runs the jobs meanwhile. */
async function apiLatencies(isolation: Isolation, samples: number, db: DataSource, time: Timer): Promise<void> {
  await withServers(isolation, { api: 1, worker: 1 }, async (_servers, [client]) => {
    const portal = await createPortal(client, `latency ${randomUUID()}`);
    const ids: string[] = [];
    const expect = (status: number, wanted: number, what: string) => {
      if (status !== wanted) throw new Error(`${what} answered ${status}`);
    };
    await time('enqueue', samples, async (i) => {
      const answer = await client.json('POST', '/v1/jobs', { type: 'noop', input: {}, idempotencyKey: `scale-${randomUUID()}-${i}` }, portal.apiKey);
      expect(answer.status, 202, 'POST /v1/jobs');
      ids.push(answer.body.id);
    });
    await time('poll', samples, async (i) => expect((await client.json('GET', `/v1/jobs/${ids[i % ids.length]}`, undefined, portal.apiKey)).status, 200, 'GET /v1/jobs/:id'));
    const listings = Math.max(20, Math.floor(samples / 10));
    const list = (query: string) => async () => expect((await client.json('GET', `/v1/admin/jobs${query}`, undefined, ADMIN_TOKEN)).status, 200, `GET /v1/admin/jobs${query}`);
    await time('list (newest)', listings, list('?limit=50'));
    const [{ portal_id: busiest }] = await db.query(`SELECT portal_id FROM jobs GROUP BY portal_id ORDER BY count(*) DESC LIMIT 1`);
    await time('list (busiest portal)', listings, list(`?portalId=${busiest}&limit=50`));
    await time('list (failed)', listings, list('?status=failed&limit=50'));
    await time('failure summary', listings, list('/failures?limit=20'));
  });
}

/**
 * The statements the worker and the reconciler run, through the same repository, with no Offload
 * process running, so nothing else claims the jobs made here.
 */
async function statementLatencies(samples: number, db: DataSource, time: Timer): Promise<void> {
    const jobs = new JobRepository(db);
    const [{ id: portalId }] = await db.query(`INSERT INTO portals (hubspot_portal_id, name) VALUES ($1, 'bench scale statements') RETURNING id`, [
      1 + Math.floor(Math.random() * 2_000_000_000),
    ]);
    // Left an hour ago, so the reconciler's query counts them as stale.
    const queued: Array<{ id: string }> = await db.query(
      `INSERT INTO jobs (id, portal_id, type, handler_version, status, idempotency_key, request_hash, input, max_attempts, trace_id, span_id, created_at, updated_at)
       SELECT ${TIME_ORDERED_ID}, $1, 'noop', '1', 'queued', 'stale-' || g || '-' || $3, repeat('0', 64), '{}', 3, md5(g::text), left(md5(g::text), 16), t.at, t.at
       FROM generate_series(1, $2) g, (SELECT now() - interval '1 hour' AS at) t RETURNING id`,
      [portalId, samples * STATEMENT_BATCH, randomUUID()],
    );
    const batches = Math.ceil(queued.length / STATEMENT_BATCH);
    const batch = (b: number) => queued.slice(b * STATEMENT_BATCH, (b + 1) * STATEMENT_BATCH);
    let cursor: Parameters<JobRepository['findStale']>[1];
    await time('reconcile', batches, async () => {
      const page = await jobs.findStale(60_000, cursor, STATEMENT_BATCH);
      cursor = page.next;
    });
    const runs = queued.map(({ id }) => ({ id, runId: randomUUID(), deadlineMs: 60_000 }));
    await time('claim', batches, async (b) => {
      await jobs.startRuns(runs.slice(b * STATEMENT_BATCH, (b + 1) * STATEMENT_BATCH));
    });
    await time('finish', batches, async (b) => {
      await jobs.finishRuns(
        batch(b).map(({ id }, i) => ({ id, runId: runs[b * STATEMENT_BATCH + i].runId, status: 'succeeded' as const, output: {}, error: null, refund: 0 as const })),
      );
    });
}

/** A version 7 UUID of the job's creation time, as Offload makes job ids (src/common/time-ordered-uuid.ts). */
const TIME_ORDERED_ID = `(lpad(to_hex(floor(extract(epoch FROM t.at) * 1000)::bigint), 12, '0') || '7' || substr(md5(g::text), 1, 3)
  || to_hex(8 + g % 4) || substr(md5(g::text), 4, 15))::uuid`;

/** Fills the jobs table with `rows` ended jobs of the last 29 days (within retention), spread over portals, as production would hold them. */
async function fillJobs(isolation: Isolation, rows: number): Promise<number> {
  const db = new Client({ connectionString: isolation.databaseUrl });
  await db.connect();
  const started = performance.now();
  try {
    const portals = (
      await db.query(
        `INSERT INTO portals (hubspot_portal_id, name)
         SELECT 3000000000 + g, 'bench scale fill ' || g FROM generate_series(1, $1) g RETURNING id`,
        [FILL_PORTALS],
      )
    ).rows.map((row) => row.id as string);
    for (let first = 1; first <= rows && !stopRequested; first += FILL_CHUNK) {
      const last = Math.min(rows, first + FILL_CHUNK - 1);
      // One in 50 failed, the rest succeeded; a third enrichment, a third ICP scores, a third noop; created in order, as they arrive.
      await db.query(
        `INSERT INTO jobs (id, portal_id, type, handler_version, status, idempotency_key, request_hash, input, output, error,
                           object_type, object_id, writeback, attempts, max_attempts, trace_id, span_id,
                           created_at, updated_at, started_at, finished_at)
         SELECT ${TIME_ORDERED_ID}, ($3::uuid[])[1 + g % array_length($3::uuid[], 1)],
                (ARRAY['enrichment', 'icp-score', 'noop'])[1 + g % 3], '1',
                CASE WHEN g % 50 = 0 THEN 'failed' ELSE 'succeeded' END,
                'fill-' || g, repeat('0', 64), jsonb_build_object('email', 'person' || g || '@example.com'),
                CASE WHEN g % 50 = 0 THEN NULL ELSE jsonb_build_object('score', g % 100) END,
                CASE WHEN g % 50 = 0 THEN '{"code": "provider_unavailable", "message": "the provider answered 503", "retryable": true}'::jsonb END,
                'contacts', (g % 2000000)::text, true, 1, 3, md5(g::text), left(md5(g::text), 16),
                t.at, t.at + interval '2 seconds', t.at, t.at + interval '2 seconds'
         FROM generate_series($1::bigint, $2::bigint) g,
              LATERAL (SELECT now() - interval '29 days' + (g::float8 / $4) * interval '29 days' - interval '1 hour' AS at) t`,
        [first, last, portals, rows],
      );
      log(`  ${last.toLocaleString('en')} rows, ${round((performance.now() - started) / 1000, 0)} s`);
    }
    await db.query('VACUUM ANALYZE jobs');
    return (performance.now() - started) / 1000;
  } finally {
    await db.end();
  }
}

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  if (argv.includes('--help')) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  let flags: ReturnType<typeof parseScaleFlags>;
  try {
    flags = parseScaleFlags(argv);
  } catch (error) {
    if (!(error instanceof FlagsError)) throw error;
    log(`${error.message}\n\n${USAGE}`);
    return 2;
  }
  const onSignal = (signal: NodeJS.Signals) => {
    log(`${signal}: stopping, cleaning up`);
    stopRequested = true;
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  const isolations: Isolation[] = [];
  const isolation = () => {
    const made = newIsolation('postgres://postgres@127.0.0.1:5432', 'redis://127.0.0.1:6379/0');
    isolations.push(made);
    return made;
  };
  const out: string[] = [`Offload scale benchmark: ${cpus().length} cores, load ${loadavg().map((l) => l.toFixed(2)).join(' ')}`];
  const figures: Record<string, unknown> = {};
  try {
    if (!flags.skipCurve) {
      const curveIsolation = isolation();
      await prepare(curveIsolation);
      const { points, bareJobsPerSecond } = await processCurve(curveIsolation, flags.jobs);
      const first = points[0]?.run.jobsPerSecond ?? NaN;
      out.push(
        '',
        `End-to-end noop throughput by process layout (${flags.jobs} jobs each, after a warm-up; bare BullMQ ${round(bareJobsPerSecond, 0)} jobs/s)`,
        table(
          ['layout', 'jobs/s', 'x 1 worker', 'of bare BullMQ', 'enqueue/s', 'complete'],
          points.map(({ layout, run }) => [
            layout,
            round(run.jobsPerSecond, 0),
            round(run.jobsPerSecond / first, 2),
            round(run.jobsPerSecond / bareJobsPerSecond, 2),
            round(run.enqueueRate, 0),
            run.complete ? 'yes' : 'NO',
          ]),
        ),
      );
      figures.curve = { bareJobsPerSecond, points: points.map(({ layout, run }) => ({ layout, jobsPerSecond: run.jobsPerSecond, complete: run.complete })) };
    }
    if (flags.rows > 0 && !stopRequested) {
      const tableIsolation = isolation();
      await prepare(tableIsolation);
      log('large table: latencies on the empty table');
      const empty = await tableLatencies(tableIsolation, flags.samples);
      log(`large table: filling ${flags.rows.toLocaleString('en')} rows`);
      const fillSeconds = await fillJobs(tableIsolation, flags.rows);
      log('large table: latencies on the full table');
      const large = await tableLatencies(tableIsolation, flags.samples);
      const rows = [...empty.keys()].map((operation) => {
        const small = empty.get(operation)!;
        const big = large.get(operation)!;
        return [operation, round(small.p50, 2), round(small.p99, 2), round(big.p50, 2), round(big.p99, 2), round(big.p50 / small.p50, 2)];
      });
      out.push(
        '',
        `Latency (ms) on an empty jobs table and with ${flags.rows.toLocaleString('en')} rows (filled in ${round(fillSeconds, 0)} s); claim, finish and reconcile are statements of ${STATEMENT_BATCH} jobs`,
        table(['operation', 'empty p50', 'empty p99', 'large p50', 'large p99', 'large/empty p50'], rows),
      );
      figures.largeTable = { rows: flags.rows, fillSeconds, empty: Object.fromEntries(empty), large: Object.fromEntries(large) };
    }
    process.stdout.write(`${out.join('\n')}\n${JSON.stringify(figures)}\n`);
    return stopRequested ? 130 : 0;
  } catch (error) {
    if (stopRequested) return 130;
    log(`benchmark failed: ${(error as Error).stack ?? error}`);
    return 1;
  } finally {
    stopRequested = true;
    await Promise.allSettled(cleanups.map((cleanup) => cleanup()));
    for (const made of isolations) for (const problem of await dispose(made)) log(`cleanup: ${problem}`);
  }
}

function parseScaleFlags(argv: string[]) {
  const { jobs, rows, samples, skipCurve } = parseFlags(argv, {
    jobs: { fallback: 20_000, min: 1_000, max: 200_000 },
    rows: { fallback: 10_000_000, min: 0, max: 50_000_000 },
    samples: { fallback: 400, min: 50, max: 10_000 },
    skipCurve: { fallback: 0, min: 0, max: 1 },
  });
  return { jobs, rows, samples, skipCurve: skipCurve === 1 };
}

void main().then((code) => process.exit(code));
