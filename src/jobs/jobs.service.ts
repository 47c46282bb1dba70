import { Injectable, Logger } from '@nestjs/common';
import { ApiError } from '../common/api-error';
import {
  DomainError,
  IdempotencyConflictError,
  InvalidInputError,
  InvalidJobStateError,
  NotFoundError,
  UnavailableError,
  UnknownJobTypeError,
} from '../common/domain-errors';
import { MicroBatcher } from '../common/micro-batcher';
import { timeOrderedUuid } from '../common/time-ordered-uuid';
import { MetricsService } from '../metrics/metrics.service';
import { PortalPauses } from '../portals/portal-pauses.service';
import { AuthenticatedPortal, isUuid } from '../portals/portals.service';
import { JobQueue } from '../queue/job-queue.service';
import { HandlerRegistry, RegisteredHandler } from '../registry/handler-registry';
import { startJobTrace } from '../telemetry/job-trace';
import { deriveIdempotencyKey, JobRequestIdentity, requestHash } from './idempotency';
import { enqueueBody } from './job-request.schemas';
import { JobLifecycle } from './job-lifecycle';
import { isTerminal, JobPriority, JobRecord, jobView, JobView } from './job-record';
import { JobRepository, NewJobRow } from './job.repository';
import { JobWaiter } from './job-waiter';

/**
 * A job enqueued (202) or found under its idempotency key (200), or why the request was refused:
 * a body of the wrong shape, or the domain's refusal.
 */
export type EnqueueResult = { status: 200 | 202; job: JobView } | { error: ApiError | DomainError };

export const MAX_WAIT_SECONDS = 15;

/** What a job is asked to do: a POST /v1/jobs body, or what a HubSpot entry point made of HubSpot's request. */
export interface JobRequest {
  type: string;
  input?: Record<string, unknown>;
  object?: { type: string; id: string | number; properties?: Record<string, string | null> };
  idempotencyKey?: string;
  callbackId?: string;
  writeback?: boolean;
  dryRun?: boolean;
  priority?: JobPriority;
  completesWorkflowStep?: boolean;
}

@Injectable()
export class JobsService {
  private readonly logger = new Logger(JobsService.name);
  /**
   * Concurrent enqueues share one INSERT statement (and its commit). One statement at a time, with
   * a 5 ms linger: a statement's fixed cost in PostgreSQL is about that of thirty rows, so at a
   * few thousand enqueues a second fewer, larger statements leave the cores to the requests.
   */
  private readonly inserts = new MicroBatcher<NewJobRow, JobRecord | undefined>({
    maxBatchSize: 500,
    maxInFlight: 1,
    lingerMs: 5,
    execute: async (rows) => {
      const inserted = new Map((await this.jobs.insertMany(rows)).map((job) => [job.id, job]));
      return rows.map((row) => inserted.get(row.id));
    },
  });

  constructor(
    private readonly jobs: JobRepository,
    private readonly queue: JobQueue,
    private readonly registry: HandlerRegistry,
    private readonly lifecycle: JobLifecycle,
    private readonly waiter: JobWaiter,
    private readonly metrics: MetricsService,
    private readonly pauses: PortalPauses,
  ) {}

  async enqueue(portal: AuthenticatedPortal, body: unknown): Promise<{ status: 200 | 202; job: JobView }> {
    const [result] = await this.enqueueMany(portal, [body]);
    if ('error' in result) throw result.error;
    return result;
  }

  /** Each body answered as a single enqueue would answer it, in order; the valid ones share round trips. */
  enqueueMany(portal: AuthenticatedPortal, bodies: unknown[]): Promise<EnqueueResult[]> {
    return this.enqueuePrepared(bodies.map((body) => rowOrError(() => this.prepare(portal, enqueueBody.parse(body)))));
  }

  /** A request an entry point built itself (not a public body), answered as POST /v1/jobs would answer it. */
  async enqueueRequest(portal: AuthenticatedPortal, request: JobRequest): Promise<EnqueueResult> {
    const [result] = await this.enqueuePrepared([rowOrError(() => this.prepare(portal, request))]);
    return result;
  }

  private async enqueuePrepared(prepared: Array<NewJobRow | ApiError | DomainError>): Promise<EnqueueResult[]> {
    const rows = prepared.filter((p): p is NewJobRow => !(p instanceof Error));
    const inserted = await this.inserts.addAll(rows);
    const insertedById = new Map(rows.map((row, index) => [row.id, inserted[index]]));

    const existing = await this.jobs.findByKeys(
      rows.filter((row) => !insertedById.get(row.id)).map((row) => ({ portalId: row.portal_id, idempotencyKey: row.idempotency_key })),
    );
    const existingByKey = new Map(existing.map((job) => [job.idempotencyKey, job]));

    const fresh = [...insertedById.values()].filter((job): job is JobRecord => job !== undefined);
    if (fresh.length > 0) {
      // The jobs are committed, so the answer need not wait for Redis: should queueing fail now,
      // the reconciler queues them later, and nothing accepted is lost.
      void this.queue
        .add(fresh.map((job) => ({ id: job.id, type: job.type, portalId: job.portalId, priority: job.priority })))
        .catch((error: Error) => this.logger.warn(`${fresh.length} jobs committed but not queued yet: ${error.message}`));
      for (const job of fresh) this.metrics.jobsEnqueued.inc({ type: job.type });
    }

    return prepared.map((p): EnqueueResult => {
      if (p instanceof Error) return { error: p };
      const own = insertedById.get(p.id);
      if (own) return { status: 202, job: this.view(own) };
      const other = existingByKey.get(p.idempotency_key);
      if (!other) return { error: new UnavailableError('The job could not be recorded; try again') };
      if (other.requestHash !== p.request_hash) return { error: new IdempotencyConflictError(p.idempotency_key, other.id) };
      return { status: 200, job: this.view(other) };
    });
  }

  async get(portal: AuthenticatedPortal, id: string, waitSeconds = 0): Promise<JobView> {
    if (!isUuid(id)) throw new NotFoundError('Job');
    if (waitSeconds <= 0) return this.view(await this.find(portal, id));
    const watch = this.waiter.watch(id);
    try {
      const job = await this.find(portal, id);
      if (isTerminal(job.status)) return this.view(job);
      await watch.wait(waitSeconds * 1000);
      return this.view(await this.find(portal, id));
    } finally {
      watch.cancel();
    }
  }

  async getByKey(portal: AuthenticatedPortal, idempotencyKey: string): Promise<JobView> {
    const job = await this.jobs.findByKey(portal.id, idempotencyKey);
    if (!job) throw new NotFoundError('Job');
    return this.view(job);
  }

  async cancel(portal: AuthenticatedPortal, id: string): Promise<JobView> {
    if (!isUuid(id)) throw new NotFoundError('Job');
    const job = await this.lifecycle.cancel(portal.id, id);
    if (!job) throw await this.invalidState(portal, id, (status) => `The job is already ${status} and cannot be cancelled`);
    return this.view(job);
  }

  async retry(portal: AuthenticatedPortal, id: string): Promise<JobView> {
    if (!isUuid(id)) throw new NotFoundError('Job');
    const [job] = await this.retryMany([id], portal.id);
    if (!job) throw await this.invalidState(portal, id, (status) => `Only a failed or cancelled job can be retried; this one is ${status}`);
    return this.view(job);
  }

  /** Runs the failed or cancelled jobs among `ids` (of the portal, when given) again; answers those put back in the queue. */
  async retryMany(ids: string[], portalId?: string): Promise<JobRecord[]> {
    const jobs = await this.jobs.requeueMany(ids, portalId);
    const queued = jobs.map((job) => ({ id: job.id, type: job.type, portalId: job.portalId, priority: job.priority }));
    await Promise.all(queued.map((job) => this.queue.remove(job)));
    await this.queue.add(queued);
    return jobs;
  }

  /** The job as the API shows it, with what pauses it, as this process knows the pauses. */
  view(job: JobRecord): JobView {
    return jobView(job, this.pauses.pauseOf(job.portalId, job.type));
  }

  private async find(portal: AuthenticatedPortal, id: string): Promise<JobRecord> {
    const job = await this.jobs.findById(portal.id, id);
    if (!job) throw new NotFoundError('Job');
    return job;
  }

  /** The error for a job in the wrong state; throws NotFoundError when the portal has no such job. */
  private async invalidState(portal: AuthenticatedPortal, id: string, message: (status: string) => string): Promise<InvalidJobStateError> {
    const current = await this.find(portal, id);
    return new InvalidJobStateError(message(current.status));
  }

  /** The handler of a job type; throws UnknownJobTypeError for a type no handler is registered for. */
  handlerFor(type: string): RegisteredHandler {
    const handler = this.registry.get(type);
    if (!handler) throw new UnknownJobTypeError(type);
    return handler;
  }

  private prepare(portal: AuthenticatedPortal, request: JobRequest): NewJobRow {
    const handler = this.handlerFor(request.type);
    const input = (request.input ?? {}) as Record<string, unknown>;
    const problems = handler.validateInput(input, 'input');
    if (request.writeback && !request.object) problems.push({ path: 'object', message: 'is required when writeback is true' });
    else if (request.dryRun && !request.object) problems.push({ path: 'object', message: 'is required when dryRun is true' });
    if (problems.length > 0) throw new InvalidInputError(problems);

    const object = request.object ? { type: request.object.type, id: String(request.object.id) } : undefined;
    const identity: JobRequestIdentity = {
      type: request.type,
      input,
      object,
      callbackId: request.callbackId,
      writeback: request.writeback ?? false,
      dryRun: request.dryRun ?? false,
      completesWorkflowStep: request.completesWorkflowStep ?? false,
    };
    const hash = requestHash(identity);
    const idempotencyKey = request.idempotencyKey ?? deriveIdempotencyKey(portal.id, identity, hash);
    const trace = startJobTrace(request.type, { 'offload.portal.id': portal.id });
    return {
      id: timeOrderedUuid(),
      portal_id: portal.id,
      type: request.type,
      handler_version: handler.version,
      idempotency_key: idempotencyKey,
      request_hash: hash,
      input,
      object_type: object?.type ?? null,
      object_id: object?.id ?? null,
      object_properties: request.object?.properties ?? null,
      callback_id: request.callbackId ?? null,
      writeback: identity.writeback,
      dry_run: identity.dryRun ?? false,
      priority: request.priority ?? 'live',
      completes_workflow_step: request.completesWorkflowStep ?? false,
      max_attempts: handler.retry.attempts,
      trace_id: trace.traceId,
      span_id: trace.spanId,
    };
  }
}

/** The row to insert, or why the request is refused. */
function rowOrError(build: () => NewJobRow): NewJobRow | ApiError | DomainError {
  try {
    return build();
  } catch (error) {
    if (error instanceof ApiError || error instanceof DomainError) return error;
    throw error;
  }
}
