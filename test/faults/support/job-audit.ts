import type { FaultEnv } from './fault-env';

interface LogRow {
  job_id: string;
  from_status: string;
  to_status: string;
  from_attempts: number;
  to_attempts: number;
  run_id: string | null;
}

interface JobRow {
  id: string;
  status: string;
  attempts: number;
  output: { ok: boolean; attempts: number } | null;
  object_id: string | null;
  writeback: boolean;
}

/** What the runs of a scenario's jobs came to. */
export interface Audit {
  jobs: number;
  /** Runs started (claims), every one counted. */
  runs: number;
  /** Runs that took over a job whose run had died without recording how it ended. */
  takenOver: number;
  /** Runs stopped at shutdown and handed back to the queue, not counted against the job. */
  handedBack: number;
}

const OUTCOMES = new Set(['writing', 'succeeded', 'failed', 'cancelled']);

/**
 * The promise a scenario must keep, checked job by job: every accepted job exists (none lost, none
 * made twice) and succeeded, once; a run started only while its job's outcome was unknown; the runs
 * are counted exactly (started, less those handed back at shutdown, is the job's attempts and the
 * run number the noop handler returned); only the run holding the job recorded it; and a write-back
 * job's record was written once, with that run's outputs, its journal entry settled written.
 */
export async function expectEveryJobDoneOnce(env: FaultEnv, ids: string[]): Promise<Audit> {
  const accepted = new Set(ids);
  const jobs = await env.query<JobRow>(`SELECT id, status, attempts, output, object_id, writeback FROM jobs`);
  const log = await env.query<LogRow>(`SELECT job_id, from_status, to_status, from_attempts, to_attempts, run_id FROM fault_run_log ORDER BY seq`);
  const journal = await env.query<{ job_id: string; status: string }>(`SELECT job_id, status FROM writebacks`);
  const logOf = new Map<string, LogRow[]>();
  for (const row of log) logOf.set(row.job_id, [...(logOf.get(row.job_id) ?? []), row]);
  const writesOf = new Map<string, string[]>();
  for (const row of journal) writesOf.set(row.job_id, [...(writesOf.get(row.job_id) ?? []), row.status]);

  const problems: string[] = [];
  const audit: Audit = { jobs: jobs.length, runs: 0, takenOver: 0, handedBack: 0 };
  for (const job of jobs) {
    const problem = (text: string) => problems.push(`job ${job.id}: ${text}`);
    if (!accepted.delete(job.id)) problem('was never accepted');
    if (job.status !== 'succeeded') problem(`ended ${job.status}`);

    const changes = logOf.get(job.id) ?? [];
    const claims = changes.filter((c) => c.to_status === 'running');
    const handedBack = changes.filter((c) => c.from_status === 'running' && c.to_status === 'queued' && c.to_attempts === c.from_attempts - 1);
    const outcome = changes.findIndex((c) => c.from_status === 'running' && OUTCOMES.has(c.to_status));
    audit.runs += claims.length;
    audit.takenOver += claims.filter((c) => c.from_status === 'running').length;
    audit.handedBack += handedBack.length;

    if (outcome >= 0 && changes.slice(outcome + 1).some((c) => c.to_status === 'running')) problem('ran again after its outcome was recorded');
    if (outcome >= 0 && changes[outcome].run_id !== claims.at(-1)?.run_id) problem('its outcome was recorded by a run that did not hold it');
    if (changes.filter((c) => c.to_status === 'succeeded').length !== 1) problem('did not end exactly once');
    if (claims.length - handedBack.length !== job.attempts) problem(`${claims.length} runs started, ${handedBack.length} handed back, but attempts = ${job.attempts}`);
    if (job.output?.attempts !== job.attempts) problem(`its handler ran as run ${job.output?.attempts}, but attempts = ${job.attempts}`);

    if (job.writeback) {
      const record = env.sim.getObject('contacts', job.object_id!);
      if (record?.writes !== 1) problem(`contact ${job.object_id} was written ${record?.writes} times`);
      else if (record.properties.attempts !== String(job.output?.attempts)) problem(`contact ${job.object_id} holds run ${record.properties.attempts}'s outputs`);
      const writes = writesOf.get(job.id) ?? [];
      if (writes.length !== 1 || writes[0] !== 'written') problem(`its write-back journal says ${JSON.stringify(writes)}`);
    }
  }
  for (const id of accepted) problems.push(`job ${id}: accepted, then lost`);
  expect({ problems: problems.length, first: problems.slice(0, 10) }).toEqual({ problems: 0, first: [] });
  return audit;
}
