import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Operations: what an operator did to jobs in bulk (retry, cancel, purge), who asked and why, in
 * `admin_actions`; and the indexes the operator's queries walk. Both indexes are partial, so the
 * jobs path pays for them only when a job fails or ends:
 * - ended jobs with an error (failed and cancelled ones), newest first, for the failure lists and
 *   bulk retries;
 * - ended jobs by end time, for the retention purge (JOB_RETENTION_DAYS).
 * Neither names `status` (nor any column a claim changes): a claim stays a HOT update.
 */
export class Operations1772000000000 implements MigrationInterface {
  name = 'Operations1772000000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE TABLE admin_actions (
        id bigserial PRIMARY KEY,
        actor text NOT NULL,
        action text NOT NULL,
        reason text,
        target jsonb NOT NULL,
        matched integer NOT NULL,
        done integer NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    await db.query(`CREATE INDEX admin_actions_created ON admin_actions (created_at DESC)`);
    await db.query(`CREATE INDEX jobs_failed ON jobs (created_at DESC, id DESC) WHERE finished_at IS NOT NULL AND error IS NOT NULL`);
    await db.query(`CREATE INDEX jobs_finished ON jobs (finished_at) WHERE finished_at IS NOT NULL`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP INDEX jobs_finished`);
    await db.query(`DROP INDEX jobs_failed`);
    await db.query(`DROP TABLE admin_actions`);
  }
}
