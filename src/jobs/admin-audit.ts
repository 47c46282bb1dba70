import { Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';

/** One thing an operator did: who, what (and to what), why, and how much it touched. */
export interface AdminAction {
  actor: string;
  action: string;
  reason?: string;
  target: unknown;
  matched: number;
  done: number;
}

/** Who acts when Offload acts by itself (a pause it makes, a resume at a reinstall). */
export const OFFLOAD_ACTOR = 'offload';

/**
 * The record of what operators (and Offload by itself) did to work (`admin_actions`): retries,
 * cancellations, purges, pauses and resumes.
 */
@Injectable()
export class AdminAudit {
  constructor(private readonly db: DataSource) {}

  /** Records the action; in `tx` when given, so the record stands or falls with what it records. */
  async record(action: AdminAction, tx?: EntityManager): Promise<void> {
    await (tx ?? this.db).query(`INSERT INTO admin_actions (actor, action, reason, target, matched, done) VALUES ($1, $2, $3, $4, $5, $6)`, [
      action.actor,
      action.action,
      action.reason ?? null,
      JSON.stringify(action.target),
      action.matched,
      action.done,
    ]);
  }

  /** The latest actions, newest first. */
  async latest(limit: number): Promise<Array<AdminAction & { id: string; at: Date }>> {
    const rows = await this.db.query(`SELECT * FROM admin_actions ORDER BY created_at DESC, id DESC LIMIT $1`, [limit]);
    return rows.map((row: Record<string, any>) => ({
      id: String(row.id),
      at: row.created_at,
      actor: row.actor,
      action: row.action,
      ...(row.reason === null ? {} : { reason: row.reason }),
      target: row.target,
      matched: row.matched,
      done: row.done,
    }));
  }
}
