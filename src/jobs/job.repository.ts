import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { storableJson } from '../common/storable-text';
import { PreparedStatement, preparedQuery } from '../database/prepared-query';
import { JobError, JobPriority, JobRecord, JobStatus, jobFromRow } from './job-record';

export const JOB_EVENTS_TOPIC = 'offload.job-events';

export interface NewJobRow {
  id: string;
  portal_id: string;
  type: string;
  handler_version: string;
  idempotency_key: string;
  request_hash: string;
  input: Record<string, unknown>;
  object_type: string | null;
  object_id: string | null;
  object_properties: Record<string, string | null> | null;
  callback_id: string | null;
  writeback: boolean;
  dry_run: boolean;
  priority: JobPriority;
  completes_workflow_step: boolean;
  max_attempts: number;
  trace_id: string;
  span_id: string;
}

/** The record of a job just inserted from `row`: queued, never run, created (and updated) at `createdAt`. */
function newJobRecord(row: NewJobRow, createdAt: Date): JobRecord {
  return jobFromRow({
    ...row,
    status: 'queued',
    output: null,
    error: null,
    writeback_report: null,
    workflow_step_settled_at: null,
    attempts: 0,
    created_at: createdAt,
    updated_at: createdAt,
    started_at: null,
    finished_at: null,
  });
}

export interface RunOutcome {
  id: string;
  /** The run being recorded: only the run that holds the job may record it. */
  runId: string;
  /** queued: a retryable failure with runs left, or a run handed back at shutdown. writing: succeeded, with `write` to make. */
  status: Extract<JobStatus, 'succeeded' | 'failed' | 'queued' | 'writing'>;
  output: JobRecord['output'];
  error: JobError | null;
  /** 1 when the run should not count against the job's attempts (handed back, not failed). */
  refund: 0 | 1;
  /** The write a `writing` run journals in the same statement: the properties to set on the job's record. */
  write?: RecordWriteIntent;
}

/** What a succeeded run writes to its job's record: property -> value, as HubSpot takes them. */
export interface RecordWriteIntent {
  objectType: string;
  objectId: string;
  properties: Record<string, string>;
  /** HubSpot's last-modified time of the record when the job read it (absent: the job did not read it). */
  readAt?: Date;
}

export interface RunToClaim {
  id: string;
  /** This run's identity, which it records its outcome with. */
  runId: string;
  /** The run's first lease on the job; unless its process renews it, the holder counts as gone after it and the job can be claimed again. */
  deadlineMs: number;
}

/** What claiming runs found: the jobs now held by the new runs, and when the runs holding the others end at the latest. */
export interface ClaimedRuns {
  claimed: JobRecord[];
  heldUntil: Map<string, Date>;
}

/** Jobs of a portal and type waiting to run (retries included), and since when the oldest of them. */
export interface WaitingJobs {
  portalId: string;
  type: string;
  waiting: number;
  oldestQueuedAt: Date;
}

export interface StaleJob {
  id: string;
  type: string;
  portal_id: string;
  priority: JobPriority;
}

/**
 * Where a keyset-paged scan goes on: the last row's (timestamp, id). The timestamp is PostgreSQL's
 * own text, to the microsecond: a Date keeps only milliseconds, and the jobs of one statement share
 * their timestamps, so a cursor rounded to the millisecond would find the same page again and again.
 */
export interface KeysetCursor {
  at: string;
  id: string;
}

/** One page of a keyset scan; `next` is absent on the last page. */
export interface KeysetPage<T> {
  items: T[];
  next?: KeysetCursor;
}

function keysetPage<T>(rows: Array<Record<string, any>>, limit: number, item: (row: Record<string, any>) => T): KeysetPage<T> {
  const last = rows[rows.length - 1];
  return { items: rows.map(item), next: rows.length === limit ? { at: last.keyset_at, id: last.id } : undefined };
}

/** The version of the lifecycle events' shape: docs/events/job-event.v<N>.schema.json. */
export const JOB_EVENT_SCHEMA_VERSION = 1;

/**
 * The lifecycle event written to the outbox in the same statement as the change it reports. Its
 * eventId is made here, once, so a redelivery carries the same one and consumers can drop repeats.
 * Its headers carry the job's trace context (W3C traceparent), which the relay sends with it.
 */
export const outboxInsert = (source: string, where = 'TRUE') => `
  INSERT INTO outbox_events (topic, key, headers, payload)
  SELECT '${JOB_EVENTS_TOPIC}', s.id::text, jsonb_build_object('traceparent', '00-' || s.trace_id || '-' || s.span_id || '-01'), json_build_object(
    'eventId', gen_random_uuid(), 'schemaVersion', ${JOB_EVENT_SCHEMA_VERSION}, 'event', 'job.' || s.status, 'jobId', s.id, 'portalId', s.portal_id, 'type', s.type, 'status', s.status,
    'attempts', s.attempts, 'error', s.error, 'traceId', s.trace_id, 'occurredAt', s.updated_at)
  FROM ${source} s WHERE ${where}`;

/**
 * The columns a JobRecord is read from. Prepared statements return these by name, not `*`: a
 * migration that adds a column must not change the result of a statement already prepared on a
 * running instance's connections (PostgreSQL would refuse to run it).
 */
export const JOB_COLUMNS = `id, portal_id, type, handler_version, status, idempotency_key, request_hash, input, output, error,
  object_type, object_id, object_properties, callback_id, writeback, dry_run, writeback_report, priority, completes_workflow_step, workflow_step_settled_at,
  attempts, max_attempts, trace_id, span_id, created_at, updated_at, started_at, finished_at`;

/** What the outbox event of a change reads of the changed rows. */
const EVENT_COLUMNS = 'id, status, portal_id, type, attempts, error, trace_id, span_id, updated_at';

export function prefixed(alias: string, columns: string): string {
  return columns
    .split(',')
    .map((column) => `${alias}.${column.trim()}`)
    .join(', ');
}

/** The statements every job runs, prepared once per connection (see preparedQuery). */
const INSERT_JOBS: PreparedStatement = {
  name: 'offload_insert_jobs',
  text: `WITH input AS (
      SELECT * FROM jsonb_to_recordset($1::jsonb) AS r(
        id uuid, portal_id uuid, type text, handler_version text, idempotency_key text, request_hash text,
        input jsonb, object_type text, object_id text, object_properties jsonb, callback_id text, writeback boolean, dry_run boolean,
        priority text, completes_workflow_step boolean, max_attempts int, trace_id text, span_id text)
    ), inserted AS (
      INSERT INTO jobs (id, portal_id, type, handler_version, status, idempotency_key, request_hash, input,
                        object_type, object_id, object_properties, callback_id, writeback, dry_run, priority, completes_workflow_step,
                        max_attempts, trace_id, span_id)
      SELECT id, portal_id, type, handler_version, 'queued', idempotency_key, request_hash, input,
             object_type, object_id, object_properties, callback_id, writeback, dry_run, priority, completes_workflow_step,
             max_attempts, trace_id, span_id FROM input
      ON CONFLICT (portal_id, idempotency_key) DO NOTHING
      RETURNING ${EVENT_COLUMNS}, created_at
    ), events AS (${outboxInsert('inserted')})
    SELECT id, created_at FROM inserted`,
};

/**
 * A job is claimed when it is queued, or running for a run that is provably gone (its deadline
 * passed). A claim asked again by the same run (its first answer was lost with the connection)
 * gets the job back as it is, not counted as a second attempt. One held by another run answers when
 * its holder's deadline is; the join reads the jobs as they were before this statement, so a job
 * claimed here is not also reported held.
 */
const CLAIM_RUNS: PreparedStatement = {
  name: 'offload_claim_runs',
  text: `WITH t AS (
      SELECT * FROM unnest($1::uuid[], $2::int[], $3::uuid[]) AS t(id, deadline_ms, run_id)
    ), claimed AS (
      UPDATE jobs j SET status = 'running',
        attempts = j.attempts + CASE WHEN j.status = 'running' AND j.run_id = t.run_id THEN 0 ELSE 1 END,
        started_at = coalesce(j.started_at, now()),
        run_id = t.run_id, run_deadline_at = now() + t.deadline_ms * interval '1 millisecond', updated_at = now()
      FROM t
      WHERE j.id = t.id AND (j.status = 'queued' OR (j.status = 'running' AND (j.run_deadline_at < now() OR j.run_id = t.run_id)))
      RETURNING ${prefixed('j', JOB_COLUMNS)}
    )
    SELECT ${JOB_COLUMNS}, NULL::timestamptz AS held_until FROM claimed
    UNION ALL
    SELECT ${prefixed('j', JOB_COLUMNS)}, j.run_deadline_at FROM jobs j JOIN t ON t.id = j.id
    WHERE j.status = 'running' AND j.run_deadline_at >= now() AND j.run_id IS DISTINCT FROM t.run_id`,
};

/**
 * Records run outcomes; a `writing` one journals its write in the same statement, so a recorded
 * success always has its write. An outcome asked again by its run (the first answer was lost with
 * the connection) is answered as recorded, and changes nothing a second time: the join reads the
 * jobs as they were before this statement.
 */
const FINISH_RUNS: PreparedStatement = {
  name: 'offload_finish_runs',
  text: `WITH t AS (
      SELECT * FROM jsonb_to_recordset($1::jsonb) AS t(id uuid, "runId" uuid, status text, output jsonb, error jsonb, refund int, write jsonb)
    ), updated AS (
      UPDATE jobs j SET status = t.status, output = t.output, error = t.error, attempts = j.attempts - t.refund,
        finished_at = CASE WHEN t.status IN ('queued', 'writing') THEN NULL ELSE now() END,
        run_deadline_at = NULL, updated_at = now()
      FROM t WHERE j.id = t.id AND j.status = 'running' AND j.run_id = t."runId"
      RETURNING ${prefixed('j', EVENT_COLUMNS)}, j.priority, j.created_at, j.handler_version, j.dry_run, t.write
    ), writes AS (
      INSERT INTO writebacks (job_id, portal_id, object_type, object_id, priority, job_order, properties, handler_type, handler_version, dry_run, read_at)
      SELECT id, portal_id, write->>'objectType', write->>'objectId', priority, created_at, write->'properties', type, handler_version,
        dry_run, (write->>'readAt')::timestamptz
      FROM updated WHERE status = 'writing'
    ), events AS (${outboxInsert('updated', "s.status <> 'queued'")})
    SELECT id FROM updated
    UNION ALL
    SELECT j.id FROM jobs j JOIN t ON t.id = j.id
    WHERE j.run_id = t."runId" AND j.status = t.status AND j.status <> 'running' AND j.run_deadline_at IS NULL`,
};

/**
 * All SQL about jobs. Writes that happen per job on the hot path take whole batches. Every
 * UPDATE ... RETURNING sits in a CTE: TypeORM answers a bare UPDATE with [rows, count], not rows.
 */
@Injectable()
export class JobRepository {
  constructor(private readonly db: DataSource) {}

  /**
   * Inserts the rows whose idempotency key is new; answers the jobs it inserted. PostgreSQL sends
   * back only what it assigned (the id says which row, and the creation time): the rest of each
   * record is the row we sent, so the input is not serialised, sent and parsed a second time.
   */
  async insertMany(rows: NewJobRow[]): Promise<JobRecord[]> {
    // Their text was checked at the door: the JSON parser and the URL hook refuse what PostgreSQL cannot store.
    const inserted = await preparedQuery<{ id: string; created_at: Date }>(this.db, INSERT_JOBS, [JSON.stringify(rows)]);
    const rowsById = new Map(rows.map((row) => [row.id, row]));
    return inserted.map(({ id, created_at }) => newJobRecord(rowsById.get(id)!, created_at));
  }

  async findByKeys(keys: Array<{ portalId: string; idempotencyKey: string }>): Promise<JobRecord[]> {
    if (keys.length === 0) return [];
    const rows = await this.db.query(
      `SELECT j.* FROM jobs j JOIN unnest($1::uuid[], $2::text[]) AS k(portal_id, idempotency_key)
         ON j.portal_id = k.portal_id AND j.idempotency_key = k.idempotency_key`,
      [keys.map((k) => k.portalId), keys.map((k) => k.idempotencyKey)],
    );
    return rows.map(jobFromRow);
  }

  async findById(portalId: string, id: string): Promise<JobRecord | undefined> {
    const rows = await this.db.query(`SELECT * FROM jobs WHERE id = $1 AND portal_id = $2`, [id, portalId]);
    return rows[0] ? jobFromRow(rows[0]) : undefined;
  }

  async findByKey(portalId: string, idempotencyKey: string): Promise<JobRecord | undefined> {
    const [job] = await this.findByKeys([{ portalId, idempotencyKey }]);
    return job;
  }

  /**
   * Cancels a live job; undefined when it is not live (or not the portal's). A write not sent yet
   * (waiting, or held by a rollout or a pause) is withdrawn; one already on its way to HubSpot
   * cannot be, and lands, but no longer ends the job.
   */
  async cancel(portalId: string, id: string): Promise<JobRecord | undefined> {
    const [job] = await this.cancelMany([id], portalId);
    return job;
  }

  /** Cancels the live jobs among `ids` (of the portal, when given), as cancel does one; answers those it cancelled. */
  async cancelMany(ids: string[], portalId?: string): Promise<JobRecord[]> {
    if (ids.length === 0) return [];
    const rows = await this.db.query(
      `WITH updated AS (
         UPDATE jobs SET status = 'cancelled', finished_at = now(), updated_at = now(), run_deadline_at = NULL,
           error = jsonb_build_object('code', 'cancelled', 'message', 'Cancelled on request', 'retryable', false)
         WHERE id = ANY($1::uuid[]) AND ($2::uuid IS NULL OR portal_id = $2) AND status IN ('queued', 'running', 'writing')
         RETURNING *
       ), withdrawn AS (
         UPDATE writebacks w SET status = 'withdrawn', settled_at = now()
         FROM updated WHERE w.job_id = updated.id AND w.status IN ('pending', 'held')
       ), events AS (${outboxInsert('updated')})
       SELECT * FROM updated`,
      [ids, portalId ?? null],
    );
    return rows.map(jobFromRow);
  }

  /** Puts a failed or cancelled job back in the queue for a fresh series of runs. */
  async requeue(portalId: string, id: string): Promise<JobRecord | undefined> {
    const [job] = await this.requeueMany([id], portalId);
    return job;
  }

  /** Puts the failed or cancelled jobs among `ids` (of the portal, when given) back in the queue; answers those it requeued. */
  async requeueMany(ids: string[], portalId?: string): Promise<JobRecord[]> {
    if (ids.length === 0) return [];
    const rows = await this.db.query(
      `WITH updated AS (
         UPDATE jobs SET status = 'queued', attempts = 0, output = NULL, error = NULL, started_at = NULL,
           finished_at = NULL, run_deadline_at = NULL, updated_at = now()
         WHERE id = ANY($1::uuid[]) AND ($2::uuid IS NULL OR portal_id = $2) AND status IN ('failed', 'cancelled')
         RETURNING *
       ), events AS (${outboxInsert('updated')})
       SELECT * FROM updated`,
      [ids, portalId ?? null],
    );
    return rows.map(jobFromRow);
  }

  /**
   * Claims runs: each job queued, or running for a run past its deadline, becomes running for the
   * new run with one more attempt. A job held by a live run is left to it; a job in neither answer
   * was cancelled or has ended, and must not run.
   */
  async startRuns(runs: RunToClaim[]): Promise<ClaimedRuns> {
    const rows = await preparedQuery(this.db, CLAIM_RUNS, [runs.map((r) => r.id), runs.map((r) => r.deadlineMs), runs.map((r) => r.runId)]);
    return {
      claimed: rows.filter((row) => row.held_until === null).map(jobFromRow),
      heldUntil: new Map(rows.filter((row) => row.held_until !== null).map((row) => [row.id as string, row.held_until as Date])),
    };
  }

  /** Extends the leases of runs still held by their runs: `run_deadline_at` is in no index, so this is a HOT update. */
  async renewRuns(runs: Array<{ id: string; runId: string }>, leaseMs: number): Promise<void> {
    if (runs.length === 0) return;
    await this.db.query(
      `UPDATE jobs SET run_deadline_at = now() + $3 * interval '1 millisecond'
       FROM unnest($1::uuid[], $2::uuid[]) AS t(id, run_id)
       WHERE jobs.id = t.id AND jobs.run_id = t.run_id AND jobs.status = 'running'`,
      [runs.map((run) => run.id), runs.map((run) => run.runId), leaseMs],
    );
  }

  /** Records how runs ended; answers the ids whose outcome is recorded (a job cancelled meanwhile, or held by another run, keeps its state). */
  async finishRuns(outcomes: RunOutcome[]): Promise<Set<string>> {
    const rows = await preparedQuery<{ id: string }>(this.db, FINISH_RUNS, [storableJson(outcomes)]);
    return new Set(rows.map((row) => row.id));
  }

  /**
   * Live jobs not touched for a while, oldest first (keyset-paged on the live-jobs index): queued
   * ones, and running ones past their run deadline. The reconciler checks each against the queue.
   */
  async findStale(olderThanMs: number, after: KeysetCursor | undefined, limit: number): Promise<KeysetPage<StaleJob>> {
    const rows = await this.db.query(
      `SELECT id, type, portal_id, priority, created_at::text AS keyset_at FROM jobs
       WHERE finished_at IS NULL
         AND created_at < now() - $1 * interval '1 millisecond'
         AND updated_at < now() - $1 * interval '1 millisecond'
         AND (status = 'queued' OR run_deadline_at < now())
         AND ($2::timestamptz IS NULL OR (created_at, id) > ($2::timestamptz, $3::uuid))
       ORDER BY created_at, id
       LIMIT $4`,
      [olderThanMs, after?.at ?? null, after?.id ?? null, limit],
    );
    return keysetPage(rows, limit, ({ id, type, portal_id, priority }): StaleJob => ({ id, type, portal_id, priority }));
  }

  /** Jobs waiting to run by portal and job type: the `limit` groups that waited longest (oldest first), or that hold the most. */
  async waitingByPortal(limit: number, order: 'oldest' | 'most'): Promise<WaitingJobs[]> {
    const rows = await this.db.query(
      `SELECT portal_id, type, count(*)::int AS waiting, min(created_at) AS oldest FROM jobs
       WHERE finished_at IS NULL AND status = 'queued'
       GROUP BY portal_id, type
       ORDER BY ${order === 'oldest' ? 'oldest, waiting DESC' : 'waiting DESC, oldest'}
       LIMIT $1`,
      [limit],
    );
    return rows.map((row: Record<string, any>) => ({ portalId: row.portal_id, type: row.type, waiting: row.waiting, oldestQueuedAt: row.oldest }));
  }

  /**
   * Ended jobs whose workflow step completion HubSpot has not accepted yet, finished at least
   * olderThanMs ago (younger ones are still in the hands of the process that ended them), keyset-paged.
   */
  async findUnsettledWorkflowSteps(olderThanMs: number, after: KeysetCursor | undefined, limit: number): Promise<KeysetPage<JobRecord>> {
    const rows = await this.db.query(
      `SELECT *, finished_at::text AS keyset_at FROM jobs
       WHERE completes_workflow_step AND workflow_step_settled_at IS NULL AND finished_at IS NOT NULL
         AND finished_at < now() - $1 * interval '1 millisecond'
         AND ($2::timestamptz IS NULL OR (finished_at, id) > ($2::timestamptz, $3::uuid))
       ORDER BY finished_at, id
       LIMIT $4`,
      [olderThanMs, after?.at ?? null, after?.id ?? null, limit],
    );
    return keysetPage(rows, limit, jobFromRow);
  }

  /** Marks workflow steps as done with: HubSpot accepted their completion, or refused it for good. */
  async settleWorkflowSteps(ids: string[]): Promise<void> {
    if (ids.length === 0) return;
    await this.db.query(
      `UPDATE jobs SET workflow_step_settled_at = now() WHERE id = ANY($1::uuid[]) AND workflow_step_settled_at IS NULL`,
      [ids],
    );
  }
}
