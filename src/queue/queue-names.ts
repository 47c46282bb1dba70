import type { QueueOptions } from 'bullmq';
import { isCluster } from '../redis/redis-connection';

/**
 * One BullMQ queue per job type, so a slow handler never holds up another and each has its own
 * concurrency. Never change this scheme: jobs already waiting under the old names would be orphaned.
 */
export function queueNameFor(type: string): string {
  return `jobs.${type}`;
}

/**
 * A job type's queue options, from those every queue shares. BullMQ's scripts each touch many keys
 * of one queue, which a Redis Cluster takes only from one hash slot: there the job type is a hash
 * tag in the prefix, so each queue is one slot and the queues spread over the masters. On one
 * server the prefix stays as it always was, so jobs already queued keep their keys.
 */
export function queueOptionsFor<T extends QueueOptions>(shared: T, type: string): T {
  return isCluster(shared.connection) ? { ...shared, prefix: `${shared.prefix}:{${type}}` } : shared;
}
