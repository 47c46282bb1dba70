/**
 * Handler benchmark: `npm run bench:handlers`. Runs the built-in handlers that call out or compute
 * through a running Offload (compiled dist/src/main.js, its own database and Redis prefix, as
 * `npm run bench` does) and reports:
 *   1. enrichment: N jobs over M distinct domains against the PDL simulator (in this process):
 *      provider calls made, single against bulk, lookups asked for, and jobs/s;
 *   2. ICP scores: jobs/s of icp-score jobs whose inputs carry every property (no write-back),
 *      when that handler is installed.
 * Tables go to stdout with, last, one JSON line of every figure; progress to stderr. Exit 0 whatever
 * the figures (a measurement), 1 when the run fails, 2 for bad flags, 130 when interrupted.
 */
import { cpus, loadavg } from 'node:os';
import { createEnrichmentSimulator, DEFAULT_API_KEY, EnrichmentSimulator } from '../simulators/enrichment';
import { BenchSession, FlagSpec, log, parseFlags, runBenchSession } from './bench-session';
import { ADMIN_TOKEN } from './offload-processes';
import { round, table } from './stats';
import { BenchJob, offloadThroughput } from './throughput';

const USAGE = `npm run bench:handlers [-- flags]
  --jobs=5000                 enrichment jobs
  --domains=1000              distinct domains among them (job i asks about domain i mod domains)
  --provider-latency-ms=50    latency the PDL simulator adds to every call
  --icp-jobs=10000            icp-score jobs (the section runs when the icp-score handler is installed)
  --topology=split|all        split: ROLE=api + ROLE=worker processes (default); all: one ROLE=all process`;

const FLAGS = {
  jobs: { fallback: 5_000, min: 1, max: 100_000 },
  domains: { fallback: 1_000, min: 1, max: 100_000 },
  providerLatencyMs: { fallback: 50, min: 0, max: 5_000 },
  icpJobs: { fallback: 10_000, min: 1, max: 200_000 },
} satisfies Record<string, FlagSpec>;
type Flags = ReturnType<typeof parseFlags<keyof typeof FLAGS>>;

interface Throughput {
  jobs: number;
  succeeded: number;
  failed: number;
  /** From the first batch request until the last job finished. */
  seconds: number;
  jobsPerSecond: number;
  enqueueSeconds: number;
}

/** Sends one job and waits for it: a broken set-up fails here, not as odd figures. */
async function smoke(session: BenchSession, apiKey: string, type: string, input: unknown): Promise<void> {
  const enqueued = await session.control.json('POST', '/v1/jobs', { type, input }, apiKey);
  if (enqueued.status !== 202) throw new Error(`${type} smoke enqueue answered ${enqueued.status} ${JSON.stringify(enqueued.body)}`);
  const done = await session.control.json('GET', `/v1/jobs/${enqueued.body.id}?wait=15`, undefined, apiKey);
  if (done.body?.status !== 'succeeded') throw new Error(`${type} smoke job did not succeed: ${JSON.stringify(done.body)}`);
}

/**
 * The jobs through POST /v1/jobs/batch (100 per request, 4 requests in flight) on the portal, until
 * none is queued or running. A refused or unfinished job fails the run: figures that leave jobs
 * out would mislead.
 */
async function measure(session: BenchSession, portal: { id: string; apiKey: string }, type: string, jobs: number, job: (index: number) => BenchJob): Promise<Throughput> {
  const run = await offloadThroughput(session.load, portal.apiKey, portal.id, session.db, type, {
    jobs,
    batchSize: 100,
    batchConcurrency: 4,
    job,
    shouldStop: session.shouldStop,
    log,
  });
  const refused = Object.entries(run.rejected);
  if (refused.length > 0) throw new Error(`${type} jobs refused: ${refused.map(([kind, count]) => `${count} ${kind}`).join(', ')}`);
  const unfinished = jobs - run.succeeded - run.failed;
  if (unfinished > 0) throw new Error(`${type}: ${unfinished} jobs still queued or running after ${run.seconds.toFixed(0)} s`);
  return { jobs, succeeded: run.succeeded, failed: run.failed, seconds: run.seconds, jobsPerSecond: run.jobsPerSecond, enqueueSeconds: run.enqueueSeconds };
}

interface EnrichmentFigures extends Throughput {
  domains: number;
  providerLatencyMs: number;
  enriched: number;
  providerCalls: number;
  singleCalls: number;
  bulkCalls: number;
  lookups: number;
  meanBulkSize: number;
}

async function enrichmentSection(session: BenchSession, sim: EnrichmentSimulator, flags: Flags): Promise<EnrichmentFigures> {
  const withKey = async (purpose: string) => {
    const portal = await session.newPortal(purpose);
    const secret = await session.control.json('PUT', `/v1/admin/portals/${portal.id}/secrets/ENRICHMENT_API_KEY`, { value: DEFAULT_API_KEY }, ADMIN_TOKEN);
    if (secret.status !== 204) throw new Error(`secret not set: ${secret.status} ${JSON.stringify(secret.body)}`);
    return portal;
  };
  await smoke(session, (await withKey('enrichment smoke')).apiKey, 'enrichment', { domain: 'smoke-test.example.org' });
  const portal = await withKey('enrichment');
  sim.resetCalls();

  log(`enrichment: ${flags.jobs} jobs over ${flags.domains} domains, provider latency ${flags.providerLatencyMs} ms`);
  const run = await measure(session, portal, 'enrichment', flags.jobs, (i) => ({ type: 'enrichment', input: { domain: `company-${i % flags.domains}.example.com` } }));
  const stats = sim.stats();
  const bulkCalls = sim.calls({ endpoint: 'company.bulk' });
  const { enriched } = (
    await session.db.query(`SELECT count(*) FILTER (WHERE (output->>'enriched')::boolean)::int AS enriched FROM jobs WHERE portal_id = $1`, [portal.id])
  ).rows[0];
  return {
    ...run,
    domains: flags.domains,
    providerLatencyMs: flags.providerLatencyMs,
    enriched,
    providerCalls: stats.total,
    singleCalls: stats.single,
    bulkCalls: stats.bulk,
    lookups: stats.lookups,
    meanBulkSize: bulkCalls.length > 0 ? bulkCalls.reduce((sum, call) => sum + call.lookups, 0) / bulkCalls.length : 0,
  };
}

type JsonSchema = {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  items?: JsonSchema;
  enum?: unknown[];
  const?: unknown;
  format?: string;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  minItems?: number;
  anyOf?: JsonSchema[];
};

/** A value the schema accepts, with every property of every object present: inputs "carrying all properties". */
function sampleFor(schema: JsonSchema, index: number): unknown {
  if (schema.const !== undefined) return schema.const;
  if (schema.enum) return schema.enum[index % schema.enum.length];
  if (schema.anyOf) return sampleFor(schema.anyOf[0], index);
  const type = Array.isArray(schema.type) ? schema.type.find((t) => t !== 'null') : schema.type;
  switch (type) {
    case 'object':
      return Object.fromEntries(Object.entries(schema.properties ?? {}).map(([name, property]) => [name, sampleFor(property, index)]));
    case 'array':
      return Array.from({ length: Math.max(1, schema.minItems ?? 1) }, (_, i) => sampleFor(schema.items ?? {}, index + i));
    case 'integer':
    case 'number': {
      const min = schema.minimum ?? 0;
      const max = schema.maximum ?? min + 1_000;
      return min + (index % (max - min + 1));
    }
    case 'boolean':
      return index % 2 === 0;
    case 'string':
      if (schema.format === 'email') return `person-${index}@company-${index % 100}.example.com`;
      if (schema.format === 'uri') return `https://company-${index % 100}.example.com/`;
      if (schema.format === 'date-time') return new Date(Date.UTC(2026, 0, 1) + index * 60_000).toISOString();
      if (schema.format === 'date') return '2026-01-01';
      return `value-${index}`.padEnd(schema.minLength ?? 0, 'x');
    default:
      return `value-${index}`;
  }
}

/**
 * 10,000 ICP scores: jobs/s of icp-score jobs, each input carrying every property its published
 * schema names, without write-back. Answers undefined (the section is skipped) when no icp-score
 * handler is installed.
 */
async function icpScoreSection(session: BenchSession, flags: Flags): Promise<Throughput | undefined> {
  const smokePortal = await session.newPortal('icp-score smoke');
  const handlers = await session.control.json('GET', '/v1/handlers', undefined, smokePortal.apiKey);
  const icp = (handlers.body as Array<{ type: string; inputSchema: JsonSchema }>).find((handler) => handler.type === 'icp-score');
  if (!icp) {
    log('icp-score: no such handler installed; section skipped');
    return undefined;
  }
  await smoke(session, smokePortal.apiKey, 'icp-score', sampleFor(icp.inputSchema, 0));
  log(`icp-score: ${flags.icpJobs} jobs, every input property set, no write-back`);
  return measure(session, await session.newPortal('icp-score'), 'icp-score', flags.icpJobs, (i) => ({ type: 'icp-score', input: sampleFor(icp.inputSchema, i + 1) }));
}

function report(session: BenchSession, flags: Flags, enrichment: EnrichmentFigures, icp: Throughput | undefined): void {
  const out: string[] = [''];
  out.push(`Offload handler benchmark: ${cpus().length} cores, load ${loadavg().map((l) => l.toFixed(2)).join(' ')}, topology ${flags.topology} (${session.servers.processes.map((p) => p.name).join(' + ')})`);
  out.push('');
  out.push(`Enrichment: ${enrichment.jobs} jobs over ${enrichment.domains} distinct domains, PDL simulator with ${enrichment.providerLatencyMs} ms latency`);
  out.push(
    table(
      ['provider calls', 'single', 'bulk', 'lookups', 'mean bulk size', 'succeeded', 'enriched', 'failed', 'seconds', 'jobs/s'],
      [
        [
          enrichment.providerCalls,
          enrichment.singleCalls,
          enrichment.bulkCalls,
          enrichment.lookups,
          round(enrichment.meanBulkSize),
          enrichment.succeeded,
          enrichment.enriched,
          enrichment.failed,
          enrichment.seconds.toFixed(2),
          Math.round(enrichment.jobsPerSecond),
        ],
      ],
    ),
  );
  const verdict = enrichment.lookups <= enrichment.domains ? 'PASS' : 'MISS';
  out.push(`  ${verdict}: ${enrichment.lookups} lookups for ${enrichment.domains} distinct domains (target: no more than the domains), in ${enrichment.providerCalls} calls`);
  out.push('');
  if (icp) {
    out.push(`ICP scores: ${icp.jobs} jobs, every input property set, no write-back`);
    out.push(table(['succeeded', 'failed', 'seconds', 'jobs/s'], [[icp.succeeded, icp.failed, icp.seconds.toFixed(2), Math.round(icp.jobsPerSecond)]]));
  } else {
    out.push('ICP scores: skipped (no icp-score handler installed)');
  }
  process.stdout.write(`${out.join('\n')}\n`);
  process.stdout.write(`${JSON.stringify({ options: flags, enrichment, icpScore: icp ?? null })}\n`);
}

async function run(session: BenchSession, sim: EnrichmentSimulator, flags: Flags): Promise<void> {
  const enrichment = await enrichmentSection(session, sim, flags);
  log(`  ${enrichment.succeeded} succeeded in ${enrichment.seconds.toFixed(2)} s (${Math.round(enrichment.jobsPerSecond)} jobs/s), ${enrichment.providerCalls} provider calls`);
  session.servers.assertAlive();
  const icp = await icpScoreSection(session, flags);
  if (icp) log(`  ${icp.succeeded} succeeded in ${icp.seconds.toFixed(2)} s (${Math.round(icp.jobsPerSecond)} jobs/s)`);
  session.servers.assertAlive();
  report(session, flags, enrichment, icp);
}

if (require.main === module) {
  let sim: EnrichmentSimulator;
  void runBenchSession<Flags>({
    name: 'handler benchmark',
    usage: USAGE,
    flags: (argv) => parseFlags(argv, FLAGS),
    async dependencies(flags) {
      sim = await createEnrichmentSimulator({ latencyMs: flags.providerLatencyMs, rateLimit: 1_000_000 });
      log(`PDL simulator ${sim.url}`);
      return { env: { ENRICHMENT_BASE_URL: sim.url }, close: () => sim.close() };
    },
    run: (session, flags) => run(session, sim, flags),
  }).then((code) => process.exit(code));
}
