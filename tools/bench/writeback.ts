/**
 * Write-back benchmark: `npm run bench:writeback`. N noop jobs with write-back to N contacts of
 * the HubSpot simulator (in this process, reached through the official client), under a limit of
 * L requests per rolling 10 s, against the floor that limit sets: the batch calls needed divided
 * by the allowed rate. By default a portal reads each batch's records before it writes them (stale
 * properties skipped, previous values kept for undo): one batch read and one batch update per 100
 * records, a floor of 2N / 100 calls; the same N written blind (readBeforeWrite off) has the floor
 * of N / 100. Then what each safe write-back feature costs in calls: dry runs (one read per 100),
 * a revert of the default run (a read and an update per 100), and a staged rollout. Side by side,
 * the naive way a custom code action writes (one update call per record through the official
 * client, its own retries on): run on a sample and projected to N. Tables to stdout, then one JSON
 * line of every figure; progress to stderr.
 */
import { Client as HubSpotClient } from '@hubspot/api-client';
import { createHubSpotSimulator, HubSpotSimulator } from '../simulators/hubspot';
import { BenchSession, FlagSpec, log, parseFlags, runBenchSession } from './bench-session';
import { ADMIN_TOKEN } from './offload-processes';
import { round, table } from './stats';
import { offloadThroughput } from './throughput';

const USAGE = `npm run bench:writeback [-- flags]
  --jobs=10000              jobs, each writing its outputs to its own contact
  --limit=100               HubSpot requests allowed per rolling 10 s (Free/Starter private apps)
  --naive-records=300       records the naive one-call-per-record run writes (projected to --jobs)
  --naive-concurrency=10    naive updates in flight at once
  --hubspot-latency-ms=30   latency the simulator adds to every call
  --starved-jobs=20000      write-backs of a portal whose budget is 10 requests per 10 s, waiting
                            while a neighbour's 20 write-backs run (the neighbour's delay is measured)
  --blind=1                 also write --jobs records blind (readBeforeWrite off); 0 skips it
  --dry-runs=1000           dry runs (one read per 100 records, nothing written); 0 skips them
  --revert=1                revert the default run's writes (a read and an update per 100 records); 0 skips it
  --rollout-jobs=1000       write-backs under a staged rollout (1, 10, 100, then all; each stage released
                            after 100 clean writes or all of a smaller one); 0 skips it
  --topology=split|all      split: ROLE=api + ROLE=worker processes (default); all: one ROLE=all process`;

const FLAGS = {
  jobs: { fallback: 10_000, min: 100, max: 100_000 },
  limit: { fallback: 100, min: 10, max: 1_000 },
  naiveRecords: { fallback: 300, min: 10, max: 100_000 },
  naiveConcurrency: { fallback: 10, min: 1, max: 100 },
  hubspotLatencyMs: { fallback: 30, min: 0, max: 5_000 },
  starvedJobs: { fallback: 20_000, min: 0, max: 100_000 },
  blind: { fallback: 1, min: 0, max: 1 },
  dryRuns: { fallback: 1_000, min: 0, max: 100_000 },
  revert: { fallback: 1, min: 0, max: 1 },
  rolloutJobs: { fallback: 1_000, min: 0, max: 100_000 },
} satisfies Record<string, FlagSpec>;
type Flags = ReturnType<typeof parseFlags<keyof typeof FLAGS>>;

const WINDOW_SECONDS = 10;
const BATCH_RECORDS = 100;
const OFFLOAD_PORTAL = 4_100_001;
const NAIVE_PORTAL = 4_100_002;
const STARVED_PORTAL = 4_100_003;
const NEIGHBOUR_PORTAL = 4_100_004;
const BLIND_PORTAL = 4_100_005;
const DRY_RUN_PORTAL = 4_100_006;
const ROLLOUT_PORTAL = 4_100_007;
const STARVED_LIMIT = 10;
const NEIGHBOUR_JOBS = 20;
const ROLLOUT_STAGES = [1, 10, 100];
const ROLLOUT_AUTO_RELEASE = 100;
const tokenOf = (portalId: number) => `pat-bench-${portalId}`;
const PROPERTIES = ['ok', 'attempts'];

interface RunFigures {
  records: number;
  calls: number;
  reads: number;
  updates: number;
  rateLimited: number;
  /** Records HubSpot was asked to write, over every accepted call: N when none was written twice. */
  recordsWritten: number;
  seconds: number;
  floorCalls: number;
  floorSeconds: number;
}

let sim: HubSpotSimulator;

function callsOf(portalId: number) {
  return sim.listCalls({}).filter((call) => call.portalId === portalId);
}

type OffloadFigures = RunFigures & { succeeded: number; failed: number; complete: boolean };

interface OffloadRun {
  purpose: string;
  hubspotPortalId: number;
  jobs: number;
  /** Batch calls per 100 records at the floor: 2 when each batch is read before it is written, 1 written blind or read only. */
  callsPerBatch: 1 | 2;
  dryRun?: boolean;
  /** Admin calls on the new portal before its jobs are enqueued. */
  setUp?: (portalId: string) => Promise<void>;
}

/** Offload: jobs through POST /v1/jobs/batch, written back in coalesced batch calls within the portal's budget. */
async function offloadRun(session: BenchSession, flags: Flags, run: OffloadRun): Promise<OffloadFigures & { portalId: string }> {
  const token = run.hubspotPortalId === OFFLOAD_PORTAL ? sim.token : tokenOf(run.hubspotPortalId);
  const portal = await session.newPortal(run.purpose, { hubspotPortalId: run.hubspotPortalId, hubspotAccessToken: token, rateLimit: { requestsPer10s: flags.limit } });
  await run.setUp?.(portal.id);
  log(`${run.purpose}: ${run.jobs} jobs${run.dryRun ? ' (dry runs)' : ' with write-back'}, limit ${flags.limit} per ${WINDOW_SECONDS} s`);
  const figures = await offloadThroughput(session.load, portal.apiKey, portal.id, session.db, `${run.purpose}-${Date.now()}`, {
    jobs: run.jobs,
    batchSize: 100,
    batchConcurrency: 4,
    job: (i) => ({ type: 'noop', input: {}, object: { type: 'contacts', id: String(i + 1) }, writeback: true, ...(run.dryRun ? { dryRun: true } : {}) }),
    shouldStop: session.shouldStop,
    log,
  });
  const calls = callsOf(run.hubspotPortalId);
  const floorCalls = run.callsPerBatch * Math.ceil(run.jobs / BATCH_RECORDS);
  return {
    portalId: portal.id,
    ...callFigures(calls),
    records: run.jobs,
    seconds: figures.seconds,
    floorCalls,
    floorSeconds: floorCalls / (flags.limit / WINDOW_SECONDS),
    succeeded: figures.succeeded,
    failed: figures.failed,
    complete: figures.complete,
  };
}

function callFigures(calls: ReturnType<typeof callsOf>) {
  return {
    calls: calls.length,
    reads: calls.filter((call) => call.endpoint === 'crm.objects.batch.read').length,
    updates: calls.filter((call) => call.endpoint === 'crm.objects.batch.update').length,
    rateLimited: calls.filter((call) => call.status === 429).length,
    recordsWritten: calls
      .filter((call) => call.endpoint === 'crm.objects.batch.update' && call.status === 200)
      .reduce((sum, call) => sum + Number(call.summary?.inputs ?? 0), 0),
  };
}

/** Reverts the default run (its handler version, noop 1.0.0): a batch read and a batch update per 100 records, within the portal's budget. */
async function revertRun(session: BenchSession, flags: Flags, portalId: string): Promise<RunFigures & { restored: number; skipped: number }> {
  const before = callsOf(OFFLOAD_PORTAL).length;
  log(`revert: the ${flags.jobs} writes of noop 1.0.0`);
  const started = performance.now();
  const created = await session.control.json('POST', `/v1/admin/portals/${portalId}/writebacks/revert`, { type: 'noop', version: '1.0.0' }, ADMIN_TOKEN);
  if (created.status !== 202) throw new Error(`revert not started: ${created.status} ${JSON.stringify(created.body)}`);
  let progress = created.body;
  while (progress.status !== 'done' && !session.shouldStop()) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    progress = (await session.control.json('GET', `/v1/admin/portals/${portalId}/writebacks/reverts/${created.body.id}`, undefined, ADMIN_TOKEN)).body;
  }
  const seconds = (performance.now() - started) / 1000;
  const floorCalls = 2 * Math.ceil(progress.records / BATCH_RECORDS);
  return {
    ...callFigures(callsOf(OFFLOAD_PORTAL).slice(before)),
    records: progress.records,
    seconds,
    floorCalls,
    floorSeconds: floorCalls / (flags.limit / WINDOW_SECONDS),
    restored: progress.restored,
    skipped: progress.skipped,
  };
}

/** The naive way: one PATCH per record, as many at once as the action's loop allows, the client's own 429/5xx retries on. */
async function naiveRun(flags: Flags): Promise<RunFigures & { projectedCalls: number; projectedRateLimited: number; projectedSeconds: number }> {
  const token = sim.addPrivateAppToken(NAIVE_PORTAL);
  const client = new HubSpotClient({ accessToken: token, basePath: sim.url, numberOfApiCallRetries: 6 });
  const records = Math.min(flags.naiveRecords, flags.jobs);
  log(`naive: ${records} records, one update call each, ${flags.naiveConcurrency} at once`);
  const started = performance.now();
  let next = 0;
  let failed = 0;
  await Promise.all(
    Array.from({ length: flags.naiveConcurrency }, async () => {
      while (next < records) {
        const id = String(++next);
        await client.crm.contacts.basicApi.update(id, { properties: { ok: 'true', attempts: '1' } }).catch(() => failed++);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const calls = callsOf(NAIVE_PORTAL);
  const rateLimited = calls.filter((call) => call.status === 429).length;
  if (failed > 0) log(`naive: ${failed} records not written (retries exhausted)`);
  const scale = flags.jobs / records;
  return {
    records,
    calls: calls.length,
    reads: 0,
    updates: calls.length,
    rateLimited,
    recordsWritten: calls.filter((call) => call.endpoint === 'crm.objects.update' && call.status === 200).length,
    seconds,
    floorCalls: records,
    floorSeconds: records / (flags.limit / WINDOW_SECONDS),
    projectedCalls: Math.round(calls.length * scale),
    projectedRateLimited: Math.round(rateLimited * scale),
    projectedSeconds: seconds * scale,
  };
}

interface NeighbourFigures {
  starvedJobs: number;
  /** The starved portal's jobs still waiting for their write when the neighbour's were done. */
  starvedWaiting: number;
  neighbourJobs: number;
  /** From the neighbour's enqueue until its last job succeeded. */
  neighbourSeconds: number;
}

/**
 * A portal with thousands of write-backs and a budget of 10 requests per 10 s, next to a portal
 * with an idle budget: once the starved portal's runs are done and its writes wait for budget, the
 * neighbour enqueues 20 write-backs. They must not wait behind the starved portal's writes, and no
 * worker is held by those. (Waiting behind the starved portal's runs in the queue is the fair
 * scheduler's matter, so the neighbour comes after them.)
 */
async function neighbourRun(session: BenchSession, flags: Flags): Promise<NeighbourFigures> {
  const starved = await session.newPortal('starved', { hubspotPortalId: STARVED_PORTAL, hubspotAccessToken: tokenOf(STARVED_PORTAL), rateLimit: { requestsPer10s: STARVED_LIMIT } });
  const neighbour = await session.newPortal('neighbour', { hubspotPortalId: NEIGHBOUR_PORTAL, hubspotAccessToken: tokenOf(NEIGHBOUR_PORTAL), rateLimit: { requestsPer10s: flags.limit } });
  const enqueue = async (apiKey: string, count: number, tag: string) => {
    for (let i = 0; i < count; i += BATCH_RECORDS) {
      const jobs = Array.from({ length: Math.min(BATCH_RECORDS, count - i) }, (_, j) => ({
        type: 'noop',
        object: { type: 'contacts', id: String(i + j + 1) },
        writeback: true,
        idempotencyKey: `${tag}-${i + j}`,
      }));
      const answer = await session.control.json('POST', '/v1/jobs/batch', { jobs }, apiKey);
      if (answer.status !== 200) throw new Error(`enqueue failed: ${answer.status} ${JSON.stringify(answer.body)}`);
    }
  };
  const counts = async (portalId: string) =>
    Object.fromEntries(
      (await session.db.query(`SELECT status, count(*)::int AS n FROM jobs WHERE portal_id = $1 GROUP BY status`, [portalId])).rows.map((row) => [row.status, row.n]),
    ) as Record<string, number>;
  const until = async (portalId: string, done: (c: Record<string, number>) => boolean) => {
    while (!session.shouldStop() && !done(await counts(portalId))) await new Promise((resolve) => setTimeout(resolve, 20));
  };

  log(`neighbour: ${flags.starvedJobs} write-backs of a portal limited to ${STARVED_LIMIT} requests per ${WINDOW_SECONDS} s`);
  await enqueue(starved.apiKey, flags.starvedJobs, `starved-${Date.now()}`);
  await until(starved.id, (c) => (c.queued ?? 0) + (c.running ?? 0) === 0);
  log(`neighbour: ${NEIGHBOUR_JOBS} write-backs of a portal with an idle budget`);
  const started = performance.now();
  await enqueue(neighbour.apiKey, NEIGHBOUR_JOBS, `neighbour-${Date.now()}`);
  await until(neighbour.id, (c) => c.succeeded === NEIGHBOUR_JOBS);
  const neighbourSeconds = (performance.now() - started) / 1000;
  const after = await counts(starved.id);
  return { starvedJobs: flags.starvedJobs, starvedWaiting: after.writing ?? 0, neighbourJobs: NEIGHBOUR_JOBS, neighbourSeconds };
}

async function run(session: BenchSession, flags: Flags): Promise<void> {
  const offload = await offloadRun(session, flags, { purpose: 'writeback', hubspotPortalId: OFFLOAD_PORTAL, jobs: flags.jobs, callsPerBatch: 2 });
  log(`  ${offload.succeeded} succeeded in ${offload.seconds.toFixed(2)} s, ${offload.calls} HubSpot calls, ${offload.rateLimited} answered 429`);
  const blind = flags.blind
    ? await offloadRun(session, flags, {
        purpose: 'blind',
        hubspotPortalId: BLIND_PORTAL,
        jobs: flags.jobs,
        callsPerBatch: 1,
        setUp: async (portalId) => {
          await session.control.json('PUT', `/v1/admin/portals/${portalId}/writebacks/settings`, { readBeforeWrite: false }, ADMIN_TOKEN);
        },
      })
    : undefined;
  if (blind) log(`  blind: ${blind.succeeded} succeeded in ${blind.seconds.toFixed(2)} s, ${blind.calls} HubSpot calls`);
  const dryRuns = flags.dryRuns ? await offloadRun(session, flags, { purpose: 'dry-runs', hubspotPortalId: DRY_RUN_PORTAL, jobs: flags.dryRuns, callsPerBatch: 1, dryRun: true }) : undefined;
  if (dryRuns) log(`  dry runs: ${dryRuns.succeeded} succeeded in ${dryRuns.seconds.toFixed(2)} s, ${dryRuns.calls} HubSpot calls`);
  const revert = flags.revert ? await revertRun(session, flags, offload.portalId) : undefined;
  if (revert) log(`  revert: ${revert.restored} restored in ${revert.seconds.toFixed(2)} s, ${revert.calls} HubSpot calls`);
  const rollout = flags.rolloutJobs
    ? await offloadRun(session, flags, {
        purpose: 'rollout',
        hubspotPortalId: ROLLOUT_PORTAL,
        jobs: flags.rolloutJobs,
        callsPerBatch: 2,
        setUp: async (portalId) => {
          const rolloutBody = { rollout: { stages: ROLLOUT_STAGES, autoReleaseAfter: ROLLOUT_AUTO_RELEASE } };
          await session.control.json('PUT', `/v1/admin/portals/${portalId}/writebacks/releases/noop/1.0.0`, rolloutBody, ADMIN_TOKEN);
        },
      })
    : undefined;
  if (rollout) log(`  rollout: ${rollout.succeeded} succeeded in ${rollout.seconds.toFixed(2)} s, ${rollout.calls} HubSpot calls`);
  const naive = await naiveRun(flags);
  log(`  naive: ${naive.calls} calls, ${naive.rateLimited} answered 429, ${naive.seconds.toFixed(1)} s`);

  const neighbour = flags.starvedJobs > 0 ? await neighbourRun(session, flags) : undefined;
  if (neighbour) log(`  neighbour: done in ${neighbour.neighbourSeconds.toFixed(2)} s with ${neighbour.starvedWaiting} starved writes waiting`);

  const callRatio = offload.calls / offload.floorCalls;
  const timeRatio = offload.seconds / offload.floorSeconds;
  const row = (name: string, figures: RunFigures) => [
    name,
    figures.records,
    figures.calls,
    figures.reads,
    figures.updates,
    figures.rateLimited,
    figures.recordsWritten,
    figures.seconds.toFixed(1),
    figures.floorCalls,
    figures.floorSeconds.toFixed(1),
    round(figures.calls / figures.floorCalls, 3),
    round(figures.seconds / figures.floorSeconds, 3),
  ];
  const within = (name: string, figures: RunFigures) => [
    `  ${figures.calls / figures.floorCalls <= 1.05 ? 'PASS' : 'MISS'}: ${name}: calls ${round(figures.calls / figures.floorCalls, 3)} x its floor (target at most 1.05)`,
    `  ${figures.seconds / figures.floorSeconds <= 1.2 ? 'PASS' : 'MISS'}: ${name}: time ${round(figures.seconds / figures.floorSeconds, 3)} x its floor (target at most 1.2)`,
  ];
  const out = [
    '',
    `Write-back of ${flags.jobs} jobs under ${flags.limit} requests per ${WINDOW_SECONDS} s (simulator latency ${flags.hubspotLatencyMs} ms, topology ${flags.topology})`,
    table(
      ['approach', 'records', 'HubSpot calls', 'reads', 'updates', '429s', 'records written', 'seconds', 'floor calls', 'floor seconds', 'calls / floor', 'time / floor'],
      [
        row('offload, read before write (default)', offload),
        ...(blind ? [row('offload, blind (readBeforeWrite off)', blind)] : []),
        ...(dryRuns ? [row('dry runs', dryRuns)] : []),
        ...(revert ? [row('revert of the default run', revert)] : []),
        ...(rollout ? [row(`staged rollout ${JSON.stringify(ROLLOUT_STAGES)}, auto after ${ROLLOUT_AUTO_RELEASE}`, rollout)] : []),
        row('naive, measured', naive),
        ['naive, projected', flags.jobs, naive.projectedCalls, '', '', naive.projectedRateLimited, '', naive.projectedSeconds.toFixed(0), flags.jobs, (flags.jobs / (flags.limit / WINDOW_SECONDS)).toFixed(0), '', ''],
      ],
    ),
    '  Floors: 2 calls per 100 records read before they are written (a revert too), 1 per 100 written blind or only read (dry runs).',
    ...within('read before write', offload),
    ...(blind ? within('blind', blind) : []),
    `  ${offload.rateLimited === 0 ? 'PASS' : 'MISS'}: ${offload.rateLimited} 429s caused (target 0)`,
    `  ${offload.recordsWritten === flags.jobs && offload.complete ? 'PASS' : 'MISS'}: ${offload.recordsWritten} records written for ${flags.jobs} jobs, ${offload.succeeded} succeeded, ${offload.failed} failed`,
    ...(blind ? [`  read before write costs ${round(offload.calls / blind.calls, 3)} x the calls and ${round(offload.seconds / blind.seconds, 3)} x the time of writing blind`] : []),
    ...(dryRuns ? [`  ${dryRuns.recordsWritten === 0 && dryRuns.complete ? 'PASS' : 'MISS'}: ${flags.dryRuns} dry runs wrote ${dryRuns.recordsWritten} records in ${dryRuns.calls} calls`] : []),
    ...(revert ? [`  ${revert.restored === flags.jobs ? 'PASS' : 'MISS'}: the revert restored ${revert.restored} of ${flags.jobs} records (${revert.skipped} skipped) in ${revert.calls} calls, ${revert.seconds.toFixed(1)} s`] : []),
    ...(rollout ? [`  ${rollout.recordsWritten === flags.rolloutJobs && rollout.complete ? 'PASS' : 'MISS'}: the staged rollout wrote ${rollout.recordsWritten} records in ${rollout.calls} calls, ${rollout.seconds.toFixed(1)} s`] : []),
    `  Offload makes ${round(naive.projectedCalls / offload.calls, 1)} x fewer calls and finishes ${round(naive.projectedSeconds / offload.seconds, 1)} x sooner than the naive way`,
    ...(neighbour
      ? [
          `  ${neighbour.neighbourSeconds < 2 ? 'PASS' : 'MISS'}: a neighbour's ${neighbour.neighbourJobs} write-backs took ${round(neighbour.neighbourSeconds, 3)} s next to ${neighbour.starvedWaiting} of ${neighbour.starvedJobs} starved writes waiting for budget (target under 2 s)`,
        ]
      : []),
  ];
  process.stdout.write(`${out.join('\n')}\n`);
  process.stdout.write(`${JSON.stringify({ flags, offload, blind, dryRuns, revert, rollout, naive, neighbour, ratios: { calls: callRatio, time: timeRatio } })}\n`);
}

if (require.main === module) {
  void runBenchSession<Flags>({
    name: 'write-back benchmark',
    usage: USAGE,
    flags: (argv) => parseFlags(argv, FLAGS),
    async dependencies(flags) {
      sim = await createHubSpotSimulator({
        rateLimit: flags.limit,
        seedContacts: flags.jobs,
        portals: [{ portalId: OFFLOAD_PORTAL }, { portalId: NAIVE_PORTAL }],
      });
      sim.addPortal({ portalId: STARVED_PORTAL, rateLimit: STARVED_LIMIT, privateAppTokens: [tokenOf(STARVED_PORTAL)] });
      for (const portalId of [NEIGHBOUR_PORTAL, BLIND_PORTAL, DRY_RUN_PORTAL, ROLLOUT_PORTAL]) sim.addPortal({ portalId, privateAppTokens: [tokenOf(portalId)] });
      for (const portalId of [OFFLOAD_PORTAL, NAIVE_PORTAL, STARVED_PORTAL, NEIGHBOUR_PORTAL, BLIND_PORTAL, DRY_RUN_PORTAL, ROLLOUT_PORTAL]) {
        sim.defineProperties('contacts', PROPERTIES, portalId);
      }
      const contacts = (count: number) => Array.from({ length: count }, (_, i) => ({ id: i + 1 }));
      sim.seed('contacts', contacts(flags.starvedJobs), STARVED_PORTAL);
      sim.seed('contacts', contacts(NEIGHBOUR_JOBS), NEIGHBOUR_PORTAL);
      sim.seed('contacts', contacts(flags.blind ? flags.jobs : 0), BLIND_PORTAL);
      sim.seed('contacts', contacts(flags.dryRuns), DRY_RUN_PORTAL);
      sim.seed('contacts', contacts(flags.rolloutJobs), ROLLOUT_PORTAL);
      sim.seedDemoData(NAIVE_PORTAL, { contacts: Math.min(flags.naiveRecords, flags.jobs) });
      sim.inject.latency(flags.hubspotLatencyMs);
      log(`HubSpot simulator ${sim.url}`);
      return { env: { HUBSPOT_BASE_URL: sim.url }, close: () => sim.close() };
    },
    run,
  }).then((code) => process.exit(code));
}
