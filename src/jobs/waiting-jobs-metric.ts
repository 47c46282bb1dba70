import { Injectable } from '@nestjs/common';
import { Gauge } from 'prom-client';
import { MetricsService } from '../metrics/metrics.service';
import { JobRepository } from './job.repository';

/** The portals shown: enough to see who holds the backlog, few enough to keep the series bounded. */
const TOP_PORTALS = 10;

/** Jobs waiting to run for the portals that have the most, read from PostgreSQL at each scrape. */
@Injectable()
export class WaitingJobsMetric {
  constructor(jobs: JobRepository, metrics: MetricsService) {
    new Gauge({
      name: 'offload_portal_jobs_waiting',
      help: `Jobs waiting to run (retries included) by portal and job type, for the ${TOP_PORTALS} portals and types with the most`,
      labelNames: ['portal', 'type'],
      registers: [metrics.registry],
      async collect() {
        const top = await jobs.waitingByPortal(TOP_PORTALS, 'most');
        this.reset();
        for (const { portalId, type, waiting } of top) this.set({ portal: portalId, type }, waiting);
      },
    });
  }
}
