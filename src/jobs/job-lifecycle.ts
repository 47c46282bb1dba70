import { Injectable, Logger } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { MicroBatcher } from '../common/micro-batcher';
import { persistently } from '../common/persistently';
import { MetricsService } from '../metrics/metrics.service';
import { JobQueue } from '../queue/job-queue.service';
import { JobRecord } from './job-record';
import { JobRepository, RunOutcome, RunToClaim } from './job.repository';
import { JobSignals } from './job-signals';
import { WritebackJournal, WriteSettlement } from './writeback-journal';

/** Told of jobs that have just ended (succeeded, failed or cancelled); called on the job path, so it must return at once. */
export type JobsEndedListener = (jobs: JobRecord[]) => void;

/**
 * How long a run holds its job without its process renewing the hold (every quarter of it). It
 * bounds how long a dead worker's job waits before it can run again, once delivered again; a live
 * process whose event loop stalls longer than this (and longer than BullMQ's lock) can lose a run.
 */
export const RUN_LEASE_MS = 8_000;

/** What a claim found: the job is this run's now, another run holds it until a time, or it must not run (cancelled or ended). */
export type RunClaim = { kind: 'claimed'; job: JobRecord; runId: string } | { kind: 'held'; until: Date } | { kind: 'ended' };


/**
 * The changes of state that start a run and end a job, whoever ends it: a run, its write-back, or a cancellation.
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
  /** The runs this process holds (job id -> run id), whose leases it renews. */
  private readonly held = new Map<string, string>();
  private renewing?: NodeJS.Timeout;

  private readonly starts = new MicroBatcher<RunToClaim, RunClaim>({
    maxBatchSize: 500,
    maxInFlight: 2,
    lingerMs: 5,
    execute: async (runs) => {
      const { claimed, heldUntil } = await this.jobs.startRuns(runs);
      const claimedById = new Map(claimed.map((job) => [job.id, job]));
      return runs.map((run): RunClaim => {
        const job = claimedById.get(run.id);
        if (job) return { kind: 'claimed', job, runId: run.runId };
        const until = heldUntil.get(run.id);
        return until ? { kind: 'held', until } : { kind: 'ended' };
      });
    },
  });

  private readonly finishes = new MicroBatcher<{ job: JobRecord; outcome: RunOutcome }, boolean>({
    maxBatchSize: 500,
    maxInFlight: 2,
    lingerMs: 5,
    execute: async (runs) => {
      const changed = await this.jobs.finishRuns(runs.map((run) => run.outcome));
      const ended = runs
        .filter(({ outcome }) => outcome.status !== 'queued' && outcome.status !== 'writing' && changed.has(outcome.id))
        .map(({ job, outcome }): JobRecord => ({ ...job, status: outcome.status, output: outcome.output, error: outcome.error }));
      await this.ended(ended).catch(() => undefined);
      return runs.map(({ outcome }) => changed.has(outcome.id));
    },
  });

  constructor(
    private readonly jobs: JobRepository,
    private readonly writes: WritebackJournal,
    private readonly signals: JobSignals,
    private readonly queue: JobQueue,
    private readonly metrics: MetricsService,
  ) {}

  /** Adds a listener to every job end, in this process. */
  onEnded(listener: JobsEndedListener): void {
    this.listeners.push(listener);
  }

  /**
   * Claims the job for a new run. The run holds it under a lease of RUN_LEASE_MS that this process
   * renews while the run goes on, until `release`: a run whose process died loses the job within a
   * lease, so its job runs again within seconds of being delivered again, not after its timeout.
   * While PostgreSQL cannot answer, the claim is asked again with the same run id: one that was
   * made but whose answer was lost comes back as this run's, not as a second attempt held by a
   * run that never started.
   */
  async claim(id: string): Promise<RunClaim> {
    const run = { id, runId: randomUUID(), deadlineMs: RUN_LEASE_MS };
    const claim = await persistently(`Claiming job ${id}`, () => this.starts.add(run), this.logger);
    if (claim.kind === 'claimed') this.hold(id, claim.runId);
    return claim;
  }

  /** The run is over here (recorded, or handed over): its lease is no longer renewed. */
  release(id: string): void {
    this.held.delete(id);
    if (this.held.size === 0 && this.renewing) {
      clearInterval(this.renewing);
      this.renewing = undefined;
    }
  }

  private hold(id: string, runId: string): void {
    this.held.set(id, runId);
    if (this.renewing) return;
    this.renewing = setInterval(() => {
      const runs = [...this.held].map(([jobId, heldRunId]) => ({ id: jobId, runId: heldRunId }));
      // While PostgreSQL is down leases run out, yet no second run starts: the live worker still
      // holds the job's BullMQ lock, so nothing delivers it again meanwhile.
      this.jobs.renewRuns(runs, RUN_LEASE_MS).catch((error: Error) => this.logger.warn(`Renewing ${runs.length} run leases failed: ${error.message}`));
    }, RUN_LEASE_MS / 4);
    this.renewing.unref();
  }

  /**
   * Records how a run of `job` ended; a final outcome ends the job, and a `writing` one journals its
   * write. False when the run no longer held the job (it was cancelled meanwhile). An outcome
   * PostgreSQL cannot take now is kept and tried again until it can: a run that happened is
   * recorded, never run again. Only the death of this process loses it (its run is then redone
   * once its deadline passes, with nothing written yet).
   */
  recordRun(job: JobRecord, outcome: RunOutcome): Promise<boolean> {
    return persistently(`Recording the run of job ${job.id}`, () => this.finishes.add({ job, outcome }), this.logger);
  }

  /**
   * Settles journaled writes that `writer` holds, ending the jobs whose write is done with, and
   * keeps trying while PostgreSQL cannot take it: HubSpot's answer is not asked for twice.
   */
  async settleWrites(settlements: WriteSettlement[], writer: string): Promise<void> {
    const ended = await persistently(`Recording HubSpot's answer to ${settlements.length} writes`, () => this.writes.settle(settlements, writer), this.logger);
    await this.ended(ended).catch(() => undefined);
  }

  /** Cancels a live job of the portal and tells its worker to stop; undefined when it is not live (or not the portal's). */
  async cancel(portalId: string, id: string): Promise<JobRecord | undefined> {
    const [job] = await this.cancelMany([id], portalId);
    return job;
  }

  /** Cancels the live jobs among `ids` (of the portal, when given) and tells their workers to stop; answers those it cancelled. */
  async cancelMany(ids: string[], portalId?: string): Promise<JobRecord[]> {
    const jobs = await this.jobs.cancelMany(ids, portalId);
    await Promise.all([...jobs.flatMap((job) => [this.signals.requestCancel(job.id), this.queue.remove(job)]), this.ended(jobs)]);
    return jobs;
  }

  async drain(): Promise<void> {
    await Promise.all([this.starts.drain(), this.finishes.drain()]);
  }

  /** The one line of a job's final failure, however it failed (its runs, its write-back). */
  private failed(job: JobRecord): void {
    const errorCode = job.error?.code ?? 'unknown';
    this.logger.error(
      { event: 'job.failed', jobId: job.id, type: job.type, portalId: job.portalId, attempt: job.attempts, errorCode, traceId: job.traceId },
      `Job ${job.id} (${job.type}) failed after ${job.attempts} attempts with ${errorCode}`,
    );
  }

  private ended(jobs: JobRecord[]): Promise<void> {
    if (jobs.length === 0) return Promise.resolve();
    for (const job of jobs) {
      this.metrics.jobsFinished.inc({ type: job.type, status: job.status });
      if (job.status === 'failed') this.failed(job);
    }
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
