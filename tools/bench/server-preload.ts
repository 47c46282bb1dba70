/**
 * Loaded with --require into each Offload process the benchmark starts (never into a deployment).
 * It works over the IPC channel to the benchmark:
 *  - when the benchmark goes away (even killed with SIGKILL), the server shuts itself down, so no
 *    server outlives its run;
 *  - on request, it CPU-profiles the process through the inspector and writes a .cpuprofile file.
 *    (--cpu-prof would not do: Nest re-raises SIGTERM after shutting down, and a process ended by
 *    a signal writes no profile.)
 *  - with BENCH_TIMINGS=1, it times, per phase, every SQL statement (pg Client.query), every
 *    micro-batch (size, execution, and an item's wait from add to result) by wrapping those
 *    functions from the outside, and the event loop's delay and garbage-collection pauses from
 *    perf_hooks; Offload's code is not changed.
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { join } from 'node:path';
import { monitorEventLoopDelay, PerformanceObserver, constants as perfConstants } from 'node:perf_hooks';

export interface TimingSummary {
  name: string;
  count: number;
  mean: number;
  p50: number;
  p99: number;
  max: number;
}

export type PreloadRequest =
  | { kind: 'profile-start' }
  | { kind: 'profile-stop'; path: string }
  | { kind: 'timings-reset' }
  | { kind: 'timings-report' };
export type PreloadReply =
  | { kind: 'profile-started' }
  | { kind: 'profile-written'; path: string }
  | { kind: 'profile-error'; message: string }
  | { kind: 'timings-reset' }
  | { kind: 'timings'; timings: TimingSummary[] };

const MAX_SAMPLES = 200_000;
const LOOP_RESOLUTION_MS = 5;
const samples = new Map<string, number[]>();
let loopDelay: ReturnType<typeof monitorEventLoopDelay> | undefined;

function record(name: string, value: number): void {
  let list = samples.get(name);
  if (!list) samples.set(name, (list = []));
  if (list.length < MAX_SAMPLES) list.push(value);
}

function summaries(): TimingSummary[] {
  const out: TimingSummary[] = [];
  for (const [name, list] of samples) {
    const sorted = Float64Array.from(list).sort();
    const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
    const sum = list.reduce((a, b) => a + b, 0);
    out.push({ name, count: list.length, mean: sum / list.length, p50: at(50), p99: at(99), max: sorted[sorted.length - 1] });
  }
  if (loopDelay && loopDelay.count > 0) {
    // The histogram holds whole sampling intervals; the delay is what exceeds the interval.
    const delay = (ns: number) => Math.max(0, ns / 1e6 - LOOP_RESOLUTION_MS);
    out.push({
      name: 'event loop delay (ms)',
      count: loopDelay.count,
      mean: delay(loopDelay.mean),
      p50: delay(loopDelay.percentile(50)),
      p99: delay(loopDelay.percentile(99)),
      max: delay(loopDelay.max),
    });
  }
  return out.sort((a, b) => a.name.localeCompare(b.name));
}

const GC_KINDS = new Map<number, string>([
  [perfConstants.NODE_PERFORMANCE_GC_MINOR, 'minor'],
  [perfConstants.NODE_PERFORMANCE_GC_MAJOR, 'major'],
  [perfConstants.NODE_PERFORMANCE_GC_INCREMENTAL, 'incremental'],
  [perfConstants.NODE_PERFORMANCE_GC_WEAKCB, 'weak callbacks'],
]);

/** Offload's own statements by name; anything else by its first words. */
const KNOWN_SQL: Array<[RegExp, string]> = [
  [/INSERT INTO jobs/i, 'insert jobs + outbox (insertMany)'],
  [/UPDATE jobs j SET status = 'running'/i, 'claim runs (startRuns)'],
  [/UPDATE jobs j SET status = t\.status/i, 'finish runs + outbox (finishRuns)'],
  [/FROM jobs j JOIN unnest/i, 'find by keys (findByKeys)'],
  [/FROM jobs WHERE status IN \('queued', 'running'\) AND updated_at/i, 'stale jobs (reconciler)'],
];

function sqlName(text: unknown): string {
  const sql = String(text ?? '').replace(/\s+/g, ' ').trim();
  return KNOWN_SQL.find(([pattern]) => pattern.test(sql))?.[1] ?? sql.slice(0, 50);
}

/** Which of Offload's micro-batchers an item belongs to, by its shape. */
function batcherName(item: unknown): string {
  const keys = item && typeof item === 'object' ? Object.keys(item) : [];
  if (keys.includes('portal_id')) return 'job inserts (PostgreSQL)';
  if (keys.includes('timeoutMs')) return 'run starts (PostgreSQL)';
  if (keys.includes('refund')) return 'run finishes (PostgreSQL + publish)';
  if (keys.includes('portalId') && keys.includes('type')) return 'queue adds (BullMQ addBulk)';
  return `batcher(${keys.join(',')})`;
}

function instrument(): void {
  loopDelay = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });
  loopDelay.enable();
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      const kind = (entry as { detail?: { kind?: number } }).detail?.kind;
      record(`gc pause, ${GC_KINDS.get(kind ?? -1) ?? 'other'} (ms)`, entry.duration);
    }
  }).observe({ entryTypes: ['gc'] });

  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const pg = require('pg') as { Client: { prototype: { query: (...args: unknown[]) => unknown } } };
  const query = pg.Client.prototype.query;
  pg.Client.prototype.query = function (this: unknown, ...args: unknown[]) {
    const config = args[0] as { text?: string } | string;
    const name = `sql ${sqlName(typeof config === 'string' ? config : config?.text)}`;
    const started = performance.now();
    const done = () => record(name, performance.now() - started);
    const last = args.length - 1;
    if (typeof args[last] === 'function') {
      const callback = args[last] as (...a: unknown[]) => unknown;
      args[last] = (...a: unknown[]) => {
        done();
        return callback(...a);
      };
      return query.apply(this, args);
    }
    const result = query.apply(this, args) as Promise<unknown> | undefined;
    if (result && typeof (result as Promise<unknown>).then === 'function') (result as Promise<unknown>).then(done, done);
    return result;
  };

  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { MicroBatcher } = require(join(__dirname, '..', '..', 'src', 'common', 'micro-batcher.js')) as {
    MicroBatcher: { prototype: Record<string, (...args: any[]) => any> };
  };
  const add = MicroBatcher.prototype.add;
  MicroBatcher.prototype.add = function (this: unknown, item: unknown) {
    const started = performance.now();
    const name = batcherName(item);
    const result = add.call(this, item) as Promise<unknown>;
    const done = () => record(`${name}: item wait, add to result (ms)`, performance.now() - started);
    result.then(done, done);
    return result;
  };
  const run = MicroBatcher.prototype.run;
  MicroBatcher.prototype.run = async function (this: unknown, batch: Array<{ item: unknown }>) {
    const started = performance.now();
    const name = batcherName(batch[0]?.item);
    record(`${name}: batch size (items)`, batch.length);
    try {
      return await run.call(this, batch);
    } finally {
      record(`${name}: batch execution (ms)`, performance.now() - started);
    }
  };
}

if (process.send) {
  const reply = (message: PreloadReply) => process.send?.(message);
  let session: Session | undefined;
  if (process.env.BENCH_TIMINGS === '1') instrument();

  process.on('disconnect', () => {
    // Graceful first (Nest's shutdown hooks), then hard.
    setTimeout(() => process.exit(1), 10_000).unref();
    process.kill(process.pid, 'SIGTERM');
  });

  process.on('message', (message: PreloadRequest) => {
    if (message?.kind === 'timings-reset') {
      samples.clear();
      loopDelay?.reset();
      reply({ kind: 'timings-reset' });
    } else if (message?.kind === 'timings-report') {
      reply({ kind: 'timings', timings: summaries() });
    } else if (message?.kind === 'profile-start') {
      try {
        session?.disconnect();
        session = new Session();
        session.connect();
        session.post('Profiler.enable', () =>
          session!.post('Profiler.setSamplingInterval', { interval: 500 }, () =>
            session!.post('Profiler.start', (error) => reply(error ? { kind: 'profile-error', message: error.message } : { kind: 'profile-started' })),
          ),
        );
      } catch (error) {
        reply({ kind: 'profile-error', message: (error as Error).message });
      }
    } else if (message?.kind === 'profile-stop') {
      if (!session) return reply({ kind: 'profile-error', message: 'no profile running' });
      const current = session;
      session = undefined;
      current.post('Profiler.stop', (error, result) => {
        try {
          if (error) throw error;
          writeFileSync(message.path, JSON.stringify(result.profile));
          reply({ kind: 'profile-written', path: message.path });
        } catch (failure) {
          reply({ kind: 'profile-error', message: (failure as Error).message });
        } finally {
          current.disconnect();
        }
      });
    }
  });
}
