/**
 * Offload benchmark: `npm run bench` (see bench/README.md). It measures, on this machine and
 * against its own throw-away database and Redis prefix:
 *   1. enqueue latency at fixed offered rates (open loop) on POST /v1/jobs;
 *   2. end-to-end noop throughput (batch enqueue until every job succeeded), next to bare BullMQ
 *      doing the same work;
 * and prints a table, a summary against the targets, and a final JSON line. It exits 0 whatever
 * the figures are: it is a measurement, not a test.
 */
import { mkdirSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { RATE_WINDOW_MS } from '../../src/request-limits/request-rate-limiter';
import { CpuGroups, CpuMeter, pidsNamed } from './cpu';
import { HttpClient, RequestSender } from './http';
import { LoadClient } from './load-client';
import { dispose, Isolation, newIsolation, prepare } from './isolation';
import { ADMIN_TOKEN, OffloadProcesses } from './offload-processes';
import type { TimingSummary } from './server-preload';
import { OpenLoopResult, runOpenLoop } from './open-loop';
import { BenchOptions, OptionsError, parseOptions, USAGE } from './options';
import { formatProfile, summarizeProfile } from './profile-summary';
import { ms, round, table } from './stats';
import { BareBullmq, BareThroughput, OffloadThroughput, offloadThroughput } from './throughput';

const TARGET_RATE = 2_000;
const TARGET_P99_MS = 50;
/** A step "sustains" its rate when at least this share of the offered requests succeeded within the step's window. */
const SUSTAIN_SHARE = 0.98;
const TARGET_RATIO = 0.2;
const DRAIN_TIMEOUT_MS = 120_000;

const log = (line: string) => process.stderr.write(`${line}\n`);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface RateStep extends OpenLoopResult {
  /** Jobs still queued or running when the step's load ended: the worker falling behind. */
  backlogAtEnd: number;
  /** How long the worker then took to finish them. */
  drainSeconds: number;
  cpu: Record<string, number>;
}

interface Target {
  name: string;
  target: string;
  measured: string;
  verdict: 'PASS' | 'MISS' | 'INFO' | 'N/A';
}

interface PhaseTimings {
  phase: string;
  process: string;
  timings: TimingSummary[];
}

class Interrupted extends Error {}

let stopRequested = false;
const shouldStop = () => stopRequested;

async function main(): Promise<number> {
  if (process.argv.includes('--help') || process.argv.includes('-h')) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  let options: BenchOptions;
  try {
    options = parseOptions();
  } catch (error) {
    if (error instanceof OptionsError) {
      log(`${error.message}\n\n${USAGE}`);
      return 2;
    }
    throw error;
  }

  const isolation = newIsolation(options.postgresUrl, options.redisUrl);
  // One key and one address send every request: the request limits stay on, at twice the highest offered rate.
  const requestLimit = String(2 * Math.max(...options.rates) * (RATE_WINDOW_MS / 1000));
  const servers = new OffloadProcesses(isolation, options.topology, {
    RATE_LIMIT_KEY_PER_10S: requestLimit,
    RATE_LIMIT_IP_PER_10S: requestLimit,
    ...(options.timings ? { BENCH_TIMINGS: '1' } : {}),
  });
  const bare = new BareBullmq(isolation, options.bareConcurrency);
  const clients: RequestSender[] = [];
  let db: Client | undefined;

  // Cleanup runs once, whichever way the run ends: normally, on error, or on Ctrl-C / SIGTERM.
  let cleaning: Promise<void> | undefined;
  const cleanup = () =>
    (cleaning ??= (async () => {
      stopRequested = true;
      clients.forEach((client) => client.close());
      await Promise.allSettled([servers.stop(), bare.stop(), db?.end()]);
      const problems = await dispose(isolation);
      for (const problem of problems) log(`cleanup: ${problem}`);
      if (problems.length === 0) log(`cleanup: dropped ${isolation.database}, deleted ${isolation.redisPrefix}:* keys`);
    })());
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals++;
    if (signals > 1) {
      log(`${signal} again: killing the servers now; database ${isolation.database} may be left behind`);
      servers.killNow();
      bare.killNow();
      process.exit(130);
    }
    log(`${signal}: stopping, cleaning up (again to force)`);
    void cleanup().finally(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('SIGHUP', onSignal);
  process.on('exit', () => {
    servers.killNow();
    bare.killNow();
  });

  try {
    log(`Offload benchmark ${isolation.runId}: database ${isolation.database}, Redis prefix ${isolation.redisPrefix}, topology ${options.topology}`);
    await prepare(isolation);
    db = new Client({ connectionString: isolation.databaseUrl });
    await db.connect();
    await servers.start();
    log(`servers up: ${servers.processes.map((p) => `${p.name} pid ${p.child.pid} port ${p.port}`).join(', ')}`);

    const redisPids = pidsNamed('redis-server');
    const cpuGroups = async (): Promise<CpuGroups> => ({
      ...Object.fromEntries(servers.processes.map((p) => [p.name, [p.child.pid!]])),
      // The backends on the benchmark's database, and PostgreSQL's background processes (no database).
      postgres: (await db!.query(`SELECT pid FROM pg_stat_activity WHERE datname = current_database() OR datname IS NULL`)).rows.map(
        (row: { pid: number }) => row.pid,
      ),
      redis: redisPids,
      bench: 'self',
      ...(bare.pid ? { 'bare-worker': [bare.pid] } : {}),
    });
    const cpu = new CpuMeter(cpuGroups);
    const profileDir = join(tmpdir(), `offload-bench-${isolation.runId}-profiles`);
    if (options.profile) mkdirSync(profileDir, { recursive: true });
    const profiles: Array<{ phase: string; process: string; path: string }> = [];
    const timings: PhaseTimings[] = [];
    const measured = async <T>(phase: string, body: () => Promise<T>): Promise<{ result: T; cpu: Record<string, number> }> => {
      if (options.profile) await servers.startProfiles();
      if (options.timings) await servers.resetTimings();
      const before = await cpu.snapshot();
      const result = await body();
      const usage = CpuMeter.between(before, await cpu.snapshot());
      if (options.timings) {
        for (const [name, list] of await servers.reportTimings()) timings.push({ phase, process: name, timings: list });
      }
      if (options.profile) {
        for (const [name, path] of await servers.stopProfiles(profileDir, phase)) profiles.push({ phase, process: name, path });
      }
      if (stopRequested) throw new Interrupted();
      servers.assertAlive();
      return { result, cpu: usage };
    };

    const control = new HttpClient(servers.apiUrl, 4);
    clients.push(control);
    const portal = async (purpose: string) => {
      const hubspotPortalId = 1 + Math.floor(Math.random() * 2_000_000_000);
      const created = await control.json('POST', '/v1/admin/portals', { hubspotPortalId, name: `bench ${purpose} ${isolation.runId}` }, ADMIN_TOKEN);
      if (created.status !== 201) throw new Error(`portal not created: ${created.status} ${JSON.stringify(created.body)}`);
      return created.body as { id: string; apiKey: string };
    };
    const latencyPortal = await portal('latency');
    const throughputPortal = await portal('throughput');

    // Smoke test: one job through the whole pipeline, so a broken set-up fails here, not as odd figures.
    const smoke = await control.json('POST', '/v1/jobs', { type: 'noop', input: {}, idempotencyKey: `bench-${isolation.runId}-smoke` }, latencyPortal.apiKey);
    if (smoke.status !== 202) throw new Error(`smoke enqueue answered ${smoke.status} ${JSON.stringify(smoke.body)}`);
    const smokeEnd = await control.json('GET', `/v1/jobs/${smoke.body.id}?wait=10`, undefined, latencyPortal.apiKey);
    if (smokeEnd.body?.status !== 'succeeded') throw new Error(`smoke job did not succeed: ${JSON.stringify(smokeEnd.body)}`);

    const liveJobs = async (): Promise<number> =>
      (await db!.query(`SELECT count(*)::int AS n FROM jobs WHERE finished_at IS NULL`)).rows[0].n;
    const drain = async (): Promise<{ backlog: number; seconds: number }> => {
      const started = performance.now();
      const backlog = await liveJobs();
      let live = backlog;
      while (live > 0 && performance.now() - started < DRAIN_TIMEOUT_MS && !stopRequested) {
        await sleep(100);
        live = await liveJobs();
      }
      if (live > 0 && !stopRequested) log(`  ${live} jobs still not done after ${DRAIN_TIMEOUT_MS / 1000} s`);
      return { backlog, seconds: (performance.now() - started) / 1000 };
    };

    // 1. Enqueue latency at fixed offered rates.
    const steps: RateStep[] = [];
    if (!options.skipLatency) {
      const load = new LoadClient(servers.apiUrl, options.connections);
      clients.push(load);
      const headers = { authorization: `Bearer ${latencyPortal.apiKey}` };
      const step = (rate: number, seconds: number, tag: string) =>
        runOpenLoop({
          client: load,
          rate,
          seconds,
          timeoutMs: options.requestTimeoutMs,
          headers,
          request: (i) => ({ path: '/v1/jobs', body: `{"type":"noop","input":{},"idempotencyKey":"bench-${isolation.runId}-${tag}-${i}"}` }),
          ok: (status) => status === 202,
          shouldStop,
        });
      if (options.warmupSeconds > 0) {
        const rate = Math.min(200, ...options.rates);
        log(`warm-up: ${rate} req/s for ${options.warmupSeconds} s`);
        await step(rate, options.warmupSeconds, 'warmup');
        await drain();
      }
      for (const [index, rate] of options.rates.entries()) {
        log(`enqueue latency: ${rate} req/s for ${options.seconds} s`);
        const { result, cpu: usage } = await measured(`rate-${rate}`, () => step(rate, options.seconds, `r${index}`));
        const { backlog, seconds } = await drain();
        steps.push({ ...result, backlogAtEnd: backlog, drainSeconds: seconds, cpu: usage });
        log(
          `  achieved ${result.achievedRate.toFixed(0)}/s, p50 ${ms(result.latency.p50)} p99 ${ms(result.latency.p99)} max ${ms(result.latency.max)} ms, ` +
            `${result.errors} errors, backlog ${backlog} (drained in ${seconds.toFixed(1)} s)`,
        );
        await sleep(500);
      }
    }

    // 2. End-to-end throughput, Offload then bare BullMQ, same job count, batch size and concurrency.
    let offload: (OffloadThroughput & { cpu: Record<string, number> }) | undefined;
    let baseline: (BareThroughput & { cpu: Record<string, number> }) | undefined;
    if (!options.skipThroughput) {
      const batchClient = new HttpClient(servers.apiUrl, options.batchConcurrency);
      clients.push(batchClient);
      const settings = { jobs: options.jobs, batchSize: options.batchSize, batchConcurrency: options.batchConcurrency, shouldStop, log };
      log(`end-to-end: ${options.jobs} noop jobs through Offload (batches of ${options.batchSize}, ${options.batchConcurrency} in flight)`);
      const run = await measured('e2e-offload', () => offloadThroughput(batchClient, throughputPortal.apiKey, throughputPortal.id, db!, isolation.runId, settings));
      offload = { ...run.result, cpu: run.cpu };
      log(`  ${offload.succeeded} succeeded in ${offload.seconds.toFixed(2)} s: ${offload.jobsPerSecond.toFixed(0)} jobs/s`);

      log(`end-to-end: ${options.jobs} jobs through bare BullMQ (worker concurrency ${options.bareConcurrency})`);
      await bare.start();
      await bare.run({ ...settings, jobs: Math.min(1_000, options.jobs) }); // warm-up
      const before = await cpu.snapshot();
      const bareRun = await bare.run(settings);
      baseline = { ...bareRun, cpu: CpuMeter.between(before, await cpu.snapshot()) };
      if (stopRequested) throw new Interrupted();
      log(`  ${bareRun.jobs} completed in ${bareRun.seconds.toFixed(2)} s: ${bareRun.jobsPerSecond.toFixed(0)} jobs/s`);
    }

    report(options, isolation, servers, steps, offload, baseline, profiles, timings);
    return 0;
  } catch (error) {
    if (error instanceof Interrupted || stopRequested) return 130;
    log(`benchmark failed: ${(error as Error).stack ?? error}`);
    return 1;
  } finally {
    await cleanup();
  }
}

function report(
  options: BenchOptions,
  isolation: Isolation,
  servers: OffloadProcesses,
  steps: RateStep[],
  offload: (OffloadThroughput & { cpu: Record<string, number> }) | undefined,
  baseline: (BareThroughput & { cpu: Record<string, number> }) | undefined,
  profiles: Array<{ phase: string; process: string; path: string }>,
  timings: PhaseTimings[],
): void {
  const out: string[] = [];
  const cpuNames = [...new Set(steps.flatMap((step) => Object.keys(step.cpu)))].filter((name) => name !== 'machine');
  out.push('');
  out.push(`Offload benchmark ${isolation.runId}: ${cpus().length} cores, load ${loadavg().map((l) => l.toFixed(2)).join(' ')}, topology ${options.topology} (${servers.processes.map((p) => p.name).join(' + ')})`);
  if (steps.length > 0) {
    out.push('');
    out.push(`Enqueue latency, POST /v1/jobs, open loop, ${options.seconds} s per step, ${options.connections} keep-alive connections (ms from each request's scheduled start)`);
    out.push(
      table(
        ['offered/s', 'achieved/s', 'ok', 'errors', 'p50', 'p95', 'p99', 'max', 'gen lag p99', 'backlog', 'drain s', ...cpuNames.map((n) => `cpu% ${n}`), 'machine%'],
        steps.map((s) => [
          s.offeredRate,
          Math.round(s.achievedRate),
          s.ok,
          s.errors,
          ms(s.latency.p50),
          ms(s.latency.p95),
          ms(s.latency.p99),
          ms(s.latency.max),
          ms(s.sendLagP99),
          s.backlogAtEnd,
          s.drainSeconds.toFixed(1),
          ...cpuNames.map((n) => s.cpu[n] ?? '-'),
          s.cpu.machine ?? '-',
        ]),
      ),
    );
    const errored = steps.filter((s) => s.errors > 0);
    for (const s of errored) out.push(`  errors at ${s.offeredRate}/s: ${JSON.stringify(s.errorKinds)}`);
    out.push(`  cpu% is percent of one core (${cpus().length} cores = ${cpus().length * 100}%); other = rest of the machine; machine% = share of all cores busy.`);
    out.push('  backlog: jobs still queued or running when the step ended; drain s: how long the worker took to finish them.');
  }
  if (offload || baseline) {
    out.push('');
    out.push(`End-to-end noop throughput, ${options.jobs} jobs, batches of ${options.batchSize}, ${options.batchConcurrency} in flight`);
    const rows: Array<Array<string | number>> = [];
    if (offload) {
      rows.push([
        'Offload (POST /v1/jobs/batch -> succeeded in PostgreSQL)',
        offload.succeeded,
        offload.seconds.toFixed(2),
        Math.round(offload.jobsPerSecond),
        `${Math.round(offload.enqueueRate)}/s in ${offload.enqueueSeconds.toFixed(2)} s`,
        Object.entries(offload.cpu).filter(([n]) => n !== 'machine').map(([n, v]) => `${n} ${v}`).join(', '),
      ]);
    }
    if (baseline) {
      rows.push([
        'bare BullMQ (addBulk -> Worker completed)',
        baseline.complete ? baseline.jobs : 0,
        baseline.seconds.toFixed(2),
        Math.round(baseline.jobsPerSecond),
        `${Math.round(baseline.jobs / baseline.addSeconds)}/s in ${baseline.addSeconds.toFixed(2)} s`,
        Object.entries(baseline.cpu).filter(([n]) => n !== 'machine').map(([n, v]) => `${n} ${v}`).join(', '),
      ]);
    }
    out.push(table(['pipeline', 'done', 'seconds', 'jobs/s', 'enqueued', 'cpu% by process'], rows));
    if (offload && Object.keys(offload.rejected).length > 0) out.push(`  rejected: ${JSON.stringify(offload.rejected)}`);
    if (offload) {
      out.push(`  batch request latency: p50 ${ms(offload.batchLatency.p50)} ms, p99 ${ms(offload.batchLatency.p99)} ms, max ${ms(offload.batchLatency.max)} ms`);
    }
  }
  const ratio = offload && baseline && baseline.jobsPerSecond > 0 ? offload.jobsPerSecond / baseline.jobsPerSecond : undefined;
  if (ratio !== undefined) out.push(`  ratio Offload / bare BullMQ: ${ratio.toFixed(3)}`);

  // Targets.
  const targets: Target[] = [];
  const verdict = (ok: boolean): Target['verdict'] => (ok ? 'PASS' : 'MISS');
  for (const s of steps) {
    const beyond = s.offeredRate > TARGET_RATE;
    const sustained = s.achievedRate >= SUSTAIN_SHARE * s.offeredRate && s.errors === 0;
    targets.push({
      name: `enqueue ${s.offeredRate}/s sustained${beyond ? ' (headroom, beyond spec)' : ''}`,
      target: `>= ${Math.round(SUSTAIN_SHARE * s.offeredRate)}/s, 0 errors`,
      measured: `${Math.round(s.achievedRate)}/s, ${s.errors} errors`,
      verdict: beyond ? 'INFO' : verdict(sustained),
    });
    targets.push({
      name: `enqueue ${s.offeredRate}/s p99${beyond ? ' (headroom, beyond spec)' : ''}`,
      target: `< ${TARGET_P99_MS} ms`,
      measured: `${ms(s.latency.p99)} ms`,
      verdict: beyond ? 'INFO' : verdict(s.latency.p99 < TARGET_P99_MS),
    });
  }
  if (!steps.some((s) => s.offeredRate === TARGET_RATE) && !options.skipLatency) {
    targets.push({ name: `enqueue ${TARGET_RATE}/s (spec)`, target: 'p99 < 50 ms', measured: 'not measured (not in --rates)', verdict: 'N/A' });
  }
  if (offload) {
    targets.push({
      name: 'end-to-end run complete',
      target: `${offload.jobs} succeeded`,
      measured: `${offload.succeeded} succeeded, ${offload.failed} failed`,
      verdict: verdict(offload.complete),
    });
  }
  if (ratio !== undefined) {
    targets.push({
      name: 'end-to-end Offload / bare BullMQ',
      target: `>= ${TARGET_RATIO}`,
      measured: `${ratio.toFixed(3)} (${Math.round(offload!.jobsPerSecond)} / ${Math.round(baseline!.jobsPerSecond)} jobs/s)`,
      verdict: verdict(ratio >= TARGET_RATIO && offload!.complete && baseline!.complete),
    });
  }
  out.push('');
  out.push('Summary against targets');
  out.push(table(['figure', 'target', 'measured', 'verdict'], targets.map((t) => [t.name, t.target, t.measured, t.verdict])));

  const warnings = servers.processes.flatMap((p) => [...p.warnings].map(([message, count]) => `${p.name}: ${count}× ${message}`));
  if (warnings.length > 0) {
    out.push('');
    out.push(`Server warnings and errors logged during the run (${warnings.length} kinds):`);
    for (const line of warnings.slice(0, 15)) out.push(`  ${line}`);
  }

  if (timings.length > 0) {
    out.push('');
    out.push('Inside the servers, per phase (ms unless stated; from --timings)');
    out.push(
      table(
        ['phase', 'process', 'what', 'count', 'mean', 'p50', 'p99', 'max'],
        timings.flatMap((t) => t.timings.map((row) => [t.phase, t.process, row.name, row.count, ms(row.mean), ms(row.p50), ms(row.p99), ms(row.max)])),
      ),
    );
  }

  if (profiles.length > 0) {
    out.push('');
    out.push(`CPU profiles (open in Chrome DevTools or speedscope): ${join(tmpdir(), `offload-bench-${isolation.runId}-profiles`)}`);
    for (const profile of profiles) {
      try {
        out.push(formatProfile(`${profile.phase} / ${profile.process}`, summarizeProfile(profile.path, 12)));
      } catch (error) {
        out.push(`${profile.phase} / ${profile.process}: unreadable profile (${(error as Error).message})`);
      }
    }
  }

  const json = {
    bench: 'offload',
    runId: isolation.runId,
    topology: options.topology,
    processes: servers.processes.map((p) => p.name),
    machine: { cores: cpus().length, loadavg: loadavg().map((l) => round(l, 2)) },
    options: {
      rates: options.rates,
      seconds: options.seconds,
      connections: options.connections,
      jobs: options.jobs,
      batchSize: options.batchSize,
      batchConcurrency: options.batchConcurrency,
      bareConcurrency: options.bareConcurrency,
    },
    enqueue: steps.map((s) => ({
      offeredRate: s.offeredRate,
      achievedRate: round(s.achievedRate),
      sent: s.sent,
      ok: s.ok,
      errors: s.errors,
      errorKinds: s.errorKinds,
      latencyMs: { p50: round(s.latency.p50, 2), p95: round(s.latency.p95, 2), p99: round(s.latency.p99, 2), max: round(s.latency.max, 2), mean: round(s.latency.mean, 2) },
      generatorLagMs: { p99: round(s.sendLagP99, 2), max: round(s.sendLagMax, 2) },
      backlogAtEnd: s.backlogAtEnd,
      drainSeconds: round(s.drainSeconds, 2),
      cpuPercent: s.cpu,
    })),
    endToEnd: {
      offload: offload && {
        jobs: offload.jobs,
        succeeded: offload.succeeded,
        failed: offload.failed,
        complete: offload.complete,
        seconds: round(offload.seconds, 3),
        jobsPerSecond: round(offload.jobsPerSecond),
        enqueueSeconds: round(offload.enqueueSeconds, 3),
        enqueueRate: round(offload.enqueueRate),
        batchLatencyMs: { p50: round(offload.batchLatency.p50, 2), p99: round(offload.batchLatency.p99, 2), max: round(offload.batchLatency.max, 2) },
        rejected: offload.rejected,
        cpuPercent: offload.cpu,
      },
      bare: baseline && {
        jobs: baseline.jobs,
        complete: baseline.complete,
        seconds: round(baseline.seconds, 3),
        jobsPerSecond: round(baseline.jobsPerSecond),
        addSeconds: round(baseline.addSeconds, 3),
        cpuPercent: baseline.cpu,
      },
      ratio: ratio === undefined ? undefined : round(ratio, 3),
    },
    targets,
    serverTimings: timings.length > 0 ? timings : undefined,
  };
  out.push('');
  out.push(JSON.stringify(json));
  process.stdout.write(`${out.join('\n')}\n`);
}

main().then(
  (code) => process.exit(code),
  (error: Error) => {
    log(`benchmark failed: ${error.stack ?? error}`);
    process.exit(1);
  },
);
