/**
 * Fair scheduling benchmark: `npm run bench:fairness`. On this build, and with `--baseline=DIR` on
 * another built checkout (its dist/) run the same way first, for a before and after:
 *   1. a backlog: portal A enqueues N one-second noop jobs, then portal B 10 instant ones; how long
 *      B waits, and how many of A's jobs start before B's last;
 *   2. mixed load: A enqueues 50,000 one-second jobs, B 10,000 write-backs against an exhausted
 *      HubSpot budget, C one job a second for 60 s; C's enqueue-to-start and enqueue-to-succeeded
 *      p50 and p99, and A's throughput;
 * then, on this build only, what the schedule costs Redis per job with 1 to 10,000 portals waiting
 * (its scripts against a Redis server of its own). Tables to stdout, then one JSON line; progress to stderr.
 */
import Redis from 'ioredis';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Client } from 'pg';
import { FairShare, ScheduledJob } from '../../src/queue/fair-share';
import { RedisService } from '../../src/redis/redis.service';
import type { AppConfig } from '../../src/config/app-config';
import { createHubSpotSimulator, HubSpotSimulator } from '../simulators/hubspot';
import { FlagSpec, FlagsError, log, parseFlags } from './bench-session';
import { HttpClient } from './http';
import { dispose, newIsolation, prepare } from './isolation';
import { ADMIN_TOKEN, freePort, OffloadProcesses } from './offload-processes';
import { Topology } from './options';
import { round, summarize, table } from './stats';

const USAGE = `npm run bench:fairness [-- flags]
  --backlog=4000          A's one-second jobs ahead of B's 10 instant ones (part 1)
  --a-jobs=50000          A's one-second jobs in the mixed load (part 2; 0 skips it)
  --b-writebacks=10000    B's write-backs against an exhausted budget (part 2)
  --c-seconds=60          C enqueues one job a second for this long (part 2)
  --portals=10000         the most portals waiting in the cost measurement (part 3)
  --baseline=DIR          a built checkout run the same way first (parts 1 and 2), for a before and after
  --topology=split|all    split: ROLE=api + ROLE=worker processes (default); all: one ROLE=all process`;

const FLAGS = {
  backlog: { fallback: 4_000, min: 100, max: 100_000 },
  aJobs: { fallback: 50_000, min: 0, max: 200_000 },
  bWritebacks: { fallback: 10_000, min: 0, max: 100_000 },
  cSeconds: { fallback: 60, min: 1, max: 600 },
  portals: { fallback: 10_000, min: 1, max: 100_000 },
} satisfies Record<string, FlagSpec>;
type Flags = ReturnType<typeof parseFlags<keyof typeof FLAGS>>;

const B_PORTAL = 4_200_002;
const B_LIMIT = 1;
const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));
let stopRequested = false;

interface BacklogFigures {
  backlog: number;
  /** From B's enqueue until its last job succeeded. */
  bSeconds: number;
  /** A's jobs that started before B's last one did. */
  aStartedBeforeB: number;
}

interface MixedFigures {
  aJobs: number;
  aSeconds: number;
  aJobsPerSecond: number;
  bRuns: number;
  bRunsDone: number;
  cJobs: number;
  cStartMs: { p50: number; p99: number; max: number };
  cSucceededMs: { p50: number; p99: number; max: number };
}

interface BuildFigures {
  build: string;
  backlog: BacklogFigures;
  mixed?: MixedFigures;
}

/** One build's Offload on a database and Redis prefix of its own, and what the scenarios need of it. */
class Session {
  readonly isolation = newIsolation('postgres://postgres@127.0.0.1:5432', 'redis://127.0.0.1:6379/0');
  servers?: OffloadProcesses;
  db?: Client;
  control?: HttpClient;

  constructor(
    private readonly main: string,
    private readonly topology: Topology,
    private readonly hubspotUrl: string,
  ) {}

  async start(): Promise<void> {
    await prepare(this.isolation);
    this.servers = new OffloadProcesses(this.isolation, this.topology, { HUBSPOT_BASE_URL: this.hubspotUrl }, this.main);
    await this.servers.start();
    this.db = new Client({ connectionString: this.isolation.databaseUrl });
    await this.db.connect();
    this.control = new HttpClient(this.servers.apiUrl, 8);
  }

  async stop(): Promise<void> {
    this.control?.close();
    await Promise.allSettled([this.servers?.stop(), this.db?.end()]);
    for (const problem of await dispose(this.isolation)) log(`cleanup: ${problem}`);
  }

  async portal(name: string, extra: Record<string, unknown> = {}): Promise<{ id: string; apiKey: string }> {
    const hubspotPortalId = extra.hubspotPortalId ?? 1 + Math.floor(Math.random() * 2_000_000_000);
    const created = await this.control!.json('POST', '/v1/admin/portals', { hubspotPortalId, name, ...extra }, ADMIN_TOKEN);
    if (created.status !== 201) throw new Error(`portal not created: ${created.status} ${JSON.stringify(created.body)}`);
    return created.body;
  }

  /** Enqueues `count` jobs of a portal, 100 per batch call, 4 calls at once. */
  async enqueue(apiKey: string, count: number, job: (index: number) => Record<string, unknown>, tag: string): Promise<void> {
    let next = 0;
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        while (next < count && !stopRequested) {
          const from = next;
          next = Math.min(count, next + 100);
          const jobs = Array.from({ length: next - from }, (_, i) => ({ ...job(from + i), idempotencyKey: `${tag}-${from + i}` }));
          const answer = await this.control!.json('POST', '/v1/jobs/batch', { jobs }, apiKey);
          if (answer.status !== 200) throw new Error(`enqueue answered ${answer.status}: ${JSON.stringify(answer.body)}`);
        }
      }),
    );
  }

  async waitUntil(sql: string, params: unknown[], done: (count: number) => boolean, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!stopRequested && Date.now() < deadline) {
      if (done(Number((await this.db!.query(sql, params)).rows[0].count))) return;
      await sleep(200);
    }
    if (!stopRequested) throw new Error(`not done within ${timeoutMs / 1000} s: ${sql}`);
  }
}

/** Part 1: B's 10 instant jobs enqueued behind A's backlog of one-second jobs. */
async function backlogRun(session: Session, flags: Flags): Promise<BacklogFigures> {
  const a = await session.portal('backlog A');
  const b = await session.portal('backlog B');
  log(`  A enqueues ${flags.backlog} one-second jobs`);
  await session.enqueue(a.apiKey, flags.backlog, () => ({ type: 'noop', input: { sleepMs: 1_000 } }), 'backlog-a');
  log('  B enqueues 10 instant jobs');
  const started = performance.now();
  await session.enqueue(b.apiKey, 10, () => ({ type: 'noop' }), 'backlog-b');
  await session.waitUntil(`SELECT count(*) FROM jobs WHERE portal_id = $1 AND status = 'succeeded'`, [b.id], (n) => n === 10, 600_000);
  const bSeconds = (performance.now() - started) / 1000;
  const ahead = await session.db!.query(
    `SELECT count(*)::int AS n FROM jobs WHERE portal_id = $1 AND started_at < (SELECT max(started_at) FROM jobs WHERE portal_id = $2)`,
    [a.id, b.id],
  );
  log(`  B done in ${bSeconds.toFixed(2)} s; ${ahead.rows[0].n} of A's jobs started before B's last; draining A`);
  await session.waitUntil(`SELECT count(*) FROM jobs WHERE finished_at IS NULL`, [], (n) => n === 0, 600_000 + flags.backlog * 50);
  return { backlog: flags.backlog, bSeconds, aStartedBeforeB: ahead.rows[0].n };
}

/** Part 2: A's mass of one-second jobs, B's write-backs against an exhausted budget, and C's trickle. */
async function mixedRun(session: Session, flags: Flags): Promise<MixedFigures> {
  const a = await session.portal('mixed A');
  const b = await session.portal('mixed B', { hubspotPortalId: B_PORTAL, hubspotAccessToken: tokenOf(B_PORTAL), rateLimit: { requestsPer10s: B_LIMIT } });
  const c = await session.portal('mixed C');
  log(`  A enqueues ${flags.aJobs} one-second jobs, B ${flags.bWritebacks} write-backs (budget ${B_LIMIT} call per 10 s)`);
  await session.enqueue(a.apiKey, flags.aJobs, () => ({ type: 'noop', input: { sleepMs: 1_000 } }), 'mixed-a');
  await session.enqueue(b.apiKey, flags.bWritebacks, (i) => ({ type: 'noop', object: { type: 'contacts', id: String(i + 1) }, writeback: true }), 'mixed-b');
  log(`  C enqueues one job a second for ${flags.cSeconds} s`);
  for (let i = 0; i < flags.cSeconds && !stopRequested; i++) {
    const tick = performance.now();
    await session.enqueue(c.apiKey, 1, () => ({ type: 'noop' }), `mixed-c-${i}`);
    await sleep(Math.max(0, 1_000 - (performance.now() - tick)));
  }
  log('  waiting for A and C to finish');
  await session.waitUntil(
    `SELECT count(*) FROM jobs WHERE portal_id = ANY($1) AND finished_at IS NULL`,
    [[a.id, c.id]],
    (n) => n === 0,
    600_000 + flags.aJobs * 20,
  );
  const aSpan = await session.db!.query(
    `SELECT count(*)::int AS n, extract(epoch FROM max(finished_at) - min(created_at)) AS seconds FROM jobs WHERE portal_id = $1`,
    [a.id],
  );
  const cRows = await session.db!.query(
    `SELECT extract(epoch FROM started_at - created_at) * 1000 AS start_ms, extract(epoch FROM finished_at - created_at) * 1000 AS end_ms FROM jobs WHERE portal_id = $1`,
    [c.id],
  );
  const bDone = await session.db!.query(`SELECT count(*)::int AS n FROM jobs WHERE portal_id = $1 AND status IN ('writing', 'succeeded')`, [b.id]);
  const summary = (values: number[]) => {
    const { p50, p99, max } = summarize(Float64Array.from(values));
    return { p50: round(p50, 1), p99: round(p99, 1), max: round(max, 1) };
  };
  const aSeconds = Number(aSpan.rows[0].seconds);
  return {
    aJobs: aSpan.rows[0].n,
    aSeconds: round(aSeconds, 2),
    aJobsPerSecond: round(aSpan.rows[0].n / aSeconds, 1),
    bRuns: flags.bWritebacks,
    bRunsDone: bDone.rows[0].n,
    cJobs: cRows.rows.length,
    cStartMs: summary(cRows.rows.map((row) => Number(row.start_ms))),
    cSucceededMs: summary(cRows.rows.map((row) => Number(row.end_ms))),
  };
}

async function runBuild(name: string, main: string, flags: Flags, sim: HubSpotSimulator): Promise<BuildFigures> {
  const session = new Session(main, flags.topology, sim.url);
  try {
    log(`${name}: ${main}, database ${session.isolation.database}`);
    await session.start();
    log(`${name}, part 1: B behind A's backlog`);
    const backlog = await backlogRun(session, flags);
    let mixed: MixedFigures | undefined;
    if (flags.aJobs > 0) {
      log(`${name}, part 2: mixed load`);
      mixed = await mixedRun(session, flags);
      log(`  C start p99 ${mixed.cStartMs.p99} ms; A ${mixed.aJobsPerSecond} jobs/s`);
    }
    session.servers!.assertAlive();
    return { build: name, backlog, mixed };
  } finally {
    await session.stop();
  }
}

interface CostFigures {
  portals: number;
  jobs: number;
  redisMicrosPerJob: number;
  wallMicrosPerJob: number;
}

/**
 * Part 3: the schedule's Redis cost per job, pushed and fed through, with jobs spread over 1 to
 * `portals` portals, on a Redis server of its own (so its command statistics are the schedule's alone).
 */
async function costRun(flags: Flags): Promise<CostFigures[]> {
  const port = await freePort();
  const pidFile = join(tmpdir(), `offload-bench-fairness-redis-${port}.pid`);
  execFileSync('redis-server', ['--port', String(port), '--save', '', '--appendonly', 'no', '--daemonize', 'yes', '--pidfile', pidFile]);
  const admin = new Redis({ port, host: '127.0.0.1', lazyConnect: true, retryStrategy: (times) => (times > 50 ? null : 100) });
  admin.on('error', () => undefined);
  await admin.connect();
  const redis = new RedisService({ redis: { host: '127.0.0.1', port, db: 0 }, redisPrefix: 'bench' } as AppConfig);
  const fairShare = new FairShare(redis);
  const lookahead = { least: 50, most: 400 };
  const figures: CostFigures[] = [];
  try {
    for (const portals of [...new Set([1, 100, flags.portals])].filter((p) => p <= flags.portals)) {
      const jobs = Math.max(100_000, portals * 10);
      await admin.flushall();
      await admin.config('RESETSTAT');
      const started = performance.now();
      let fed = 0;
      for (let i = 0; i < jobs; i += 500) {
        const batch: ScheduledJob[] = Array.from({ length: Math.min(500, jobs - i) }, (_, j) => ({
          id: `job-${i + j}`,
          portalId: `portal-${(i + j) % portals}`,
          priority: 'live',
        }));
        fed += (await fairShare.push('noop', lookahead, 60_000, batch)).length;
      }
      for (let admitted = fed; fed < jobs; ) {
        const out = await fairShare.settle('noop', lookahead, 60_000, { started: admitted, ended: [], back: [] });
        fed += out.length;
        admitted = out.length;
        if (out.length === 0) throw new Error(`the schedule let ${fed} of ${jobs} jobs through, then none`);
      }
      const wall = performance.now() - started;
      const stats = (await admin.info('commandstats'))
        .split('\n')
        .filter((line) => line.startsWith('cmdstat_evalsha') || line.startsWith('cmdstat_eval:'))
        .map((line) => Number(/usec=(\d+)/.exec(line)?.[1] ?? 0))
        .reduce((sum, usec) => sum + usec, 0);
      figures.push({ portals, jobs, redisMicrosPerJob: round(stats / jobs, 2), wallMicrosPerJob: round((wall * 1000) / jobs, 2) });
      log(`  ${portals} portals: ${round(stats / jobs, 2)} µs of Redis per job`);
    }
  } finally {
    redis.client.disconnect();
    await admin.shutdown('NOSAVE').catch(() => undefined);
    admin.disconnect();
    if (existsSync(pidFile) && existsSync(`/proc/${readFileSync(pidFile, 'utf8').trim()}`)) process.kill(Number(readFileSync(pidFile, 'utf8')), 'SIGKILL');
  }
  return figures;
}

const tokenOf = (portalId: number) => `pat-bench-${portalId}`;

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  if (argv.includes('--help')) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const baselineArg = argv.find((arg) => arg.startsWith('--baseline='));
  let flags: Flags;
  try {
    flags = parseFlags(
      argv.filter((arg) => arg !== baselineArg),
      FLAGS,
    );
  } catch (error) {
    if (!(error instanceof FlagsError)) throw error;
    log(`${error.message}\n\n${USAGE}`);
    return 2;
  }
  const builds: Array<[string, string]> = [];
  if (baselineArg) {
    const main = join(resolve(baselineArg.slice('--baseline='.length)), 'dist', 'src', 'main.js');
    if (!existsSync(main)) {
      log(`${main} is missing: build that checkout first`);
      return 2;
    }
    builds.push(['baseline', main]);
  }
  builds.push(['this build', join(__dirname, '..', '..', 'src', 'main.js')]);

  process.once('SIGINT', () => (stopRequested = true));
  process.once('SIGTERM', () => (stopRequested = true));
  const sim = await createHubSpotSimulator({ seedContacts: 0, portals: [{ portalId: B_PORTAL, rateLimit: B_LIMIT, privateAppTokens: [tokenOf(B_PORTAL)] }] });
  sim.defineProperties('contacts', ['ok', 'attempts'], B_PORTAL);
  sim.seed('contacts', Array.from({ length: flags.bWritebacks }, (_, i) => ({ id: i + 1 })), B_PORTAL);
  try {
    const results: BuildFigures[] = [];
    for (const [name, main] of builds) results.push(await runBuild(name, main, flags, sim));
    log('part 3: the cost of the schedule per job');
    const costs = await costRun(flags);
    report(flags, results, costs);
    return stopRequested ? 130 : 0;
  } catch (error) {
    if (stopRequested) return 130;
    log(`benchmark failed: ${(error as Error).stack ?? error}`);
    return 1;
  } finally {
    await sim.close();
  }
}

function report(flags: Flags, results: BuildFigures[], costs: CostFigures[]): void {
  const out = [
    '',
    `B's 10 instant jobs enqueued behind A's ${flags.backlog} one-second jobs (noop concurrency 200, topology ${flags.topology})`,
    table(
      ['build', "B's wait, s", "A's jobs started before B's last"],
      results.map((r) => [r.build, r.backlog.bSeconds.toFixed(2), r.backlog.aStartedBeforeB]),
    ),
  ];
  const mixed = results.filter((r) => r.mixed);
  if (mixed.length > 0) {
    out.push(
      '',
      `Mixed load: A ${flags.aJobs} one-second jobs, B ${flags.bWritebacks} write-backs against a budget of ${B_LIMIT} call per 10 s, C one job a second for ${flags.cSeconds} s`,
      table(
        ['build', 'C start p50 ms', 'C start p99 ms', 'C succeeded p50 ms', 'C succeeded p99 ms', 'A jobs/s', 'A seconds', "B's runs done"],
        mixed.map(({ build, mixed: m }) => [build, m!.cStartMs.p50, m!.cStartMs.p99, m!.cSucceededMs.p50, m!.cSucceededMs.p99, m!.aJobsPerSecond, m!.aSeconds, `${m!.bRunsDone} of ${m!.bRuns}`]),
      ),
    );
    const [before, after] = mixed.length === 2 ? mixed : [undefined, mixed[0]];
    out.push(`  ${after.mixed!.cStartMs.p99 < 1_000 ? 'PASS' : 'MISS'}: C's enqueue-to-start p99 ${after.mixed!.cStartMs.p99} ms (target under 1,000 ms)`);
    if (before) {
      const share = after.mixed!.aJobsPerSecond / before.mixed!.aJobsPerSecond;
      out.push(`  ${share >= 0.95 ? 'PASS' : 'MISS'}: A's throughput ${round(share, 3)} of the baseline's (target at least 0.95)`);
    }
  }
  out.push(
    '',
    'What the schedule costs Redis per job (pushed into a backlog and let through), by portals with jobs waiting',
    table(
      ['portals', 'jobs', 'Redis µs per job', 'wall µs per job'],
      costs.map((c) => [c.portals, c.jobs, c.redisMicrosPerJob, c.wallMicrosPerJob]),
    ),
  );
  process.stdout.write(`${out.join('\n')}\n${JSON.stringify({ bench: 'fairness', flags, results, costs })}\n`);
}

main().then(
  (code) => process.exit(code),
  (error: Error) => {
    log(`benchmark failed: ${error.stack ?? error}`);
    process.exit(1);
  },
);
