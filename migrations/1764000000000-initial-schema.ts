import { MigrationInterface, QueryRunner } from 'typeorm';

export class InitialSchema1764000000000 implements MigrationInterface {
  name = 'InitialSchema1764000000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE TABLE portals (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        hubspot_portal_id bigint NOT NULL UNIQUE,
        name text NOT NULL,
        hubspot_access_token_enc text,
        rate_limit_per_10s integer CHECK (rate_limit_per_10s > 0),
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    await db.query(`
      CREATE TABLE api_keys (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        portal_id uuid NOT NULL REFERENCES portals(id) ON DELETE CASCADE,
        key_hash char(64) NOT NULL UNIQUE,
        key_prefix text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        revoked_at timestamptz
      )`);
    await db.query(`CREATE INDEX api_keys_portal ON api_keys (portal_id)`);
    await db.query(`
      CREATE TABLE jobs (
        id uuid PRIMARY KEY,
        portal_id uuid NOT NULL REFERENCES portals(id) ON DELETE CASCADE,
        type text NOT NULL,
        handler_version text NOT NULL,
        status text NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
        idempotency_key text NOT NULL,
        request_hash char(64) NOT NULL,
        input jsonb NOT NULL,
        output jsonb,
        error jsonb,
        object_type text,
        object_id text,
        callback_id text,
        writeback boolean NOT NULL DEFAULT false,
        attempts integer NOT NULL DEFAULT 0,
        max_attempts integer NOT NULL,
        trace_id char(32) NOT NULL,
        span_id char(16) NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        started_at timestamptz,
        finished_at timestamptz,
        run_deadline_at timestamptz,
        CONSTRAINT jobs_portal_idempotency_key UNIQUE (portal_id, idempotency_key)
      )`);
    // The reconciler scans only live jobs; the partial index keeps that scan small however many jobs have ended.
    await db.query(`CREATE INDEX jobs_live ON jobs (updated_at) WHERE status IN ('queued', 'running')`);
    await db.query(`CREATE INDEX jobs_portal_created ON jobs (portal_id, created_at DESC)`);
    await db.query(`
      CREATE TABLE outbox_events (
        id bigserial PRIMARY KEY,
        topic text NOT NULL,
        key text NOT NULL,
        payload jsonb NOT NULL,
        headers jsonb NOT NULL DEFAULT '{}',
        created_at timestamptz NOT NULL DEFAULT now(),
        published_at timestamptz
      )`);
    await db.query(`CREATE INDEX outbox_events_unpublished ON outbox_events (id) WHERE published_at IS NULL`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP TABLE outbox_events`);
    await db.query(`DROP TABLE jobs`);
    await db.query(`DROP TABLE api_keys`);
    await db.query(`DROP TABLE portals`);
  }
}
