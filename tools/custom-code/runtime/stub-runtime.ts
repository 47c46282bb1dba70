import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { extname, join, resolve } from 'node:path';
import { MAX_STRING_OUTPUT } from '../../../src/registry/handler-registry';
import { HUBSPOT_STEP_LIMIT_MS } from '../stubs/stub-spec';
import { HOST_FILE, JAVASCRIPT_HOST, PYTHON_HOST } from './hosts';
import { HostRun, RuntimeHost, RuntimeLanguage } from './runtime-host';

/** HubSpot's limits for one run of a custom code action. */
export const DEFAULT_LIMITS = { timeoutMs: HUBSPOT_STEP_LIMIT_MS, memoryMb: 128 } as const;
/** HubSpot takes at most this many characters of secret values in all. */
export const MAX_SECRET_CHARACTERS = 1_000;

const SECRET_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export type StubRuntimeLanguage = RuntimeLanguage;

export interface RunStubOptions extends StubExecution {
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
  /** How long main ran (or, for a stopped run, how long it was given). */
  durationMs: number;
  /** Peak resident memory of the stub's process during the execution. */
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

export interface StubRuntimePoolOptions {
  /** Warm processes per language at most; each runs one execution at a time, so this is how many run at once. */
  size: number;
  timeoutMs?: number;
  memoryMb?: number;
  /** The Python interpreter (default: python3 on PATH). */
  python?: string;
}

export interface StubExecution {
  /** The stub's file: .js for Node.js, .py for Python. */
  file: string;
  event: unknown;
  /** The action's secrets; the execution sees these and no other environment variable. */
  secrets?: Record<string, string>;
}

export interface StubRuntimeStats {
  /** Runtime processes started, replacements included: fewer than the executions when warm ones were reused. */
  processesStarted: number;
  /** CPU time the runtime's processes spent, their starts included (as of each one's last answer). */
  cpuMs: number;
}

interface LanguageHosts {
  idle: RuntimeHost[];
  owned: Set<RuntimeHost>;
  starting: number;
  waiting: Array<{ resolve(host: RuntimeHost): void; reject(error: unknown): void }>;
}

/**
 * Starting a process is CPU work: more starts at once than cores only slow each other down, and
 * on a busy machine push the first executions past their own deadlines.
 */
const MAX_STARTS_AT_ONCE = availableParallelism();

/** Outcomes after which a host is not used again: it was stopped, or ended, in the middle of an execution. */
const HOST_ENDING_OUTCOMES: StubOutcome[] = ['timed-out', 'out-of-memory', 'crashed'];

/**
 * Runs stubs the way HubSpot runs custom code actions, in warm processes it keeps and reuses as
 * HubSpot reuses warm containers: at most `size` per language, each running one execution at a
 * time. Every execution gets its own event, its secrets as its only environment, a fresh working
 * folder (deleted afterwards), and HubSpot's time and memory limits (both may be lowered, for
 * tests). A process that outlives a limit is killed and one that crashes is gone; either is
 * replaced when next needed, and the execution is reported as HubSpot would show it. What a stub
 * keeps outside main may survive into the next execution in the same process, as on HubSpot.
 */
export class StubRuntimePool {
  private readonly limits: { timeoutMs: number; memoryMb: number };
  private readonly languages = new Map<StubRuntimeLanguage, LanguageHosts>();
  private hostsFolder?: Promise<string>;
  private processesStarted = 0;
  private endedCpuMs = 0;
  private closed = false;

  constructor(private readonly options: StubRuntimePoolOptions) {
    this.limits = { timeoutMs: options.timeoutMs ?? DEFAULT_LIMITS.timeoutMs, memoryMb: options.memoryMb ?? DEFAULT_LIMITS.memoryMb };
  }

  /** Runs one execution; answers a report, and never throws for what the stub did. */
  async run(execution: StubExecution): Promise<StubRunReport> {
    const language = languageOf(execution.file);
    const secrets = execution.secrets ?? {};
    checkSecrets(secrets);
    const runtime = language === 'javascript' ? `Node.js ${process.version}` : `Python ${findPython(this.options.python).version}`;
    const folder = await mkdtemp(join(tmpdir(), 'offload-stub-'));
    try {
      const host = await this.acquire(language);
      const run = await host.execute({ file: resolve(execution.file), event: execution.event, secrets, folder });
      const stubReport = report(execution.file, language, runtime, run, this.limits);
      await this.release(language, host, !HOST_ENDING_OUTCOMES.includes(stubReport.outcome));
      return stubReport;
    } finally {
      await rm(folder, { recursive: true, force: true });
    }
  }

  stats(): StubRuntimeStats {
    const owned = [...this.languages.values()].flatMap((hosts) => [...hosts.owned]);
    return { processesStarted: this.processesStarted, cpuMs: owned.reduce((sum, host) => sum + host.cpuMs, this.endedCpuMs) };
  }

  /** Ends every process, running ones included; executions still waiting for one are refused. */
  async close(): Promise<void> {
    this.closed = true;
    const hosts = [...this.languages.values()];
    for (const { waiting } of hosts) for (const waiter of waiting.splice(0)) waiter.reject(new Error('the custom code runtime is closed'));
    await Promise.all(hosts.flatMap(({ owned }) => [...owned].map((host) => host.stop())));
    if (this.hostsFolder) await rm(await this.hostsFolder, { recursive: true, force: true });
  }

  private hostsOf(language: StubRuntimeLanguage): LanguageHosts {
    let hosts = this.languages.get(language);
    if (!hosts) {
      hosts = { idle: [], owned: new Set(), starting: 0, waiting: [] };
      this.languages.set(language, hosts);
    }
    return hosts;
  }

  private hasRoom(hosts: LanguageHosts): boolean {
    return hosts.owned.size + hosts.starting < this.options.size;
  }

  private acquire(language: StubRuntimeLanguage): Promise<RuntimeHost> {
    if (this.closed) return Promise.reject(new Error('the custom code runtime is closed'));
    const hosts = this.hostsOf(language);
    const warm = hosts.idle.pop();
    if (warm) return Promise.resolve(warm);
    return new Promise((resolve, reject) => {
      hosts.waiting.push({ resolve, reject });
      this.serveWaiting();
    });
  }

  private async release(language: StubRuntimeLanguage, host: RuntimeHost, reusable: boolean): Promise<void> {
    if (!reusable || host.ended || this.closed) {
      // Its slot is freed once it has ended (see hostEnded).
      await host.stop();
      return;
    }
    const hosts = this.hostsOf(language);
    const waiter = hosts.waiting.shift();
    if (waiter) waiter.resolve(host);
    else hosts.idle.push(host);
  }

  private async startHost(language: StubRuntimeLanguage, hosts: LanguageHosts): Promise<RuntimeHost> {
    hosts.starting++;
    this.processesStarted++;
    let host: RuntimeHost;
    try {
      const python = language === 'python' ? findPython(this.options.python).path : '';
      host = await RuntimeHost.start(language, await this.writeHosts(), this.limits, python, (ended) => this.hostEnded(language, ended));
    } catch (error) {
      hosts.starting--;
      this.serveWaiting();
      throw error;
    }
    hosts.starting--;
    hosts.owned.add(host);
    this.serveWaiting();
    // Ended already (before it was owned, so hostEnded let it be): its execution reports the crash, its slot is freed now.
    if (host.ended) this.hostEnded(language, host);
    if (this.closed) {
      await host.stop();
      throw new Error('the custom code runtime is closed');
    }
    return host;
  }

  private hostEnded(language: StubRuntimeLanguage, host: RuntimeHost): void {
    const hosts = this.hostsOf(language);
    if (!hosts.owned.delete(host)) return;
    this.endedCpuMs += host.cpuMs;
    hosts.idle = hosts.idle.filter((idle) => idle !== host);
    this.serveWaiting();
  }

  /** Starts processes for the executions waiting, as far as each language has room and the machine has cores for the starts. */
  private serveWaiting(): void {
    for (const [language, hosts] of this.languages) {
      while (!this.closed && hosts.waiting.length > 0 && this.hasRoom(hosts) && this.startsUnderway() < MAX_STARTS_AT_ONCE) {
        const waiter = hosts.waiting.shift()!;
        this.startHost(language, hosts).then(waiter.resolve, waiter.reject);
      }
    }
  }

  private startsUnderway(): number {
    return [...this.languages.values()].reduce((sum, hosts) => sum + hosts.starting, 0);
  }

  /** The host programs, written once into a folder of the pool's own. */
  private writeHosts(): Promise<string> {
    this.hostsFolder ??= mkdtemp(join(tmpdir(), 'offload-runtime-')).then(async (folder) => {
      await writeFile(join(folder, HOST_FILE.javascript), JAVASCRIPT_HOST);
      await writeFile(join(folder, HOST_FILE.python), PYTHON_HOST);
      return folder;
    });
    return this.hostsFolder;
  }
}

/** Runs one stub in a process of its own, started for it and ended after it, as `npm run stub:test` does. */
export async function runStub(options: RunStubOptions): Promise<StubRunReport> {
  const pool = new StubRuntimePool({ size: 1, timeoutMs: options.timeoutMs, memoryMb: options.memoryMb, python: options.python });
  try {
    return await pool.run(options);
  } finally {
    await pool.close();
  }
}
const OUT_OF_MEMORY = /heap out of memory|Reached heap limit|MemoryError/;

function report(
  file: string,
  language: StubRuntimeLanguage,
  runtime: string,
  run: HostRun,
  limits: { timeoutMs: number; memoryMb: number },
): StubRunReport {
  const base = {
    file,
    language,
    runtime,
    callbackStyle: run.result?.callbackStyle ?? false,
    logs: run.result ? `${run.result.logs.stdout}${run.result.logs.stderr}` : run.hostStderr,
    durationMs: Math.round(run.result?.durationMs ?? run.wallMs),
    peakMemoryMb: Math.round(run.peakRssKb / 1024),
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
  // Past the limit between two looks at its memory: HubSpot would have stopped it all the same.
  if (run.stoppedFor === 'out-of-memory' || run.peakRssKb > limits.memoryMb * 1024) return stopped('out-of-memory', memoryMessage);
  const result = run.result;
  if (!result) {
    if (OUT_OF_MEMORY.test(run.hostStderr)) return stopped('out-of-memory', memoryMessage);
    const ending = run.signal ? `signal ${run.signal}` : `exit code ${run.exitCode}`;
    return {
      ...base,
      outcome: 'crashed',
      ok: false,
      error: { name: 'Crash', message: `the process ended (${ending}) without a result: ${run.hostStderr.trim().slice(-2_000)}`, retryable: false },
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
