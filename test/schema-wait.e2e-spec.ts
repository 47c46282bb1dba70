import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'pg';
import { ensureDatabase, migrate } from '../src/database/migrate';
import { waitForSchema } from '../src/database/wait-for-schema';
import { isolate, Isolation, loggingErrors } from './support/offload-harness';

const ROOT = resolve(__dirname, '..');
const COMMAND = join(ROOT, 'dist/src/database/wait-for-schema.js');
const PG_ROOT = 'postgres://postgres@127.0.0.1:5432';
/** One migration per file in migrations/: what a migrated database has recorded. */
const MIGRATION_FILES = readdirSync(join(ROOT, 'migrations')).filter((file) => /\.ts$/.test(file));

/** A clock that moves only when the wait sleeps, and runs `onSleep` at each pause, as the migration Job would act meanwhile. */
function controllableClock(onSleep: (pause: number) => Promise<void> = async () => undefined) {
  let now = 0;
  const pauses: number[] = [];
  return {
    pauses,
    now: () => now,
    sleep: async (ms: number) => {
      pauses.push(ms);
      now += ms;
      await onSleep(pauses.length);
    },
  };
}

async function tableExists(databaseUrl: string, table: string): Promise<boolean> {
  const pg = loggingErrors(new Client({ connectionString: databaseUrl }), 'PostgreSQL');
  await pg.connect();
  try {
    return (await pg.query('SELECT to_regclass($1) IS NOT NULL AS present', [table])).rows[0].present;
  } finally {
    await pg.end();
  }
}

describe('waiting for the schema this build expects (the init container of the api and worker pods)', () => {
  let isolation: Isolation;
  let laterUrl: string;

  beforeAll(async () => {
    isolation = await isolate();
    laterUrl = `${isolation.databaseUrl}_later`;
  });

  afterAll(async () => {
    const pg = loggingErrors(new Client({ connectionString: `${PG_ROOT}/postgres` }), 'PostgreSQL');
    await pg.connect();
    await pg.query(`DROP DATABASE IF EXISTS "${new URL(laterUrl).pathname.slice(1)}" WITH (FORCE)`);
    await pg.end();
    await isolation?.cleanup();
  });

  it('is ready at once on a migrated database', async () => {
    const clock = controllableClock();
    await expect(waitForSchema(isolation.databaseUrl, { timeoutMs: 60_000, pollMs: 2_000, ...clock })).resolves.toEqual({ ready: true });
    expect(clock.pauses).toEqual([]);
  });

  it('waits while the database is missing, then while it lacks migrations, and is ready once the Job has migrated it', async () => {
    const reasons: string[] = [];
    const clock = controllableClock(async (pause) => {
      if (pause === 2) await ensureDatabase(laterUrl);
      if (pause === 4) await migrate(laterUrl);
    });
    const outcome = await waitForSchema(laterUrl, { timeoutMs: 60_000, pollMs: 2_000, ...clock, onWaiting: (reason) => reasons.push(reason) });
    expect(outcome).toEqual({ ready: true });
    expect(clock.pauses).toEqual([2_000, 2_000, 2_000, 2_000]);
    expect(reasons.slice(0, 2)).toEqual([expect.stringMatching(/cannot be read: .*does not exist/), expect.stringMatching(/cannot be read/)]);
    expect(reasons.slice(2)).toEqual([expect.stringContaining(`lacks ${MIGRATION_FILES.length} migration(s)`), expect.stringContaining('lacks')]);
  });

  it('gives up at the deadline naming the migrations still missing, and creates nothing in the database', async () => {
    const emptyUrl = `${isolation.databaseUrl}_empty`;
    await ensureDatabase(emptyUrl);
    try {
      const clock = controllableClock();
      const outcome = await waitForSchema(emptyUrl, { timeoutMs: 9_000, pollMs: 2_000, ...clock });
      expect(outcome).toEqual({ ready: false, reason: expect.stringContaining(`lacks ${MIGRATION_FILES.length} migration(s)`) });
      expect(clock.pauses).toEqual([2_000, 2_000, 2_000, 2_000, 1_000]);
      expect(await tableExists(emptyUrl, 'schema_migrations')).toBe(false);
    } finally {
      const pg = loggingErrors(new Client({ connectionString: `${PG_ROOT}/postgres` }), 'PostgreSQL');
      await pg.connect();
      await pg.query(`DROP DATABASE IF EXISTS "${new URL(emptyUrl).pathname.slice(1)}" WITH (FORCE)`);
      await pg.end();
    }
  });

  it('names the one migration a database lacks', async () => {
    const pg = loggingErrors(new Client({ connectionString: isolation.databaseUrl }), 'PostgreSQL');
    await pg.connect();
    const [newest] = (await pg.query('DELETE FROM schema_migrations WHERE id = (SELECT max(id) FROM schema_migrations) RETURNING *')).rows;
    try {
      const outcome = await waitForSchema(isolation.databaseUrl, { timeoutMs: 0, pollMs: 2_000, ...controllableClock() });
      expect(outcome).toEqual({ ready: false, reason: expect.stringMatching(new RegExp(`lacks 1 migration\\(s\\) this build ships: ${newest.name}$`)) });
    } finally {
      await pg.query('INSERT INTO schema_migrations (id, timestamp, name) VALUES ($1, $2, $3)', [newest.id, newest.timestamp, newest.name]);
      await pg.end();
    }
  });

  describe('the command in the image', () => {
    const run = (databaseUrl: string, args: string[]) =>
      promisify(execFile)(process.execPath, [COMMAND, ...args], { env: { ...process.env, DATABASE_URL: databaseUrl } }).then(
        ({ stdout }) => ({ code: 0, output: stdout }),
        (error: { code: number; stdout: string; stderr: string }) => ({ code: error.code, output: error.stdout + error.stderr }),
      );

    beforeAll(() => {
      if (!existsSync(COMMAND)) throw new Error(`${COMMAND} is missing: run npm run build first`);
    });

    it('exits 0 on a migrated database', async () => {
      await expect(run(isolation.databaseUrl, ['--timeout-seconds=0'])).resolves.toEqual({ code: 0, output: expect.stringContaining('Schema is at the version') });
    });

    it('exits 1 when the schema is not there by the timeout, saying why', async () => {
      await expect(run(`${PG_ROOT}/offload_never_created`, ['--timeout-seconds=0'])).resolves.toEqual({
        code: 1,
        output: expect.stringContaining('Gave up waiting for migrations: the database cannot be read'),
      });
    });

    it('refuses a timeout that is not a whole number of seconds', async () => {
      await expect(run(isolation.databaseUrl, ['--timeout-seconds=soon'])).resolves.toEqual({ code: 1, output: expect.stringContaining('--timeout-seconds') });
    });
  });
});
