import { ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { envFor, Isolation } from './offload-harness';

/** The compiled entry point, as `npm start` runs it. */
export const MAIN_JS = join(__dirname, '..', '..', 'dist', 'src', 'main.js');

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface SpawnedOffload {
  child: ChildProcess;
  port: number | undefined;
  /** Everything written so far. */
  stdout(): string;
  stderr(): string;
  exited: Promise<Exit>;
  hasExited(): boolean;
}

const children = new Set<SpawnedOffload>();

/** How long a spawned process may take to answer: a bound on hangs only, as a busy machine boots it slowly. */
export const START_WITHIN_MS = 90_000;

/** A port nobody listens on right now. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** A complete, valid environment for a process of its own on the isolation's database and Redis prefix. */
export function validEnv(isolation: Isolation, port: number): Record<string, string> {
  return envFor(isolation, { ROLE: 'api', PORT: String(port) });
}

/**
 * Runs the compiled app with exactly this environment (plus PATH and HOME): nothing leaks in from
 * the test runner's own environment, so a variable left out is really unset.
 */
export function spawnOffload(env: Record<string, string | undefined>): SpawnedOffload {
  if (!existsSync(MAIN_JS)) throw new Error(`${MAIN_JS} is missing: compile the app (npx nest build) first`);
  const clean: Record<string, string> = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp' };
  for (const [name, value] of Object.entries(env)) if (value !== undefined) clean[name] = value;
  const child = spawn(process.execPath, [MAIN_JS], { env: clean, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  let done = false;
  child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
  child.stderr!.on('data', (chunk: Buffer) => (err += chunk.toString('utf8')));
  const exited = new Promise<Exit>((resolve) =>
    child.once('close', (code, signal) => {
      done = true;
      resolve({ code, signal });
    }),
  );
  const spawned: SpawnedOffload = {
    child,
    port: env.PORT === undefined ? undefined : Number(env.PORT),
    stdout: () => out,
    stderr: () => err,
    exited,
    hasExited: () => done,
  };
  children.add(spawned);
  void exited.then(() => children.delete(spawned));
  return spawned;
}

/** The exit, or undefined when the process is still running after ms. */
export async function exitWithin(spawned: SpawnedOffload, ms: number): Promise<Exit | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), ms)));
  try {
    return await Promise.race([spawned.exited, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export interface Reply {
  status: number;
  /** Parsed JSON, or the text when it is not JSON. */
  body: any;
}

/** One HTTP call, its body read to the end (an unread body would keep the connection busy). */
export async function call(url: string, init: RequestInit = {}): Promise<Reply> {
  const response = await fetch(url, { signal: AbortSignal.timeout(30_000), ...init });
  const text = await response.text();
  let body: unknown = text;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    // not JSON
  }
  return { status: response.status, body };
}

/** Polls GET path until it answers (any status), the process exits, or ms pass. */
export async function firstAnswer(spawned: SpawnedOffload, path: string, ms: number): Promise<Reply | undefined> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline && !spawned.hasExited()) {
    try {
      return await call(`http://127.0.0.1:${spawned.port}${path}`, { signal: AbortSignal.timeout(5_000) });
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  return undefined;
}

/** Kills one process (SIGKILL if it ignores SIGTERM) and waits for it to go. */
export async function stop(spawned: SpawnedOffload, graceMs = 5_000): Promise<Exit> {
  if (!spawned.hasExited()) {
    spawned.child.kill('SIGTERM');
    if ((await exitWithin(spawned, graceMs)) === undefined) spawned.child.kill('SIGKILL');
  }
  return spawned.exited;
}

/** Kills every process spawned here that is still running; for afterAll. */
export async function stopAll(): Promise<void> {
  await Promise.all([...children].map((spawned) => stop(spawned, 1_000)));
}
