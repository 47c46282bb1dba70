import { MigrationInterface, QueryRunner } from 'typeorm';

export class DropUnusedJobIndex1769000000000 implements MigrationInterface {
  name = 'DropUnusedJobIndex1769000000000';

  async up(db: QueryRunner): Promise<void> {
    // No query reads jobs by (portal_id, created_at), and a portal's cascade delete is served by the
    // (portal_id, idempotency_key) unique index. Every job writes three row versions (queued,
    // running, ended), each of which this index had to take.
    await db.query(`DROP INDEX jobs_portal_created`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`CREATE INDEX jobs_portal_created ON jobs (portal_id, created_at DESC)`);
  }
}
