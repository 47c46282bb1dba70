import { getSharedConfigToken } from '@nestjs/bullmq';
import { BeforeApplicationShutdown, Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { QueueOptions, Worker } from 'bullmq';
import { AppConfig } from '../config/app-config';
import { APP_CONFIG } from '../config/config.module';
import { CALL_TIMEOUT_MS } from '../hubspot/client/hubspot-gateway';
import { WritebackWriter } from '../hubspot/client/writeback-writer';
import { JobLifecycle } from '../jobs/job-lifecycle';
import { JobSignals } from '../jobs/job-signals';
import { MetricsService } from '../metrics/metrics.service';
import { queueNameFor, queueOptionsFor } from '../queue/queue-names';
import { HandlerRegistry } from '../registry/handler-registry';
import { JobRunner, STOP_CANCELLED, STOP_SHUTDOWN } from './job-runner';
import { QueueFeeder } from './queue-feeder';

/**
 * How soon the jobs of a worker that died (SIGKILL, a lost node) are delivered again. A worker
 * holds a lock on each job it runs for LOCK_MS and renews it every LOCK_MS / 2 while it lives;
 * every STALLED_CHECK_MS one worker moves the jobs whose lock has expired back to the queue. So
 * a dead worker's jobs are delivered again within LOCK_MS + STALLED_CHECK_MS, 7.5 s, where
 * BullMQ's defaults (30 s each) took up to a minute. A worker alive but stalled for longer than
 * LOCK_MS (a pause of its event loop) loses its locks too: its jobs are delivered again, and the
 * claim in PostgreSQL, which the live run still holds, keeps them from running twice.
 */
export const LOCK_MS = 5_000;
export const STALLED_CHECK_MS = 2_500;
/**
 * Deliveries of one job whose worker died, before BullMQ fails it for good; the reconciler would
 * still put it back from PostgreSQL, where the job's own attempts bound a job that kills its workers.
 */
const MAX_STALLS = 3;

/**
 * One BullMQ worker per job type, and the write-back writer. They start only once the whole
 * application is up, and on SIGTERM they take no new work, let running jobs finish for
 * SHUTDOWN_GRACE_MS, then stop the rest and hand them back to the queue; HubSpot writes already
 * sent are waited for.
 */
@Injectable()
export class JobWorkers implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(JobWorkers.name);
  private workers: Worker[] = [];
  private stopListening?: () => void;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(getSharedConfigToken()) private readonly bull: QueueOptions,
    private readonly registry: HandlerRegistry,
    private readonly runner: JobRunner,
    private readonly writer: WritebackWriter,
    private readonly lifecycle: JobLifecycle,
    private readonly signals: JobSignals,
    private readonly feeder: QueueFeeder,
    private readonly metrics: MetricsService,
  ) {}

  onApplicationBootstrap(): void {
    this.stopListening = this.signals.onCancel((id) => this.workers.forEach((worker) => worker.cancelJob(id, STOP_CANCELLED)));
    this.workers = this.registry.list().map((handler) => {
      const worker = new Worker(
        queueNameFor(handler.type),
        // Three parameters: BullMQ passes the abort signal only to a processor that declares it.
        (job, token, signal) => this.runner.process(handler, job, token, signal),
        {
          ...queueOptionsFor(this.bull, handler.type),
          concurrency: handler.concurrency,
          autorun: false,
          lockDuration: LOCK_MS,
          stalledInterval: STALLED_CHECK_MS,
          maxStalledCount: MAX_STALLS,
        },
      );
      this.metrics.workerSlots.set({ type: handler.type }, handler.concurrency);
      worker.on('error', (error) => this.logger.warn(`worker ${handler.type}: ${error.message}`));
      worker.on('stalled', (id) => this.logger.warn(`job ${id} was held by a worker that stopped renewing its lock: delivered again`));
      worker.on('completed', (job, handBack) => this.runner.completed(handler, job, handBack));
      worker.on('failed', (job, error) => this.logger.warn(`job ${job?.id} could not be claimed, BullMQ will retry it: ${error.message}`));
      void worker.run().catch((error: Error) => this.logger.error(`worker ${handler.type} stopped: ${error.message}`));
      return worker;
    });
    this.writer.start();
    this.logger.log(`Running ${this.workers.length} job types: ${this.registry.list().map((h) => `${h.type}×${h.concurrency}`).join(', ')}`);
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.stopListening?.();
    const grace = setTimeout(() => {
      this.logger.warn('Shutdown grace period over: handing running jobs back to the queue');
      this.workers.forEach((worker) => worker.cancelAllJobs(STOP_SHUTDOWN));
    }, this.config.shutdownGraceMs);
    try {
      await Promise.all(this.workers.map((worker) => worker.close()));
    } finally {
      clearTimeout(grace);
    }
    // Runs that ended meanwhile journaled their writes; the writer sends none after this, and waits for those it sent.
    await this.writer.stop(CALL_TIMEOUT_MS);
    await Promise.all([this.lifecycle.drain(), this.feeder.drain()]);
  }
}
