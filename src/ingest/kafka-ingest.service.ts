import { BeforeApplicationShutdown, Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { Consumer, EachBatchPayload, Kafka, logLevel, Producer } from 'kafkajs';
import { Counter } from 'prom-client';
import { AppConfig, KafkaIngestConfig } from '../config/app-config';
import { APP_CONFIG } from '../config/config.module';
import { MetricsService } from '../metrics/metrics.service';
import { connectedProducer, toNestLogger } from '../outbox/kafka-outbox-publisher';
import { RetryPolicy } from '../registry/job-handler';
import { retryDelayMs } from '../worker/backoff';
import { DeadLetter, ingestBatch, IngestSteps, Verdict } from './ingest-batch';
import { deadLetter } from './job-request-message';
import { JobRequestIngest } from './job-request-ingest';

/** Messages held for a backing service, and a consumer that could not start, are tried again this often (backing off). */
const RETRY_BACKOFF: RetryPolicy = { attempts: Infinity, backoffMs: 500, maxBackoffMs: 10_000 };
/** Partitions whose batches are settled at once: their enqueues share INSERT statements. */
const PARTITIONS_AT_ONCE = 3;
/**
 * How long a fetch waits for messages on an idle partition. A stopping worker waits for the fetch in
 * flight before it leaves the group, so this bounds that part of a shutdown.
 */
const FETCH_WAIT_MS = 1_000;

/**
 * The consumer group that reads job requests from KAFKA_INGEST_TOPIC in the worker processes. A
 * message's offset is committed only once its job is in PostgreSQL (or was already, under its
 * idempotency key) or its dead letter is in Kafka; see ingestBatch. A redelivered message therefore
 * finds its job and makes no second one.
 */
@Injectable()
export class KafkaIngest implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(KafkaIngest.name);
  private readonly settings: KafkaIngestConfig;
  /**
   * A partition held for PostgreSQL heartbeats only between tries (kafkajs has no heartbeat of its
   * own while a batch is in hand), so a wait stays well inside the session timeout.
   */
  private readonly heldPartitionBackoff: RetryPolicy;
  private readonly kafka: Kafka;
  private readonly messages: Counter<'outcome'>;
  private readonly waits: Counter;
  private consumer?: Consumer;
  private producer?: Producer;
  private stopping = false;
  private starting?: Promise<void>;
  private readonly wakers = new Set<() => void>();

  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    private readonly ingest: JobRequestIngest,
    metrics: MetricsService,
  ) {
    this.settings = config.kafkaIngest!;
    this.heldPartitionBackoff = { ...RETRY_BACKOFF, maxBackoffMs: Math.min(RETRY_BACKOFF.maxBackoffMs, this.settings.sessionTimeoutMs / 3) };
    this.kafka = new Kafka({
      clientId: 'offload-ingest',
      brokers: config.kafkaBrokers!,
      connectionTimeout: 3_000,
      retry: { retries: 5, initialRetryTime: 300, maxRetryTime: 3_000 },
      logLevel: logLevel.INFO,
      logCreator: toNestLogger,
    });
    const registers = [metrics.registry];
    this.messages = new Counter({
      name: 'offload_kafka_ingest_messages_total',
      help: 'Job request messages settled: accepted (a new job), repeated (its job existed: a redelivery or the same request), dead_lettered',
      labelNames: ['outcome'],
      registers,
    });
    this.waits = new Counter({
      name: 'offload_kafka_ingest_waits_total',
      help: 'Times the ingest held a partition and waited, as a backing service (PostgreSQL) or the dead-letter topic could not take a message',
      registers,
    });
  }

  onApplicationBootstrap(): void {
    this.starting = this.start();
  }

  /** Lets the messages in hand be settled (or left uncommitted for the next consumer), then leaves the group. */
  async beforeApplicationShutdown(): Promise<void> {
    this.stopping = true;
    this.wakers.forEach((wake) => wake());
    await this.starting;
    await this.consumer?.disconnect().catch(() => undefined);
    await this.producer?.disconnect().catch(() => undefined);
  }

  /** Joins the group and consumes; a Kafka that cannot be reached yet is tried again until it can, or the process stops. */
  private async start(): Promise<void> {
    for (let attempt = 1; !this.stopping; attempt++) {
      const consumer = this.kafka.consumer({
        groupId: this.settings.groupId,
        allowAutoTopicCreation: true,
        sessionTimeout: this.settings.sessionTimeoutMs,
        heartbeatInterval: this.settings.sessionTimeoutMs / 10,
        maxWaitTimeInMs: FETCH_WAIT_MS,
      });
      this.consumer = consumer;
      try {
        consumer.on(consumer.events.CRASH, ({ payload }) => this.crashed(payload.error, payload.restart));
        await consumer.connect();
        await consumer.subscribe({ topics: [this.settings.topic], fromBeginning: true });
        await consumer.run({
          autoCommit: false,
          // What eachBatch did not settle must be fetched again, not skipped.
          eachBatchAutoResolve: false,
          partitionsConsumedConcurrently: PARTITIONS_AT_ONCE,
          eachBatch: (payload) => this.consume(payload),
        });
        this.logger.log(`Reading job requests from ${this.settings.topic} (group ${this.settings.groupId})`);
        return;
      } catch (error) {
        this.consumer = undefined;
        await consumer.disconnect().catch(() => undefined);
        const delay = retryDelayMs(attempt, RETRY_BACKOFF);
        this.logger.warn(`Kafka ingest could not start (attempt ${attempt}), trying again in ${delay} ms: ${(error as Error).message}`);
        await this.pause(delay);
      }
    }
  }

  /** kafkajs restarts a consumer after a retriable error itself; after any other, the group is joined afresh here. */
  private crashed(error: Error, restarting: boolean): void {
    this.logger.warn(`Kafka ingest consumer failed${restarting ? ', restarting' : ''}: ${error.message}`);
    if (restarting || this.stopping) return;
    const failed = this.consumer;
    this.consumer = undefined;
    this.starting = (async () => {
      await failed?.disconnect().catch(() => undefined);
      await this.start();
    })();
  }

  private consume({ batch, resolveOffset, commitOffsetsIfNecessary, uncommittedOffsets, heartbeat, isRunning, isStale }: EachBatchPayload) {
    const steps: IngestSteps = {
      judge: async (messages) => this.counted(await this.ingest.judge(messages)),
      deadLetter: (letters) => this.sendDeadLetters(batch.topic, batch.partition, letters),
      backOff: async (reasons, attempt) => {
        this.waits.inc();
        const delay = retryDelayMs(attempt, this.heldPartitionBackoff);
        this.logger.warn(
          `Kafka ingest holds ${batch.topic}[${batch.partition}] (${attempt} tries), trying again in ${delay} ms: ${[...new Set(reasons)].join('; ')}`,
        );
        await this.pause(delay);
      },
    };
    return ingestBatch(
      {
        messages: batch.messages,
        resolveOffset,
        commit: () => commitOffsetsIfNecessary(uncommittedOffsets()),
        heartbeat,
        isRunning: () => isRunning() && !this.stopping,
        isStale,
      },
      steps,
    );
  }

  private counted(verdicts: Verdict[]): Verdict[] {
    for (const verdict of verdicts) {
      if (verdict.kind === 'accepted') this.messages.inc({ outcome: verdict.repeated ? 'repeated' : 'accepted' });
    }
    return verdicts;
  }

  private async sendDeadLetters(topic: string, partition: number, letters: DeadLetter[]): Promise<void> {
    const producer = await this.connectedProducer();
    try {
      await producer.send({
        topic: this.settings.deadLetterTopic,
        acks: -1,
        timeout: 10_000,
        messages: letters.map(({ message, refusal }) => deadLetter({ topic, partition, message }, refusal)),
      });
    } catch (error) {
      // The next send starts from a fresh connection and fresh metadata.
      this.producer = undefined;
      await producer.disconnect().catch(() => undefined);
      throw error;
    }
    this.messages.inc({ outcome: 'dead_lettered' }, letters.length);
    const codes = [...new Set(letters.map(({ refusal }) => refusal.code))].join(', ');
    this.logger.warn(`Dead-lettered ${letters.length} job request messages from ${topic}[${partition}] to ${this.settings.deadLetterTopic}: ${codes}`);
  }

  private async connectedProducer(): Promise<Producer> {
    return (this.producer ??= await connectedProducer(this.kafka));
  }

  /** Waits ms, or until the process begins to stop. */
  private pause(ms: number): Promise<void> {
    if (this.stopping) return Promise.resolve();
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.wakers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.wakers.add(wake);
    });
  }
}
