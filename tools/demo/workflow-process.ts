import { fork } from 'node:child_process';
import { playWorkflow, WorkflowProgress, WorkflowRun, WorkflowSettings } from './workflow';

/** What the workflow process needs: the settings, with the contacts' properties as HubSpot's workflow engine holds them. */
export type WorkflowJob = Omit<WorkflowSettings, 'contact' | 'onExecution' | 'stop'> & {
  contacts: Record<string, Record<string, string | null>>;
};

type ToWorkflow = { job: WorkflowJob } | { stop: true };
type FromWorkflow = { progress: WorkflowProgress } | { run: WorkflowRun } | { error: string };

/** Progress is sent at most this often; the last state always follows with the result. */
const PROGRESS_INTERVAL_MS = 100;
/** How long a stopping workflow may take to end its executions and remove their folders before it is killed. */
const STOP_GRACE_MS = 5_000;

/**
 * Plays the workflow in a process of its own, as HubSpot's workflow engine is separate from
 * Offload. It also keeps the cost of starting the runtime's processes small: a process forks in
 * time proportional to its memory, and this one is far smaller than Offload's. It leads a process
 * group of its own with the runtime's processes, so that `stop` can end them all; the promise
 * settles once that process has ended.
 */
export function playWorkflowInOwnProcess(
  job: WorkflowJob,
  onProgress: (progress: WorkflowProgress) => void,
  stop: AbortSignal,
): Promise<WorkflowRun> {
  return new Promise((resolve, reject) => {
    const child = fork(__filename, [], { serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'], detached: true });
    let outcome: FromWorkflow | undefined;
    const killGroup = () => process.kill(-child.pid!, 'SIGKILL');
    stop.addEventListener(
      'abort',
      () => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        child.send({ stop: true } satisfies ToWorkflow);
        setTimeout(killGroup, STOP_GRACE_MS).unref();
      },
      { once: true },
    );
    child.on('message', (message: FromWorkflow) => {
      if ('progress' in message) onProgress(message.progress);
      else outcome = message;
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (outcome && 'run' in outcome) resolve(outcome.run);
      else if (outcome && 'error' in outcome) reject(new Error(`the workflow failed: ${outcome.error}`));
      else reject(new Error(`the workflow's process ended (${signal ?? `exit code ${code}`}) before it finished`));
    });
    child.send({ job } satisfies ToWorkflow);
  });
}

function serveWorkflow(): void {
  const stopping = new AbortController();
  // Without its parent nobody reads the outcome: stop with it.
  process.on('disconnect', () => process.exit(1));
  // The group's SIGTERM below is for the runtime's processes; this one winds down instead.
  process.on('SIGTERM', () => undefined);
  process.on('message', async (message: ToWorkflow) => {
    if ('stop' in message) {
      stopping.abort();
      process.kill(-process.pid, 'SIGTERM');
      return;
    }
    let lastSent = 0;
    try {
      const run = await playWorkflow({
        ...message.job,
        contact: (id) => message.job.contacts[id] ?? {},
        onExecution: (progress) => {
          const now = performance.now();
          if (now - lastSent < PROGRESS_INTERVAL_MS) return;
          lastSent = now;
          process.send!({ progress } satisfies FromWorkflow);
        },
        stop: stopping.signal,
      });
      process.send!({ progress: run.progress } satisfies FromWorkflow);
      process.send!({ run } satisfies FromWorkflow, () => process.exit(0));
    } catch (error) {
      process.send!({ error: (error as Error).stack ?? String(error) } satisfies FromWorkflow, () => process.exit(1));
    }
  });
}

if (require.main === module) serveWorkflow();
