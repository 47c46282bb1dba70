import { Client } from 'pg';
import { DEFAULT_DATABASE_URL } from '../config/app-config';
import { dataSourceOptions, loadMigrations } from './data-source';

/** How long a pod's init container waits for the migration Job, and how often it looks. */
const DEFAULT_TIMEOUT_S = 600;
const POLL_MS = 2_000;

/** The names of the migrations this build ships, oldest first: what TypeORM records in the migrations table. */
export function shippedMigrations(): string[] {
  return loadMigrations().map((Migration) => new (Migration as new () => { name?: string })().name ?? Migration.name);
}

/**
 * The shipped migrations the database has not recorded. Only reads: the migrations table is
 * created by the migration Job, never here, so a wait running beside it cannot race its DDL.
 */
export async function pendingMigrations(databaseUrl: string, shipped = shippedMigrations()): Promise<string[]> {
  const table = dataSourceOptions(databaseUrl).migrationsTableName!;
  const client = new Client({ connectionString: databaseUrl, connectionTimeoutMillis: 5_000 });
  client.on('error', () => undefined); // a connection lost mid-query also rejects the query, which is what is reported
  await client.connect();
  try {
    const recorded = await client.query<{ name: string }>(`SELECT name FROM "${table}"`).then(
      (result) => new Set(result.rows.map((row) => row.name)),
      (error: { code?: string }) => {
        if (error.code === '42P01') return new Set<string>(); // no migrations table: nothing applied yet
        throw error;
      },
    );
    return shipped.filter((name) => !recorded.has(name));
  } finally {
    await client.end().catch(() => undefined);
  }
}

export interface SchemaWait {
  timeoutMs: number;
  pollMs: number;
  /** The clock and the pause between looks: real ones in the command, controllable ones in tests. */
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
  /** Told after each look that found the schema not ready yet. */
  onWaiting?: (reason: string) => void;
}

export type SchemaWaitOutcome = { ready: true } | { ready: false; reason: string };

/**
 * Waits until the database holds every migration this build ships (the schema version the code
 * expects), or the timeout passes. An unreachable or missing database counts as not ready yet:
 * the migration Job may still be creating it.
 */
export async function waitForSchema(databaseUrl: string, options: SchemaWait): Promise<SchemaWaitOutcome> {
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const shipped = shippedMigrations();
  const deadline = now() + options.timeoutMs;
  for (;;) {
    const reason = await pendingMigrations(databaseUrl, shipped).then(
      (pending) => (pending.length === 0 ? undefined : `the database lacks ${pending.length} migration(s) this build ships: ${pending.join(', ')}`),
      (error: Error) => `the database cannot be read: ${error.message}`,
    );
    if (reason === undefined) return { ready: true };
    if (now() >= deadline) return { ready: false, reason };
    options.onWaiting?.(reason);
    await sleep(Math.min(options.pollMs, Math.max(0, deadline - now())));
  }
}

/** `--timeout-seconds=N` from the command line, else the default. */
function timeoutSeconds(args: string[]): number {
  const raw = args.find((arg) => arg.startsWith('--timeout-seconds='))?.split('=')[1];
  if (raw === undefined) return DEFAULT_TIMEOUT_S;
  const seconds = Number(raw);
  if (!Number.isInteger(seconds) || seconds < 0) throw new Error(`--timeout-seconds must be a whole number of seconds (got "${raw}")`);
  return seconds;
}

/**
 * The init container of the api and worker pods: exits 0 once the migration Job has brought the
 * schema to this build's version, 1 when it has not within the timeout (Kubernetes then restarts
 * the init container, and the rollout waits).
 */
if (require.main === module) {
  const databaseUrl = process.env.DATABASE_URL?.trim() || DEFAULT_DATABASE_URL;
  let lastReason = '';
  Promise.resolve()
    .then(() =>
      waitForSchema(databaseUrl, {
        timeoutMs: timeoutSeconds(process.argv.slice(2)) * 1000,
        pollMs: POLL_MS,
        onWaiting: (reason) => {
          if (reason !== lastReason) console.log(`Waiting for migrations: ${reason}`);
          lastReason = reason;
        },
      }),
    )
    .then(
      (outcome) => {
        if (outcome.ready) return console.log('Schema is at the version this build expects');
        console.error(`Gave up waiting for migrations: ${outcome.reason}`);
        process.exitCode = 1;
      },
      (error: Error) => {
        console.error(`Cannot wait for migrations: ${error.message}`);
        process.exitCode = 1;
      },
    );
}
