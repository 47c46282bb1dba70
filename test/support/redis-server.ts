import { ChildProcess, spawn } from 'node:child_process';
import { freePort } from './spawned-offload';

/**
 * A Redis server of a test's own, on a port of its own, without persistence: a test may configure
 * it as it likes (an eviction policy, commands disabled), stop it and start it again empty. The
 * shared Redis is never touched.
 */
export interface RedisServer {
  port: number;
  /** redis://127.0.0.1:<port>/0 */
  url: string;
  /** Stops the server (SIGKILL: as a crash would); start() brings up a new, empty one on the same port. */
  stop(): Promise<void>;
  start(): Promise<void>;
}

/** How long redis-server may take to listen: a bound on hangs only. */
const LISTEN_WITHIN_MS = 15_000;

export async function startRedisServer(options: string[] = []): Promise<RedisServer> {
  const port = await freePort();
  let child: ChildProcess | undefined;

  const start = async () => {
    const server = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', ...options], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child = server;
    let output = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`redis-server did not listen within ${LISTEN_WITHIN_MS} ms: ${output}`)), LISTEN_WITHIN_MS);
      const done = (error?: Error) => {
        clearTimeout(timer);
        server.stdout!.removeAllListeners('data');
        server.stdout!.resume();
        server.stderr!.resume();
        if (error) reject(error);
        else resolve();
      };
      server.once('error', done);
      server.once('exit', (code) => done(new Error(`redis-server exited (${code}) before it listened: ${output}`)));
      server.stdout!.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        if (output.includes('Ready to accept connections')) {
          server.removeAllListeners('exit');
          done();
        }
      });
    });
  };

  const stop = async () => {
    const server = child;
    child = undefined;
    if (!server || server.exitCode !== null || server.signalCode !== null) return;
    const exited = new Promise((resolve) => server.once('exit', resolve));
    server.kill('SIGKILL');
    await exited;
  };

  await start();
  return { port, url: `redis://127.0.0.1:${port}/0`, stop, start };
}
