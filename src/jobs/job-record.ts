import type { JobOutputs } from '../registry/job-handler';
import type { WritebackReport } from './writeback-journal';

export const JOB_PRIORITIES = ['live', 'bulk'] as const;
/** live: a workflow waits on the job; bulk: a backfill that yields the HubSpot budget and the queue to live work. */
export type JobPriority = (typeof JOB_PRIORITIES)[number];

/** writing: the run succeeded and its write to the job's HubSpot record is on its way (old clients read it as running). */
export const JOB_STATUSES = ['queued', 'running', 'writing', 'succeeded', 'failed', 'cancelled'] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];
export const TERMINAL_STATUSES: readonly JobStatus[] = ['succeeded', 'failed', 'cancelled'];

export interface JobError {
  code: string;
  message: string;
  retryable: boolean;
  details?: unknown;
}

export interface ObjectRef {
  type: string;
  id: string;
  /**
   * Properties of the record as the request carried them (a custom workflow action's
   * `object.properties`, which its definition's objectRequestOptions asked for): the handler reads
   * these before asking HubSpot.
   */
  properties?: Record<string, string | null>;
}

/** A job as PostgreSQL, the source of truth, holds it. */
export interface JobRecord {
  id: string;
  portalId: string;
  type: string;
  handlerVersion: string;
  status: JobStatus;
  idempotencyKey: string;
  requestHash: string;
  input: Record<string, unknown>;
  output: JobOutputs | null;
  error: JobError | null;
  object: ObjectRef | null;
  callbackId: string | null;
  writeback: boolean;
  /** Compute the outputs and the change they would write, and write nothing. */
  dryRun: boolean;
  /** What the write did beyond the outputs (properties skipped as stale, a dry run's change); null until then, or when there is nothing to say. */
  writebackReport: WritebackReport | null;
  priority: JobPriority;
  /** The job came from a blocking workflow action: its end completes that step through HubSpot's callbacks API. */
  completesWorkflowStep: boolean;
  /** When HubSpot accepted the step's completion (or refused it for good); null while it is owed. */
  workflowStepSettledAt: Date | null;
  attempts: number;
  maxAttempts: number;
  traceId: string;
  spanId: string;
  createdAt: Date;
  updatedAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
}

export function isTerminal(status: JobStatus): boolean {
  return TERMINAL_STATUSES.includes(status);
}

/** Maps a row of `SELECT * FROM jobs`. */
export function jobFromRow(row: Record<string, any>): JobRecord {
  return {
    id: row.id,
    portalId: row.portal_id,
    type: row.type,
    handlerVersion: row.handler_version,
    status: row.status,
    idempotencyKey: row.idempotency_key,
    requestHash: row.request_hash,
    input: row.input,
    output: row.output,
    error: row.error,
    object:
      row.object_type === null
        ? null
        : { type: row.object_type, id: row.object_id, ...(row.object_properties ? { properties: row.object_properties } : {}) },
    callbackId: row.callback_id,
    writeback: row.writeback,
    dryRun: row.dry_run,
    writebackReport: row.writeback_report,
    priority: row.priority,
    completesWorkflowStep: row.completes_workflow_step,
    workflowStepSettledAt: row.workflow_step_settled_at,
    attempts: row.attempts,
    maxAttempts: row.max_attempts,
    traceId: row.trace_id,
    spanId: row.span_id,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
  };
}

/** What holds a live job's work: the kill switch of its portal (`portal`) or of its type there (`type`). */
export interface JobPauseView {
  scope: 'portal' | 'type';
  since: Date;
  reason: string;
}

/**
 * The job as the public API shows it; `pause`: what holds it, shown while it waits to run or to
 * write (its status stays queued or writing, as old clients know them).
 */
export function jobView(job: JobRecord, pause?: JobPauseView) {
  return {
    id: job.id,
    type: job.type,
    handlerVersion: job.handlerVersion,
    status: job.status,
    attempts: job.attempts,
    maxAttempts: job.maxAttempts,
    idempotencyKey: job.idempotencyKey,
    input: job.input,
    ...(job.output ? { output: job.output } : {}),
    ...(job.error ? { error: job.error } : {}),
    ...(job.object ? { object: job.object } : {}),
    ...(job.callbackId ? { callbackId: job.callbackId } : {}),
    writeback: job.writeback,
    ...(job.dryRun ? { dryRun: true } : {}),
    ...job.writebackReport,
    priority: job.priority,
    completesWorkflowStep: job.completesWorkflowStep,
    createdAt: job.createdAt.toISOString(),
    updatedAt: job.updatedAt.toISOString(),
    ...(job.startedAt ? { startedAt: job.startedAt.toISOString() } : {}),
    ...(job.finishedAt ? { finishedAt: job.finishedAt.toISOString() } : {}),
    ...(pause && (job.status === 'queued' || job.status === 'writing')
      ? { paused: { scope: pause.scope, since: pause.since.toISOString(), reason: pause.reason } }
      : {}),
    traceId: job.traceId,
  };
}
export type JobView = ReturnType<typeof jobView>;
