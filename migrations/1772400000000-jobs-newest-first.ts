import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Jobs newest first, for the operator's listings (GET /v1/admin/jobs, the CLI, /ops). Without it a
 * listing sorts the whole table: 0.2 s at 200,000 jobs, seconds at millions (npm run bench:scale).
 * A listing filtered by type or status walks it and skips; one filtered by portal walks it too,
 * or, for a portal with few jobs, reads them through the idempotency key's index. created_at only
 * grows, so entries land on the index's last page, and a claim, which leaves created_at alone,
 * stays a HOT update.
 *
 * Built CONCURRENTLY, outside a transaction: on a large table a plain build would block every
 * enqueue for as long as it takes. A build that failed half-way leaves an invalid index, dropped
 * here before the next try.
 */
export class JobsNewestFirst1772400000000 implements MigrationInterface {
  name = 'JobsNewestFirst1772400000000';
  transaction = false;

  async up(db: QueryRunner): Promise<void> {
    await db.query(`DROP INDEX CONCURRENTLY IF EXISTS jobs_created`);
    await db.query(`CREATE INDEX CONCURRENTLY jobs_created ON jobs (created_at DESC, id DESC)`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP INDEX CONCURRENTLY IF EXISTS jobs_created`);
  }
}
