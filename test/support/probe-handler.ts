import { Type } from '@sinclair/typebox';
import { setTimeout as sleep } from 'node:timers/promises';
import { JobContext, JobFailure, JobHandlerOf } from '../../src/registry/job-handler';

export interface ProbeStart {
  portalId: string;
  jobId: string;
  attempt: number;
}

/**
 * What the probe saw, across every Offload started in this test process: runs in the order they
 * started, and per portal how many ran at once, at most.
 */
export const probeLog = {
  starts: [] as ProbeStart[],
  running: new Map<string, number>(),
  mostRunning: new Map<string, number>(),
  reset(): void {
    this.starts = [];
    this.running.clear();
    this.mostRunning.clear();
  },
};

/** Records its start, sleeps, and fails its first run when asked to (retried after retryAfterMs). */
@JobHandlerOf({
  type: 'probe',
  version: '1.0.0',
  owner: 'tests',
  description: 'records when it runs and how many of its portal run at once',
  input: Type.Object(
    {
      sleepMs: Type.Optional(Type.Integer({ minimum: 0 })),
      failFirst: Type.Optional(Type.Boolean()),
      retryAfterMs: Type.Optional(Type.Integer({ minimum: 0 })),
    },
    { additionalProperties: false },
  ),
  outputs: {},
  concurrency: 4,
  retry: { attempts: 3, backoffMs: 10, maxBackoffMs: 10 },
})
export class ProbeHandler {
  async run({ input, job }: JobContext<{ sleepMs?: number; failFirst?: boolean; retryAfterMs?: number }>) {
    probeLog.starts.push({ portalId: job.portalId, jobId: job.id, attempt: job.attempt });
    const running = (probeLog.running.get(job.portalId) ?? 0) + 1;
    probeLog.running.set(job.portalId, running);
    probeLog.mostRunning.set(job.portalId, Math.max(running, probeLog.mostRunning.get(job.portalId) ?? 0));
    try {
      if (input.sleepMs) await sleep(input.sleepMs);
      if (input.failFirst && job.attempt === 1) throw new JobFailure('probe_first', 'the first run fails', { retryable: true, retryAfterMs: input.retryAfterMs });
      return {};
    } finally {
      probeLog.running.set(job.portalId, probeLog.running.get(job.portalId)! - 1);
    }
  }
}
