import { Client } from 'pg';
import { round, summarize, table } from '../bench/stats';
import type { DemoEnvironment } from './demo-environment';
import type { DemoOptions } from './demo-options';
import { WORKFLOW, WorkflowRun } from './workflow';

/** HubSpot calls the same work costs one action per record: each step reads the record and writes it. */
const NAIVE_CALLS_PER_CONTACT_STEP = 2;
const MAX_PROBLEMS = 5;

export interface Percentiles {
  p50: number;
  p99: number;
}

/** The run's figures from its start to its last contact's end. */
export interface DemoTime {
  elapsedMs: number;
  jobsPerSecond: number;
  /** The custom code runtime's part: the executions, their processes and their CPU. */
  runtime: {
    executions: number;
    processesStarted: number;
    /** From handing an execution to the runtime to its outputs; an enqueue-and-wait action spends most of it waiting for its job. */
    executionMs: Percentiles & { total: number };
    cpuMs: number;
  };
  /** Offload's part: each job from its enqueue to its end, write-back included, and the CPU of the demo's process. */
  offload: {
    jobMs: Percentiles & { total: number };
    /** Offload's API and workers with both simulators: they share the demo's process. */
    cpuMs: number;
  };
  /** The demo's part of HubSpot: events, delays and re-runs, in the workflow's own process. */
  workflowCpuMs: number;
}

export interface DemoSummary {
  contacts: number;
  /** Contacts whose every step ended with job_status "succeeded". */
  enrolled: number;
  steps: Record<string, { succeeded: number; other: Record<string, number> }>;
  /** Why steps did not succeed, "type: reason", with how often; the most frequent first, at most MAX_PROBLEMS. */
  problems: Record<string, number>;
  jobs: {
    total: number;
    byType: Record<string, Record<string, number>>;
    /** Jobs beyond one per contact and step: a re-run that started a second job would show here. */
    duplicates: number;
  };
  outcomes: {
    enriched: number;
    notEnriched: Record<string, number>;
    tiers: Record<string, number>;
    ownersAssigned: number;
    byTerritory: Record<string, number>;
    byOwner: Record<string, number>;
  };
  /** Contacts whose record in the simulator holds every step's written-back outputs. */
  writtenBack: number;
  hubspot: {
    calls: number;
    byEndpoint: Record<string, number>;
    rateLimited: number;
    injectedErrors: number;
    naiveCalls: number;
  };
  enrichmentProvider: { calls: number; bulkCalls: number; lookups: number; companies: number; failingCompanies: number; unknownCompanies: number };
  executions: { enqueueAndWait: number; polls: number; reruns: number };
  latencyMs: Record<string, Percentiles>;
  time: DemoTime;
}

function count(values: string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const value of values) counts[value] = (counts[value] ?? 0) + 1;
  return counts;
}

function percentiles(values: number[]): Percentiles {
  const summary = summarize(Float64Array.from(values));
  return { p50: round(summary.p50), p99: round(summary.p99) };
}

function withTotal(values: number[]): Percentiles & { total: number } {
  return { ...percentiles(values), total: Math.round(values.reduce((sum, value) => sum + value, 0)) };
}

async function jobsOf(databaseUrl: string, portalId: string): Promise<DemoSummary['jobs'] & { durationsMs: number[] }> {
  const client = new Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ type: string; status: string; jobs: string; records: string }>(
      `SELECT type, status, count(*) AS jobs, count(DISTINCT object_id) AS records FROM jobs WHERE portal_id = $1 GROUP BY type, status`,
      [portalId],
    );
    const distinct = await client.query<{ pairs: string }>(
      `SELECT count(DISTINCT (type, object_id)) AS pairs FROM jobs WHERE portal_id = $1`,
      [portalId],
    );
    const ended = await client.query<{ ms: number }>(
      `SELECT extract(epoch FROM finished_at - created_at) * 1000 AS ms FROM jobs WHERE portal_id = $1 AND finished_at IS NOT NULL`,
      [portalId],
    );
    const byType: Record<string, Record<string, number>> = {};
    let total = 0;
    for (const row of rows) {
      byType[row.type] = { ...byType[row.type], [row.status]: Number(row.jobs) };
      total += Number(row.jobs);
    }
    return { total, byType, duplicates: total - Number(distinct.rows[0].pairs), durationsMs: ended.rows.map((row) => Number(row.ms)) };
  } finally {
    await client.end();
  }
}

/**
 * Gathers the run's figures: from the workflow's outputs, Offload's database and both simulators'
 * records; `demoCpuMs` is the CPU the demo's own process (Offload and the simulators) spent on the run.
 */
export async function summarizeDemo(environment: DemoEnvironment, run: WorkflowRun, options: DemoOptions, demoCpuMs: number): Promise<DemoSummary> {
  const { enrollments } = run;
  const stepOf = (type: string) => enrollments.map((enrollment) => enrollment.steps.find((step) => step.type === type)!);
  const steps = Object.fromEntries(
    WORKFLOW.map(({ type }) => {
      const statuses = count(stepOf(type).map((step) => step.status));
      const { succeeded = 0, ...other } = statuses;
      return [type, { succeeded, other }];
    }),
  );
  const problems = Object.entries(
    count(enrollments.flatMap((enrollment) => enrollment.steps.filter((step) => step.problem).map((step) => `${step.type}: ${step.problem}`))),
  )
    .sort(([, a], [, b]) => b - a)
    .slice(0, MAX_PROBLEMS);
  const enrichment = stepOf('enrichment').filter((step) => step.status === 'succeeded');
  const scores = stepOf('icp-score').filter((step) => step.status === 'succeeded');
  const assignments = stepOf('lead-assignment').filter((step) => step.status === 'succeeded');

  const writtenBack = enrollments.filter(({ contactId }) => {
    const properties = environment.hubspot.getObject('contacts', contactId)?.properties ?? {};
    return [properties.enriched, properties.icp_tier, properties.hubspot_owner_id].every((value) => value !== null && value !== undefined && value !== '');
  }).length;

  const hubspotStats = environment.hubspot.stats();
  const providerStats = environment.enrichment.stats();
  const latencyMs: Record<string, Percentiles> = {};
  for (const { type } of WORKFLOW) latencyMs[type] = percentiles(stepOf(type).map((step) => step.latencyMs));
  latencyMs.enrollment = percentiles(enrollments.map((enrollment) => enrollment.latencyMs));
  const { durationsMs, ...jobs } = await jobsOf(environment.config.databaseUrl, environment.portal.id);

  return {
    contacts: options.contacts,
    enrolled: enrollments.filter((enrollment) => enrollment.steps.every((step) => step.status === 'succeeded')).length,
    steps,
    problems: Object.fromEntries(problems),
    jobs,
    outcomes: {
      enriched: enrichment.filter((step) => step.outputs.enriched === true).length,
      notEnriched: count(enrichment.filter((step) => step.outputs.enriched !== true).map((step) => String(step.outputs.enrichment_error))),
      tiers: { A: 0, B: 0, C: 0, D: 0, ...count(scores.map((step) => String(step.outputs.icp_tier))) },
      ownersAssigned: assignments.filter((step) => step.outputs.owner_id).length,
      byTerritory: count(assignments.map((step) => String(step.outputs.territory) || '(fallback)')),
      byOwner: count(assignments.map((step) => String(step.outputs.owner_id))),
    },
    writtenBack,
    hubspot: {
      calls: hubspotStats.total,
      byEndpoint: Object.fromEntries(Object.entries(hubspotStats.byEndpoint).map(([endpoint, counts]) => [endpoint, counts.total])),
      rateLimited: hubspotStats.rateLimited.total,
      injectedErrors: hubspotStats.faults.error,
      naiveCalls: options.contacts * NAIVE_CALLS_PER_CONTACT_STEP * WORKFLOW.length,
    },
    enrichmentProvider: {
      calls: providerStats.total,
      bulkCalls: providerStats.bulk,
      lookups: providerStats.lookups,
      companies: environment.companies.all.length,
      failingCompanies: environment.companies.failing.length,
      unknownCompanies: environment.companies.unknown.length,
    },
    executions: { enqueueAndWait: run.progress.executions.enqueueAndWait, polls: run.progress.executions.polls, reruns: run.progress.executions.reruns },
    latencyMs,
    time: {
      elapsedMs: Math.round(run.elapsedMs),
      jobsPerSecond: run.elapsedMs > 0 ? round((jobs.total / run.elapsedMs) * 1000) : 0,
      runtime: {
        executions: run.executionMs.length,
        processesStarted: run.runtime.processesStarted,
        executionMs: withTotal(run.executionMs),
        cpuMs: Math.round(run.runtime.cpuMs),
      },
      offload: { jobMs: withTotal(durationsMs), cpuMs: Math.round(demoCpuMs) },
      workflowCpuMs: Math.round(run.workflowCpuMs),
    },
  };
}

const number = (value: number) => value.toLocaleString('en-US');
const seconds = (ms: number) => `${(ms / 1000).toLocaleString('en-US', { minimumFractionDigits: 1, maximumFractionDigits: 1 })} s`;
const listed = (counts: Record<string, number>) =>
  Object.entries(counts)
    .map(([name, value]) => `${name} ${number(value)}`)
    .join(' · ') || 'none';

/** The summary for people: what ran, what it produced, what it cost and how long it took. */
export function summaryText(summary: DemoSummary, environment: DemoEnvironment): string {
  const { time } = summary;
  const statuses = ['succeeded', 'failed', 'cancelled', 'queued', 'running'];
  const ownerNames = new Map(environment.owners.map((owner) => [owner.id, owner.email]));
  const { hubspot, enrichmentProvider: provider, outcomes } = summary;
  const saving = hubspot.calls > 0 ? ` (${round(hubspot.naiveCalls / hubspot.calls)}x fewer)` : '';
  return [
    '',
    `Enrolled ${number(summary.enrolled)} of ${number(summary.contacts)} contacts through ${WORKFLOW.map((step) => step.type).join(' -> ')} ` +
      `in ${seconds(time.elapsedMs)} (${time.jobsPerSecond.toFixed(1)} jobs/s)`,
    '',
    table(
      ['jobs', ...statuses],
      Object.entries(summary.jobs.byType).map(([type, counts]) => [type, ...statuses.map((status) => counts[status] ?? 0)]),
    ),
    summary.jobs.duplicates === 0
      ? `No duplicate job: ${number(summary.jobs.total)} jobs for ${number(summary.jobs.total)} contact steps` +
        (summary.executions.reruns > 0 ? `, though ${number(summary.executions.reruns)} executions were run again after a retryable error.` : '.')
      : `${number(summary.jobs.duplicates)} DUPLICATE JOBS: more than one job for a contact's step.`,
    ...Object.entries(summary.problems).map(([problem, times]) => `  ${number(times)} x ${problem}`),
    '',
    'Outcomes',
    `  enrichment       ${number(outcomes.enriched)} enriched; not enriched: ${listed(outcomes.notEnriched)}`,
    `  ICP tiers        ${listed(outcomes.tiers)}`,
    `  owners           ${number(outcomes.ownersAssigned)} assigned; by territory: ${listed(outcomes.byTerritory)}`,
    `                   by owner: ${listed(Object.fromEntries(Object.entries(outcomes.byOwner).map(([id, n]) => [ownerNames.get(id) ?? id, n])))}`,
    `  written back     ${number(summary.writtenBack)} contacts in HubSpot hold their enrichment, ICP tier and owner`,
    '',
    `HubSpot API calls: ${number(hubspot.calls)} (${listed(hubspot.byEndpoint)}); ${number(hubspot.rateLimited)} answered 429` +
      (hubspot.injectedErrors > 0 ? `; ${number(hubspot.injectedErrors)} injected 5xx` : ''),
    `  one action per record: ${number(hubspot.naiveCalls)} (${number(summary.contacts)} contacts x read + write x ${WORKFLOW.length} steps)${saving}`,
    `Enrichment provider: ${number(provider.calls)} calls (${number(provider.bulkCalls)} bulk) for ${number(provider.lookups)} lookups, ` +
      `${number(provider.companies)} companies (${provider.failingCompanies} with an outage, ${provider.unknownCompanies} unknown)`,
    `Custom code executions: ${number(summary.executions.enqueueAndWait)} enqueue-and-wait, ${number(summary.executions.polls)} polls, ` +
      `${number(summary.executions.reruns)} re-runs after a retryable error`,
    '',
    `Where the time went (${number(summary.jobs.total)} jobs in ${seconds(time.elapsedMs)}, ${time.jobsPerSecond.toFixed(1)} jobs/s)`,
    `  custom code runtime  ${number(time.runtime.executions)} executions, ${seconds(time.runtime.executionMs.total)} in all ` +
      `(event in to outputs out, waiting for Offload included); CPU ${seconds(time.runtime.cpuMs)}, ` +
      `${number(time.runtime.processesStarted)} warm processes started`,
    `  Offload              ${number(summary.jobs.total)} jobs, ${seconds(time.offload.jobMs.total)} in all (enqueue to end, write-back included); ` +
      `CPU ${seconds(time.offload.cpuMs)} with both simulators (they share its process)`,
    `  workflow engine      CPU ${seconds(time.workflowCpuMs)} (the demo's part of HubSpot: events, delays, re-runs)`,
    '',
    table(
      ['latency (ms)', 'p50', 'p99'],
      [
        ...Object.entries(summary.latencyMs).map(([name, { p50, p99 }]) => [name === 'enrollment' ? 'whole enrollment' : `${name} step`, p50, p99]),
        ['one execution (runtime: event in to outputs out)', time.runtime.executionMs.p50, time.runtime.executionMs.p99],
        ['one job (Offload: enqueue to end)', time.offload.jobMs.p50, time.offload.jobMs.p99],
      ],
    ),
  ].join('\n');
}
