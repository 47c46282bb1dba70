import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';

/** Lets one worker at a time purge, without holding up anything else. */
const PURGE_LOCK = `hashtext('offload.job-retention')`;

/**
 * The SQL of data retention. Deleting a job deletes its write-back journal rows and lead
 * assignments with it (their foreign keys cascade); its outbox events name it only by key, so
 * they are deleted in a pass of their own.
 */
@Injectable()
export class RetentionRepository {
  constructor(private readonly db: DataSource) {}

  /** Deletes up to `limit` jobs that ended more than `days` ago, oldest first; answers how many (0 while another worker purges). */
  async purgeEndedJobs(days: number, limit: number): Promise<number> {
    const [{ deleted }] = await this.db.query(
      `WITH gone AS (
         DELETE FROM jobs WHERE (SELECT pg_try_advisory_xact_lock(${PURGE_LOCK})) AND id = ANY(ARRAY(
           SELECT id FROM jobs WHERE finished_at < now() - $1 * interval '1 day' ORDER BY finished_at LIMIT $2))
         RETURNING id
       )
       SELECT count(*)::int AS deleted FROM gone`,
      [days, limit],
    );
    return deleted;
  }

  /**
   * Deletes, among the `limit` outbox events after id `after`, those older than `days` whose job
   * is gone. Answers how many it deleted, where the next pass starts, and whether it reached events
   * too young to delete (the pass is then over).
   */
  async purgeOrphanEvents(days: number, after: string, limit: number): Promise<{ deleted: number; next: string; done: boolean }> {
    const [row] = await this.db.query(
      `WITH scanned AS (
         SELECT id, key, created_at FROM outbox_events WHERE id > $2::bigint ORDER BY id LIMIT $3
       ), gone AS (
         DELETE FROM outbox_events e USING scanned s
         WHERE e.id = s.id AND s.created_at < now() - $1 * interval '1 day'
           AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.id::text = s.key)
         RETURNING e.id
       )
       SELECT (SELECT count(*) FROM gone)::int AS deleted, coalesce((SELECT max(id) FROM scanned), $2::bigint)::text AS next,
         (SELECT count(*) FROM scanned) < $3 OR EXISTS (SELECT 1 FROM scanned WHERE created_at >= now() - $1 * interval '1 day') AS done`,
      [days, after, limit],
    );
    return { deleted: row.deleted, next: row.next, done: row.done };
  }

  /** The jobs of a portal about one CRM record, with their object type as the job named it. */
  async jobsOfRecord(portalId: string, objectId: string): Promise<Array<{ id: string; objectType: string; live: boolean }>> {
    const rows = await this.db.query(`SELECT id, object_type, finished_at IS NULL AS live FROM jobs WHERE portal_id = $1 AND object_id = $2`, [portalId, objectId]);
    return rows.map((row: Record<string, any>) => ({ id: row.id, objectType: row.object_type, live: row.live }));
  }

  /** Deletes jobs, their journal rows (by cascade) and their outbox events; answers how many jobs and events. */
  async deleteJobs(ids: string[]): Promise<{ jobs: number; events: number }> {
    if (ids.length === 0) return { jobs: 0, events: 0 };
    const [row] = await this.db.query(
      `WITH jobs_gone AS (DELETE FROM jobs WHERE id = ANY($1::uuid[]) RETURNING id),
            events_gone AS (DELETE FROM outbox_events WHERE key = ANY($1::text[]) RETURNING id)
       SELECT (SELECT count(*) FROM jobs_gone)::int AS jobs, (SELECT count(*) FROM events_gone)::int AS events`,
      [ids],
    );
    return row;
  }
}
