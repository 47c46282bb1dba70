import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './spawned-offload';

const run = promisify(execFile);
const VERSION = '15';

/**
 * A PostgreSQL cluster of a test's own (Debian's pg_createcluster), on a port of its own, that the
 * test may stop and start as a real outage: every connection dropped, nothing listening, then a
 * server that comes back with its data. The shared cluster is never touched.
 */
export interface PgCluster {
  name: string;
  port: number;
  /** The server's URL, without a database: postgres://postgres@127.0.0.1:<port>. */
  url: string;
  /** Stops the server at once, as a crash would (no shutdown checkpoint, clients cut). */
  crash(): Promise<void>;
  start(): Promise<void>;
  /**
   * Starts the server held in recovery (a standby that never gets WAL, hot standby off): it runs,
   * but refuses every connection with 57P03, "the database system is not accepting connections",
   * as a server does while it starts up. start() afterwards brings it up as it was.
   */
  startRecovering(): Promise<void>;
  /** Stops the server and deletes the cluster; for afterAll. */
  drop(): Promise<void>;
}

/** The file whose presence starts the server as a standby. */
async function standbySignal(name: string): Promise<string> {
  const { stdout } = await run('pg_lsclusters', ['--no-header', VERSION, name]);
  // version, cluster, port, status, owner, data directory, log file
  return join(stdout.trim().split(/\s+/)[5], 'standby.signal');
}

export async function createPgCluster(): Promise<PgCluster> {
  const name = `offload_test_${randomBytes(4).toString('hex')}`;
  const port = await freePort();
  await run('pg_createcluster', [VERSION, name, '-p', String(port), '--', '--auth=trust']);
  const cluster: PgCluster = {
    name,
    port,
    url: `postgres://postgres@127.0.0.1:${port}`,
    crash: async () => {
      await run('pg_ctlcluster', [VERSION, name, 'stop', '-m', 'immediate']);
    },
    start: async () => {
      if (await run('pg_ctlcluster', [VERSION, name, 'status']).then(() => true, () => false)) {
        await run('pg_ctlcluster', [VERSION, name, 'stop', '-m', 'fast']);
      }
      await rm(await standbySignal(name), { force: true });
      await run('pg_ctlcluster', [VERSION, name, 'start']);
    },
    startRecovering: async () => {
      const signal = await standbySignal(name);
      await writeFile(signal, '');
      await run('chown', ['postgres:postgres', signal]);
      // pg_ctl counts a standby as started; its start-up check of the cluster fails, and says so on stderr.
      await run('pg_ctlcluster', [VERSION, name, 'start', '--', '-o', '-c hot_standby=off']);
    },
    drop: async () => {
      await run('pg_dropcluster', [VERSION, name, '--stop']);
    },
  };
  try {
    await cluster.start();
  } catch (error) {
    await cluster.drop().catch(() => undefined);
    throw error;
  }
  return cluster;
}
