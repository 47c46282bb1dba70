import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
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
  /** Stops the server and deletes the cluster; for afterAll. */
  drop(): Promise<void>;
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
      await run('pg_ctlcluster', [VERSION, name, 'start']);
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
