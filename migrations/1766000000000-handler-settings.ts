import { MigrationInterface, QueryRunner } from 'typeorm';

export class HandlerSettings1766000000000 implements MigrationInterface {
  name = 'HandlerSettings1766000000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE TABLE portal_handler_configs (
        portal_id uuid NOT NULL REFERENCES portals (id) ON DELETE CASCADE,
        handler_type text NOT NULL,
        config jsonb NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (portal_id, handler_type)
      )`);
    await db.query(`
      CREATE TABLE portal_secrets (
        portal_id uuid NOT NULL REFERENCES portals (id) ON DELETE CASCADE,
        name text NOT NULL CHECK (name ~ '^[A-Z][A-Z0-9_]{0,63}$'),
        value_enc text NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (portal_id, name)
      )`);
    // OAuth installs: the access token (hubspot_access_token_enc) expires; the refresh token renews it.
    await db.query(`
      ALTER TABLE portals
        ADD COLUMN hubspot_refresh_token_enc text,
        ADD COLUMN hubspot_token_expires_at timestamptz`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`ALTER TABLE portals DROP COLUMN hubspot_token_expires_at, DROP COLUMN hubspot_refresh_token_enc`);
    await db.query(`DROP TABLE portal_secrets`);
    await db.query(`DROP TABLE portal_handler_configs`);
  }
}
