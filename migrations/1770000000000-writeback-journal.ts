import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Write-back becomes a stage of its own. A run that succeeds records its outputs and, in the same
 * statement, the write they make to the job's record: the job is then `writing` and its worker slot
 * is free. Writers send the journal's pending writes in batch calls within each portal's budget;
 * a write is marked `sent` (leased to its writer) before its call and settled after it, which ends
 * the job. A lease that lapses (its writer died) puts the write back as pending with `verify` set:
 * the record is read back before anything is sent again.
 *
 * One row per job write, keyed by its own id: a job put back in the queue writes again, and the
 * journal keeps both. `properties` holds the intents (property -> value); `superseded` the ones
 * left out because a later job's write set them, so the journal shows both jobs' values.
 */
export class WritebackJournal1770000000000 implements MigrationInterface {
  name = 'WritebackJournal1770000000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`ALTER TABLE jobs DROP CONSTRAINT jobs_status_check`);
    await db.query(`
      ALTER TABLE jobs ADD CONSTRAINT jobs_status_check
        CHECK (status IN ('queued', 'running', 'writing', 'succeeded', 'failed', 'cancelled'))`);
    await db.query(`ALTER TABLE jobs DROP CONSTRAINT jobs_finished_exactly_when_ended`);
    await db.query(`
      ALTER TABLE jobs ADD CONSTRAINT jobs_finished_exactly_when_ended
        CHECK ((finished_at IS NULL) = (status IN ('queued', 'running', 'writing')))`);
    await db.query(`
      CREATE TABLE writebacks (
        id bigserial PRIMARY KEY,
        job_id uuid NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
        portal_id uuid NOT NULL,
        object_type text NOT NULL,
        object_id text NOT NULL,
        priority text NOT NULL,
        job_order timestamptz NOT NULL,
        properties jsonb NOT NULL,
        status text NOT NULL DEFAULT 'pending'
          CHECK (status IN ('pending', 'sent', 'written', 'superseded', 'refused', 'unconfirmed', 'failed', 'withdrawn')),
        verify boolean NOT NULL DEFAULT false,
        superseded jsonb NOT NULL DEFAULT '[]',
        sends integer NOT NULL DEFAULT 0,
        unanswered integer NOT NULL DEFAULT 0,
        next_attempt_at timestamptz NOT NULL DEFAULT now(),
        sent_by uuid,
        lease_until timestamptz,
        error jsonb,
        created_at timestamptz NOT NULL DEFAULT now(),
        sent_at timestamptz,
        settled_at timestamptz
      )`);
    await db.query(`CREATE INDEX writebacks_job ON writebacks (job_id)`);
    // What a writer claims: a portal's due writes of one object type and priority, oldest first.
    await db.query(`CREATE INDEX writebacks_due ON writebacks (portal_id, object_type, priority, next_attempt_at, id) WHERE status = 'pending'`);
    // Every write to a record, in job order: for later jobs' writes already made.
    await db.query(`CREATE INDEX writebacks_record ON writebacks (portal_id, object_type, object_id, job_order)`);
    // The writes on their way, by record: a claim skips records that have one. Partial, so that even a
    // plan made before the table has statistics scans only the few writes in flight, not the journal.
    await db.query(`CREATE INDEX writebacks_in_flight ON writebacks (portal_id, object_type, object_id) WHERE status = 'sent'`);
    await db.query(`CREATE INDEX writebacks_leases ON writebacks (lease_until) WHERE status = 'sent'`);
    await db.query(`CREATE INDEX writebacks_writer ON writebacks (sent_by) WHERE status = 'sent'`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP TABLE writebacks`);
    await db.query(`UPDATE jobs SET status = 'running' WHERE status = 'writing'`);
    await db.query(`ALTER TABLE jobs DROP CONSTRAINT jobs_finished_exactly_when_ended`);
    await db.query(`
      ALTER TABLE jobs ADD CONSTRAINT jobs_finished_exactly_when_ended
        CHECK ((finished_at IS NULL) = (status IN ('queued', 'running')))`);
    await db.query(`ALTER TABLE jobs DROP CONSTRAINT jobs_status_check`);
    await db.query(`
      ALTER TABLE jobs ADD CONSTRAINT jobs_status_check
        CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled'))`);
  }
}
