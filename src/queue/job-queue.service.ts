import { getSharedConfigToken } from '@nestjs/bullmq';
import { BeforeApplicationShutdown, Inject, Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { Queue, QueueOptions } from 'bullmq';
import { MicroBatcher } from '../common/micro-batcher';
import type { JobPriority } from '../jobs/job-record';
import { HandlerRegistry } from '../registry/handler-registry';
import { queueNameFor } from './queue-names';

export interface QueuedJob {
  id: string;
  type: string;
  portalId: string;
  priority: JobPriority;
}

/**
 * BullMQ's own attempts only cover a worker failing to claim a run (PostgreSQL unreachable, say),
 * before anything ran; an end that cannot be recorded is kept and recorded later, never run again
 * (see JobLifecycle.recordRun). A handler's failures and their backoff are counted by the job
 * itself (see worker/job-runner.ts).
 */
const INFRASTRUCTURE_RETRIES = { attempts: 8, backoff: { type: 'exponential', delay: 1_000, jitter: 0.5 } };

/**
 * BullMQ hands out jobs without a priority before any prioritized one, so giving bulk jobs one is
 * what lets live jobs overtake a backlog of backfills.
 */
const BULK_QUEUE_PRIORITY = 1;

/** The BullMQ side of a job: PostgreSQL decides what should run, this puts it where workers find it. */
@Injectable()
export class JobQueue implements BeforeApplicationShutdown, OnApplicationShutdown {
  private readonly logger = new Logger(JobQueue.name);
  private readonly queues: Map<string, Queue>;
  private readonly adds = new MicroBatcher<QueuedJob, void>({
    maxBatchSize: 1000,
    maxInFlight: 2,
    execute: async (jobs) => {
      await this.addNow(jobs);
      return jobs.map(() => undefined);
    },
  });

  constructor(@Inject(getSharedConfigToken()) bull: QueueOptions, registry: HandlerRegistry) {
    this.queues = new Map(registry.list().map((handler) => [handler.type, new Queue(queueNameFor(handler.type), bull)]));
    // Connection errors (Redis going away) are logged; each command that fails says so to its caller.
    for (const [type, queue] of this.queues) queue.on('error', (error) => this.logger.warn(`queue ${type}: ${error.message}`));
  }

  /** Adds still in flight reach Redis before the queues close. */
  async beforeApplicationShutdown(): Promise<void> {
    await this.adds.drain();
  }

  async onApplicationShutdown(): Promise<void> {
    await Promise.all([...this.queues.values()].map((queue) => queue.close()));
  }

  queueFor(type: string): Queue {
    const queue = this.queues.get(type);
    if (!queue) throw new Error(`no queue for job type ${type}`);
    return queue;
  }

  /** [job type, its queue] for every registered type. */
  entries(): Array<[string, Queue]> {
    return [...this.queues.entries()];
  }

  /**
   * Queues committed jobs, batching concurrent calls into one addBulk per type. The BullMQ job id is
   * the job's id, so adding a job that is already queued is a no-op.
   */
  add(jobs: QueuedJob[]): Promise<void[]> {
    return this.adds.addAll(jobs);
  }

  private async addNow(jobs: QueuedJob[]): Promise<void> {
    const byType = new Map<string, QueuedJob[]>();
    for (const job of jobs) byType.set(job.type, [...(byType.get(job.type) ?? []), job]);
    await Promise.all(
      [...byType].map(([type, group]) =>
        this.queueFor(type).addBulk(
          group.map((job) => ({
            name: type,
            data: { portalId: job.portalId },
            opts: {
              jobId: job.id,
              ...(job.priority === 'bulk' ? { priority: BULK_QUEUE_PRIORITY } : {}),
              ...INFRASTRUCTURE_RETRIES,
              removeOnComplete: true,
              removeOnFail: true,
            },
          })),
        ),
      ),
    );
  }

  /** Takes a waiting or delayed job out of the queue; a running one is left to its worker. */
  async remove(type: string, id: string): Promise<void> {
    try {
      await this.queueFor(type).remove(id);
    } catch (error) {
      this.logger.debug(`job ${id} not removed from the queue: ${(error as Error).message}`);
    }
  }

  /** The ids of these jobs that BullMQ does not hold at all. */
  async missing(jobs: Array<{ id: string; type: string }>): Promise<string[]> {
    const states = await Promise.all(jobs.map((job) => this.queueFor(job.type).getJobState(job.id)));
    return jobs.filter((_, index) => states[index] === 'unknown').map((job) => job.id);
  }
}
