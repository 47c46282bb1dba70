import { Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
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
  handlerType: string;
  handlerVersion: string;
  /** Compute the change, write nothing: the job asked for a dry run, or its portal keeps its version to dry runs. */
  dryRun: boolean;
  /** Counted against its version's rollout already (a write sent again is not counted twice). */
  admitted: boolean;
  /**
   * Since when a change to the record is not the job's to overwrite: HubSpot's last-modified time
   * of the record as the job read it, or the job's creation for a job that read nothing.
   */
  basis: Date;
  /** Each property's value before the write, kept before it was first sent (null: not read yet, or written blind). */
  previous: Record<string, string | null> | null;
  /** Properties left out because a person (or anything but Offload) changed them after the basis. */
  skippedStale: string[];
  /** The job's creation time: where two jobs set one property, the later job's value is the one the record keeps. */
  jobOrder: number;
  properties: Record<string, string>;
  /** Batch updates that carried it so far (counted as each goes out; a claim that only reads counts none). */
  sends: number;
  /** Sends whose answer left the record out without a word. */
  unanswered: number;
  createdAt: Date;
  /** Properties that a later job's write, already made, set: sent now, this write would undo it. */
  overtaken: string[];
  /** The job's trace: the batch that sends the write links to it. */
  traceId: string;
  spanId: string;
}

/** What a write did beyond the job's outputs, shown with the job: the properties skipped as stale, a dry run's change. */
export interface WritebackReport {
  dryRun?: true;
  changes?: PropertyChange[];
  skipped_stale?: string[];
}

/** One property a write changes (or a dry run would): its value before, and after. */
export interface PropertyChange {
  property: string;
  old: string | null;
  new: string;
}

/**
 * A handler version's release for a portal (a row of writeback_releases, as JSON): what its writes
 * may do (WritebackReleases reads it).
 */
export interface ReleaseRow {
  portal_id: string;
  handler_type: string;
  handler_version: string;
  dry_run_only: boolean;
  rollout_stages: number[] | null;
  rollout_stage: number;
  auto_release_after: number | null;
  admitted: number;
  clean: number;
  refused_at: string | Date | null;
  paused_at: string | Date | null;
  pause_reason: unknown;
  judged_after: string | number;
  drift_accepted: boolean;
  reverted_at: string | Date | null;
  first_claim_at: string | Date | null;
}

/** What a claim of writes to send found: the writes, the releases of their versions (but a version's first), and the portal's setting. */
export interface ClaimedWrites {
  writes: ClaimedWrite[];
  releases: ReleaseRow[];
  readBeforeWrite: boolean;
}

/**
 * How a claimed write ended up. `retry`: back to pending, due after `retryInMs` (read back first when `verify`).
 * `skipped`: every property was stale; `previewed`: a dry run, read and reported; `withdrawn`: its version was reverted.
 */
export type WriteSettlement =
  | { id: string; outcome: 'written' | 'superseded' | 'skipped' | 'previewed'; superseded?: string[]; report?: WritebackReport; previous?: Record<string, string | null> }
  | { id: string; outcome: 'refused' | 'unconfirmed' | 'failed' | 'withdrawn'; error: JobError }
  | { id: string; outcome: 'retry'; retryInMs: number; verify?: boolean; unanswered?: number };

/**
 * What a writer keeps of a write before it sends it: the values it replaces (for undo), and the
 * properties it leaves out as stale; `sent`: the update now going out carries it (counted as a send).
 */
export interface WritePreparation {
  id: string;
  previous: Record<string, string | null>;
  skippedStale: string[];
  sent: boolean;
}

/** A lane with pending writes, and when its first is due. */
export interface DueLane extends WriteLane {
  pending: number;
  dueAt: Date;
}

/** The write outcomes that end their job as succeeded. */
const SUCCEEDED_WRITES = `('written', 'superseded', 'skipped', 'previewed')`;

/**
 * A claim in a portal with paused job types ($7, as the writer's process knows them) first parks
 * the lane's waiting writes of those types as `held`, outside the claim's index, and leaves them
 * out. It locks the pauses it parks under (FOR SHARE): a resume deletes them first and puts their
 * held writes back after, so it waits for such a claim, then finds every write it parked; and a
 * claim that comes after a resume finds no pause to park under.
 */
const PARKING = `
  paused AS (SELECT job_type FROM portal_type_pauses WHERE portal_id = $1 AND job_type = ANY($7::text[]) FOR SHARE),
  parked AS (
    UPDATE writebacks w SET status = 'held'
    WHERE w.portal_id = $1 AND w.object_type = $2 AND w.priority = $3 AND w.status = 'pending' AND w.handler_type IN (SELECT job_type FROM paused)
  ),`;

/**
 * Only one write to a record is on its way at a time (so writes land in the order they were sent);
 * a record with a write sent, or being read back, waits. A claim of writes to send (not to read
 * back) also answers, in the same statement, the portal's setting (read before writing, or blind:
 * then the update that follows is the writes' send, and is counted now) and the release of each
 * handler version it met, as last committed: it takes no lock on it, so a claim never waits for
 * one. A version's first claim creates its release (and answers none).
 */
const CLAIM = (verify: boolean, parking: boolean) => `
  WITH ${parking ? PARKING : ''} settings AS (
    SELECT coalesce((SELECT read_before_write FROM writeback_settings WHERE portal_id = $1), true) AS read_before_write
  ), picked AS (
    SELECT w.id FROM writebacks w
    WHERE w.portal_id = $1 AND w.object_type = $2 AND w.priority = $3 AND w.status = 'pending'
      AND w.next_attempt_at <= now() AND w.verify = ${verify}${parking ? ' AND w.handler_type NOT IN (SELECT job_type FROM paused)' : ''}
      AND NOT EXISTS (
        SELECT 1 FROM writebacks s
        WHERE s.portal_id = w.portal_id AND s.object_type = w.object_type AND s.object_id = w.object_id AND s.status = 'sent')
    ORDER BY w.next_attempt_at, w.id
    LIMIT $4
    FOR UPDATE SKIP LOCKED
  ), sent AS (
    UPDATE writebacks w SET status = 'sent', sent_by = $5, lease_until = now() + $6 * interval '1 millisecond',
      sent_at = now(), sends = w.sends + CASE WHEN ${verify} OR w.dry_run OR (SELECT read_before_write FROM settings) THEN 0 ELSE 1 END
    FROM picked WHERE w.id = picked.id
    RETURNING w.id, w.job_id, w.object_id, w.job_order, w.properties, w.sends, w.unanswered, w.created_at, w.handler_type,
      w.handler_version, w.dry_run, w.admitted, coalesce(w.read_at, w.job_order) AS basis, w.previous, w.skipped_stale
  )${
    verify
      ? ''
      : `, releases AS (
    INSERT INTO writeback_releases (portal_id, handler_type, handler_version, first_claim_at)
    SELECT DISTINCT $1::uuid, handler_type, handler_version, now() FROM sent
    WHERE NOT EXISTS (
      SELECT 1 FROM writeback_releases r WHERE r.portal_id = $1 AND r.handler_type = sent.handler_type AND r.handler_version = sent.handler_version)
    ON CONFLICT DO NOTHING
  )`
  }
  SELECT sent.*, j.trace_id, j.span_id, coalesce((
    SELECT jsonb_agg(DISTINCT name) FROM writebacks later, jsonb_object_keys(later.properties) AS name
    WHERE later.portal_id = $1 AND later.object_type = $2 AND later.object_id = sent.object_id
      AND later.status = 'written' AND (later.job_order, later.id) > (sent.job_order, sent.id)
      AND NOT later.superseded ? name
  ), '[]') AS overtaken${
    verify
      ? ''
      : `, (SELECT read_before_write FROM settings) AS read_before_write,
    (SELECT jsonb_agg(to_jsonb(r)) FROM writeback_releases r
      WHERE r.portal_id = $1 AND (r.handler_type, r.handler_version) IN (SELECT handler_type, handler_version FROM sent)) AS releases`
  }
  FROM sent LEFT JOIN jobs j ON j.id = sent.job_id`;
const CLAIMS = {
  writes: CLAIM(false, false),
  verifications: CLAIM(true, false),
  parkingWrites: CLAIM(false, true),
  parkingVerifications: CLAIM(true, true),
};

/**
 * Settles claimed writes (only those the writer still holds: one whose lease lapsed was taken from
 * it), and ends their jobs where the write is done with, with the lifecycle event in the same statement.
 */
const SETTLE = `
  WITH t AS (
    SELECT * FROM jsonb_to_recordset($1::jsonb)
      AS t(id bigint, outcome text, error jsonb, superseded jsonb, "retryInMs" int, verify boolean, unanswered int, report jsonb, previous jsonb)
  ), settled AS (
    UPDATE writebacks w SET
      status = CASE WHEN t.outcome = 'retry' THEN 'pending' ELSE t.outcome END,
      verify = coalesce(t.verify, false),
      superseded = coalesce(t.superseded, w.superseded),
      unanswered = w.unanswered + coalesce(t.unanswered, 0),
      error = t.error,
      previous = coalesce(w.previous, t.previous),
      next_attempt_at = now() + coalesce(t."retryInMs", 0) * interval '1 millisecond',
      sent_by = NULL, lease_until = NULL,
      settled_at = CASE WHEN t.outcome = 'retry' THEN NULL ELSE now() END
    FROM t WHERE w.id = t.id AND w.status = 'sent' AND w.sent_by = $2
    RETURNING w.job_id, w.status, w.error, t.report, w.portal_id, w.handler_type, w.handler_version
  ), ended AS (
    UPDATE jobs j SET status = CASE WHEN s.status IN ${SUCCEEDED_WRITES} THEN 'succeeded' ELSE 'failed' END,
      error = s.error, writeback_report = s.report, finished_at = now(), updated_at = now()
    FROM settled s WHERE j.id = s.job_id AND s.status <> 'pending' AND j.status = 'writing'
    RETURNING ${prefixed('j', JOB_COLUMNS)}
  ), progress AS (
    -- A version's release hears of its refusals (its failure rate is then judged), and, in a rollout
    -- that releases itself, of its clean writes in the stage (a refusal starts that count again).
    -- Other settles leave the release alone: claims and settles of a version never queue on it.
    UPDATE writeback_releases r SET
      clean = CASE WHEN s.refused > 0 THEN 0 ELSE r.clean + s.clean END,
      refused_at = CASE WHEN s.refused > 0 THEN now() ELSE r.refused_at END
    FROM (
      SELECT portal_id, handler_type, handler_version,
        count(*) FILTER (WHERE status IN ${SUCCEEDED_WRITES} AND status <> 'previewed') AS clean,
        count(*) FILTER (WHERE status = 'refused') AS refused
      FROM settled GROUP BY 1, 2, 3
    ) s
    WHERE r.portal_id = s.portal_id AND r.handler_type = s.handler_type AND r.handler_version = s.handler_version
      AND (s.refused > 0 OR (s.clean > 0 AND r.auto_release_after IS NOT NULL))
  ), events AS (${outboxInsert('ended')})
  SELECT * FROM ended`;

/** Keeps what a write replaces before it is sent: a write that lands is always one undo can restore. */
const PREPARE = `
  UPDATE writebacks w SET previous = coalesce(w.previous, t.previous), skipped_stale = t."skippedStale",
    sends = w.sends + CASE WHEN t.sent THEN 1 ELSE 0 END
  FROM jsonb_to_recordset($1::jsonb) AS t(id bigint, previous jsonb, "skippedStale" jsonb, sent boolean)
  WHERE w.id = t.id AND w.status = 'sent' AND w.sent_by = $2`;

/**
 * The write-back journal in PostgreSQL: every write a succeeded run owes its record, from the run's
 * record (see JobRepository.finishRuns) to HubSpot's answer. Writers claim due writes under a lease
 * they renew while alive; a lease that lapses marks its writes for a read-back, so a write whose
 * call went out just before its writer died is confirmed, not sent twice.
 */
@Injectable()
export class WritebackJournal {
  constructor(private readonly db: DataSource) {}

  /**
   * Claims up to `limit` due writes of the lane for `writer`: to send, or (`verify`) to read back
   * first. Writes of `pausedTypes` are held instead, until their type resumes (unholdTypes).
   */
  async claim(lane: WriteLane, writer: string, limit: number, leaseMs: number, verify: boolean, pausedTypes: string[] = []): Promise<ClaimedWrite[]> {
    return (await this.claimRows(lane, writer, limit, leaseMs, verify, pausedTypes)).map(claimedWrite);
  }

  /**
   * Claims up to `limit` due writes of the lane to send, with the portal's read-before-write
   * setting and the release of each handler version among them (see WritebackReleases).
   */
  async claimWrites(lane: WriteLane, writer: string, limit: number, leaseMs: number, pausedTypes: string[] = []): Promise<ClaimedWrites> {
    const rows = await this.claimRows(lane, writer, limit, leaseMs, false, pausedTypes);
    return { writes: rows.map(claimedWrite), releases: rows[0]?.releases ?? [], readBeforeWrite: rows[0]?.read_before_write ?? true };
  }

  private claimRows(lane: WriteLane, writer: string, limit: number, leaseMs: number, verify: boolean, pausedTypes: string[]): Promise<Array<Record<string, any>>> {
    const params = [lane.portalId, lane.objectType, lane.priority, limit, writer, leaseMs];
    if (pausedTypes.length === 0) return this.db.query(verify ? CLAIMS.verifications : CLAIMS.writes, params);
    return this.db.query(verify ? CLAIMS.parkingVerifications : CLAIMS.parkingWrites, [...params, pausedTypes]);
  }

  /**
   * Puts the portal's writes held for `types` back to be sent (their pauses ended in `tx`, before
   * this). Writes a version's release holds too are held again at their next claim.
   */
  async unholdTypes(tx: EntityManager, portalId: string, types: string[]): Promise<void> {
    if (types.length === 0) return;
    await tx.query(`UPDATE writebacks SET status = 'pending' WHERE portal_id = $1 AND handler_type = ANY($2::text[]) AND status = 'held'`, [portalId, types]);
  }

  /** Keeps, before the writes are sent, the values they replace and the properties they leave out as stale. */
  async prepare(preparations: WritePreparation[], writer: string): Promise<void> {
    if (preparations.length > 0) await this.db.query(PREPARE, [storableJson(preparations), writer]);
  }

  /**
   * The values Offload itself wrote to the records since `since` (a minute earlier, for the clocks
   * of HubSpot and PostgreSQL): a change to a record that matches one of them is Offload's, not a person's.
   */
  async ownValues(lane: WriteLane, objectIds: string[], since: Date): Promise<Map<string, Record<string, string[]>>> {
    const rows: Array<{ object_id: string; name: string; value: string }> = await this.db.query(
      `SELECT DISTINCT w.object_id, p.key AS name, p.value
       FROM writebacks w, jsonb_each_text(w.properties) p
       WHERE w.portal_id = $1 AND w.object_type = $2 AND w.object_id = ANY($3::text[]) AND w.status = 'written'
         AND w.settled_at >= $4::timestamptz - interval '1 minute'`,
      [lane.portalId, lane.objectType, objectIds, since],
    );
    const own = new Map<string, Record<string, string[]>>();
    for (const row of rows) {
      const record = own.get(row.object_id) ?? {};
      (record[row.name] ??= []).push(row.value);
      own.set(row.object_id, record);
    }
    return own;
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

function claimedWrite(row: Record<string, any>): ClaimedWrite {
  return {
    id: String(row.id),
    jobId: row.job_id,
    objectId: row.object_id,
    handlerType: row.handler_type,
    handlerVersion: row.handler_version,
    dryRun: row.dry_run,
    admitted: row.admitted,
    basis: row.basis,
    previous: row.previous,
    skippedStale: row.skipped_stale,
    jobOrder: row.job_order.getTime(),
    properties: row.properties,
    sends: row.sends,
    unanswered: row.unanswered,
    createdAt: row.created_at,
    overtaken: row.overtaken,
    traceId: row.trace_id,
    spanId: row.span_id,
  };
}
