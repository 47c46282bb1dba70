import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { Cluster } from 'ioredis';
import { loggingErrors } from './offload-harness';
import { freePort } from './spawned-offload';

const run = promisify(execFile);

/** How long the cluster may take to serve every slot: a bound on hangs only. */
const READY_WITHIN_MS = 30_000;

/**
 * A Redis Cluster of a test's own: three masters on ports of their own, without replicas or
 * persistence, their files in a temporary directory. The shared Redis is never touched.
 */
export interface RedisCluster {
  ports: number[];
  /** host:port of every master, comma-separated, as REDIS_CLUSTER_NODES takes them. */
  nodes: string;
  /** A cluster client of the test's own, connected (it knows every node); stop() closes it. */
  client(): Promise<Cluster>;
  /** Shuts the servers down (by their pid when they do not answer) and deletes their directory. */
  stop(): Promise<void>;
}

export async function startRedisCluster(masters = 3): Promise<RedisCluster> {
  const dir = await mkdtemp(join(tmpdir(), 'offload-redis-cluster-'));
  const ports: number[] = [];
  const clients: Cluster[] = [];
  const cli = (port: number, ...args: string[]) => run('redis-cli', ['-p', String(port), ...args]);

  const stop = async () => {
    await Promise.all(clients.splice(0).map((client) => client.quit().catch(() => client.disconnect())));
    await Promise.all(
      ports.map(async (port) => {
        const pid = Number(await readFile(join(dir, `redis-${port}.pid`), 'utf8').catch(() => ''));
        const answered = await cli(port, 'shutdown', 'nosave').then(
          () => true,
          () => false,
        );
        if (!answered && pid > 0) {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            // gone already
          }
        }
      }),
    );
    await rm(dir, { recursive: true, force: true });
  };

  try {
    for (let i = 0; i < masters; i++) {
      const port = await freePort();
      ports.push(port);
      // --daemonize yes returns once the server listens; its pid file says whom to kill.
      await run('redis-server', [
        '--port', String(port),
        '--bind', '127.0.0.1',
        '--cluster-enabled', 'yes',
        '--cluster-config-file', join(dir, `nodes-${port}.conf`),
        '--save', '',
        '--appendonly', 'no',
        '--daemonize', 'yes',
        '--pidfile', join(dir, `redis-${port}.pid`),
        '--logfile', join(dir, `redis-${port}.log`),
        '--dir', dir,
      ]);
    }
    await untilAnswers(() => Promise.all(ports.map((port) => cli(port, 'ping'))));
    await run('redis-cli', ['--cluster', 'create', ...ports.map((port) => `127.0.0.1:${port}`), '--cluster-replicas', '0', '--cluster-yes']);
    await untilAnswers(async () => {
      for (const port of ports) {
        if (!(await cli(port, 'cluster', 'info')).stdout.includes('cluster_state:ok')) throw new Error(`node ${port}: cluster_state not ok`);
      }
    });
  } catch (error) {
    await stop();
    throw error;
  }

  return {
    ports,
    nodes: ports.map((port) => `127.0.0.1:${port}`).join(','),
    async client() {
      const client = loggingErrors(new Cluster(ports.map((port) => ({ host: '127.0.0.1', port }))), 'Redis Cluster');
      clients.push(client);
      await client.ping();
      return client;
    },
    stop,
  };
}

async function untilAnswers(probe: () => Promise<unknown>): Promise<void> {
  const deadline = Date.now() + READY_WITHIN_MS;
  for (;;) {
    try {
      await probe();
      return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await sleep(100);
    }
  }
}
