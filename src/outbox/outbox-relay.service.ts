import { BeforeApplicationShutdown, Inject, Injectable, Logger, OnApplicationBootstrap, Optional } from '@nestjs/common';
import { Counter, Gauge } from 'prom-client';
import { AppConfig } from '../config/app-config';
import { APP_CONFIG } from '../config/config.module';
import { MetricsService } from '../metrics/metrics.service';
import { RetryPolicy } from '../registry/job-handler';
import { retryDelayMs } from '../worker/backoff';
import { OUTBOX_PUBLISHER, OutboxPublisher } from './kafka-outbox-publisher';
import { OutboxEvent, takeWithinBytes } from './outbox-event';
import { OutboxRepository, RelayPass } from './outbox.repository';

const FAILURE_BACKOFF: RetryPolicy = { attempts: Infinity, backoffMs: 500, maxBackoffMs: 30_000 };

/**
 * A relay that has published nothing for this long disconnects: kafkajs 2.2.4 keeps a 1 ms timer
 * spinning for every open broker connection, idle or not (tulios/kafkajs#1704).
 */
export const IDLE_DISCONNECT_MS = 30_000;

/** How often the relay deletes events past OUTBOX_RETENTION_HOURS, and how many per statement. */
export const PRUNE_INTERVAL_MS = 60_000;
const PRUNE_CHUNK = 5_000;
/** A backlog of old events is worked off over several intervals, not in one long burst. */
const PRUNE_CHUNKS_PER_INTERVAL = 20;

/** How long to wait before the next pass: none while a backlog remains, the poll interval when idle. */
export function nextDelayMs(pass: RelayPass, batchSize: number, pollMs: number): number {
  const backlog = pass.locked && pass.fetched > 0 && (pass.fetched >= batchSize || pass.published < pass.fetched);
  return backlog ? 0 : pollMs;
}

function reasonOf(error: unknown): string {
  const { message, cause } = error as { message?: string; cause?: { message?: string } };
  return cause?.message && !message?.includes(cause.message) ? `${message}: ${cause.message}` : String(message ?? error);
}

/**
 * Publishes the outbox (job lifecycle events written with each change) to Kafka, in id order, at
 * least once: an event whose acknowledgement was lost goes again, so consumers dedupe on
 * (jobId, event, occurredAt). Runs in every worker process when KAFKA_BROKERS is set; the lock in
 * OutboxRepository lets one publish at a time. Kafka or PostgreSQL errors back off and retry,
 * forever; they never stop the process.
 */
@Injectable()
export class OutboxRelay implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(OutboxRelay.name);
  private stopping = false;
  private loop?: Promise<void>;
  private wake?: () => void;
  private readonly published?: Counter<'topic'>;
  private readonly failures?: Counter;
  private readonly pruned?: Counter;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly outbox: OutboxRepository,
    @Optional() @Inject(OUTBOX_PUBLISHER) private readonly publisher: OutboxPublisher | null,
    metrics: MetricsService,
  ) {
    if (!publisher) return;
    const registers = [metrics.registry];
    this.published = new Counter({
      name: 'offload_outbox_events_published_total',
      help: 'Outbox events acknowledged by Kafka',
      labelNames: ['topic'],
      registers,
    });
    this.failures = new Counter({ name: 'offload_outbox_publish_failures_total', help: 'Relay passes that failed and will be retried', registers });
    this.pruned = new Counter({
      name: 'offload_outbox_events_pruned_total',
      help: 'Published outbox events deleted after OUTBOX_RETENTION_HOURS',
      registers,
    });
    new Gauge({
      name: 'offload_outbox_lag_seconds',
      help: 'Age of the oldest outbox event not yet published to Kafka (0 when none)',
      registers,
      async collect() {
        const age = await outbox.oldestUnpublishedAgeSeconds().catch(() => undefined);
        if (age !== undefined) this.set(age);
      },
    });
  }

  onApplicationBootstrap(): void {
    if (!this.publisher) {
      this.logger.log('KAFKA_BROKERS is not set: job events stay in the outbox');
      return;
    }
    this.loop = this.run();
  }

  /** Lets the batch in flight finish (and be marked), then disconnects. */
  async beforeApplicationShutdown(): Promise<void> {
    this.stopping = true;
    this.wake?.();
    await this.loop;
    await this.publisher?.close();
  }

  private async run(): Promise<void> {
    let failures = 0;
    let lastPublishedAt = Date.now();
    // Not at boot: a rolling restart of every worker need not start with a round of deletes.
    let lastPrunedAt = Date.now();
    while (!this.stopping) {
      if (this.config.outboxRetentionHours > 0 && Date.now() - lastPrunedAt >= PRUNE_INTERVAL_MS) {
        lastPrunedAt = Date.now();
        await this.prune();
      }
      let delay: number;
      try {
        const pass = await this.outbox.publishNext(this.config.outboxBatchSize, (events) => this.publish(events));
        // Only events Kafka took show the way is clear again: a pass that found the lock held by
        // another relay, or nothing to send, says nothing of Kafka, and keeps the backoff where it is.
        if (pass.published > 0) {
          if (failures > 0) this.logger.log(`Outbox relay recovered after ${failures} failed attempts`);
          failures = 0;
          lastPublishedAt = Date.now();
        } else if (Date.now() - lastPublishedAt >= IDLE_DISCONNECT_MS) await this.publisher!.close();
        delay = nextDelayMs(pass, this.config.outboxBatchSize, this.config.outboxPollMs);
      } catch (error) {
        failures++;
        this.failures?.inc();
        delay = retryDelayMs(failures, FAILURE_BACKOFF);
        this.logger.warn(`Outbox relay failed (${failures} in a row), retrying in ${delay} ms: ${reasonOf(error)}`);
      }
      await this.pause(delay);
    }
  }

  /** Deletes the events Kafka has held for longer than the retention; a failure waits for the next interval. */
  private async prune(): Promise<void> {
    const olderThanMs = this.config.outboxRetentionHours * 3_600_000;
    let deleted = 0;
    try {
      for (let chunk = 0; chunk < PRUNE_CHUNKS_PER_INTERVAL && !this.stopping; chunk++) {
        const count = await this.outbox.prunePublished(olderThanMs, PRUNE_CHUNK);
        deleted += count;
        if (count < PRUNE_CHUNK) break;
      }
    } catch (error) {
      this.logger.warn(`Outbox pruning failed, trying again in ${PRUNE_INTERVAL_MS / 1000} s: ${reasonOf(error)}`);
    }
    if (deleted > 0) {
      this.pruned?.inc(deleted);
      this.logger.log(`Deleted ${deleted} outbox events published more than ${this.config.outboxRetentionHours} h ago`);
    }
  }

  private async publish(events: OutboxEvent[]): Promise<string[]> {
    const batch = takeWithinBytes(events);
    await this.publisher!.publish(batch);
    for (const event of batch) this.published?.inc({ topic: event.topic });
    return batch.map((event) => event.id);
  }

  private pause(ms: number): Promise<void> {
    if (ms <= 0 || this.stopping) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
}
