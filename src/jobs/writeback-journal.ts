import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { storableJson } from '../common/storable-text';
import { JobError, JobPriority, JobRecord, jobFromRow } from './job-record';
import { JOB_COLUMNS, outboxInsert, prefixed } from './job.repository';

/** The writes a writer sends together: one portal's, to one object type, at one priority (they share a batch call and a budget). */
export interface WriteLane {
  portalId: string;
  objectType: string;
  priority: JobPriority;
}

/** A journaled write a writer has claimed: sent (or to be read back) under its lease. */
export interface ClaimedWrite {
  id: string;
  jobId: string;
  objectId: string;
  /** The job's creation time: where two jobs set one property, the later job's value is the one the record keeps. */
  jobOrder: number;
  properties: Record<string, string>;
  /** Sends so far, this one included. */
  sends: number;
  /** Sends whose answer left the record out without a word. */
  unanswered: number;
  createdAt: Date;
  /** Properties that a later job's write, already made, set: sent now, this write would undo it. */
  overtaken: string[];
}

/** How a claimed write ended up. `retry`: back to pending, due after `retryInMs` (read back first when `verify`). */
export type WriteSettlement =
  | { id: string; outcome: 'written' | 'superseded'; superseded?: string[] }
  | { id: string; outcome: 'refused' | 'unconfirmed' | 'failed'; error: JobError }
  | { id: string; outcome: 'retry'; retryInMs: number; verify?: boolean; unanswered?: number };

/** A lane with pending writes, and when its first is due. */
export interface DueLane extends WriteLane {
  pending: number;
  dueAt: Date;
}

/**
 * Only one write to a record is on its way at a time (so writes land in the order they were sent);
 * a record with a write sent, or being read back, waits.
 */
const CLAIM = (verify: boolean) => `
  WITH picked AS (
    SELECT w.id FROM writebacks w
    WHERE w.portal_id = $1 AND w.object_type = $2 AND w.priority = $3 AND w.status = 'pending'
      AND w.next_attempt_at <= now() AND w.verify = ${verify}
      AND NOT EXISTS (
        SELECT 1 FROM writebacks s
        WHERE s.portal_id = w.portal_id AND s.object_type = w.object_type AND s.object_id = w.object_id AND s.status = 'sent')
    ORDER BY w.next_attempt_at, w.id
    LIMIT $4
    FOR UPDATE SKIP LOCKED
  ), sent AS (
    UPDATE writebacks w SET status = 'sent', sent_by = $5, lease_until = now() + $6 * interval '1 millisecond',
      sent_at = now(), sends = w.sends + ${verify ? 0 : 1}
    FROM picked WHERE w.id = picked.id
    RETURNING w.id, w.job_id, w.object_id, w.job_order, w.properties, w.sends, w.unanswered, w.created_at
  )
  SELECT sent.*, coalesce((
    SELECT jsonb_agg(DISTINCT name) FROM writebacks later, jsonb_object_keys(later.properties) AS name
    WHERE later.portal_id = $1 AND later.object_type = $2 AND later.object_id = sent.object_id
      AND later.status = 'written' AND (later.job_order, later.id) > (sent.job_order, sent.id)
      AND NOT later.superseded ? name
  ), '[]') AS overtaken
  FROM sent`;
const CLAIM_WRITES = CLAIM(false);
const CLAIM_VERIFICATIONS = CLAIM(true);

/**
 * Settles claimed writes (only those the writer still holds: one whose lease lapsed was taken from
 * it), and ends their jobs where the write is done with, with the lifecycle event in the same statement.
 */
const SETTLE = `
  WITH t AS (
    SELECT * FROM jsonb_to_recordset($1::jsonb)
      AS t(id bigint, outcome text, error jsonb, superseded jsonb, "retryInMs" int, verify boolean, unanswered int)
  ), settled AS (
    UPDATE writebacks w SET
      status = CASE WHEN t.outcome = 'retry' THEN 'pending' ELSE t.outcome END,
      verify = coalesce(t.verify, false),
      superseded = coalesce(t.superseded, w.superseded),
      unanswered = w.unanswered + coalesce(t.unanswered, 0),
      error = t.error,
      next_attempt_at = now() + coalesce(t."retryInMs", 0) * interval '1 millisecond',
      sent_by = NULL, lease_until = NULL,
      settled_at = CASE WHEN t.outcome = 'retry' THEN NULL ELSE now() END
    FROM t WHERE w.id = t.id AND w.status = 'sent' AND w.sent_by = $2
    RETURNING w.job_id, w.status, w.error
  ), ended AS (
    UPDATE jobs j SET status = CASE WHEN s.status IN ('written', 'superseded') THEN 'succeeded' ELSE 'failed' END,
      error = s.error, finished_at = now(), updated_at = now()
    FROM settled s WHERE j.id = s.job_id AND s.status <> 'pending' AND j.status = 'writing'
    RETURNING ${prefixed('j', JOB_COLUMNS)}
  ), events AS (${outboxInsert('ended')})
  SELECT * FROM ended`;

/**
 * The write-back journal in PostgreSQL: every write a succeeded run owes its record, from the run's
 * record (see JobRepository.finishRuns) to HubSpot's answer. Writers claim due writes under a lease
 * they renew while alive; a lease that lapses marks its writes for a read-back, so a write whose
 * call went out just before its writer died is confirmed, not sent twice.
 */
@Injectable()
export class WritebackJournal {
  constructor(private readonly db: DataSource) {}

  /** Claims up to `limit` due writes of the lane for `writer`: to send, or (`verify`) to read back first. */
  async claim(lane: WriteLane, writer: string, limit: number, leaseMs: number, verify: boolean): Promise<ClaimedWrite[]> {
    const rows = await this.db.query(verify ? CLAIM_VERIFICATIONS : CLAIM_WRITES, [lane.portalId, lane.objectType, lane.priority, limit, writer, leaseMs]);
    return rows.map(
      (row: Record<string, any>): ClaimedWrite => ({
        id: String(row.id),
        jobId: row.job_id,
        objectId: row.object_id,
        jobOrder: row.job_order.getTime(),
        properties: row.properties,
        sends: row.sends,
        unanswered: row.unanswered,
        createdAt: row.created_at,
        overtaken: row.overtaken,
      }),
    );
  }

  /** Settles writes `writer` holds; answers the jobs that ended with them. */
  async settle(settlements: WriteSettlement[], writer: string): Promise<JobRecord[]> {
    if (settlements.length === 0) return [];
    const rows = await this.db.query(SETTLE, [storableJson(settlements), writer]);
    return rows.map(jobFromRow);
  }

  /** Extends the leases of the writes `writer` has on their way (`ids`, those it knows it claimed): it is alive. */
  async renew(writer: string, ids: string[], leaseMs: number): Promise<void> {
    await this.db.query(
      `UPDATE writebacks SET lease_until = now() + $3 * interval '1 millisecond' WHERE id = ANY($2::bigint[]) AND status = 'sent' AND sent_by = $1`,
      [writer, ids, leaseMs],
    );
  }

  /** Puts writes whose writer's lease lapsed back as pending, to be read back before they are sent again; answers their lanes. */
  async reclaimLapsed(): Promise<WriteLane[]> {
    const rows = await this.db.query(
      `WITH lapsed AS (
         UPDATE writebacks SET status = 'pending', verify = true, sent_by = NULL, lease_until = NULL, next_attempt_at = now()
         WHERE status = 'sent' AND lease_until < now()
         RETURNING portal_id, object_type, priority
       )
       SELECT DISTINCT portal_id, object_type, priority FROM lapsed`,
    );
    return rows.map(laneOf);
  }

  /** The lanes with pending writes, whoever journaled them. */
  async dueLanes(limit: number): Promise<DueLane[]> {
    const rows = await this.db.query(
      `SELECT portal_id, object_type, priority, count(*)::int AS pending, min(next_attempt_at) AS due_at
       FROM writebacks WHERE status = 'pending'
       GROUP BY portal_id, object_type, priority
       LIMIT $1`,
      [limit],
    );
    return rows.map((row: Record<string, any>): DueLane => ({ ...laneOf(row), pending: row.pending, dueAt: row.due_at }));
  }
}

function laneOf(row: Record<string, any>): WriteLane {
  return { portalId: row.portal_id, objectType: row.object_type, priority: row.priority };
}
