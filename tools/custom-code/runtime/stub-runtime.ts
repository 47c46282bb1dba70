import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { extname, join } from 'node:path';
import { MAX_STRING_OUTPUT } from '../../../src/registry/handler-registry';
import { HUBSPOT_STEP_LIMIT_MS } from '../stubs/stub-spec';
import { EVENT_FILE, HOST_FILE, HostResult, JAVASCRIPT_HOST, PYTHON_HOST, STUB_FILE } from './hosts';

/** HubSpot's limits for one run of a custom code action. */
export const DEFAULT_LIMITS = { timeoutMs: HUBSPOT_STEP_LIMIT_MS, memoryMb: 128 } as const;
/** HubSpot takes at most this many characters of secret values in all. */
export const MAX_SECRET_CHARACTERS = 1_000;

const SECRET_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const MEMORY_POLL_MS = 20;
const MAX_LOG_CHARACTERS = 64 * 1024;

export type StubRuntimeLanguage = 'javascript' | 'python';

export interface RunStubOptions {
  /** The stub's file: .js for Node.js, .py for Python. */
  file: string;
  event: unknown;
  /** The action's secrets; the stub's process sees these and no other environment variable. */
  secrets?: Record<string, string>;
  timeoutMs?: number;
  memoryMb?: number;
  /** The Python interpreter (default: python3 on PATH). */
  python?: string;
}

export type StubOutcome = 'returned' | 'threw' | 'timed-out' | 'out-of-memory' | 'crashed';

export interface StubError {
  name: string;
  message: string;
  /** The HTTP status the error carries, as HubSpot reads it (axios, @hubspot/api-client, requests). */
  status?: number;
  /** Whether HubSpot would run the step again later: only a thrown 429 or 5xx error is retried. */
  retryable: boolean;
  stack?: string;
}

export interface StubRunReport {
  file: string;
  language: StubRuntimeLanguage;
  runtime: string;
  outcome: StubOutcome;
  /** The stub returned outputs the way HubSpot's current runtimes take them, and nothing is wrong with them. */
  ok: boolean;
  outputFields?: Record<string, unknown>;
  error?: StubError;
  /** The code uses the callback style (exports.main = (event, callback) => ...), which Node.js 24 no longer runs. */
  callbackStyle: boolean;
  /** What HubSpot would refuse in what the stub returned. */
  problems: string[];
  /** What the stub printed (console.log, print), standard output then standard error. */
  logs: string;
  /** How long main ran (or, for a stopped run, how long the process lived). */
  durationMs: number;
  /** Peak resident memory of the stub's process. */
  peakMemoryMb: number;
  limits: { timeoutMs: number; memoryMb: number };
}

/** HubSpot's rule for a thrown error: a 429 or a 5xx makes it run the step again later. */
export function hubspotRetries(status: number | undefined): boolean {
  return status === 429 || (status !== undefined && status >= 500 && status <= 599);
}

export function languageOf(file: string): StubRuntimeLanguage {
  const extension = extname(file);
  if (extension === '.js') return 'javascript';
  if (extension === '.py') return 'python';
  throw new Error(`${file}: a stub is a .js (Node.js) or .py (Python) file`);
}

/** Refuses what HubSpot's secrets editor would not take, before anything runs. */
export function checkSecrets(secrets: Record<string, string>): void {
  for (const name of Object.keys(secrets)) {
    if (!SECRET_NAME.test(name)) throw new Error(`secret name "${name}" must be letters, digits and _, not starting with a digit`);
  }
  const total = Object.values(secrets).reduce((sum, value) => sum + value.length, 0);
  if (total > MAX_SECRET_CHARACTERS) {
    throw new Error(`the secrets' values hold ${total} characters; HubSpot takes at most ${MAX_SECRET_CHARACTERS} in all`);
  }
}

const interpreters = new Map<string, { path: string; version: string }>();

/** The interpreter's real path and version: the stub runs with no environment, so not through a PATH shim. */
function findPython(command = 'python3'): { path: string; version: string } {
  let found = interpreters.get(command);
  if (!found) {
    const script = 'import sys; print(sys.executable); print(sys.version.split()[0])';
    const [path, version] = execFileSync(command, ['-c', script], { encoding: 'utf8' }).trim().split('\n');
    found = { path, version };
    interpreters.set(command, found);
  }
  return found;
}

/**
 * Runs a stub the way HubSpot runs a custom code action: main(event) in a process of its own, with
 * the secrets as its only environment, a fresh working folder (deleted afterwards), and HubSpot's
 * time and memory limits (both may be lowered, for tests). Answers a report; never throws for what
 * the stub did.
 */
export async function runStub(options: RunStubOptions): Promise<StubRunReport> {
  const language = languageOf(options.file);
  const secrets = options.secrets ?? {};
  checkSecrets(secrets);
  const limits = { timeoutMs: options.timeoutMs ?? DEFAULT_LIMITS.timeoutMs, memoryMb: options.memoryMb ?? DEFAULT_LIMITS.memoryMb };
  const python = language === 'python' ? findPython(options.python) : undefined;
  const folder = await mkdtemp(join(tmpdir(), 'offload-stub-'));
  try {
    await copyFile(options.file, join(folder, STUB_FILE[language]));
    await writeFile(join(folder, EVENT_FILE), JSON.stringify(options.event));
    await writeFile(join(folder, HOST_FILE[language]), language === 'javascript' ? JAVASCRIPT_HOST : PYTHON_HOST);
    const [command, args] =
      language === 'javascript'
        ? [process.execPath, [`--max-old-space-size=${limits.memoryMb}`, HOST_FILE.javascript]]
        : [python!.path, [HOST_FILE.python, String(limits.memoryMb * 1024 * 1024), JSON.stringify(Object.keys(secrets))]];
    const run = await supervise(command, args, folder, secrets, limits);
    return report(options.file, language, language === 'javascript' ? `Node.js ${process.version}` : `Python ${python!.version}`, run, limits);
  } finally {
    await rm(folder, { recursive: true, force: true });
  }
}

interface SupervisedRun {
  result?: HostResult;
  stoppedFor?: 'timed-out' | 'out-of-memory';
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  wallMs: number;
  peakRssKb: number;
}

function supervise(
  command: string,
  args: string[],
  cwd: string,
  env: Record<string, string>,
  limits: { timeoutMs: number; memoryMb: number },
): Promise<SupervisedRun> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(command, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let channel = '';
    let stoppedFor: SupervisedRun['stoppedFor'];
    let peakRssKb = 0;
    const keep = (log: string, chunk: Buffer) => (log.length < MAX_LOG_CHARACTERS ? log + chunk.toString('utf8') : log);
    child.stdout!.on('data', (chunk: Buffer) => (stdout = keep(stdout, chunk)));
    child.stderr!.on('data', (chunk: Buffer) => (stderr = keep(stderr, chunk)));
    (child.stdio[3] as NodeJS.ReadableStream).on('data', (chunk: Buffer) => (channel += chunk.toString('utf8')));

    const stop = (reason: NonNullable<SupervisedRun['stoppedFor']>) => {
      stoppedFor ??= reason;
      child.kill('SIGKILL');
    };
    const deadline = setTimeout(() => stop('timed-out'), limits.timeoutMs);
    // The heap flag bounds only V8's heap; HubSpot's limit is the whole process, so resident memory is watched too.
    const watch = setInterval(() => {
      const memory = residentMemoryKb(child.pid);
      if (!memory) return;
      peakRssKb = Math.max(peakRssKb, memory.peak);
      if (memory.current > limits.memoryMb * 1024) stop('out-of-memory');
    }, MEMORY_POLL_MS);

    child.on('error', (error) => {
      clearTimeout(deadline);
      clearInterval(watch);
      reject(error);
    });
    child.on('close', (exitCode, signal) => {
      clearTimeout(deadline);
      clearInterval(watch);
      let result: HostResult | undefined;
      try {
        result = channel ? (JSON.parse(channel) as HostResult) : undefined;
      } catch {
        result = undefined;
      }
      resolve({ result, stoppedFor, exitCode, signal, stdout, stderr, wallMs: performance.now() - started, peakRssKb });
    });
  });
}

/** Current and peak resident memory from /proc (Linux); undefined once the process is gone. */
function residentMemoryKb(pid: number | undefined): { current: number; peak: number } | undefined {
  if (pid === undefined) return undefined;
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0);
    return { current: field('VmRSS'), peak: field('VmHWM') };
  } catch {
    return undefined;
  }
}

const OUT_OF_MEMORY = /heap out of memory|Reached heap limit|MemoryError/;

function report(
  file: string,
  language: StubRuntimeLanguage,
  runtime: string,
  run: SupervisedRun,
  limits: { timeoutMs: number; memoryMb: number },
): StubRunReport {
  const base = {
    file,
    language,
    runtime,
    callbackStyle: run.result?.callbackStyle ?? false,
    logs: `${run.stdout}${run.stderr}`,
    durationMs: Math.round(run.result?.durationMs ?? run.wallMs),
    peakMemoryMb: Math.round(Math.max(run.peakRssKb, run.result?.maxRssKb ?? 0) / 1024),
    limits,
  };
  const stopped = (outcome: StubOutcome, message: string): StubRunReport => ({
    ...base,
    outcome,
    ok: false,
    error: { name: outcome === 'timed-out' ? 'Timeout' : 'OutOfMemory', message, retryable: false },
    problems: [],
  });
  const memoryMessage = `the process used more than ${limits.memoryMb} MB`;
  if (run.stoppedFor === 'timed-out') return stopped('timed-out', `stopped after ${limits.timeoutMs / 1000} s`);
  if (run.stoppedFor === 'out-of-memory') return stopped('out-of-memory', memoryMessage);
  const result = run.result;
  if (!result) {
    if (OUT_OF_MEMORY.test(run.stderr)) return stopped('out-of-memory', memoryMessage);
    const ending = run.signal ? `signal ${run.signal}` : `exit code ${run.exitCode}`;
    return {
      ...base,
      outcome: 'crashed',
      ok: false,
      error: { name: 'Crash', message: `the process ended (${ending}) without a result: ${run.stderr.trim().slice(-2_000)}`, retryable: false },
      problems: [],
    };
  }
  if (result.kind === 'threw') {
    const thrown = result.error ?? { name: 'Error', message: 'unknown error' };
    if (OUT_OF_MEMORY.test(thrown.name)) return stopped('out-of-memory', memoryMessage);
    const status = thrown.status ?? undefined;
    return {
      ...base,
      outcome: 'threw',
      ok: false,
      error: { name: thrown.name, message: thrown.message, ...(status !== undefined ? { status } : {}), retryable: hubspotRetries(status), stack: thrown.stack },
      problems: [],
    };
  }
  const { outputFields, problems } = returnedOutputs(result.value);
  if (base.callbackStyle) {
    problems.push('callback-style handler: Node.js 24 no longer runs exports.main(event, callback); return { outputFields } instead');
  }
  return { ...base, outcome: 'returned', ok: problems.length === 0, ...(outputFields ? { outputFields } : {}), problems };
}

/** The outputs a stub returned, and what HubSpot would refuse in them. */
export function returnedOutputs(value: unknown): { outputFields?: Record<string, unknown>; problems: string[] } {
  const outputFields = (value as { outputFields?: unknown } | null)?.outputFields;
  if (outputFields === null || typeof outputFields !== 'object' || Array.isArray(outputFields)) {
    return { problems: ['main must return { outputFields: { name: value, ... } }'] };
  }
  const problems: string[] = [];
  for (const [name, output] of Object.entries(outputFields)) {
    if (output !== null && typeof output === 'object') problems.push(`output ${name} is not a string, number or boolean`);
    if (typeof output === 'string' && output.length > MAX_STRING_OUTPUT) {
      problems.push(`output ${name} is ${output.length} characters; HubSpot fails a step whose string output is over ${MAX_STRING_OUTPUT}`);
    }
  }
  return { outputFields: outputFields as Record<string, unknown>, problems };
}
