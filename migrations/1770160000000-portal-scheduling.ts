import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A portal's share of the workers: its weight against other portals with waiting jobs (1 by
 * default), and how many of its runs of one job type may go at once across every worker (NULL: no
 * limit but the fair share).
 */
export class PortalScheduling1770160000000 implements MigrationInterface {
  name = 'PortalScheduling1770160000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`ALTER TABLE portals ADD COLUMN scheduling_weight integer NOT NULL DEFAULT 1 CHECK (scheduling_weight >= 1)`);
    await db.query(`ALTER TABLE portals ADD COLUMN scheduling_max_concurrency integer CHECK (scheduling_max_concurrency >= 1)`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`ALTER TABLE portals DROP COLUMN scheduling_max_concurrency, DROP COLUMN scheduling_weight`);
  }
}
