import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { JobRecord, JobStatus, jobFromRow } from './job-record';
import { KeysetCursor } from './job.repository';

/** Which jobs an operator means: every field narrows; `status` lists the statuses accepted. */
export interface JobFilter {
  status?: JobStatus[];
  type?: string;
  portalId?: string;
  errorCode?: string;
  /** Created at or after. */
  from?: Date;
  /** Created before. */
  to?: Date;
}

/** How many failed jobs share a type, an error code and a portal, and when the last of them ended. */
export interface FailureGroup {
  type: string;
  errorCode: string;
  portalId: string;
  count: number;
  lastFailedAt: Date;
}

/** The WHERE clause of a filter, its parameters numbered from `first`. */
function where(filter: JobFilter, first = 1): { sql: string; params: unknown[] } {
  const clauses: string[] = [];
  const params: unknown[] = [];
  const add = (clause: (n: string) => string, value: unknown) => {
    params.push(value);
    clauses.push(clause(`$${first + params.length - 1}`));
  };
  if (filter.status?.length) add((n) => `status = ANY(${n}::text[])`, filter.status);
  // True of every failed or cancelled job; said, it lets the partial index of those (jobs_failed) serve.
  if (filter.status?.length && filter.status.every((status) => status === 'failed' || status === 'cancelled')) {
    clauses.push('finished_at IS NOT NULL AND error IS NOT NULL');
  }
  if (filter.type !== undefined) add((n) => `type = ${n}`, filter.type);
  if (filter.portalId !== undefined) add((n) => `portal_id = ${n}::uuid`, filter.portalId);
  if (filter.errorCode !== undefined) add((n) => `error->>'code' = ${n}`, filter.errorCode);
  if (filter.from !== undefined) add((n) => `created_at >= ${n}`, filter.from);
  if (filter.to !== undefined) add((n) => `created_at < ${n}`, filter.to);
  return { sql: clauses.length ? clauses.join(' AND ') : 'TRUE', params };
}

/** The operator's view of jobs: filtered lists, newest first, in keyset pages; counts; failures grouped. */
@Injectable()
export class JobSearch {
  constructor(private readonly db: DataSource) {}

  /** A page of the jobs the filter names, newest first; `next` continues after the last. */
  async list(filter: JobFilter, after: KeysetCursor | undefined, limit: number): Promise<{ jobs: JobRecord[]; next?: KeysetCursor }> {
    const { sql, params } = where(filter, 4);
    const rows = await this.db.query(
      `SELECT *, created_at::text AS keyset_at FROM jobs
       WHERE ${sql} AND ($1::timestamptz IS NULL OR (created_at, id) < ($1::timestamptz, $2::uuid))
       ORDER BY created_at DESC, id DESC
       LIMIT $3`,
      [after?.at ?? null, after?.id ?? null, limit, ...params],
    );
    const last = rows[rows.length - 1];
    return { jobs: rows.map(jobFromRow), next: rows.length === limit ? { at: last.keyset_at, id: last.id } : undefined };
  }

  async count(filter: JobFilter): Promise<number> {
    const { sql, params } = where(filter);
    const [{ count }] = await this.db.query(`SELECT count(*)::int AS count FROM jobs WHERE ${sql}`, params);
    return count;
  }

  /** Which of `ids` exist and the filter accepts. */
  async matching(ids: string[], filter: JobFilter): Promise<string[]> {
    const { sql, params } = where(filter, 2);
    const rows: Array<{ id: string }> = await this.db.query(`SELECT id FROM jobs WHERE id = ANY($1::uuid[]) AND ${sql}`, [ids, ...params]);
    return rows.map((row) => row.id);
  }

  /** Failed jobs grouped by type, error code and portal, the largest groups first. */
  async failures(filter: Omit<JobFilter, 'status'>, limit: number): Promise<FailureGroup[]> {
    const { sql, params } = where({ ...filter, status: ['failed'] }, 2);
    const rows = await this.db.query(
      `SELECT type, coalesce(error->>'code', 'unknown') AS error_code, portal_id, count(*)::int AS count, max(finished_at) AS last_failed_at
       FROM jobs WHERE ${sql}
       GROUP BY 1, 2, 3 ORDER BY count DESC, last_failed_at DESC LIMIT $1`,
      [limit, ...params],
    );
    return rows.map((row: Record<string, any>) => ({
      type: row.type,
      errorCode: row.error_code,
      portalId: row.portal_id,
      count: row.count,
      lastFailedAt: row.last_failed_at,
    }));
  }
}
