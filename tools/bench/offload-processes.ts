import { ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { HttpClient } from './http';
import { Isolation } from './isolation';
import { Topology } from './options';

/** How many processes of each role: for measuring how throughput grows with them (bench:scale). */
export interface ProcessCounts {
  api: number;
  worker: number;
}
import type { PreloadReply, PreloadRequest, TimingSummary } from './server-preload';

export const ADMIN_TOKEN = 'bench-admin-token-0123456789abcdef';
export const ENCRYPTION_KEY = 'b'.repeat(64);

const MAIN = join(__dirname, '..', '..', 'src', 'main.js');
const PRELOAD = join(__dirname, 'server-preload.js');
const READY_TIMEOUT_MS = 60_000;
const STOP_GRACE_MS = 8_000;

export interface ServerProcess {
  name: string;
  role: 'api' | 'worker' | 'all';
  port: number;
  child: ChildProcess;
  /** The last lines the process wrote, for error reports. */
  tail: string[];
  /** Warnings and errors it logged, by message (digits and ids folded), with counts. */
  warnings: Map<string, number>;
  exit?: { code: number | null; signal: NodeJS.Signals | null };
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function foldMessage(message: string): string {
  return message
    .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi, '<id>')
    .replace(/\d+/g, 'N')
    .slice(0, 200);
}

/**
 * The Offload processes under test, started from the compiled dist/src/main.js exactly as `npm
 * start` would, each with its own port, all on the benchmark's database and Redis prefix.
 */
export class OffloadProcesses {
  readonly processes: ServerProcess[] = [];
  private stopping?: Promise<void>;

  constructor(
    private readonly isolation: Isolation,
    private readonly topology: Topology | ProcessCounts,
    private readonly extraEnv: Record<string, string> = {},
    /** The compiled entry point: this checkout's unless another build's is to be measured. */
    private readonly main = MAIN,
  ) {}

  /** Where the HTTP API answers. */
  get apiUrl(): string {
    return this.apiUrls[0];
  }

  /** Where every process that serves the API answers. */
  get apiUrls(): string[] {
    const urls = this.processes.filter((p) => p.role !== 'worker').map((p) => `http://127.0.0.1:${p.port}`);
    if (urls.length === 0) throw new Error('no API process');
    return urls;
  }

  pids(role?: ServerProcess['role']): number[] {
    return this.processes.filter((p) => !role || p.role === role).map((p) => p.child.pid!).filter(Boolean);
  }

  async start(): Promise<void> {
    if (!existsSync(this.main)) throw new Error(`${this.main} is missing: build first (npm run build)`);
    const counts = this.topology === 'all' ? undefined : this.topology === 'split' ? { api: 1, worker: 1 } : this.topology;
    const roles: Array<ServerProcess['role']> = counts ? [...Array(counts.api).fill('api'), ...Array(counts.worker).fill('worker')] : ['all'];
    for (const [index, role] of roles.entries()) {
      const sameRoleBefore = roles.slice(0, index).filter((r) => r === role).length;
      this.processes.push(this.spawn(role, sameRoleBefore === 0 ? role : `${role}-${sameRoleBefore + 1}`, await freePort()));
    }
    await Promise.all(this.processes.map((p) => this.waitReady(p)));
  }

  private spawn(role: ServerProcess['role'], name: string, port: number): ServerProcess {
    // What the benchmark's own environment says of these must not leak in; the benchmark sets them when it needs them.
    const inherited: NodeJS.ProcessEnv = { ...process.env };
    for (const name of ['KAFKA_BROKERS', 'PUBLIC_BASE_URL', 'HUBSPOT_BASE_URL', 'RECONCILE_INTERVAL_MS']) delete inherited[name];
    const env: NodeJS.ProcessEnv = {
      ...inherited,
      ROLE: role,
      PORT: String(port),
      DATABASE_URL: this.isolation.databaseUrl,
      REDIS_URL: this.isolation.redisUrl,
      REDIS_PREFIX: this.isolation.redisPrefix,
      ADMIN_TOKEN,
      ENCRYPTION_KEY,
      LOG_LEVEL: 'warn',
      SHUTDOWN_GRACE_MS: '3000',
      NODE_ENV: 'production',
      ...this.extraEnv,
    };
    const child = spawn(process.execPath, ['--require', PRELOAD, this.main], { env, stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
    const server: ServerProcess = { name, role, port, child, tail: [], warnings: new Map() };
    const onLine = (line: string) => {
      if (line.startsWith('(Use `node --trace-warnings')) return;
      server.tail.push(line);
      if (server.tail.length > 40) server.tail.shift();
      let message = line;
      try {
        const entry = JSON.parse(line) as { level?: number; msg?: string; err?: { message?: string } };
        if (typeof entry.level === 'number' && entry.level < 40) return;
        message = `${entry.msg ?? ''}${entry.err?.message ? `: ${entry.err.message}` : ''}`;
      } catch {
        // not a log line of pino: count it as it is
      }
      const key = foldMessage(message);
      if (server.warnings.size < 50 || server.warnings.has(key)) server.warnings.set(key, (server.warnings.get(key) ?? 0) + 1);
    };
    createInterface({ input: child.stdout! }).on('line', onLine);
    createInterface({ input: child.stderr! }).on('line', onLine);
    child.on('exit', (code, signal) => (server.exit = { code, signal }));
    child.on('error', (error) => onLine(`spawn error: ${error.message}`));
    return server;
  }

  private async waitReady(server: ServerProcess): Promise<void> {
    const client = new HttpClient(`http://127.0.0.1:${server.port}`, 1);
    const deadline = Date.now() + READY_TIMEOUT_MS;
    try {
      for (;;) {
        if (server.exit) {
          throw new Error(`Offload ${server.name} exited during start-up (${server.exit.code ?? server.exit.signal}):\n${server.tail.join('\n')}`);
        }
        const answer = await client.json('GET', '/health/ready', undefined, undefined, 2_000).catch(() => undefined);
        if (answer?.status === 200) return;
        if (Date.now() > deadline) throw new Error(`Offload ${server.name} not ready within ${READY_TIMEOUT_MS} ms:\n${server.tail.join('\n')}`);
        await sleep(200);
      }
    } finally {
      client.close();
    }
  }

  /** Fails when a server has died: figures from a half-dead system would mislead. */
  assertAlive(): void {
    const dead = this.processes.find((p) => p.exit);
    if (dead) throw new Error(`Offload ${dead.name} exited (${dead.exit!.code ?? dead.exit!.signal}):\n${dead.tail.join('\n')}`);
  }

  private ask(server: ServerProcess, request: PreloadRequest, expect: PreloadReply['kind']): Promise<PreloadReply> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        server.child.off('message', onMessage);
        reject(new Error(`${server.name}: no answer to ${request.kind}`));
      }, 30_000);
      const onMessage = (reply: PreloadReply) => {
        if (reply.kind !== expect && reply.kind !== 'profile-error') return;
        clearTimeout(timer);
        server.child.off('message', onMessage);
        if (reply.kind === 'profile-error') reject(new Error(`${server.name}: ${reply.message}`));
        else resolve(reply);
      };
      server.child.on('message', onMessage);
      server.child.send(request);
    });
  }

  async startProfiles(): Promise<void> {
    await Promise.all(this.processes.map((p) => this.ask(p, { kind: 'profile-start' }, 'profile-started')));
  }

  /** Stops the profiles and answers [process name, file] for each. */
  async stopProfiles(directory: string, phase: string): Promise<Array<[string, string]>> {
    return Promise.all(
      this.processes.map(async (p): Promise<[string, string]> => {
        const path = join(directory, `${phase}.${p.name}.cpuprofile`);
        await this.ask(p, { kind: 'profile-stop', path }, 'profile-written');
        return [p.name, path];
      }),
    );
  }

  async resetTimings(): Promise<void> {
    await Promise.all(this.processes.map((p) => this.ask(p, { kind: 'timings-reset' }, 'timings-reset')));
  }

  async reportTimings(): Promise<Array<[string, TimingSummary[]]>> {
    return Promise.all(
      this.processes.map(async (p): Promise<[string, TimingSummary[]]> => {
        const reply = await this.ask(p, { kind: 'timings-report' }, 'timings');
        return [p.name, reply.kind === 'timings' ? reply.timings : []];
      }),
    );
  }

  /** SIGTERM (graceful shutdown), then SIGKILL whatever is still there after a grace period. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      const running = this.processes.filter((p) => !p.exit);
      for (const p of running) p.child.kill('SIGTERM');
      const deadline = Date.now() + STOP_GRACE_MS;
      while (running.some((p) => !p.exit) && Date.now() < deadline) await sleep(50);
      for (const p of running) if (!p.exit) p.child.kill('SIGKILL');
      while (running.some((p) => !p.exit) && Date.now() < deadline + 2_000) await sleep(50);
    })();
    return this.stopping;
  }

  /** Last resort, synchronous (from an exit handler). */
  killNow(): void {
    for (const p of this.processes) if (!p.exit) p.child.kill('SIGKILL');
  }
}
