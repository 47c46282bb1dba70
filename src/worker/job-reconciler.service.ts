import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { AppConfig } from '../config/app-config';
import { APP_CONFIG } from '../config/config.module';
import { JobRepository, KeysetCursor } from '../jobs/job.repository';
import { PortalsService } from '../portals/portals.service';
import { JobQueue } from '../queue/job-queue.service';
import { RedisService } from '../redis/redis.service';
import { HandlerRegistry } from '../registry/handler-registry';

const PAGE = 500;

/**
 * PostgreSQL is the truth about which jobs should run; Redis can lose them (a flush, a restart
 * without persistence, a crash between commit and queue). This puts every live job that neither
 * BullMQ nor its portal's backlog holds back in the queue, and the portals' scheduling back in
 * Redis: at start-up, then every RECONCILE_INTERVAL_MS.
 */
@Injectable()
export class JobReconciler implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(JobReconciler.name);
  private timer?: NodeJS.Timeout;
  private running?: Promise<number>;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly jobs: JobRepository,
    private readonly queue: JobQueue,
    private readonly registry: HandlerRegistry,
    private readonly redis: RedisService,
    private readonly portals: PortalsService,
  ) {}

  onApplicationBootstrap(): void {
    void this.tick();
    this.timer = setInterval(() => void this.tick(), this.config.reconcileIntervalMs);
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    await this.running?.catch(() => undefined);
  }

  private async tick(): Promise<void> {
    if (this.running) return;
    this.running = this.reconcile();
    try {
      const requeued = await this.running;
      if (requeued > 0) this.logger.warn(`Re-queued ${requeued} jobs that the queue had lost`);
    } catch (error) {
      this.logger.warn(`Reconciliation failed, will try again: ${(error as Error).message}`);
    } finally {
      this.running = undefined;
    }
  }

  /** Answers how many jobs it put back. Only one process reconciles at a time. */
  async reconcile(): Promise<number> {
    const requeued = await this.redis.exclusively('reconciler-lock', Math.max(this.config.reconcileIntervalMs, 5_000), async () => {
      // Jobs lost with Redis are queued again in their portals' shares, so the shares come back first.
      await this.queue.restoreScheduling(() => this.portals.scheduledOffDefaults());
      let count = 0;
      let after: KeysetCursor | undefined;
      do {
        const { items: stale, next } = await this.jobs.findStale(this.config.reconcileIntervalMs, after, PAGE);
        const runnable = stale
          .filter((job) => this.registry.get(job.type))
          .map((job) => ({ id: job.id, type: job.type, portalId: job.portal_id, priority: job.priority }));
        const missing = new Set(await this.queue.missing(runnable));
        if (missing.size > 0) {
          await this.queue.add(runnable.filter((job) => missing.has(job.id)));
          count += missing.size;
        }
        after = next;
      } while (after);
      return count;
    });
    return requeued ?? 0;
  }
}
