import { Injectable, Logger } from '@nestjs/common';
import { MicroBatcher } from '../common/micro-batcher';
import { MetricsService } from '../metrics/metrics.service';
import { JobQueue } from '../queue/job-queue.service';
import { JobRecord } from './job-record';
import { JobRepository, RunOutcome } from './job.repository';
import { JobSignals } from './job-signals';

/** Told of jobs that have just ended (succeeded, failed or cancelled); called on the job path, so it must return at once. */
export type JobsEndedListener = (jobs: JobRecord[]) => void;

/**
 * The changes of state that start a run and end a job, whoever ends it: a run, or a cancellation.
 * Each change writes its lifecycle event to the outbox in the statement that makes it (see
 * JobRepository); an end is then counted, told to the listeners (workflow step completion is
 * one) and announced to long-polls.
 *
 * Every run changes its job twice (claimed, then ended); done one by one, those writes would cap
 * throughput at PostgreSQL's commit rate. Here concurrent runs share statements instead, gathered
 * for up to 5 ms.
 */
@Injectable()
export class JobLifecycle {
  private readonly logger = new Logger(JobLifecycle.name);
  private readonly listeners: JobsEndedListener[] = [];

  private readonly starts = new MicroBatcher<{ id: string; timeoutMs: number }, JobRecord | undefined>({
    maxBatchSize: 500,
    maxInFlight: 2,
    lingerMs: 5,
    execute: async (runs) => {
      const claimed = new Map((await this.jobs.startRuns(runs)).map((job) => [job.id, job]));
      return runs.map((run) => claimed.get(run.id));
    },
  });

  private readonly finishes = new MicroBatcher<{ job: JobRecord; outcome: RunOutcome }, boolean>({
    maxBatchSize: 500,
    maxInFlight: 2,
    lingerMs: 5,
    execute: async (runs) => {
      const changed = await this.jobs.finishRuns(runs.map((run) => run.outcome));
      const ended = runs
        .filter(({ outcome }) => outcome.status !== 'queued' && changed.has(outcome.id))
        .map(({ job, outcome }): JobRecord => ({ ...job, status: outcome.status, output: outcome.output, error: outcome.error }));
      await this.ended(ended).catch(() => undefined);
      return runs.map(({ outcome }) => changed.has(outcome.id));
    },
  });

  constructor(
    private readonly jobs: JobRepository,
    private readonly signals: JobSignals,
    private readonly queue: JobQueue,
    private readonly metrics: MetricsService,
  ) {}

  /** Adds a listener to every job end, in this process. */
  onEnded(listener: JobsEndedListener): void {
    this.listeners.push(listener);
  }

  /** Claims a run; undefined means the job must not run (cancelled or already ended). */
  claim(id: string, timeoutMs: number): Promise<JobRecord | undefined> {
    return this.starts.add({ id, timeoutMs });
  }

  /**
   * Records how a run of `job` ended; a final outcome ends the job. False when the job was no
   * longer running (it was cancelled meanwhile).
   */
  recordRun(job: JobRecord, outcome: RunOutcome): Promise<boolean> {
    return this.finishes.add({ job, outcome });
  }

  /** Cancels a live job of the portal and tells its worker to stop; undefined when it is not live (or not the portal's). */
  async cancel(portalId: string, id: string): Promise<JobRecord | undefined> {
    const job = await this.jobs.cancel(portalId, id);
    if (!job) return undefined;
    await Promise.all([this.signals.requestCancel(id), this.queue.remove(job.type, id), this.ended([job])]);
    return job;
  }

  async drain(): Promise<void> {
    await Promise.all([this.starts.drain(), this.finishes.drain()]);
  }

  private ended(jobs: JobRecord[]): Promise<void> {
    if (jobs.length === 0) return Promise.resolve();
    for (const job of jobs) this.metrics.jobsFinished.inc({ type: job.type, status: job.status });
    for (const listener of this.listeners) {
      try {
        listener(jobs);
      } catch (error) {
        // The end is recorded already; a listener's failure must not make it look unrecorded.
        this.logger.error(`A listener to job ends failed: ${(error as Error)?.stack ?? error}`);
      }
    }
    return this.signals.announceFinished(jobs.map((job) => job.id));
  }
}
