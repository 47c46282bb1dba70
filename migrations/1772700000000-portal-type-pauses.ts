import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The kill switch per job type: a portal's work of one type paused (its jobs wait, its writes are
 * held), beside the pause of all its work (`portals.paused_at`). A row per paused type, with its
 * reason; few rows, read whole by every process.
 */
export class PortalTypePauses1772700000000 implements MigrationInterface {
  name = 'PortalTypePauses1772700000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE TABLE portal_type_pauses (
        portal_id uuid NOT NULL REFERENCES portals (id) ON DELETE CASCADE,
        job_type text NOT NULL,
        paused_at timestamptz NOT NULL DEFAULT now(),
        reason text NOT NULL,
        PRIMARY KEY (portal_id, job_type)
      )`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP TABLE portal_type_pauses`);
  }
}
