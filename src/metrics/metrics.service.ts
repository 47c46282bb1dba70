import { Injectable } from '@nestjs/common';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { JobQueue } from '../queue/job-queue.service';

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

  readonly hubspotCalls = new Counter({
    name: 'offload_hubspot_calls_total',
    help: 'HubSpot API calls by outcome: ok, rate_limited (429), unavailable (5xx or no answer), refused (other 4xx)',
    labelNames: ['outcome'],
    registers: [this.registry],
  });

  readonly writebackWrites = new Counter({
    name: 'offload_writeback_writes_total',
    help: 'Journaled HubSpot writes settled, by outcome: written, superseded, refused, unconfirmed, failed, retry (back to pending)',
    labelNames: ['outcome'],
    registers: [this.registry],
  });

  readonly httpSeconds = new Histogram({
    name: 'offload_http_request_seconds',
    help: 'HTTP request duration by route',
    labelNames: ['method', 'route', 'status'],
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5, 16],
    registers: [this.registry],
  });

  constructor(queue: JobQueue) {
    collectDefaultMetrics({ register: this.registry, prefix: 'offload_' });
    new Gauge({
      name: 'offload_queue_jobs',
      help: 'Jobs in BullMQ by job type and queue state',
      labelNames: ['type', 'state'],
      registers: [this.registry],
      async collect() {
        await Promise.all(
          queue.entries().map(async ([type, q]) => {
            const counts = await q.getJobCounts('waiting', 'active', 'delayed', 'prioritized');
            for (const [state, count] of Object.entries(counts)) this.set({ type, state }, count);
          }),
        );
      },
    });
  }
}
