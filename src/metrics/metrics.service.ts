import { Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { JobQueue } from '../queue/job-queue.service';
import { RedisService } from '../redis/redis.service';
import { BoundedLabel } from './bounded-label';

/** Portals with a series of their own in the per-portal metrics; the others are summed as `other`. */
export const MAX_PORTAL_SERIES = 200;
/**
 * How long the process that reports cluster-wide state (queue depth, pauses) keeps the role
 * without a scrape. Every process can report it, so one lease decides which does: a sum across
 * pods counts each job and each pause once.
 */
const REPORTER_LEASE_MS = 60_000;
const HOLD_LEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
if redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2], 'NX') then return 1 end
return 0`;

/** Portals paused, all their work (`all`) or a job type's (`type`), as the gauge reports them. */
export interface PausedCount {
  scope: 'all' | 'type';
  type?: string;
  count: number;
}

@Injectable()
export class MetricsService {
  readonly registry = new Registry();

  readonly jobsEnqueued = new Counter({
    name: 'offload_jobs_enqueued_total',
    help: 'Jobs accepted (new work only, not idempotent repeats)',
    labelNames: ['type'],
    registers: [this.registry],
  });

  readonly jobsFinished = new Counter({
    name: 'offload_jobs_finished_total',
    help: 'Jobs that reached a terminal status',
    labelNames: ['type', 'status'],
    registers: [this.registry],
  });

  readonly jobRunSeconds = new Histogram({
    name: 'offload_job_run_seconds',
    help: 'Duration of one run of a handler',
    labelNames: ['type', 'outcome'],
    buckets: [0.005, 0.025, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
    registers: [this.registry],
  });

  readonly jobScheduleDelaySeconds = new Histogram({
    name: 'offload_job_schedule_delay_seconds',
    help: 'From enqueue to the start of the first run, by priority: the wait for a worker and for the portal\'s fair share',
    labelNames: ['type', 'priority'],
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800],
    registers: [this.registry],
  });

  readonly hubspotCalls = new Counter({
    name: 'offload_hubspot_calls_total',
    help: `HubSpot API calls by portal (the first ${MAX_PORTAL_SERIES} seen, then "other") and outcome: ok, rate_limited (429), unavailable (5xx or no answer), refused (other 4xx)`,
    labelNames: ['portal', 'outcome'],
    registers: [this.registry],
  });

  /** The portal label of per-portal metrics: bounded, see BoundedLabel. */
  readonly portalLabel = new BoundedLabel(MAX_PORTAL_SERIES);

  readonly hubspotBudgetWaitSeconds = new Histogram({
    name: 'offload_hubspot_budget_wait_seconds',
    help: "How long a HubSpot call waited for a slot of its portal's API budget (a 429's pause included)",
    labelNames: ['priority'],
    buckets: [0.01, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
    registers: [this.registry],
  });

  readonly jobQueueWaitSeconds = new Histogram({
    name: 'offload_job_queue_wait_seconds',
    help: 'How long a job waited for a worker once due: from enqueue (or its retry coming due) to its run starting',
    labelNames: ['type'],
    buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600],
    registers: [this.registry],
  });

  /**
   * Portals paused by the kill switch: all their work (`scope="all"`), or that of a job type
   * (`scope="type"`, a series per registered type). Read from the function given to
   * reportPausedPortals, by the process that reports cluster-wide state (a sum across pods counts
   * each portal once); until one is given, nothing is reported.
   */
  readonly portalsPaused = new Gauge({
    name: 'offload_portals_paused',
    help: 'Portals whose work is paused (kill switch): all of it (scope="all"), or that of a job type (scope="type"); reported by one process at a time',
    labelNames: ['scope', 'type'],
    registers: [this.registry],
  });

  readonly writebackWrites = new Counter({
    name: 'offload_writeback_writes_total',
    help: 'Journaled HubSpot writes settled, by outcome: written, superseded, refused, unconfirmed, failed, retry (back to pending)',
    labelNames: ['outcome'],
    registers: [this.registry],
  });

  /**
   * Runs of each job type this process may hold at once (its handler's concurrency); worker
   * processes only. Queue depth over it is how many workers the work needs (k8s/overlays/prod).
   */
  readonly workerSlots = new Gauge({
    name: 'offload_worker_slots',
    help: 'Runs of each job type one worker process holds at once (the handler\'s concurrency); reported by every worker process',
    labelNames: ['type'],
    registers: [this.registry],
  });

  readonly httpSeconds = new Histogram({
    name: 'offload_http_request_seconds',
    help: 'HTTP request duration by route',
    labelNames: ['method', 'route', 'status'],
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5, 16],
    registers: [this.registry],
  });

  private readonly reporterId = randomUUID();
  private readonly reporterKey: string;

  constructor(
    queue: JobQueue,
    private readonly redis: RedisService,
  ) {
    collectDefaultMetrics({ register: this.registry, prefix: 'offload_' });
    // The key keeps the name it had when it named only the queue depth reporter: a rolling upgrade finds the lease older pods hold.
    this.reporterKey = redis.key('metrics', 'queue-depth-reporter');
    const reporting = () => this.reportsClusterState();
    new Gauge({
      name: 'offload_queue_jobs',
      help: 'Jobs in BullMQ by job type and queue state; reported by one process at a time (sum across pods)',
      labelNames: ['type', 'state'],
      registers: [this.registry],
      async collect() {
        const reports = await reporting();
        this.reset();
        if (!reports) return;
        await Promise.all(
          queue.entries().map(async ([type, q]) => {
            const counts = await q.getJobCounts('waiting', 'active', 'delayed', 'prioritized');
            for (const [state, count] of Object.entries(counts)) this.set({ type, state }, count);
          }),
        );
      },
    });
  }

  /** The hook of the kill switch: `read` answers the paused portals, by scope, from wherever the pauses are kept. Read at each scrape. */
  reportPausedPortals(read: () => PausedCount[]): void {
    const gauge = this.portalsPaused;
    const reporting = () => this.reportsClusterState();
    Object.assign(gauge, {
      async collect() {
        gauge.reset();
        if (!(await reporting())) return;
        for (const { scope, type, count } of read()) gauge.set(type === undefined ? { scope } : { scope, type }, count);
      },
    });
  }

  /**
   * Whether this process reports the state every process sees alike (queue depth, pauses): one
   * lease in Redis decides which does, renewed at each scrape, so a sum across pods counts it once.
   */
  private async reportsClusterState(): Promise<boolean> {
    return Boolean(await this.redis.client.eval(HOLD_LEASE, 1, this.reporterKey, this.reporterId, REPORTER_LEASE_MS).catch(() => 0));
  }
}
