/**
 * Write-back benchmark: `npm run bench:writeback`. N noop jobs with write-back to N contacts of
 * the HubSpot simulator (in this process, reached through the official client), under a limit of
 * L requests per rolling 10 s, against the floor that limit sets: the batch calls needed (N / 100)
 * divided by the allowed rate. Side by side, the naive way a custom code action writes (one
 * update call per record through the official client, its own retries on): run on a sample and
 * projected to N. Tables to stdout, then one JSON line of every figure; progress to stderr.
 */
import { Client as HubSpotClient } from '@hubspot/api-client';
import { createHubSpotSimulator, HubSpotSimulator } from '../simulators/hubspot';
import { BenchSession, FlagSpec, log, parseFlags, runBenchSession } from './bench-session';
import { round, table } from './stats';
import { offloadThroughput } from './throughput';

const USAGE = `npm run bench:writeback [-- flags]
  --jobs=10000              jobs, each writing its outputs to its own contact
  --limit=100               HubSpot requests allowed per rolling 10 s (Free/Starter private apps)
  --naive-records=300       records the naive one-call-per-record run writes (projected to --jobs)
  --naive-concurrency=10    naive updates in flight at once
  --hubspot-latency-ms=30   latency the simulator adds to every call
  --topology=split|all      split: ROLE=api + ROLE=worker processes (default); all: one ROLE=all process`;

const FLAGS = {
  jobs: { fallback: 10_000, min: 100, max: 100_000 },
  limit: { fallback: 100, min: 10, max: 1_000 },
  naiveRecords: { fallback: 300, min: 10, max: 100_000 },
  naiveConcurrency: { fallback: 10, min: 1, max: 100 },
  hubspotLatencyMs: { fallback: 30, min: 0, max: 5_000 },
} satisfies Record<string, FlagSpec>;
type Flags = ReturnType<typeof parseFlags<keyof typeof FLAGS>>;

const WINDOW_SECONDS = 10;
const BATCH_RECORDS = 100;
const OFFLOAD_PORTAL = 4_100_001;
const NAIVE_PORTAL = 4_100_002;
const PROPERTIES = ['ok', 'attempts'];

interface RunFigures {
  records: number;
  calls: number;
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

/** Offload: jobs through POST /v1/jobs/batch, written back in coalesced batch updates within the portal's budget. */
async function offloadRun(session: BenchSession, flags: Flags): Promise<RunFigures & { succeeded: number; failed: number; complete: boolean }> {
  const portal = await session.newPortal('writeback', { hubspotPortalId: OFFLOAD_PORTAL, hubspotAccessToken: sim.token, rateLimit: { requestsPer10s: flags.limit } });
  log(`offload: ${flags.jobs} jobs with write-back, limit ${flags.limit} per ${WINDOW_SECONDS} s`);
  const run = await offloadThroughput(session.load, portal.apiKey, portal.id, session.db, `writeback-${Date.now()}`, {
    jobs: flags.jobs,
    batchSize: 100,
    batchConcurrency: 4,
    job: (i) => ({ type: 'noop', input: {}, object: { type: 'contacts', id: String(i + 1) }, writeback: true }),
    shouldStop: session.shouldStop,
    log,
  });
  const calls = callsOf(OFFLOAD_PORTAL);
  const floorCalls = Math.ceil(flags.jobs / BATCH_RECORDS);
  return {
    records: flags.jobs,
    calls: calls.length,
    rateLimited: calls.filter((call) => call.status === 429).length,
    recordsWritten: calls
      .filter((call) => call.endpoint === 'crm.objects.batch.update' && call.status === 200)
      .reduce((sum, call) => sum + Number(call.summary?.inputs ?? 0), 0),
    seconds: run.seconds,
    floorCalls,
    floorSeconds: floorCalls / (flags.limit / WINDOW_SECONDS),
    succeeded: run.succeeded,
    failed: run.failed,
    complete: run.complete,
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

async function run(session: BenchSession, flags: Flags): Promise<void> {
  const offload = await offloadRun(session, flags);
  log(`  ${offload.succeeded} succeeded in ${offload.seconds.toFixed(2)} s, ${offload.calls} HubSpot calls, ${offload.rateLimited} answered 429`);
  const naive = await naiveRun(flags);
  log(`  naive: ${naive.calls} calls, ${naive.rateLimited} answered 429, ${naive.seconds.toFixed(1)} s`);

  const callRatio = offload.calls / offload.floorCalls;
  const timeRatio = offload.seconds / offload.floorSeconds;
  const out = [
    '',
    `Write-back of ${flags.jobs} jobs under ${flags.limit} requests per ${WINDOW_SECONDS} s (simulator latency ${flags.hubspotLatencyMs} ms, topology ${flags.topology})`,
    table(
      ['approach', 'records', 'HubSpot calls', '429s', 'records written', 'seconds', 'floor calls', 'floor seconds', 'calls / floor', 'time / floor'],
      [
        ['offload (batched, budgeted)', offload.records, offload.calls, offload.rateLimited, offload.recordsWritten, offload.seconds.toFixed(1), offload.floorCalls, offload.floorSeconds.toFixed(1), round(callRatio, 3), round(timeRatio, 3)],
        ['naive, measured', naive.records, naive.calls, naive.rateLimited, naive.recordsWritten, naive.seconds.toFixed(1), naive.floorCalls, naive.floorSeconds.toFixed(1), round(naive.calls / naive.floorCalls, 3), round(naive.seconds / naive.floorSeconds, 3)],
        ['naive, projected', flags.jobs, naive.projectedCalls, naive.projectedRateLimited, '', naive.projectedSeconds.toFixed(0), flags.jobs, (flags.jobs / (flags.limit / WINDOW_SECONDS)).toFixed(0), '', ''],
      ],
    ),
    `  ${callRatio <= 1.05 ? 'PASS' : 'MISS'}: calls ${round(callRatio, 3)} x the floor (target at most 1.05)`,
    `  ${timeRatio <= 1.2 ? 'PASS' : 'MISS'}: time ${round(timeRatio, 3)} x the floor (target at most 1.2)`,
    `  ${offload.rateLimited === 0 ? 'PASS' : 'MISS'}: ${offload.rateLimited} 429s caused (target 0)`,
    `  ${offload.recordsWritten === flags.jobs && offload.complete ? 'PASS' : 'MISS'}: ${offload.recordsWritten} records written for ${flags.jobs} jobs, ${offload.succeeded} succeeded, ${offload.failed} failed`,
    `  Offload makes ${round(naive.projectedCalls / offload.calls, 1)} x fewer calls and finishes ${round(naive.projectedSeconds / offload.seconds, 1)} x sooner than the naive way`,
  ];
  process.stdout.write(`${out.join('\n')}\n`);
  process.stdout.write(`${JSON.stringify({ flags, offload, naive, ratios: { calls: callRatio, time: timeRatio } })}\n`);
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
      for (const portalId of [OFFLOAD_PORTAL, NAIVE_PORTAL]) sim.defineProperties('contacts', PROPERTIES, portalId);
      sim.seedDemoData(NAIVE_PORTAL, { contacts: Math.min(flags.naiveRecords, flags.jobs) });
      sim.inject.latency(flags.hubspotLatencyMs);
      log(`HubSpot simulator ${sim.url}`);
      return { env: { HUBSPOT_BASE_URL: sim.url }, close: () => sim.close() };
    },
    run,
  }).then((code) => process.exit(code));
}
