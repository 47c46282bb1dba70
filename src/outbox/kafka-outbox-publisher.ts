import { Logger } from '@nestjs/common';
import { Kafka, logCreator, logLevel, Partitioners, Producer } from 'kafkajs';
import { OutboxEvent, toTopicMessages } from './outbox-event';

/** Where the relay sends events. */
export interface OutboxPublisher {
  /** Connects when not connected; resolves only once the broker has acknowledged every event. */
  publish(events: OutboxEvent[]): Promise<void>;
  /** Disconnects, if connected; the next publish connects again. */
  close(): Promise<void>;
}

export const OUTBOX_PUBLISHER = Symbol('OUTBOX_PUBLISHER');

/** Offload logs every failure it acts on itself; kafkajs' own view (one line per refused connection) is for debugging. */
export const toNestLogger: logCreator = () => {
  const logger = new Logger('kafkajs');
  return ({ namespace, log: { message, ...extra } }) => logger.debug(`${namespace}: ${message} ${JSON.stringify(extra)}`);
};

/**
 * A connected producer that needs nothing but Produce and Metadata from the cluster: no idempotence
 * (it would need InitProducerId), no admin calls; topics are created by the broker on first use.
 * One request in flight keeps a retry from overtaking it. One that cannot connect is let go.
 */
export async function connectedProducer(kafka: Kafka): Promise<Producer> {
  const producer = kafka.producer({
    allowAutoTopicCreation: true,
    idempotent: false,
    maxInFlightRequests: 1,
    createPartitioner: Partitioners.DefaultPartitioner,
  });
  try {
    await producer.connect();
  } catch (error) {
    await producer.disconnect().catch(() => undefined);
    throw error;
  }
  return producer;
}

/** Publishes with acks -1, which waits for every in-sync replica, on a producer of connectedProducer. */
export class KafkaOutboxPublisher implements OutboxPublisher {
  private readonly kafka: Kafka;
  private producer?: Producer;

  constructor(brokers: string[]) {
    this.kafka = new Kafka({
      clientId: 'offload-outbox-relay',
      brokers,
      connectionTimeout: 3_000,
      requestTimeout: 10_000,
      retry: { retries: 3, initialRetryTime: 300, maxRetryTime: 3_000 },
      logLevel: logLevel.INFO,
      logCreator: toNestLogger,
    });
  }

  async publish(events: OutboxEvent[]): Promise<void> {
    const producer = await this.connected();
    try {
      await producer.sendBatch({ acks: -1, timeout: 10_000, topicMessages: toTopicMessages(events) });
    } catch (error) {
      // The next batch starts from a fresh connection and fresh metadata.
      await this.close();
      throw error;
    }
  }

  async close(): Promise<void> {
    const producer = this.producer;
    this.producer = undefined;
    await producer?.disconnect().catch(() => undefined);
  }

  private async connected(): Promise<Producer> {
    return (this.producer ??= await connectedProducer(this.kafka));
  }
}
