import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Names the run that holds a running job. A claim sets it; a job still held (its run deadline not
 * passed) cannot be claimed again, and only the run that holds a job may record how it ended. No
 * index covers it, so the claim stays a HOT update.
 */
export class RunHolders1769800000000 implements MigrationInterface {
  name = 'RunHolders1769800000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`ALTER TABLE jobs ADD COLUMN run_id uuid`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`ALTER TABLE jobs DROP COLUMN run_id`);
  }
}
