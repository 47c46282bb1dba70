import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Safe write-back: dry runs, stale writes skipped, undo, staged rollouts and automatic pauses.
 *
 * - jobs: `dry_run` (compute and report the change, write nothing) and `writeback_report` (what the
 *   write did beyond the outputs: the properties skipped as stale, a dry run's change).
 * - writebacks: the handler type and version that made each write (rollouts, pauses and reverts are
 *   per version), `read_at` (HubSpot's last-modified time of the record as the job read it: a
 *   property changed after it is stale), `previous` (each property's value before the write, kept
 *   before it is sent: undo restores it), `skipped_stale`, `admitted` (counted against a rollout),
 *   and the revert that covers it. New statuses: `held` (waits for a rollout stage or the end of a
 *   pause; outside the claim's partial index, so a claim never meets it), `previewed` (a dry run's
 *   read) and `skipped` (every property was stale).
 * - writeback_releases: per portal, handler type and version, its rollout, dry-run-only setting,
 *   pause and revert; when HubSpot last refused one of its writes (its failure rate is judged
 *   while there are refusals); after a pause is released, only later writes are evidence
 *   (`judged_after`), and a drift an admin released is accepted.
 * - writeback_reverts: a revert and its progress.
 * - writeback_settings: per portal, whether records are read before they are written.
 */
export class SafeWriteback1771000000000 implements MigrationInterface {
  name = 'SafeWriteback1771000000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`ALTER TABLE jobs ADD COLUMN dry_run boolean NOT NULL DEFAULT false, ADD COLUMN writeback_report jsonb`);
    await db.query(`
      ALTER TABLE writebacks
        ADD COLUMN handler_type text,
        ADD COLUMN handler_version text,
        ADD COLUMN dry_run boolean NOT NULL DEFAULT false,
        ADD COLUMN read_at timestamptz,
        ADD COLUMN previous jsonb,
        ADD COLUMN skipped_stale jsonb NOT NULL DEFAULT '[]',
        ADD COLUMN admitted boolean NOT NULL DEFAULT false,
        ADD COLUMN revert_id bigint,
        ADD COLUMN revert_outcome text`);
    await db.query(`UPDATE writebacks w SET handler_type = j.type, handler_version = j.handler_version FROM jobs j WHERE j.id = w.job_id`);
    await db.query(`ALTER TABLE writebacks ALTER COLUMN handler_type SET NOT NULL, ALTER COLUMN handler_version SET NOT NULL`);
    await db.query(`ALTER TABLE writebacks DROP CONSTRAINT writebacks_status_check`);
    await db.query(`
      ALTER TABLE writebacks ADD CONSTRAINT writebacks_status_check
        CHECK (status IN ('pending', 'held', 'sent', 'written', 'superseded', 'skipped', 'previewed', 'refused', 'unconfirmed', 'failed', 'withdrawn'))`);
    // A version's latest writes, for its drift and failure rate, and its held writes, to release them in order.
    await db.query(`CREATE INDEX writebacks_version ON writebacks (portal_id, handler_type, handler_version, id)`);
    await db.query(`CREATE INDEX writebacks_held ON writebacks (portal_id, handler_type, handler_version, id) WHERE status = 'held'`);
    // A revert by time range finds the writes made in it; a revert in progress, the records it has left.
    await db.query(`CREATE INDEX writebacks_written ON writebacks (portal_id, settled_at) WHERE status = 'written'`);
    await db.query(`CREATE INDEX writebacks_reverting ON writebacks (revert_id, object_type, object_id) WHERE revert_outcome IS NULL AND revert_id IS NOT NULL`);
    await db.query(`
      CREATE TABLE writeback_releases (
        portal_id uuid NOT NULL REFERENCES portals(id) ON DELETE CASCADE,
        handler_type text NOT NULL,
        handler_version text NOT NULL,
        dry_run_only boolean NOT NULL DEFAULT false,
        rollout_stages integer[],
        rollout_stage integer NOT NULL DEFAULT 0,
        auto_release_after integer,
        admitted integer NOT NULL DEFAULT 0,
        clean integer NOT NULL DEFAULT 0,
        refused_at timestamptz,
        paused_at timestamptz,
        pause_reason jsonb,
        judged_after bigint NOT NULL DEFAULT 0,
        drift_accepted boolean NOT NULL DEFAULT false,
        reverted_at timestamptz,
        first_claim_at timestamptz,
        updated_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (portal_id, handler_type, handler_version)
      )`);
    await db.query(`
      CREATE TABLE writeback_reverts (
        id bigserial PRIMARY KEY,
        portal_id uuid NOT NULL REFERENCES portals(id) ON DELETE CASCADE,
        handler_type text,
        handler_version text,
        from_at timestamptz,
        to_at timestamptz,
        status text NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'done')),
        matched integer NOT NULL,
        records integer NOT NULL,
        restored integer NOT NULL DEFAULT 0,
        skipped integer NOT NULL DEFAULT 0,
        unrestorable integer NOT NULL DEFAULT 0,
        failed integer NOT NULL DEFAULT 0,
        withdrawn integer NOT NULL DEFAULT 0,
        run_by uuid,
        lease_until timestamptz,
        created_at timestamptz NOT NULL DEFAULT now(),
        finished_at timestamptz
      )`);
    await db.query(`CREATE INDEX writeback_reverts_running ON writeback_reverts (id) WHERE status = 'running'`);
    await db.query(`
      CREATE TABLE writeback_settings (
        portal_id uuid PRIMARY KEY REFERENCES portals(id) ON DELETE CASCADE,
        read_before_write boolean NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP TABLE writeback_settings`);
    await db.query(`DROP TABLE writeback_reverts`);
    await db.query(`DROP TABLE writeback_releases`);
    await db.query(`DROP INDEX writebacks_reverting`);
    await db.query(`DROP INDEX writebacks_written`);
    await db.query(`DROP INDEX writebacks_held`);
    await db.query(`DROP INDEX writebacks_version`);
    await db.query(`UPDATE writebacks SET status = 'pending' WHERE status = 'held'`);
    await db.query(`UPDATE writebacks SET status = 'written' WHERE status IN ('skipped', 'previewed')`);
    await db.query(`ALTER TABLE writebacks DROP CONSTRAINT writebacks_status_check`);
    await db.query(`
      ALTER TABLE writebacks ADD CONSTRAINT writebacks_status_check
        CHECK (status IN ('pending', 'sent', 'written', 'superseded', 'refused', 'unconfirmed', 'failed', 'withdrawn'))`);
    await db.query(`
      ALTER TABLE writebacks
        DROP COLUMN revert_outcome, DROP COLUMN revert_id, DROP COLUMN admitted, DROP COLUMN skipped_stale,
        DROP COLUMN previous, DROP COLUMN read_at, DROP COLUMN dry_run, DROP COLUMN handler_version, DROP COLUMN handler_type`);
    await db.query(`ALTER TABLE jobs DROP COLUMN writeback_report, DROP COLUMN dry_run`);
  }
}
