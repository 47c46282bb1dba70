import { ChildProcess, fork, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { HOST_FILE, HostReady, HostRequest, HostResult, MAX_LOG_CHARACTERS } from './hosts';

export type RuntimeLanguage = keyof typeof HOST_FILE;

export interface RuntimeLimits {
  timeoutMs: number;
  memoryMb: number;
}

/** How one execution in a host went: the host's answer, or why the host ended without one. */
export interface HostRun {
  result?: HostResult;
  stoppedFor?: 'timed-out' | 'out-of-memory';
  /** How the host ended, when the execution ended it. */
  exitCode?: number | null;
  signal?: NodeJS.Signals | null;
  /** What the host itself wrote to standard error during the execution: a crash's last words. */
  hostStderr: string;
  wallMs: number;
  peakRssKb: number;
}

// An execution past the memory limit is reported from its peak when it ends; looking while it runs only stops a
// runaway sooner, and every look costs CPU for each execution running, so it is not done often.
const MEMORY_POLL_MS = 250;

interface Running {
  resolve(run: HostRun): void;
  started: number;
  peakRssKb: number;
  stoppedFor?: HostRun['stoppedFor'];
  timers: NodeJS.Timeout[];
}

/**
 * One warm runtime process, which runs one execution at a time. It is stopped for good when an
 * execution outlives the time limit or the memory limit (a running main cannot be interrupted),
 * and it may end by itself (the stub exited, or an error nobody awaited): `ended` then says so.
 */
export class RuntimeHost {
  private running?: Running;
  private stderr = '';
  private endedWith?: { code: number | null; signal: NodeJS.Signals | null };
  private readonly closed: Promise<void>;
  /** CPU time the process has spent, its start included, as of its last answer. */
  cpuMs = 0;

  private constructor(
    private readonly child: ChildProcess,
    private readonly limits: RuntimeLimits,
    private readonly send: (request: HostRequest) => void,
    onEnded: (host: RuntimeHost) => void,
  ) {
    child.stderr!.on('data', (chunk: Buffer) => {
      if (this.stderr.length < MAX_LOG_CHARACTERS) this.stderr += chunk.toString('utf8');
    });
    this.closed = new Promise((resolve) =>
      child.once('close', (code, signal) => {
        this.endedWith = { code, signal };
        this.finish();
        onEnded(this);
        resolve();
      }),
    );
  }

  /** Starts a host in `folder` (where the host programs are written) and resolves once it is ready. */
  static start(
    language: RuntimeLanguage,
    folder: string,
    limits: RuntimeLimits,
    python: string,
    onEnded: (host: RuntimeHost) => void,
  ): Promise<RuntimeHost> {
    return new Promise((resolve, reject) => {
      let host: RuntimeHost | undefined;
      const onMessage = (text: string) => {
        const message = JSON.parse(text) as HostReady | HostResult;
        if ('ready' in message) {
          host!.cpuMs = message.hostCpuMs;
          resolve(host!);
        } else host!.answered(message);
      };
      let child: ChildProcess;
      let send: (request: HostRequest) => void;
      // No environment at all: each execution's secrets become the process's only variables.
      if (language === 'javascript') {
        child = fork(join(folder, HOST_FILE.javascript), [], {
          cwd: folder,
          env: {},
          execArgv: [`--max-old-space-size=${limits.memoryMb}`],
          stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
        });
        child.on('message', onMessage);
        // A host that has just ended cannot take the request: its end is reported when it closes.
        send = (request) => child.send(request, () => undefined);
      } else {
        child = spawn(python, [HOST_FILE.python, String(limits.memoryMb * 1024 * 1024)], { cwd: folder, env: {}, stdio: ['pipe', 'pipe', 'pipe'] });
        createInterface({ input: child.stdout! }).on('line', onMessage);
        child.stdin!.on('error', () => undefined);
        send = (request) => child.stdin!.write(`${JSON.stringify(request)}\n`);
      }
      child.once('error', reject);
      host = new RuntimeHost(child, limits, send, (ended) => {
        reject(new Error(`the ${language} runtime ended before it was ready: ${ended.stderr.trim().slice(-2_000)}`));
        onEnded(ended);
      });
    });
  }

  get ended(): boolean {
    return this.endedWith !== undefined;
  }

  /** Runs one execution; resolves with how it went, whatever the stub did. */
  execute(request: HostRequest): Promise<HostRun> {
    if (this.running) throw new Error('a runtime host runs one execution at a time');
    return new Promise((resolve) => {
      this.stderr = '';
      const running: Running = { resolve, started: performance.now(), peakRssKb: 0, timers: [] };
      this.running = running;
      if (this.ended) return this.finish();
      const stop = (reason: NonNullable<HostRun['stoppedFor']>) => {
        running.stoppedFor ??= reason;
        this.child.kill('SIGKILL');
      };
      // The heap flag bounds only V8's heap; HubSpot's limit is the whole process, so resident memory is watched too.
      running.timers.push(
        setTimeout(() => stop('timed-out'), this.limits.timeoutMs),
        setInterval(() => {
          const residentKb = residentMemoryKb(this.child.pid);
          running.peakRssKb = Math.max(running.peakRssKb, residentKb);
          if (residentKb > this.limits.memoryMb * 1024) stop('out-of-memory');
        }, MEMORY_POLL_MS),
      );
      this.send(request);
    });
  }

  /** Ends the process and resolves once it has ended. */
  stop(): Promise<void> {
    if (!this.ended) this.child.kill('SIGKILL');
    return this.closed;
  }

  private answered(result: HostResult): void {
    this.cpuMs = result.hostCpuMs;
    this.finish(result);
  }

  private finish(result?: HostResult): void {
    const running = this.running;
    if (!running) return;
    this.running = undefined;
    for (const timer of running.timers) clearTimeout(timer);
    running.resolve({
      result,
      stoppedFor: running.stoppedFor,
      ...(result ? {} : { exitCode: this.endedWith?.code, signal: this.endedWith?.signal }),
      hostStderr: this.stderr,
      wallMs: performance.now() - running.started,
      peakRssKb: Math.max(running.peakRssKb, result?.peakRssKb ?? 0),
    });
  }
}

/** Resident memory from /proc (Linux); 0 once the process is gone. */
function residentMemoryKb(pid: number | undefined): number {
  try {
    return Number(/^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  } catch {
    return 0;
  }
}
