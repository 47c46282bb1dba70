import { MigrationInterface, QueryRunner } from 'typeorm';

export class LeadAssignments1768000000000 implements MigrationInterface {
  name = 'LeadAssignments1768000000000';

  async up(db: QueryRunner): Promise<void> {
    // One row per job: a run of a job that already has an owner finds it here instead of taking another turn.
    await db.query(`
      CREATE TABLE lead_assignments (
        portal_id uuid NOT NULL REFERENCES portals (id) ON DELETE CASCADE,
        job_id uuid NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
        owner_id text NOT NULL,
        territory text NOT NULL,
        pool text,
        reason text NOT NULL,
        assigned_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (portal_id, job_id)
      )`);
    // Capacity pools count each owner's recent assignments.
    await db.query(`CREATE INDEX lead_assignments_owner_recent ON lead_assignments (portal_id, owner_id, assigned_at)`);
    // A pool's next turn; its row is locked while a pick is made, so concurrent workers take turns one at a time.
    await db.query(`
      CREATE TABLE lead_assignment_rotations (
        portal_id uuid NOT NULL REFERENCES portals (id) ON DELETE CASCADE,
        pool text NOT NULL,
        position bigint NOT NULL DEFAULT 0,
        PRIMARY KEY (portal_id, pool)
      )`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP TABLE lead_assignment_rotations`);
    await db.query(`DROP TABLE lead_assignments`);
  }
}
