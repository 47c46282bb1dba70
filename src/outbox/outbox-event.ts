import type { IHeaders, TopicMessages } from 'kafkajs';
import { tracedMessage } from '../telemetry/kafka-trace';

/** An outbox row on its way to Kafka; `value` is the payload's JSON text as stored. */
export interface OutboxEvent {
  id: string;
  topic: string;
  key: string;
  value: string;
  headers: Record<string, unknown>;
}

/**
 * The payload bytes one produce request may carry: a request can put every event of a batch on one
 * partition, and the broker refuses a record batch over message.max.bytes (1 MiB by default).
 */
export const MAX_BATCH_BYTES = 768 * 1024;

function headerValue(value: unknown): string | string[] | undefined {
  if (value === null || value === undefined) return undefined;
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) return value.map((item) => (typeof item === 'string' ? item : JSON.stringify(item)));
  return JSON.stringify(value);
}

export function kafkaHeaders(headers: Record<string, unknown>): IHeaders {
  const converted: IHeaders = {};
  for (const [name, value] of Object.entries(headers ?? {})) {
    const header = headerValue(value);
    if (header !== undefined) converted[name] = header;
  }
  return converted;
}

export function eventBytes(event: OutboxEvent): number {
  return Buffer.byteLength(event.key) + Buffer.byteLength(event.value) + Buffer.byteLength(JSON.stringify(event.headers ?? {}));
}

/** The longest prefix of events within maxBytes; never empty, so one oversized event still goes (and fails loudly). */
export function takeWithinBytes(events: OutboxEvent[], maxBytes = MAX_BATCH_BYTES): OutboxEvent[] {
  let total = 0;
  let count = 0;
  for (const event of events) {
    total += eventBytes(event);
    if (count > 0 && total > maxBytes) break;
    count++;
  }
  return events.slice(0, count);
}

/** One entry per topic, each event in id order: Kafka keeps that order per partition, hence per key. */
export function toTopicMessages(events: OutboxEvent[]): TopicMessages[] {
  const byTopic = new Map<string, TopicMessages>();
  for (const event of events) {
    let entry = byTopic.get(event.topic);
    if (!entry) {
      entry = { topic: event.topic, messages: [] };
      byTopic.set(event.topic, entry);
    }
    entry.messages.push(tracedMessage({ key: event.key, value: event.value, headers: kafkaHeaders(event.headers) }));
  }
  return [...byTopic.values()];
}
