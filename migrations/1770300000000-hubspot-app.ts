import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The HubSpot app, installed and uninstalled:
 * - A portal may be paused, with the reason: its jobs wait and its writes are held until it
 *   resumes (an uninstall pauses it once; installing the app again, or an admin, resumes it).
 * - A job keeps the record properties its request carried (a custom action's `object.properties`),
 *   so its handler reads them without calling HubSpot.
 */
export class HubSpotApp1770300000000 implements MigrationInterface {
  name = 'HubSpotApp1770300000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`ALTER TABLE portals ADD COLUMN paused_at timestamptz, ADD COLUMN paused_reason text`);
    await db.query(`ALTER TABLE portals ADD CONSTRAINT portals_paused_with_reason CHECK ((paused_at IS NULL) = (paused_reason IS NULL))`);
    await db.query(`ALTER TABLE jobs ADD COLUMN object_properties jsonb`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`ALTER TABLE jobs DROP COLUMN object_properties`);
    await db.query(`ALTER TABLE portals DROP CONSTRAINT portals_paused_with_reason, DROP COLUMN paused_reason, DROP COLUMN paused_at`);
  }
}
