import { MigrationInterface, QueryRunner } from 'typeorm';

export class HubSpotIntegration1765000000000 implements MigrationInterface {
  name = 'HubSpotIntegration1765000000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      ALTER TABLE jobs
        ADD COLUMN priority text NOT NULL DEFAULT 'live' CHECK (priority IN ('live', 'bulk')),
        ADD COLUMN completes_workflow_step boolean NOT NULL DEFAULT false,
        ADD COLUMN workflow_step_settled_at timestamptz`);
    // The sweep for workflow steps whose completion never reached HubSpot reads only this small set.
    await db.query(`
      CREATE INDEX jobs_workflow_step_unsettled ON jobs (finished_at)
        WHERE completes_workflow_step AND workflow_step_settled_at IS NULL AND status IN ('succeeded', 'failed', 'cancelled')`);
    await db.query(`
      ALTER TABLE portals
        ADD COLUMN rate_limit_daily integer CHECK (rate_limit_daily > 0),
        ADD COLUMN property_mappings jsonb NOT NULL DEFAULT '{}'`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`ALTER TABLE portals DROP COLUMN property_mappings, DROP COLUMN rate_limit_daily`);
    await db.query(`DROP INDEX jobs_workflow_step_unsettled`);
    await db.query(`ALTER TABLE jobs DROP COLUMN workflow_step_settled_at, DROP COLUMN completes_workflow_step, DROP COLUMN priority`);
  }
}
