import { Queue } from 'bullmq';
import { ChildProcess, fork } from 'node:child_process';
import { join } from 'node:path';
import { Client } from 'pg';
import type { BareWorkerConfig, BareWorkerReply, BareWorkerRequest } from './bare-worker';
import { HttpClient } from './http';
import { Isolation } from './isolation';
import { LatencySummary, summarize } from './stats';

/** One job of a throughput run, as POST /v1/jobs/batch takes it (the idempotency key is added). */
export interface BenchJob {
  type: string;
  input: unknown;
  object?: { type: string; id: string };
  writeback?: boolean;
}

export interface ThroughputSettings {
  jobs: number;
  /** The i-th job; noop with no input unless given. */
  job?: (index: number) => BenchJob;
  batchSize: number;
  batchConcurrency: number;
  shouldStop: () => boolean;
  log: (line: string) => void;
}

export interface OffloadThroughput {
  jobs: number;
  accepted: number;
  rejected: Record<string, number>;
  succeeded: number;
  failed: number;
  complete: boolean;
  /** From the first batch request until every job was answered (accepted into PostgreSQL and Redis). */
  enqueueSeconds: number;
  enqueueRate: number;
  /** From the first batch request until the last job succeeded. */
  seconds: number;
  jobsPerSecond: number;
  batchLatency: LatencySummary;
}

export interface BareThroughput {
  jobs: number;
  addSeconds: number;
  seconds: number;
  jobsPerSecond: number;
  complete: boolean;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const POLL_MS = 50;

/** Runs `count` tasks with at most `concurrency` at once, in order of index. */
async function pool(count: number, concurrency: number, task: (index: number) => Promise<void>, shouldStop: () => boolean): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, count) }, async () => {
      while (next < count && !shouldStop()) await task(next++);
    }),
  );
}

/** The most a throughput run may take before it is reported incomplete. */
function deadlineMs(jobs: number): number {
  return Math.max(60_000, Math.min(600_000, jobs * 10));
}

const NOOP: BenchJob = { type: 'noop', input: {} };

/**
 * Enqueues `jobs` jobs (noop unless settings.job says) through POST /v1/jobs/batch (spread over
 * the clients in turn, when given several API processes) and waits,
 * polling PostgreSQL, until none is queued or running. The jobs belong to a portal of their own, so
 * earlier phases' jobs do not count.
 */
export async function offloadThroughput(
  clients: HttpClient | HttpClient[],
  apiKey: string,
  portalId: string,
  db: Client,
  runId: string,
  settings: ThroughputSettings,
): Promise<OffloadThroughput> {
  const { jobs, batchSize, batchConcurrency } = settings;
  const batches = Math.ceil(jobs / batchSize);
  const bodies = Array.from({ length: batches }, (_, b) =>
    JSON.stringify({
      jobs: Array.from({ length: Math.min(batchSize, jobs - b * batchSize) }, (_, j) => ({
        ...(settings.job?.(b * batchSize + j) ?? NOOP),
        idempotencyKey: `bench-${runId}-e2e-${b * batchSize + j}`,
      })),
    }),
  );
  const headers = { authorization: `Bearer ${apiKey}` };
  const batchLatencies = new Float64Array(batches);
  const rejected: Record<string, number> = {};
  let accepted = 0;
  let answeredBatches = 0;
  let enqueueDoneAt = 0;

  const startedAt = Date.now();
  const started = performance.now();
  const enqueueing = pool(
    batches,
    batchConcurrency,
    (b) =>
      new Promise<void>((resolve) => {
        const sentAt = performance.now();
        const client = Array.isArray(clients) ? clients[b % clients.length] : clients;
        client.send(
          'POST',
          '/v1/jobs/batch',
          bodies[b],
          headers,
          (status, text, error) => {
            batchLatencies[answeredBatches++] = performance.now() - sentAt;
            if (error || status !== 200) {
              const kind = error ? `batch ${(error as NodeJS.ErrnoException).code ?? error.message}` : `batch HTTP ${status}`;
              rejected[kind] = (rejected[kind] ?? 0) + JSON.parse(bodies[b]).jobs.length;
            } else {
              for (const result of (JSON.parse(text!) as { results: Array<{ status: number; error?: { code: string } }> }).results) {
                if (result.status === 202) accepted++;
                else {
                  const kind = `${result.status} ${result.error?.code ?? ''}`.trim();
                  rejected[kind] = (rejected[kind] ?? 0) + 1;
                }
              }
            }
            resolve();
          },
          true,
        );
      }),
    settings.shouldStop,
  ).then(() => (enqueueDoneAt = performance.now()));

  const deadline = started + deadlineMs(jobs);
  let complete = false;
  let lastReport = started;
  for (;;) {
    await sleep(POLL_MS);
    if (settings.shouldStop()) break;
    const [{ live }] = (
      await db.query(`SELECT count(*)::int AS live FROM jobs WHERE portal_id = $1 AND finished_at IS NULL`, [portalId])
    ).rows;
    const now = performance.now();
    if (enqueueDoneAt > 0 && live === 0) {
      complete = true;
      break;
    }
    if (now > deadline) break;
    if (now - lastReport > 2_000) {
      lastReport = now;
      settings.log(`  offload: ${accepted}/${jobs} accepted, ${live} queued or running, ${((now - started) / 1000).toFixed(1)} s`);
    }
  }
  const detectedAt = performance.now();
  await enqueueing;

  const [totals] = (
    await db.query(
      `SELECT count(*) FILTER (WHERE status = 'succeeded')::int AS succeeded,
              count(*) FILTER (WHERE status IN ('failed', 'cancelled'))::int AS failed,
              (extract(epoch FROM max(finished_at)) * 1000)::float8 AS last_finished_ms
         FROM jobs WHERE portal_id = $1`,
      [portalId],
    )
  ).rows;
  // The last job's finished_at is more precise than the poll that saw it; the clock is the same machine's.
  const polledSeconds = (detectedAt - started) / 1000;
  const recordedSeconds = totals.last_finished_ms ? (totals.last_finished_ms - startedAt) / 1000 : polledSeconds;
  const seconds = Math.min(polledSeconds, Math.max(recordedSeconds, 0.001));
  const enqueueSeconds = ((enqueueDoneAt || detectedAt) - started) / 1000;
  return {
    jobs,
    accepted,
    rejected,
    succeeded: totals.succeeded,
    failed: totals.failed,
    complete: complete && totals.succeeded === jobs,
    enqueueSeconds,
    enqueueRate: accepted / enqueueSeconds,
    seconds,
    jobsPerSecond: totals.succeeded / seconds,
    batchLatency: summarize(batchLatencies, answeredBatches),
  };
}

/**
 * The same work on BullMQ alone: addBulk from this process (same batch size and concurrency as
 * the batch requests above), one Worker in its own process completing each job at once.
 */
export class BareBullmq {
  private child?: ChildProcess;
  private queue?: Queue;
  private readonly replies: BareWorkerReply[] = [];
  private readonly queueName = 'bare-noop';
  private readonly prefix: string;

  constructor(
    private readonly isolation: Isolation,
    private readonly concurrency: number,
  ) {
    this.prefix = `${isolation.redisPrefix}:bare`;
  }

  get pid(): number | undefined {
    return this.running ? this.child!.pid : undefined;
  }

  private get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  private get connection() {
    const { host, port, db } = this.isolation.redis;
    return { host, port, db, maxRetriesPerRequest: null };
  }

  async start(): Promise<void> {
    const config: BareWorkerConfig = { queueName: this.queueName, prefix: this.prefix, connection: this.connection, concurrency: this.concurrency };
    this.child = fork(join(__dirname, 'bare-worker.js'), [], {
      env: { ...process.env, BARE_WORKER_CONFIG: JSON.stringify(config) },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.child.on('message', (reply: BareWorkerReply) => this.replies.push(reply));
    this.queue = new Queue(this.queueName, { connection: this.connection, prefix: this.prefix });
    this.queue.on('error', () => undefined);
    await this.queue.waitUntilReady();
    await this.next('ready', 30_000);
  }

  private async next(kind: BareWorkerReply['kind'], timeoutMs: number): Promise<BareWorkerReply | undefined> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const failure = this.replies.find((reply) => reply.kind === 'failed');
      if (failure && failure.kind === 'failed') throw new Error(`bare BullMQ worker: ${failure.message}`);
      const index = this.replies.findIndex((reply) => reply.kind === kind);
      if (index >= 0) return this.replies.splice(index, 1)[0];
      if (!this.running) throw new Error(`bare BullMQ worker exited (${this.child?.exitCode ?? this.child?.signalCode})`);
      if (performance.now() > deadline) return undefined;
      await sleep(5);
    }
  }

  async run(settings: ThroughputSettings): Promise<BareThroughput> {
    const { jobs, batchSize, batchConcurrency } = settings;
    this.child!.send({ kind: 'expect', count: jobs } satisfies BareWorkerRequest);
    await sleep(50); // let the worker take the message before the first job lands
    const batches = Math.ceil(jobs / batchSize);
    const startedAt = Date.now();
    const started = performance.now();
    await pool(
      batches,
      batchConcurrency,
      async (b) => {
        const size = Math.min(batchSize, jobs - b * batchSize);
        await this.queue!.addBulk(
          Array.from({ length: size }, () => ({
            name: 'noop',
            data: { portalId: this.isolation.runId },
            opts: { removeOnComplete: true, removeOnFail: true },
          })),
        );
      },
      settings.shouldStop,
    );
    const addSeconds = (performance.now() - started) / 1000;
    const done = await this.next('done', deadlineMs(jobs));
    const seconds = done && done.kind === 'done' ? (done.at - startedAt) / 1000 : (performance.now() - started) / 1000;
    return { jobs, addSeconds, seconds, jobsPerSecond: done ? jobs / seconds : 0, complete: done !== undefined };
  }

  async stop(): Promise<void> {
    await this.queue?.close().catch(() => undefined);
    if (this.running) {
      const exited = new Promise((resolve) => this.child!.once('exit', resolve));
      if (this.child!.connected) this.child!.disconnect();
      await Promise.race([exited, sleep(5_000)]);
      if (this.running) this.child!.kill('SIGKILL');
    }
  }

  killNow(): void {
    if (this.running) this.child!.kill('SIGKILL');
  }
}
