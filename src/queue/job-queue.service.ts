import { getSharedConfigToken } from '@nestjs/bullmq';
import { BeforeApplicationShutdown, Inject, Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { Queue, QueueOptions } from 'bullmq';
import { MicroBatcher } from '../common/micro-batcher';
import { HandlerRegistry } from '../registry/handler-registry';
import { Admission, FairShare, Lookahead, PortalScheduling, ScheduledJob, Settlement } from './fair-share';
import { closeRedis, isCluster } from '../redis/redis-connection';
import { queueNameFor, queueOptionsFor } from './queue-names';

export interface QueuedJob extends ScheduledJob {
  type: string;
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

/**
 * How many jobs of a type may wait in BullMQ, per slot of the type's concurrency: every job beyond
 * the lookahead waits in its portal's backlog, where the fair share orders it. Within these bounds
 * the lookahead holds about a quarter second of starts, so a job of a portal that was idle starts
 * within about that, however long the runs (docs/scheduling.md has the measurements).
 */
const LOOKAHEAD_PER_SLOT = { least: 0.25, most: 2 };

/** How long a capped portal's slot is held for a job let into BullMQ that has not started (its run then holds it until its deadline). */
const ADMISSION_LEASE_MS = 10 * 60_000;

/**
 * The BullMQ side of a job: PostgreSQL decides what should run; the fair share (FairShare) decides
 * in which order across portals, and this puts each job it lets through where workers find it.
 */
@Injectable()
export class JobQueue implements BeforeApplicationShutdown, OnApplicationShutdown {
  private readonly logger = new Logger(JobQueue.name);
  private readonly queues: Map<string, Queue>;
  private readonly lookaheads: Map<string, Lookahead>;
  private readonly adds = new MicroBatcher<QueuedJob, void>({
    maxBatchSize: 1000,
    maxInFlight: 2,
    execute: async (jobs) => {
      await this.addNow(jobs);
      return jobs.map(() => undefined);
    },
  });

  constructor(
    @Inject(getSharedConfigToken()) private readonly bull: QueueOptions,
    registry: HandlerRegistry,
    private readonly fairShare: FairShare,
  ) {
    this.queues = new Map(registry.list().map((handler) => [handler.type, new Queue(queueNameFor(handler.type), queueOptionsFor(bull, handler.type))]));
    this.lookaheads = new Map(
      registry.list().map(({ type, concurrency }) => [
        type,
        { least: Math.ceil(concurrency * LOOKAHEAD_PER_SLOT.least), most: Math.ceil(concurrency * LOOKAHEAD_PER_SLOT.most) },
      ]),
    );
    // Connection errors (Redis going away) are logged; each command that fails says so to its caller.
    for (const [type, queue] of this.queues) queue.on('error', (error) => this.logger.warn(`queue ${type}: ${error.message}`));
  }

  /** Adds still in flight reach Redis before the queues close. */
  async beforeApplicationShutdown(): Promise<void> {
    await this.adds.drain();
  }

  /** The queues close, then the cluster client they shared (see bullMqConnection); workers closed theirs before. */
  async onApplicationShutdown(): Promise<void> {
    await Promise.all([...this.queues.values()].map((queue) => queue.close()));
    if (isCluster(this.bull.connection)) await closeRedis(this.bull.connection);
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
   * Queues committed jobs in their portals' backlogs, batching concurrent calls into one script per
   * type, and hands BullMQ the jobs the lookahead has room for. The BullMQ job id is the job's id,
   * so adding a job that is already in BullMQ is a no-op.
   */
  add(jobs: QueuedJob[]): Promise<void[]> {
    return this.adds.addAll(jobs);
  }

  private async addNow(jobs: QueuedJob[]): Promise<void> {
    const byType = new Map<string, QueuedJob[]>();
    for (const job of jobs) byType.set(job.type, [...(byType.get(job.type) ?? []), job]);
    await Promise.all([...byType].map(async ([type, group]) => this.admit(type, await this.fairShare.push(type, this.lookahead(type), ADMISSION_LEASE_MS, group))));
  }

  /** Records what a worker reports of a job type (see Settlement) and hands BullMQ what the lookahead then has room for. */
  async settle(type: string, settlement: Settlement): Promise<void> {
    await this.admit(type, await this.fairShare.settle(type, this.lookahead(type), ADMISSION_LEASE_MS, settlement));
  }

  /** Jobs of the type waiting in BullMQ (the lookahead in use). */
  async waiting(type: string): Promise<number> {
    const counts = await this.queueFor(type).getJobCounts('wait', 'prioritized');
    return counts.wait + counts.prioritized;
  }

  /** Whether the run of a job whose portal is capped may start now, holding one of its portal's slots for leaseMs. */
  confirm(job: QueuedJob, leaseMs: number): Promise<boolean> {
    return this.fairShare.confirm(job.type, job, leaseMs);
  }

  /** Sets a portal's scheduling, for every job type. */
  async schedule(portalId: string, scheduling: PortalScheduling): Promise<void> {
    await Promise.all([...this.queues.keys()].map((type) => this.fairShare.configure(type, [{ portalId, scheduling }])));
  }

  /** After Redis lost the portals' scheduling, puts it back from `load` (every portal off the defaults). */
  async restoreScheduling(load: () => Promise<Array<{ portalId: string; scheduling: PortalScheduling }>>): Promise<void> {
    const lost = [];
    for (const type of this.queues.keys()) if (!(await this.fairShare.restored(type))) lost.push(type);
    if (lost.length === 0) return;
    const portals = await load();
    await Promise.all(lost.map((type) => this.fairShare.configure(type, portals, true)));
  }

  /** Takes a job out of its portal's backlog, or out of BullMQ when it waits there; a running one is left to its worker. */
  async remove(job: QueuedJob): Promise<void> {
    await Promise.all(
      [this.fairShare.withdraw(job.type, job), this.queueFor(job.type).remove(job.id)].map((removal) =>
        removal.catch((error: Error) => this.logger.debug(`job ${job.id} not removed from the queue: ${error.message}`)),
      ),
    );
  }

  /** The ids of these jobs that neither BullMQ nor a portal's backlog holds. */
  async missing(jobs: QueuedJob[]): Promise<string[]> {
    const states = await Promise.all(jobs.map((job) => this.queueFor(job.type).getJobState(job.id)));
    const notInBull = jobs.filter((_, index) => states[index] === 'unknown');
    const byType = new Map<string, QueuedJob[]>();
    for (const job of notInBull) byType.set(job.type, [...(byType.get(job.type) ?? []), job]);
    return (await Promise.all([...byType].map(([type, group]) => this.fairShare.unknown(type, group)))).flat();
  }

  private lookahead(type: string): Lookahead {
    const lookahead = this.lookaheads.get(type);
    if (lookahead === undefined) throw new Error(`no queue for job type ${type}`);
    return lookahead;
  }

  private async admit(type: string, admissions: Admission[]): Promise<void> {
    if (admissions.length === 0) return;
    await this.queueFor(type).addBulk(
      admissions.map((job) => ({
        name: type,
        data: job.capped ? { portalId: job.portalId, capped: true } : { portalId: job.portalId },
        opts: {
          jobId: job.id,
          ...(job.priority === 'bulk' ? { priority: BULK_QUEUE_PRIORITY } : {}),
          ...(job.front ? { lifo: true } : {}),
          ...INFRASTRUCTURE_RETRIES,
          removeOnComplete: true,
          removeOnFail: true,
        },
      })),
    );
  }
}
