import { Logger } from '@nestjs/common';
import { Registry } from 'prom-client';
import { AppConfig, loadConfig } from '../config/app-config';
import { ConfigError } from '../config/environment';
import { MetricsService } from '../metrics/metrics.service';
import { OutboxPublisher } from './kafka-outbox-publisher';
import { OutboxEvent } from './outbox-event';
import { IDLE_DISCONNECT_MS, nextDelayMs, OutboxRelay, PRUNE_INTERVAL_MS } from './outbox-relay.service';
import { OutboxRepository, RelayPass } from './outbox.repository';

const BATCH = 3;
const POLL_MS = 500;

/** An outbox in memory with the repository's contract: only the ids `publish` answers are marked. */
class FakeOutbox {
  readonly pending: OutboxEvent[] = [];
  readonly marked: string[] = [];
  passes = 0;
  /** Another relay holds the lock: a pass reads nothing. */
  heldByAnother = false;

  add(count: number): void {
    for (let i = 0; i < count; i++) {
      const id = String(this.pending.length + this.marked.length + 1);
      this.pending.push({ id, topic: 't', key: `k${id}`, value: '{}', headers: {} });
    }
  }

  async publishNext(limit: number, publish: (events: OutboxEvent[]) => Promise<string[]>): Promise<RelayPass> {
    this.passes++;
    if (this.heldByAnother) return { locked: false, fetched: 0, published: 0 };
    const events = this.pending.slice(0, limit);
    const ids = events.length ? await publish(events) : [];
    this.pending.splice(0, ids.length);
    this.marked.push(...ids);
    return { locked: true, fetched: events.length, published: ids.length };
  }

  async oldestUnpublishedAgeSeconds(): Promise<number> {
    return 0;
  }

  /** Published events old enough to delete, and each prune call's (olderThanMs, limit). */
  prunable = 0;
  readonly pruneCalls: Array<[number, number]> = [];

  async prunePublished(olderThanMs: number, limit: number): Promise<number> {
    this.pruneCalls.push([olderThanMs, limit]);
    const count = Math.min(this.prunable, limit);
    this.prunable -= count;
    return count;
  }
}

class FakePublisher implements OutboxPublisher {
  readonly sent: string[][] = [];
  attempts = 0;
  failuresLeft = 0;
  closed = false;
  gate?: Promise<void>;

  async publish(events: OutboxEvent[]): Promise<void> {
    this.attempts++;
    await this.gate;
    if (this.failuresLeft > 0) {
      this.failuresLeft--;
      throw new Error('broker unavailable');
    }
    this.sent.push(events.map((e) => e.id));
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}

const config = { outboxBatchSize: BATCH, outboxPollMs: POLL_MS } as AppConfig;
const metrics = () => ({ registry: new Registry() }) as MetricsService;
const relayFor = (outbox: FakeOutbox, publisher: OutboxPublisher | null, settings: Partial<AppConfig> = {}) =>
  new OutboxRelay({ ...config, ...settings }, outbox as unknown as OutboxRepository, publisher, metrics());

describe('nextDelayMs', () => {
  it('loops at once while a full batch came back, or part of it was left for the next request', () => {
    expect(nextDelayMs({ locked: true, fetched: BATCH, published: BATCH }, BATCH, POLL_MS)).toBe(0);
    expect(nextDelayMs({ locked: true, fetched: 2, published: 1 }, BATCH, POLL_MS)).toBe(0);
  });

  it('polls when the outbox is drained, or another relay holds the lock', () => {
    expect(nextDelayMs({ locked: true, fetched: 2, published: 2 }, BATCH, POLL_MS)).toBe(POLL_MS);
    expect(nextDelayMs({ locked: true, fetched: 0, published: 0 }, BATCH, POLL_MS)).toBe(POLL_MS);
    expect(nextDelayMs({ locked: false, fetched: 0, published: 0 }, BATCH, POLL_MS)).toBe(POLL_MS);
  });
});

describe('OutboxRelay', () => {
  beforeAll(() => Logger.overrideLogger(false));
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('deletes events published longer ago than the retention, in chunks, once a minute from a minute after start', async () => {
    const outbox = new FakeOutbox();
    outbox.prunable = 12_000;
    const relay = relayFor(outbox, new FakePublisher(), { outboxRetentionHours: 24 });
    relay.onApplicationBootstrap();
    await jest.advanceTimersByTimeAsync(PRUNE_INTERVAL_MS - POLL_MS);
    expect(outbox.pruneCalls).toEqual([]);
    await jest.advanceTimersByTimeAsync(POLL_MS);
    expect(outbox.pruneCalls).toEqual([
      [24 * 3_600_000, 5_000],
      [24 * 3_600_000, 5_000],
      [24 * 3_600_000, 5_000],
    ]);
    expect(outbox.prunable).toBe(0);

    outbox.prunable = 10;
    await jest.advanceTimersByTimeAsync(PRUNE_INTERVAL_MS - POLL_MS);
    expect(outbox.pruneCalls).toHaveLength(3);
    await jest.advanceTimersByTimeAsync(POLL_MS);
    expect(outbox.pruneCalls).toHaveLength(4);
    expect(outbox.prunable).toBe(0);
    await relay.beforeApplicationShutdown();
  });

  it('keeps published events for good with a retention of 0', async () => {
    const outbox = new FakeOutbox();
    outbox.prunable = 10;
    const relay = relayFor(outbox, new FakePublisher(), { outboxRetentionHours: 0 });
    relay.onApplicationBootstrap();
    await jest.advanceTimersByTimeAsync(2 * PRUNE_INTERVAL_MS);
    await relay.beforeApplicationShutdown();
    expect(outbox.pruneCalls).toEqual([]);
  });

  it('does nothing at all without a publisher (KAFKA_BROKERS unset)', async () => {
    const outbox = new FakeOutbox();
    outbox.add(2);
    const relay = relayFor(outbox, null);
    relay.onApplicationBootstrap();
    await jest.advanceTimersByTimeAsync(5 * POLL_MS);
    await relay.beforeApplicationShutdown();
    expect(outbox.passes).toBe(0);
    expect(outbox.pending).toHaveLength(2);
  });

  it('drains a backlog batch after batch without waiting, then polls', async () => {
    const outbox = new FakeOutbox();
    const publisher = new FakePublisher();
    outbox.add(7);
    const relay = relayFor(outbox, publisher);
    relay.onApplicationBootstrap();
    await jest.advanceTimersByTimeAsync(0);
    expect(publisher.sent).toEqual([['1', '2', '3'], ['4', '5', '6'], ['7']]);
    expect(outbox.marked).toEqual(['1', '2', '3', '4', '5', '6', '7']);

    outbox.add(1);
    await jest.advanceTimersByTimeAsync(POLL_MS - 1);
    expect(publisher.sent).toHaveLength(3);
    await jest.advanceTimersByTimeAsync(1);
    expect(publisher.sent[3]).toEqual(['8']);
    await relay.beforeApplicationShutdown();
  });

  it('backs off on failures, marks nothing it could not send, then recovers in order', async () => {
    const outbox = new FakeOutbox();
    const publisher = new FakePublisher();
    publisher.failuresLeft = 3;
    outbox.add(2);
    const relay = relayFor(outbox, publisher);
    relay.onApplicationBootstrap();
    await jest.advanceTimersByTimeAsync(0);
    expect(publisher.attempts).toBe(1);
    expect(outbox.marked).toEqual([]);
    // Three failures wait at most 500 + 1000 + 2000 ms (doubling from 500 ms, jitter within [half, full]).
    await jest.advanceTimersByTimeAsync(3499);
    expect(publisher.attempts).toBe(4);
    expect(outbox.marked).toEqual(['1', '2']);
    expect(publisher.sent).toEqual([['1', '2']]);
    await relay.beforeApplicationShutdown();
  });

  it('logs recovery only once Kafka has taken events, not when another relay held the lock, and keeps backing off meanwhile', async () => {
    // The shortest waits jitter allows: 250 ms after one failure, 500 after two, 1000 after three.
    jest.spyOn(Math, 'random').mockReturnValue(0);
    const logged = jest.spyOn(Logger.prototype, 'log');
    const recoveries = () => logged.mock.calls.map(([message]) => String(message)).filter((message) => message.includes('recovered'));
    const outbox = new FakeOutbox();
    const publisher = new FakePublisher();
    publisher.failuresLeft = 3;
    outbox.add(1);
    const relay = relayFor(outbox, publisher);
    relay.onApplicationBootstrap();
    await jest.advanceTimersByTimeAsync(0);
    expect(publisher.attempts).toBe(1);

    // Another relay holds the lock (it is failing too, on the same dead broker): these passes publish nothing.
    outbox.heldByAnother = true;
    await jest.advanceTimersByTimeAsync(250 + 3 * POLL_MS);
    expect(outbox.passes).toBe(5);
    expect(recoveries()).toEqual([]);

    // The lock is free again and Kafka still down: the backoff goes on from two failures, not from one.
    outbox.heldByAnother = false;
    await jest.advanceTimersByTimeAsync(POLL_MS);
    expect(publisher.attempts).toBe(2);
    await jest.advanceTimersByTimeAsync(499);
    expect(publisher.attempts).toBe(2);
    await jest.advanceTimersByTimeAsync(1);
    expect(publisher.attempts).toBe(3);
    expect(recoveries()).toEqual([]);

    await jest.advanceTimersByTimeAsync(1000);
    expect(publisher.attempts).toBe(4);
    expect(outbox.marked).toEqual(['1']);
    expect(recoveries()).toEqual(['Outbox relay recovered after 3 failed attempts']);
    await relay.beforeApplicationShutdown();
    jest.restoreAllMocks();
  });

  it('waits at least half the backoff before retrying', async () => {
    // The shortest waits jitter allows: 250 ms after the first failure, 500 ms after the second.
    jest.spyOn(Math, 'random').mockReturnValue(0);
    const outbox = new FakeOutbox();
    const publisher = new FakePublisher();
    publisher.failuresLeft = 2;
    outbox.add(1);
    const relay = relayFor(outbox, publisher);
    relay.onApplicationBootstrap();
    await jest.advanceTimersByTimeAsync(0);
    await jest.advanceTimersByTimeAsync(249);
    expect(publisher.attempts).toBe(1);
    await jest.advanceTimersByTimeAsync(1);
    expect(publisher.attempts).toBe(2);
    await jest.advanceTimersByTimeAsync(499);
    expect(publisher.attempts).toBe(2);
    await jest.advanceTimersByTimeAsync(1);
    expect(publisher.attempts).toBe(3);
    await relay.beforeApplicationShutdown();
    jest.restoreAllMocks();
  });

  it('on shutdown, finishes and marks the batch in flight, then closes the publisher', async () => {
    const outbox = new FakeOutbox();
    const publisher = new FakePublisher();
    let release!: () => void;
    publisher.gate = new Promise((resolve) => (release = resolve));
    outbox.add(5);
    const relay = relayFor(outbox, publisher);
    relay.onApplicationBootstrap();
    await jest.advanceTimersByTimeAsync(0);

    let stopped = false;
    const stopping = relay.beforeApplicationShutdown().then(() => (stopped = true));
    await jest.advanceTimersByTimeAsync(0);
    expect(stopped).toBe(false);
    expect(publisher.closed).toBe(false);

    release();
    await stopping;
    expect(outbox.marked).toEqual(['1', '2', '3']);
    expect(outbox.passes).toBe(1);
    expect(publisher.closed).toBe(true);
  });

  it('disconnects once it has published nothing for a while, and connects again for new events', async () => {
    const outbox = new FakeOutbox();
    const publisher = new FakePublisher();
    outbox.add(1);
    const relay = relayFor(outbox, publisher);
    relay.onApplicationBootstrap();
    await jest.advanceTimersByTimeAsync(IDLE_DISCONNECT_MS - POLL_MS);
    expect(publisher.closed).toBe(false);
    await jest.advanceTimersByTimeAsync(POLL_MS);
    expect(publisher.closed).toBe(true);
    publisher.closed = false;
    outbox.add(1);
    await jest.advanceTimersByTimeAsync(POLL_MS);
    expect(publisher.sent).toEqual([['1'], ['2']]);
    await jest.advanceTimersByTimeAsync(IDLE_DISCONNECT_MS - 2 * POLL_MS);
    expect(publisher.closed).toBe(false);
    await relay.beforeApplicationShutdown();
  });

  it('stops promptly while idle', async () => {
    const outbox = new FakeOutbox();
    const publisher = new FakePublisher();
    const relay = relayFor(outbox, publisher);
    relay.onApplicationBootstrap();
    await jest.advanceTimersByTimeAsync(0);
    await relay.beforeApplicationShutdown();
    expect(outbox.passes).toBe(1);
    expect(publisher.closed).toBe(true);
  });
});

describe('outbox settings', () => {
  const base = { ROLE: 'worker', ENCRYPTION_KEY: 'a'.repeat(64) };
  const rejected = (env: Record<string, string>) => {
    try {
      loadConfig({ ...base, ...env });
    } catch (error) {
      if (error instanceof ConfigError) return error.variable;
      throw error;
    }
    return undefined;
  };

  it('defaults to a 500 ms poll, 500-event batches and a week of retention, with Kafka off', () => {
    expect(loadConfig(base)).toMatchObject({ outboxPollMs: 500, outboxBatchSize: 500, outboxRetentionHours: 168, kafkaBrokers: undefined });
  });

  it('reads the broker list and the relay settings', () => {
    expect(loadConfig({ ...base, KAFKA_BROKERS: ' k1:9092, k2:9093 ', OUTBOX_POLL_MS: '100', OUTBOX_BATCH_SIZE: '50' })).toMatchObject({
      kafkaBrokers: ['k1:9092', 'k2:9093'],
      outboxPollMs: 100,
      outboxBatchSize: 50,
    });
  });

  it('refuses bad values, naming the variable', () => {
    expect(rejected({ KAFKA_BROKERS: 'kafka' })).toBe('KAFKA_BROKERS');
    expect(rejected({ KAFKA_BROKERS: ',' })).toBe('KAFKA_BROKERS');
    expect(rejected({ KAFKA_BROKERS: 'kafka://k1:9092' })).toBe('KAFKA_BROKERS');
    expect(rejected({ OUTBOX_POLL_MS: '0' })).toBe('OUTBOX_POLL_MS');
    expect(rejected({ OUTBOX_POLL_MS: 'fast' })).toBe('OUTBOX_POLL_MS');
    expect(rejected({ OUTBOX_BATCH_SIZE: '100000' })).toBe('OUTBOX_BATCH_SIZE');
    expect(rejected({ OUTBOX_RETENTION_HOURS: '-1' })).toBe('OUTBOX_RETENTION_HOURS');
    expect(rejected({ OUTBOX_RETENTION_HOURS: '1.5' })).toBe('OUTBOX_RETENTION_HOURS');
  });
});
