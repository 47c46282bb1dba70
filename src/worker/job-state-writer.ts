import { Injectable } from '@nestjs/common';
import { MicroBatcher } from '../common/micro-batcher';
import { JobRecord } from '../jobs/job-record';
import { JobRepository, RunOutcome } from '../jobs/job.repository';
import { JobSignals } from '../jobs/job-signals';

/**
 * Every run changes its job twice (claimed, then ended); done one by one, those writes would cap
 * throughput at PostgreSQL's commit rate. Here concurrent runs share statements instead, gathered
 * for up to 5 ms.
 */
@Injectable()
export class JobStateWriter {
  private readonly starts = new MicroBatcher<{ id: string; timeoutMs: number }, JobRecord | undefined>({
    maxBatchSize: 500,
    maxInFlight: 2,
    lingerMs: 5,
    execute: async (runs) => {
      const claimed = new Map((await this.jobs.startRuns(runs)).map((job) => [job.id, job]));
      return runs.map((run) => claimed.get(run.id));
    },
  });

  private readonly finishes = new MicroBatcher<RunOutcome, boolean>({
    maxBatchSize: 500,
    maxInFlight: 2,
    lingerMs: 5,
    execute: async (outcomes) => {
      const changed = await this.jobs.finishRuns(outcomes);
      const ended = outcomes.filter((o) => o.status !== 'queued' && changed.has(o.id)).map((o) => o.id);
      await this.signals.announceFinished(ended).catch(() => undefined);
      return outcomes.map((outcome) => changed.has(outcome.id));
    },
  });

  constructor(
    private readonly jobs: JobRepository,
    private readonly signals: JobSignals,
  ) {}

  /** Claims a run; undefined means the job must not run (cancelled or already ended). */
  claim(id: string, timeoutMs: number): Promise<JobRecord | undefined> {
    return this.starts.add({ id, timeoutMs });
  }

  /** Records how a run ended; false when the job was no longer running (it was cancelled meanwhile). */
  record(outcome: RunOutcome): Promise<boolean> {
    return this.finishes.add(outcome);
  }

  async drain(): Promise<void> {
    await Promise.all([this.starts.drain(), this.finishes.drain()]);
  }
}
