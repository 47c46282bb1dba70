/**
 * Benchmark settings: each from a flag (`npm run bench -- --seconds=5`) or else from the
 * environment (`BENCH_SECONDS=5 npm run bench`), within bounds that keep the load finite.
 */
export type Topology = 'split' | 'all';

export interface BenchOptions {
  /** Offered request rates for the enqueue-latency steps, in requests per second. */
  rates: number[];
  /** Length of each rate step. */
  seconds: number;
  /** Warm-up before the first rate step (JIT, connection pools, caches); not reported. */
  warmupSeconds: number;
  /** Keep-alive connections the load generator may open. */
  connections: number;
  /** A request still unanswered this long after its scheduled start counts as an error. */
  requestTimeoutMs: number;
  /** Jobs in the end-to-end throughput run (for Offload, and again for bare BullMQ). */
  jobs: number;
  /** Jobs per POST /v1/jobs/batch (and per addBulk in the baseline); at most 100. */
  batchSize: number;
  /** Batch requests in flight at once. */
  batchConcurrency: number;
  /** Concurrency of the bare BullMQ worker; defaults to the noop handler's own (200). */
  bareConcurrency: number;
  /** split: one ROLE=api and one ROLE=worker process, as deployed; all: one ROLE=all process. */
  topology: Topology;
  /** Write a CPU profile of every server process for every measured phase. */
  profile: boolean;
  /** Time SQL statements, micro-batches and event-loop delay inside the server processes, per phase. */
  timings: boolean;
  /** Which parts to run. */
  skipLatency: boolean;
  skipThroughput: boolean;
  redisUrl: string;
  postgresUrl: string;
}

const BOUNDS = {
  rate: [1, 20_000],
  seconds: [1, 120],
  warmupSeconds: [0, 60],
  connections: [1, 1024],
  requestTimeoutMs: [100, 60_000],
  jobs: [100, 200_000],
  batchSize: [1, 100],
  batchConcurrency: [1, 64],
  bareConcurrency: [1, 10_000],
} as const;

export class OptionsError extends Error {}

function flagsOf(argv: string[]): Map<string, string> {
  const flags = new Map<string, string>();
  for (const arg of argv) {
    const match = /^--([a-z-]+)(?:=(.*))?$/.exec(arg);
    if (!match) throw new OptionsError(`unknown argument "${arg}" (flags look like --seconds=5)`);
    flags.set(match[1], match[2] ?? 'true');
  }
  return flags;
}

export function parseOptions(argv = process.argv.slice(2), env: NodeJS.ProcessEnv = process.env): BenchOptions {
  const flags = flagsOf(argv);
  const used = new Set<string>();
  const raw = (flag: string): string | undefined => {
    used.add(flag);
    const envName = `BENCH_${flag.toUpperCase().replace(/-/g, '_')}`;
    const value = flags.get(flag) ?? env[envName];
    return value === undefined || value.trim() === '' ? undefined : value.trim();
  };
  const number = (flag: string, fallback: number, [min, max]: readonly [number, number]): number => {
    const value = raw(flag);
    if (value === undefined) return fallback;
    const parsed = Number(value);
    if (!Number.isFinite(parsed) || parsed < min || parsed > max) {
      throw new OptionsError(`--${flag} must be a number from ${min} to ${max} (got "${value}")`);
    }
    return parsed;
  };
  const bool = (flag: string): boolean => ['1', 'true', 'yes'].includes((raw(flag) ?? '').toLowerCase());

  const rates = (raw('rates') ?? '500,1000,2000,3000').split(',').map((part) => {
    const rate = Number(part.trim());
    if (!Number.isFinite(rate) || rate < BOUNDS.rate[0] || rate > BOUNDS.rate[1]) {
      throw new OptionsError(`--rates takes rates from ${BOUNDS.rate[0]} to ${BOUNDS.rate[1]} per second (got "${part}")`);
    }
    return rate;
  });
  const topology = raw('topology') ?? 'split';
  if (topology !== 'split' && topology !== 'all') throw new OptionsError(`--topology must be split or all (got "${topology}")`);

  const options: BenchOptions = {
    rates,
    seconds: number('seconds', 10, BOUNDS.seconds),
    warmupSeconds: number('warmup-seconds', 3, BOUNDS.warmupSeconds),
    connections: Math.round(number('connections', 128, BOUNDS.connections)),
    requestTimeoutMs: number('request-timeout-ms', 10_000, BOUNDS.requestTimeoutMs),
    jobs: Math.round(number('jobs', 20_000, BOUNDS.jobs)),
    batchSize: Math.round(number('batch-size', 100, BOUNDS.batchSize)),
    batchConcurrency: Math.round(number('batch-concurrency', 4, BOUNDS.batchConcurrency)),
    bareConcurrency: Math.round(number('bare-concurrency', 200, BOUNDS.bareConcurrency)),
    topology,
    profile: bool('profile'),
    timings: bool('timings'),
    skipLatency: bool('skip-latency'),
    skipThroughput: bool('skip-throughput'),
    redisUrl: raw('redis-url') ?? 'redis://127.0.0.1:6379/0',
    postgresUrl: raw('postgres-url') ?? 'postgres://postgres@127.0.0.1:5432',
  };
  for (const flag of flags.keys()) {
    if (!used.has(flag)) throw new OptionsError(`unknown flag --${flag}`);
  }
  for (const [name, value] of [
    ['redis-url', options.redisUrl],
    ['postgres-url', options.postgresUrl],
  ]) {
    const host = new URL(value).hostname;
    if (host !== '127.0.0.1' && host !== 'localhost') throw new OptionsError(`--${name} must point at 127.0.0.1: the benchmark only loads this machine`);
  }
  return options;
}

export const USAGE = `npm run bench [-- flags]   (each flag also reads BENCH_<NAME>, e.g. BENCH_SECONDS=5)
  --rates=500,1000,2000,3000   offered enqueue rates (requests/s), one step each
  --seconds=10                 length of each rate step
  --warmup-seconds=3           warm-up at a low rate before the steps
  --connections=128            keep-alive connections of the load generator
  --request-timeout-ms=10000   unanswered this long after its scheduled start = error
  --jobs=20000                 jobs in the end-to-end run (Offload, then bare BullMQ)
  --batch-size=100             jobs per POST /v1/jobs/batch and per addBulk
  --batch-concurrency=4        batch requests in flight
  --bare-concurrency=200       concurrency of the bare BullMQ worker
  --topology=split|all         split: ROLE=api + ROLE=worker processes (default); all: one ROLE=all process
  --profile                    CPU-profile each server process per phase (.cpuprofile files + a summary)
  --timings                    time SQL statements, micro-batches, event-loop delay and GC pauses inside the servers
  --skip-latency / --skip-throughput
  --redis-url / --postgres-url (127.0.0.1 only)`;
