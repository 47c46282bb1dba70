import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { storableJson } from '../common/storable-text';
import { WritebackReleases } from './writeback-releases';

/** Which written writes a revert puts back: a handler version's, or those made in a time range (of a type or version, if named). */
export interface RevertFilter {
  type?: string;
  version?: string;
  from?: Date;
  to?: Date;
}

/** A revert and its progress, as the admin API shows it. Counts are of records. */
export interface RevertView {
  id: string;
  status: 'running' | 'done';
  filter: { type?: string; version?: string; from?: string; to?: string };
  /** Writes the revert covers, and the records they wrote. */
  writes: number;
  records: number;
  /** Records dealt with so far: restored, skipped, unrestorable or failed. */
  done: number;
  /** Put back as they were before the reverted writes. */
  restored: number;
  /** Left alone: changed since Offload wrote them (by a person, or a later write). */
  skipped: number;
  /** Written without reading them first (the portal's readBeforeWrite was off): nothing was kept to restore. */
  unrestorable: number;
  /** HubSpot refused the restore. */
  failed: number;
  /** The version's writes not yet made when it was reverted: withdrawn, their jobs failed with writeback_reverted. */
  withdrawn: number;
  createdAt: string;
  finishedAt?: string;
}

/** One of the reverted writes to a record. */
export interface RevertWrite {
  id: string;
  /** What the write sent: its properties less those a later job's write set instead, and those skipped as stale. */
  properties: Record<string, string>;
  previous: Record<string, string | null> | null;
}

/** A record to put back: its reverted writes, newest first; `overwrittenLater`: a write the revert does not cover wrote it since. */
export interface RecordToRevert {
  objectId: string;
  writes: RevertWrite[];
  overwrittenLater: boolean;
}

export type RevertOutcome = 'restored' | 'skipped' | 'unrestorable' | 'failed';

const REVERT_COLUMNS = `id, portal_id, handler_type, handler_version, from_at, to_at, status, matched, records, restored, skipped,
  unrestorable, failed, withdrawn, created_at, finished_at`;

/**
 * Reverts in PostgreSQL: which written writes each covers (marked on the journal's rows), which
 * records are left, and what became of the others. A revert is run by one writer at a time, under
 * a lease; a writer that dies leaves it to the next, which finds the records it had restored
 * already restored.
 */
@Injectable()
export class WritebackReverts {
  constructor(
    private readonly db: DataSource,
    private readonly releases: WritebackReleases,
  ) {}

  /**
   * Starts a revert: marks the written writes it covers (none already covered by another). A
   * revert of a handler version also withdraws the version's writes not yet made, and those it
   * makes later, until it is released.
   */
  async create(portalId: string, filter: RevertFilter): Promise<RevertView> {
    const id = await this.db.transaction(async (tx) => {
      const [{ id }] = await tx.query(`SELECT nextval('writeback_reverts_id_seq')::text AS id`);
      let withdrawn = 0;
      if (filter.type !== undefined && filter.version !== undefined && filter.from === undefined && filter.to === undefined) {
        [{ withdrawn }] = await tx.query(
          `SELECT count(*)::int AS withdrawn FROM writebacks
           WHERE portal_id = $1 AND handler_type = $2 AND handler_version = $3 AND status IN ('pending', 'held')`,
          [portalId, filter.type, filter.version],
        );
        await this.releases.markReverted(tx, portalId, filter.type, filter.version);
      }
      await tx.query(
        `WITH marked AS (
           UPDATE writebacks SET revert_id = $1
           WHERE portal_id = $2 AND status = 'written' AND revert_id IS NULL AND NOT dry_run
             AND ($3::text IS NULL OR handler_type = $3) AND ($4::text IS NULL OR handler_version = $4)
             AND ($5::timestamptz IS NULL OR settled_at >= $5) AND ($6::timestamptz IS NULL OR settled_at < $6)
           RETURNING object_type, object_id
         )
         INSERT INTO writeback_reverts (id, portal_id, handler_type, handler_version, from_at, to_at, matched, records, withdrawn)
         SELECT $1, $2, $3, $4, $5, $6, count(*), count(DISTINCT (object_type, object_id)), $7 FROM marked`,
        [id, portalId, filter.type ?? null, filter.version ?? null, filter.from ?? null, filter.to ?? null, withdrawn],
      );
      return id as string;
    });
    return (await this.get(portalId, id))!;
  }

  async get(portalId: string, id: string): Promise<RevertView | undefined> {
    if (!/^\d{1,18}$/.test(id)) return undefined;
    const [row] = await this.db.query(`SELECT ${REVERT_COLUMNS} FROM writeback_reverts WHERE id = $1 AND portal_id = $2`, [id, portalId]);
    return row ? revertView(row) : undefined;
  }

  /** Takes a revert no live writer runs, for `runner`, under a lease. */
  async claim(runner: string, leaseMs: number): Promise<{ id: string; portalId: string } | undefined> {
    const [row] = await this.db.query(
      `WITH taken AS (
         UPDATE writeback_reverts SET run_by = $1, lease_until = now() + $2 * interval '1 millisecond'
         WHERE id = (
           SELECT id FROM writeback_reverts WHERE status = 'running' AND (lease_until IS NULL OR lease_until < now())
           ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)
         RETURNING id, portal_id
       ) SELECT id::text, portal_id FROM taken`,
      [runner, leaseMs],
    );
    return row ? { id: row.id, portalId: row.portal_id } : undefined;
  }

  /** Extends `runner`'s lease on a revert; false when the revert is no longer its (the lease lapsed and another took it). */
  async renew(id: string, runner: string, leaseMs: number): Promise<boolean> {
    const rows = await this.db.query(
      `WITH renewed AS (
         UPDATE writeback_reverts SET lease_until = now() + $3 * interval '1 millisecond' WHERE id = $1 AND run_by = $2 AND status = 'running' RETURNING 1
       ) SELECT 1 FROM renewed`,
      [id, runner, leaseMs],
    );
    return rows.length > 0;
  }

  /** Up to `limit` records the revert has left, all of one object type, with their reverted writes. */
  async nextRecords(id: string, limit: number): Promise<{ objectType: string; records: RecordToRevert[] } | undefined> {
    const rows: Array<Record<string, any>> = await this.db.query(
      // The records come first in the revert's index, so their writes are a range of it: read as a range, the plan stays an
      // index range scan even while the statistics do not know the revert yet (a join was planned as a scan of every write of it).
      `WITH next_type AS (
         SELECT object_type FROM writebacks WHERE revert_id = $1 AND revert_outcome IS NULL ORDER BY object_type, object_id LIMIT 1
       ), last_record AS (
         SELECT max(object_id) AS object_id FROM (
           SELECT DISTINCT object_id FROM writebacks
           WHERE revert_id = $1 AND revert_outcome IS NULL AND object_type = (SELECT object_type FROM next_type)
           ORDER BY object_id LIMIT $2
         ) records
       )
       SELECT w.id::text, w.object_type, w.object_id, w.properties, w.superseded, w.skipped_stale, w.previous,
         EXISTS (
           SELECT 1 FROM writebacks later
           WHERE later.portal_id = w.portal_id AND later.object_type = w.object_type AND later.object_id = w.object_id
             AND later.status = 'written' AND later.revert_id IS DISTINCT FROM w.revert_id AND later.settled_at > w.settled_at
         ) AS overwritten_later
       FROM writebacks w
       WHERE w.revert_id = $1 AND w.revert_outcome IS NULL AND w.object_type = (SELECT object_type FROM next_type)
         AND w.object_id <= (SELECT object_id FROM last_record)
       ORDER BY w.object_id, w.settled_at DESC, w.id DESC`,
      [id, limit],
    );
    if (rows.length === 0) return undefined;
    const records = new Map<string, RecordToRevert>();
    for (const row of rows) {
      const record: RecordToRevert = records.get(row.object_id) ?? { objectId: row.object_id, writes: [], overwrittenLater: false };
      const left: string[] = [...row.superseded, ...row.skipped_stale];
      record.writes.push({
        id: row.id,
        properties: Object.fromEntries(Object.entries(row.properties as Record<string, string>).filter(([name]) => !left.includes(name))),
        previous: row.previous,
      });
      record.overwrittenLater ||= row.overwritten_later;
      records.set(row.object_id, record);
    }
    return { objectType: rows[0].object_type, records: [...records.values()] };
  }

  /** Records what became of records (all their reverted writes), and counts them; only while `runner` holds the revert. */
  async settle(id: string, runner: string, outcomes: Array<{ writeIds: string[]; outcome: RevertOutcome }>): Promise<void> {
    if (outcomes.length === 0) return;
    // One row per write, found by primary key. The revert's index is kept out of reach (IS NOT DISTINCT FROM): statistics taken
    // before the revert marked its writes see none, and a plan through that index scanned all of them for every batch.
    const writes = outcomes.flatMap(({ writeIds, outcome }) => writeIds.map((id) => ({ id, outcome })));
    await this.db.query(
      `WITH t AS (
         SELECT * FROM jsonb_to_recordset($3::jsonb) AS t(id bigint, outcome text)
       ), owned AS (
         SELECT id FROM writeback_reverts WHERE id = $1 AND run_by = $2 AND status = 'running' FOR UPDATE
       ), marked AS (
         UPDATE writebacks w SET revert_outcome = t.outcome FROM t
         WHERE w.id = t.id AND w.revert_id IS NOT DISTINCT FROM $1 AND w.revert_outcome IS NULL AND EXISTS (SELECT 1 FROM owned)
         RETURNING w.object_id, t.outcome
       ), counted AS (
         SELECT outcome, count(DISTINCT object_id)::int AS n FROM marked GROUP BY outcome
       )
       UPDATE writeback_reverts SET
         restored = restored + coalesce((SELECT n FROM counted WHERE outcome = 'restored'), 0),
         skipped = skipped + coalesce((SELECT n FROM counted WHERE outcome = 'skipped'), 0),
         unrestorable = unrestorable + coalesce((SELECT n FROM counted WHERE outcome = 'unrestorable'), 0),
         failed = failed + coalesce((SELECT n FROM counted WHERE outcome = 'failed'), 0)
       WHERE id = (SELECT id FROM owned)`,
      [id, runner, storableJson(writes)],
    );
  }

  /** Ends a revert with nothing left to do. */
  async finish(id: string, runner: string): Promise<void> {
    await this.db.query(
      `UPDATE writeback_reverts SET status = 'done', finished_at = now(), run_by = NULL, lease_until = NULL WHERE id = $1 AND run_by = $2`,
      [id, runner],
    );
  }
}

function revertView(row: Record<string, any>): RevertView {
  return {
    id: String(row.id),
    status: row.status,
    filter: {
      ...(row.handler_type ? { type: row.handler_type } : {}),
      ...(row.handler_version ? { version: row.handler_version } : {}),
      ...(row.from_at ? { from: row.from_at.toISOString() } : {}),
      ...(row.to_at ? { to: row.to_at.toISOString() } : {}),
    },
    writes: row.matched,
    records: row.records,
    done: row.restored + row.skipped + row.unrestorable + row.failed,
    restored: row.restored,
    skipped: row.skipped,
    unrestorable: row.unrestorable,
    failed: row.failed,
    withdrawn: row.withdrawn,
    createdAt: row.created_at.toISOString(),
    ...(row.finished_at ? { finishedAt: row.finished_at.toISOString() } : {}),
  };
}
