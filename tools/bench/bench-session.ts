/**
 * What the focused benchmarks (bench:handlers, bench:writeback) share: integer flags, their own
 * database and Redis prefix, Offload started from dist/src/main.js, and cleanup on every way out.
 * Exit codes: 0 whatever the figures (a measurement), 1 when the run fails, 2 for bad flags, 130
 * when interrupted.
 */
import { Client } from 'pg';
import { HttpClient } from './http';
import { dispose, newIsolation, prepare } from './isolation';
import { ADMIN_TOKEN, OffloadProcesses } from './offload-processes';
import { Topology } from './options';

export interface FlagSpec {
  fallback: number;
  min: number;
  max: number;
}

export class FlagsError extends Error {}

/** `--name=value` integer flags within bounds, and `--topology=split|all`. */
export function parseFlags<K extends string>(argv: string[], spec: Record<K, FlagSpec>): Record<K, number> & { topology: Topology } {
  const given = new Map<string, string>();
  for (const arg of argv) {
    const match = /^--([a-z-]+)=(.+)$/.exec(arg);
    if (!match) throw new FlagsError(`unknown argument "${arg}" (flags look like --jobs=5000)`);
    given.set(match[1], match[2]);
  }
  const values = {} as Record<K, number> & { topology: Topology };
  for (const [name, { fallback, min, max }] of Object.entries(spec) as Array<[K, FlagSpec]>) {
    const flag = name.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`);
    const raw = given.get(flag);
    given.delete(flag);
    const value = raw === undefined ? fallback : Number(raw);
    if (!Number.isInteger(value) || value < min || value > max) throw new FlagsError(`--${flag} must be an integer from ${min} to ${max} (got "${raw}")`);
    values[name] = value as (typeof values)[K];
  }
  const topology = given.get('topology') ?? 'split';
  given.delete('topology');
  if (topology !== 'split' && topology !== 'all') throw new FlagsError(`--topology must be split or all (got "${topology}")`);
  values.topology = topology;
  const unknown = [...given.keys()];
  if (unknown.length > 0) throw new FlagsError(`unknown flag --${unknown[0]}`);
  return values;
}

export const log = (line: string) => process.stderr.write(`${line}\n`);

export interface BenchSession {
  servers: OffloadProcesses;
  db: Client;
  /** For admin and polling calls. */
  control: HttpClient;
  /** For the load itself. */
  load: HttpClient;
  shouldStop(): boolean;
  /** Registers a portal of its own for one part of the run. */
  newPortal(purpose: string, extra?: Record<string, unknown>): Promise<{ id: string; apiKey: string }>;
}

export interface SessionSetup<F> {
  name: string;
  usage: string;
  flags: (argv: string[]) => F;
  /** Starts what Offload talks to (simulators) and answers the extra environment Offload needs, and how to stop them. */
  dependencies(flags: F): Promise<{ env: Record<string, string>; close(): Promise<void> }>;
  run(session: BenchSession, flags: F): Promise<void>;
}

/** Runs a benchmark from the command line: flags, isolation, servers, cleanup, exit code. */
export async function runBenchSession<F extends { topology: Topology }>(setup: SessionSetup<F>): Promise<number> {
  const argv = process.argv.slice(2);
  if (argv.includes('--help')) {
    process.stdout.write(`${setup.usage}\n`);
    return 0;
  }
  let flags: F;
  try {
    flags = setup.flags(argv);
  } catch (error) {
    if (!(error instanceof FlagsError)) throw error;
    log(`${error.message}\n\n${setup.usage}`);
    return 2;
  }

  const isolation = newIsolation('postgres://postgres@127.0.0.1:5432', 'redis://127.0.0.1:6379/0');
  let dependencies: Awaited<ReturnType<SessionSetup<F>['dependencies']>> | undefined;
  let servers: OffloadProcesses | undefined;
  let db: Client | undefined;
  const clients: HttpClient[] = [];
  let stopRequested = false;
  let cleaning: Promise<void> | undefined;
  const cleanup = () =>
    (cleaning ??= (async () => {
      stopRequested = true;
      clients.forEach((client) => client.close());
      await Promise.allSettled([servers?.stop(), db?.end(), dependencies?.close()]);
      const problems = await dispose(isolation);
      for (const problem of problems) log(`cleanup: ${problem}`);
      if (problems.length === 0) log(`cleanup: dropped ${isolation.database}, deleted ${isolation.redisPrefix}:* keys`);
    })());
  const onSignal = (signal: NodeJS.Signals) => {
    log(`${signal}: stopping, cleaning up`);
    void cleanup().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  process.on('exit', () => servers?.killNow());

  try {
    log(`${setup.name}: database ${isolation.database}, Redis prefix ${isolation.redisPrefix}, topology ${flags.topology}`);
    await prepare(isolation);
    dependencies = await setup.dependencies(flags);
    servers = new OffloadProcesses(isolation, flags.topology, dependencies.env);
    await servers.start();
    log(`servers up: ${servers.processes.map((p) => `${p.name} pid ${p.child.pid} port ${p.port}`).join(', ')}`);
    db = new Client({ connectionString: isolation.databaseUrl });
    await db.connect();
    const control = new HttpClient(servers.apiUrl, 4);
    const load = new HttpClient(servers.apiUrl, 4);
    clients.push(control, load);
    const session: BenchSession = {
      servers,
      db,
      control,
      load,
      shouldStop: () => stopRequested,
      async newPortal(purpose, extra = {}) {
        const hubspotPortalId = 1 + Math.floor(Math.random() * 2_000_000_000);
        const created = await control.json('POST', '/v1/admin/portals', { hubspotPortalId, name: `bench ${purpose}`, ...extra }, ADMIN_TOKEN);
        if (created.status !== 201) throw new Error(`portal not created: ${created.status} ${JSON.stringify(created.body)}`);
        return created.body;
      },
    };
    await setup.run(session, flags);
    servers.assertAlive();
    return 0;
  } catch (error) {
    if (stopRequested) return 130;
    log(`benchmark failed: ${(error as Error).stack ?? error}`);
    return 1;
  } finally {
    await cleanup();
  }
}
