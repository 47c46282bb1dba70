import { BeforeApplicationShutdown, Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { Counter } from 'prom-client';
import { AppConfig } from '../config/app-config';
import { APP_CONFIG } from '../config/config.module';
import { MetricsService } from '../metrics/metrics.service';
import { RetentionRepository } from './retention.repository';

/** How often a worker looks for jobs past JOB_RETENTION_DAYS. */
export const RETENTION_INTERVAL_MS = 10 * 60_000;
const BATCH = 1_000;
/** A backlog (the first run on a large database) is worked off over several intervals, not in one long burst. */
const BATCHES_PER_INTERVAL = 50;

/**
 * Deletes jobs (their inputs and outputs may hold personal data) once they have ended
 * JOB_RETENTION_DAYS ago, with their write-back journal rows and outbox events, in batches, in one
 * worker at a time. 0 keeps everything.
 */
@Injectable()
export class JobRetention implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(JobRetention.name);
  private timer?: NodeJS.Timeout;
  private running?: Promise<unknown>;
  private stopping = false;
  private readonly purged: Counter<'what'>;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly retention: RetentionRepository,
    metrics: MetricsService,
  ) {
    this.purged = new Counter({
      name: 'offload_retention_purged_total',
      help: 'Rows deleted by data retention: jobs (with their write-back journal rows) and outbox events',
      labelNames: ['what'],
      registers: [metrics.registry],
    });
  }

  onApplicationBootstrap(): void {
    if (this.config.jobRetentionDays === 0) return;
    this.timer = setInterval(() => (this.running ??= this.purge().finally(() => (this.running = undefined))), RETENTION_INTERVAL_MS);
    this.timer.unref();
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.stopping = true;
    clearInterval(this.timer);
    await this.running;
  }

  /** One pass: ended jobs past the retention, then the events of jobs no longer there. */
  async purge(): Promise<{ jobs: number; events: number }> {
    const days = this.config.jobRetentionDays;
    let jobs = 0;
    let events = 0;
    try {
      for (let batch = 0; batch < BATCHES_PER_INTERVAL && !this.stopping; batch++) {
        const deleted = await this.retention.purgeEndedJobs(days, BATCH);
        jobs += deleted;
        if (deleted < BATCH) break;
      }
      let after = '0';
      for (let batch = 0; batch < BATCHES_PER_INTERVAL && !this.stopping; batch++) {
        const pass = await this.retention.purgeOrphanEvents(days, after, BATCH * 5);
        events += pass.deleted;
        after = pass.next;
        if (pass.done) break;
      }
    } catch (error) {
      this.logger.warn(`Purging data past JOB_RETENTION_DAYS failed, trying again in ${RETENTION_INTERVAL_MS / 60_000} min: ${(error as Error).message}`);
    }
    this.purged.inc({ what: 'jobs' }, jobs);
    this.purged.inc({ what: 'outbox_events' }, events);
    if (jobs + events > 0) {
      this.logger.log({ event: 'retention.purged', jobs, events, days }, `Purged ${jobs} jobs and ${events} outbox events that ended more than ${days} days ago`);
    }
    return { jobs, events };
  }
}
