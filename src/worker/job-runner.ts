import { Injectable, Logger } from '@nestjs/common';
import { DelayedError, Job, WaitingError } from 'bullmq';
import { DomainError } from '../common/domain-errors';
import { persistently } from '../common/persistently';
import { HubSpotGateway, HubSpotNotConnectedError, PAUSED_RECHECK_MS } from '../hubspot/client/hubspot-gateway';
import { hubSpotJobError } from '../hubspot/client/hubspot-job-error';
import { JobHubSpotFactory, RecordReadListener } from '../hubspot/client/job-hubspot';
import { normaliseObjectType } from '../hubspot/client/object-types';
import { WritebackWriter } from '../hubspot/client/writeback-writer';
import { JobLifecycle } from '../jobs/job-lifecycle';
import { JobError, JobRecord } from '../jobs/job-record';
import type { RecordWriteIntent } from '../jobs/job.repository';
import { MetricsService } from '../metrics/metrics.service';
import type { QueuedJob } from '../queue/job-queue.service';
import { PortalSettingsService } from '../portals/portal-settings.service';
import { HandlerRegistry, RegisteredHandler } from '../registry/handler-registry';
import { JobContext, JobFailure, JobOutputs } from '../registry/job-handler';
import { inJobSpan, markFailed, recordJobSpan } from '../telemetry/job-trace';
import { retryDelayMs } from './backoff';
import { egressHttp, egressOrigins } from './egress-http';
import { QueueFeeder } from './queue-feeder';

/** Why a run was told to stop; passed as the abort reason. */
export const STOP_CANCELLED = 'cancelled';
export const STOP_SHUTDOWN = 'shutdown';
const STOP_TIMEOUT = 'timeout';

/** How long after its holder's lease a job delivered while another run held it is looked at again. */
const HELD_RECHECK_MS = 1_000;
/** A capped portal's run holds its portal's slot for its timeout and this much more (then a dead worker's slot frees itself). */
const SLOT_SLACK_MS = 10_000;

/** What a job's BullMQ entry carries: its portal, and whether the portal's runs are capped. */
interface QueuedData {
  portalId: string;
  capped?: boolean;
}

/** What a run asks of the schedule once BullMQ has let go of its job: to put the job back in its portal's share, due at `dueAt`. */
export interface HandBack {
  dueAt: number;
}

/** The job a BullMQ job stands for, as the schedule knows it. */
function queuedJobOf(type: string, bullJob: Job): QueuedJob {
  return { id: bullJob.id!, type, portalId: (bullJob.data as QueuedData).portalId, priority: bullJob.opts.priority ? 'bulk' : 'live' };
}

type RunResult =
  | { kind: 'succeeded'; output: JobOutputs; write?: RecordWriteIntent }
  | { kind: 'failed'; error: JobError; retryAfterMs?: number }
  | { kind: 'stopped'; reason: string };

/** One run of one job, from claiming it to recording how it ended. */
@Injectable()
export class JobRunner {
  private readonly logger = new Logger(JobRunner.name);
  private readonly egress = new Map<string, Set<string>>();

  constructor(
    private readonly registry: HandlerRegistry,
    private readonly lifecycle: JobLifecycle,
    private readonly metrics: MetricsService,
    private readonly writer: WritebackWriter,
    private readonly settings: PortalSettingsService,
    private readonly hubspot: JobHubSpotFactory,
    private readonly feeder: QueueFeeder,
    private readonly gateway: HubSpotGateway,
  ) {}

  /**
   * The BullMQ processor. It throws only to hand the BullMQ job back (held elsewhere, shutdown) or
   * on infrastructure failure. It answers a HandBack when the job must run again later, in its
   * portal's share (see completed).
   */
  async process(handler: RegisteredHandler, bullJob: Job, token: string | undefined, signal: AbortSignal | undefined): Promise<HandBack | undefined> {
    if (this.gateway.isPaused((bullJob.data as QueuedData).portalId, handler.type)) {
      // Not claimed, so not counted as an attempt: it waits in the queue until its portal (or its type there) resumes.
      await bullJob.moveToDelayed(Date.now() + PAUSED_RECHECK_MS, token);
      throw new DelayedError();
    }
    this.feeder.started(handler.type);
    const scheduled = queuedJobOf(handler.type, bullJob);
    const capped = (bullJob.data as QueuedData).capped === true;
    // A job of a capped portal runs only on one of the portal's slots; without one, it waits its portal's turn again.
    if (capped && !(await this.feeder.confirm(scheduled, handler.timeoutMs + SLOT_SLACK_MS))) return { dueAt: Date.now() };
    let holdsSlot = capped;
    try {
      const claim = await this.lifecycle.claim(bullJob.id!);
      if (claim.kind === 'ended') return;
      if (claim.kind === 'held') {
        // Delivered again while a run elsewhere still holds it (and its portal's slot): that run
        // records it, or, if its holder is gone, this delivery runs it once the lease has lapsed.
        holdsSlot = false;
        await bullJob.moveToDelayed(claim.until.getTime() + HELD_RECHECK_MS, token);
        throw new DelayedError();
      }
      const { job, runId } = claim;
      const attributes = { 'offload.job.id': job.id, 'offload.job.type': job.type, 'offload.portal.id': job.portalId, 'offload.job.attempt': job.attempts };
      this.queueWait(bullJob, job, attributes);
      try {
        return await this.runHeld(handler, bullJob, token, signal, job, runId, attributes);
      } finally {
        this.lifecycle.release(job.id);
      }
    } finally {
      if (holdsSlot) this.feeder.ended(scheduled);
    }
  }

  /** Once BullMQ has let go of a job, puts it back in its portal's share when its run asked to (a retry). */
  completed(handler: RegisteredHandler, bullJob: Job, handBack: HandBack | undefined): void {
    if (handBack) void this.feeder.back(queuedJobOf(handler.type, bullJob), handBack.dueAt);
  }

  /** A run of a job this process holds, from the handler to the record of how it ended. */
  private async runHeld(
    handler: RegisteredHandler,
    bullJob: Job,
    token: string | undefined,
    signal: AbortSignal | undefined,
    job: JobRecord,
    runId: string,
    attributes: Record<string, string | number>,
  ): Promise<HandBack | undefined> {
    if (job.attempts === 1 && job.startedAt) {
      this.metrics.jobScheduleDelaySeconds.observe({ type: job.type, priority: job.priority }, (job.startedAt.getTime() - job.createdAt.getTime()) / 1000);
    }
    const started = performance.now();
    // When the run first read its own record: a property changed in HubSpot after that is not its to overwrite.
    let readAt: Date | undefined;
    const onRead: RecordReadListener = (object, updatedAt) => {
      if (job.object && isRecord(job.object, object) && (readAt === undefined || updatedAt < readAt)) readAt = updatedAt;
    };
    const writes = (job.writeback || job.dryRun) && job.object;
    const result = await inJobSpan(job, `job.run ${job.type}`, attributes, async (span) => {
      const run = await this.run(handler, job, signal, onRead);
      const outcome = run.kind === 'succeeded' && writes ? await this.withWrite(job, run.output, readAt) : run;
      if (outcome.kind === 'failed') markFailed(span, outcome.error);
      if (outcome.kind === 'stopped') span.setAttribute('offload.job.stopped', outcome.reason);
      return outcome;
    });
    const seconds = (performance.now() - started) / 1000;
    if (result.kind === 'stopped') {
      this.metrics.jobRunSeconds.observe({ type: job.type, outcome: result.reason }, seconds);
      if (result.reason !== STOP_SHUTDOWN) return; // cancelled: the API already recorded it
      await this.lifecycle.recordRun(job, { id: job.id, runId, status: 'queued', output: null, error: null, refund: 1 });
      await bullJob.moveToWait(token);
      throw new WaitingError();
    }
    if (result.kind === 'succeeded') {
      this.metrics.jobRunSeconds.observe({ type: job.type, outcome: 'succeeded' }, seconds);
      const { write } = result;
      const status = write ? 'writing' : 'succeeded';
      const recorded = await this.lifecycle.recordRun(job, { id: job.id, runId, status, output: result.output, error: null, refund: 0, write });
      // The write is journaled with the record; the writer sends it, and this worker slot is free.
      if (recorded && write) this.writer.journaled({ portalId: job.portalId, objectType: write.objectType, priority: job.priority }, 1);
      return;
    }
    const retry = result.error.retryable && job.attempts < job.maxAttempts;
    this.metrics.jobRunSeconds.observe({ type: job.type, outcome: retry ? 'retry' : 'failed' }, seconds);
    const recorded = await this.lifecycle.recordRun(job, {
      id: job.id,
      runId,
      status: retry ? 'queued' : 'failed',
      output: null,
      error: result.error,
      refund: 0,
    });
    const retryInMs = retry ? retryDelayMs(job.attempts, handler.retry, result.retryAfterMs) : undefined;
    if (recorded) this.attemptFailed(job, result.error, retryInMs);
    if (!recorded || retryInMs === undefined) return;
    return { dueAt: Date.now() + retryInMs };
  }

  /**
   * The job's wait in the executor's queue, from when the schedule let it in (its portal's turn, or
   * its retry come due) to its run's claim: a span of its trace, and the queue wait histogram. The
   * wait in its portal's backlog before that is the schedule delay (offload_job_schedule_delay_seconds).
   */
  private queueWait(bullJob: Job, job: JobRecord, attributes: Record<string, string | number>): void {
    const claimedAt = Date.now();
    const dueAt = Math.min(claimedAt, bullJob.timestamp);
    this.metrics.jobQueueWaitSeconds.observe({ type: job.type }, (claimedAt - dueAt) / 1000);
    recordJobSpan(job, 'job.queue_wait', attributes, dueAt, claimedAt);
  }

  /** One line per failed run: a final failure is told again, once, where every job end is (JobLifecycle). */
  private attemptFailed(job: JobRecord, error: JobError, retryInMs: number | undefined): void {
    const fields = {
      event: 'job.attempt_failed',
      jobId: job.id,
      type: job.type,
      portalId: job.portalId,
      attempt: job.attempts,
      maxAttempts: job.maxAttempts,
      errorCode: error.code,
      retryable: error.retryable,
      ...(retryInMs === undefined ? {} : { retryInMs }),
      traceId: job.traceId,
    };
    const next = retryInMs === undefined ? 'no retry' : `retry in ${retryInMs} ms`;
    this.logger.warn(fields, `Job ${job.id} (${job.type}) attempt ${job.attempts}/${job.maxAttempts} failed with ${error.code}; ${next}`);
  }

  /**
   * A successful run of a write-back job (or a dry run), with the write its outputs make and when
   * the run read the record it writes, if it did. Reading the portal's
   * mappings is tried until it can be done: a run that happened is not run again for it. A portal
   * that cannot be written to (gone, or without credentials) fails the job.
   */
  private async withWrite(job: JobRecord, output: JobOutputs, readAt: Date | undefined): Promise<RunResult> {
    const intent = await persistently(
      `Reading the write-back of job ${job.id}`,
      () =>
        this.writer.intentFor(job, output).then(
          (write) => ({ write }),
          (error: unknown) => {
            if (error instanceof DomainError || error instanceof HubSpotNotConnectedError) return { error };
            throw error;
          },
        ),
      this.logger,
    );
    if ('error' in intent) return { kind: 'failed', error: hubSpotJobError(intent.error, { code: 'writeback_rejected', what: 'the write' }).error };
    return { kind: 'succeeded', output, write: intent.write && readAt ? { ...intent.write, readAt } : intent.write };
  }

  private async context(handler: RegisteredHandler, job: JobRecord, signal: AbortSignal, logger: Logger, onRead: RecordReadListener): Promise<JobContext<unknown>> {
    return {
      input: job.input,
      job: {
        id: job.id,
        type: job.type,
        portalId: job.portalId,
        attempt: job.attempts,
        maxAttempts: job.maxAttempts,
        object: job.object,
        callbackId: job.callbackId,
        traceId: job.traceId,
      },
      signal,
      logger,
      config: handler.config ? await this.settings.handlerConfig(job.portalId, job.type) : undefined,
      settings: handler.settings,
      secrets: { get: (name) => this.settings.secret(job.portalId, name) },
      http: egressHttp(this.egressOf(handler), signal),
      hubspot: this.hubspot.forJob(job, onRead),
    };
  }

  private egressOf(handler: RegisteredHandler): Set<string> {
    let origins = this.egress.get(handler.type);
    if (!origins) {
      origins = egressOrigins(handler.egress);
      this.egress.set(handler.type, origins);
    }
    return origins;
  }

  private async run(handler: RegisteredHandler, job: JobRecord, stop: AbortSignal | undefined, onRead: RecordReadListener): Promise<RunResult> {
    const controller = new AbortController();
    const onStop = () => controller.abort(stop?.reason ?? STOP_CANCELLED);
    stop?.addEventListener('abort', onStop, { once: true });
    if (stop?.aborted) onStop();
    const timer = setTimeout(() => controller.abort(STOP_TIMEOUT), handler.timeoutMs);
    const stopped = new Promise<never>((_, reject) =>
      controller.signal.addEventListener('abort', () => reject(controller.signal.reason), { once: true }),
    );
    const logger = new Logger(`job:${job.type}`);
    try {
      const context = await Promise.race([this.context(handler, job, controller.signal, logger, onRead), stopped]);
      const output = await Promise.race([handler.instance.run(context), stopped]);
      const problems = this.registry.checkOutputs(job.type, output);
      if (problems.length > 0) {
        logger.error(`job ${job.id}: handler ${job.type}@${handler.version} broke its output declaration: ${JSON.stringify(problems)}`);
        return {
          kind: 'failed',
          error: { code: 'output_invalid', message: 'The handler returned outputs that break its declaration', retryable: false, details: problems },
        };
      }
      return { kind: 'succeeded', output };
    } catch (error) {
      const reason = controller.signal.aborted ? controller.signal.reason : undefined;
      if (reason === STOP_CANCELLED || reason === STOP_SHUTDOWN) return { kind: 'stopped', reason };
      if (reason === STOP_TIMEOUT) {
        return { kind: 'failed', error: { code: 'timeout', message: `The run took longer than ${handler.timeoutMs} ms`, retryable: true } };
      }
      if (error instanceof JobFailure) {
        return { kind: 'failed', error: { code: error.code, message: error.message, retryable: error.retryable }, retryAfterMs: error.retryAfterMs };
      }
      logger.warn(`job ${job.id} run ${job.attempts} threw: ${(error as Error)?.stack ?? error}`);
      return { kind: 'failed', error: { code: 'handler_error', message: String((error as Error)?.message ?? error), retryable: true } };
    } finally {
      clearTimeout(timer);
      stop?.removeEventListener('abort', onStop);
    }
  }
}

/** Whether a record read (its type as HubSpot's paths name it) is the job's own. */
function isRecord(own: { type: string; id: string }, read: { type: string; id: string }): boolean {
  return normaliseObjectType(own.type) === read.type && String(own.id) === String(read.id);
}
