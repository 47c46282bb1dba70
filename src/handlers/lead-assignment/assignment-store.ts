import type { DataSource, EntityManager } from 'typeorm';
import type { OpenLeads, PoolState } from './strategies';

/** A lead's owner as recorded for its job: a later run of the job answers this, never a new pick. */
export interface Assignment {
  ownerId: string;
  territory: string;
  /** The pool that picked the owner; null for the fallback owner. */
  pool: string | null;
  reason: string;
}

export interface JobKey {
  portalId: string;
  jobId: string;
}

interface AssignmentRow {
  owner_id: string;
  territory: string;
  pool: string | null;
  reason: string;
}

/**
 * Assignments and pool rotations in PostgreSQL (migrations/1768000000000-lead-assignments.ts).
 * A pool's picks are made one at a time under a lock on its rotation row, whichever worker makes
 * them, and each is recorded with its job id in the transaction that advances the rotation: so
 * turns are never taken twice, and a job run again finds the owner it already has.
 */
export class AssignmentStore {
  constructor(private readonly db: DataSource) {}

  async recorded(key: JobKey): Promise<Assignment | undefined> {
    return this.find(this.db.manager, key);
  }

  /**
   * Lets `decide` pick from the pool under its lock and records the pick. Answers the recorded
   * assignment (another run's, if one of the same job got there first), or undefined when `decide`
   * gave nobody.
   */
  async assignFromPool(
    key: JobKey,
    pool: { name: string; openLeads?: { ownerIds: string[]; days: number } },
    decide: (state: PoolState) => Omit<Assignment, 'pool'> | undefined,
  ): Promise<Assignment | undefined> {
    return this.db.transaction(async (manager) => {
      // A no-op update rather than DO NOTHING: it takes the row lock and returns the position in one statement.
      const [rotation] = (await manager.query(
        `INSERT INTO lead_assignment_rotations (portal_id, pool) VALUES ($1, $2)
           ON CONFLICT (portal_id, pool) DO UPDATE SET position = lead_assignment_rotations.position
           RETURNING position`,
        [key.portalId, pool.name],
      )) as Array<{ position: string }>;
      const openLeads = pool.openLeads ? await this.openLeads(manager, key.portalId, pool.openLeads) : new Map<string, OpenLeads>();
      const decided = decide({ position: Number(rotation.position), openLeads });
      if (!decided) return undefined;
      const assignment = { ...decided, pool: pool.name };
      const inserted = await this.insert(manager, key, assignment);
      if (!inserted) return this.find(manager, key);
      await manager.query(`UPDATE lead_assignment_rotations SET position = position + 1 WHERE portal_id = $1 AND pool = $2`, [key.portalId, pool.name]);
      return assignment;
    });
  }

  /** Records an assignment made outside any pool (the fallback owner); answers the recorded one. */
  async assign(key: JobKey, assignment: Assignment): Promise<Assignment> {
    return (await this.insert(this.db.manager, key, assignment)) ? assignment : (await this.find(this.db.manager, key))!;
  }

  /** Leads assigned to each owner of the portal, in any pool, within the last `days`. */
  private async openLeads(manager: EntityManager, portalId: string, { ownerIds, days }: { ownerIds: string[]; days: number }): Promise<Map<string, OpenLeads>> {
    const rows = (await manager.query(
      `SELECT owner_id, count(*)::int AS count, max(assigned_at) AS last_assigned_at
         FROM lead_assignments
        WHERE portal_id = $1 AND owner_id = ANY($2) AND assigned_at > now() - make_interval(days => $3)
        GROUP BY owner_id`,
      [portalId, ownerIds, days],
    )) as Array<{ owner_id: string; count: number; last_assigned_at: Date }>;
    return new Map(rows.map((row) => [row.owner_id, { count: row.count, lastAssignedAt: row.last_assigned_at }]));
  }

  /** Whether this run recorded it: false when a run of the same job already had. */
  private async insert(manager: EntityManager, key: JobKey, assignment: Assignment): Promise<boolean> {
    const rows = (await manager.query(
      `INSERT INTO lead_assignments (portal_id, job_id, owner_id, territory, pool, reason) VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (portal_id, job_id) DO NOTHING
         RETURNING 1`,
      [key.portalId, key.jobId, assignment.ownerId, assignment.territory, assignment.pool, assignment.reason],
    )) as unknown[];
    return rows.length === 1;
  }

  private async find(manager: EntityManager, key: JobKey): Promise<Assignment | undefined> {
    const [row] = (await manager.query(
      `SELECT owner_id, territory, pool, reason FROM lead_assignments WHERE portal_id = $1 AND job_id = $2`,
      [key.portalId, key.jobId],
    )) as AssignmentRow[];
    return row && { ownerId: row.owner_id, territory: row.territory, pool: row.pool, reason: row.reason };
  }
}
