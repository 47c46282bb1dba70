import { BeforeApplicationShutdown, Inject, Injectable, Logger, OnApplicationBootstrap, OnModuleInit } from '@nestjs/common';
import { MicroBatcher } from '../../common/micro-batcher';
import { AppConfig } from '../../config/app-config';
import { APP_CONFIG } from '../../config/config.module';
import { JobLifecycle } from '../../jobs/job-lifecycle';
import { isTerminal, JobRecord } from '../../jobs/job-record';
import { JobRepository, KeysetCursor } from '../../jobs/job.repository';
import { RedisService } from '../../redis/redis.service';
import { HubSpotGateway, hubSpotFailure } from './hubspot-gateway';
import { stepCompletion } from './workflow-step';

/** HubSpot's batch completion takes at most this many callbacks. */
const MAX_BATCH_CALLBACKS = 100;
const LINGER_MS = 1_000;
const SWEEP_INTERVAL_MS = 60_000;
/**
 * A completion is left to the process that ended its job for this long (its own retries included)
 * before the sweep sends it again; shorter would complete steps twice more often.
 */
const SWEEP_AFTER_MS = 5 * 60_000;
const SWEEP_PAGE = 500;

/**
 * Completes the blocked workflow step of each job that came from a custom workflow action, once the
 * job has ended: SUCCESS with its outputs, FAIL_CONTINUE with the error. Completions of a portal
 * that end together share batch calls.
 *
 * At least once: a job's step is settled in PostgreSQL only after HubSpot accepted (or refused for
 * good) its completion, and a sweep in the workers sends again every completion still unsettled
 * a few minutes after its job ended (a crash, HubSpot down). So a step may, rarely, be completed
 * twice; HubSpot ignores the second.
 */
@Injectable()
export class WorkflowStepCompleter implements OnModuleInit, OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(WorkflowStepCompleter.name);
  private readonly batchers = new Map<string, MicroBatcher<JobRecord, void>>();
  private timer?: NodeJS.Timeout;
  private sweeping?: Promise<void>;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly gateway: HubSpotGateway,
    private readonly jobs: JobRepository,
    private readonly redis: RedisService,
    private readonly lifecycle: JobLifecycle,
  ) {}

  onModuleInit(): void {
    this.lifecycle.onEnded((jobs) => this.jobsEnded(jobs));
  }

  onApplicationBootstrap(): void {
    if (this.config.role === 'api') return;
    this.timer = setInterval(() => void this.sweep(), SWEEP_INTERVAL_MS);
  }

  async beforeApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    await Promise.all([this.sweeping, ...[...this.batchers.values()].map((batcher) => batcher.drain())]);
  }

  /** Jobs that just ended (in any state); those that owe a workflow step its completion get it soon. */
  private jobsEnded(jobs: JobRecord[]): void {
    for (const job of jobs) {
      if (!job.completesWorkflowStep || !job.callbackId || job.workflowStepSettledAt || !isTerminal(job.status)) continue;
      void this.batcher(job.portalId).add(job);
    }
  }

  /** Sends again the completions still unsettled a while after their jobs ended; one process at a time. */
  async sweep(): Promise<void> {
    if (this.sweeping) return this.sweeping;
    this.sweeping = this.sweepOnce()
      .catch((error: Error) => this.logger.warn(`Sweep of unsettled workflow steps failed, will try again: ${error.message}`))
      .finally(() => (this.sweeping = undefined));
    return this.sweeping;
  }

  private async sweepOnce(): Promise<void> {
    await this.redis.exclusively('hubspot:workflow-step-sweep-lock', SWEEP_INTERVAL_MS, async () => {
      let after: KeysetCursor | undefined;
      do {
        const { items: unsettled, next } = await this.jobs.findUnsettledWorkflowSteps(SWEEP_AFTER_MS, after, SWEEP_PAGE);
        if (unsettled.length > 0) this.logger.warn(`Completing ${unsettled.length} workflow steps that HubSpot has not accepted yet`);
        await Promise.all(unsettled.map((job) => this.batcher(job.portalId).add(job)));
        after = next;
      } while (after);
    });
  }

  private batcher(portalId: string): MicroBatcher<JobRecord, void> {
    let batcher = this.batchers.get(portalId);
    if (!batcher) {
      batcher = new MicroBatcher<JobRecord, void>({
        maxBatchSize: MAX_BATCH_CALLBACKS,
        maxInFlight: 2,
        lingerMs: LINGER_MS,
        execute: async (jobs) => {
          await this.complete(portalId, jobs);
          return jobs.map(() => undefined);
        },
      });
      this.batchers.set(portalId, batcher);
    }
    return batcher;
  }

  /** Never throws: what is not settled here is left to the sweep. */
  private async complete(portalId: string, jobs: JobRecord[]): Promise<void> {
    // One input per callback: a job the sweep sent again while its first completion was under way is in twice.
    const byCallback = new Map<string, JobRecord[]>();
    for (const job of jobs) byCallback.set(job.callbackId!, [...(byCallback.get(job.callbackId!) ?? []), job]);
    const inputs = [...byCallback].map(([callbackId, same]) => ({ callbackId, outputFields: stepCompletion(same[same.length - 1]) }));
    try {
      await this.gateway.call(portalId, 'live', (client) => client.automation.actions.callbacksApi.completeBatch({ inputs }));
    } catch (error) {
      const failure = hubSpotFailure(error);
      if (failure.transient) {
        this.logger.warn(`${inputs.length} workflow step completions of portal ${portalId} failed (the sweep retries them): ${failure.message}`);
        return;
      }
      // A refusal of the batch may be about one callback (expired, unknown): settle each on its own.
      if (inputs.length > 1) {
        await Promise.all([...byCallback.values()].map((same) => this.complete(portalId, same)));
        return;
      }
      this.logger.warn(`HubSpot refused to complete workflow step ${inputs[0].callbackId}: ${failure.message}`);
    }
    await this.jobs.settleWorkflowSteps(jobs.map((job) => job.id)).catch((error: Error) => {
      this.logger.warn(`Completed workflow steps not marked settled, the sweep may send them again: ${error.message}`);
    });
  }
}
