import { Consumer, Kafka, logLevel } from 'kafkajs';
import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { closedPort, forwardPort, KafkaMock, startKafkaMock } from './support/kafka-mock';
import { configFor, eventually, HttpClient, isolate, Isolation, loggingErrors, newPortal, RunningOffload, startOffload } from './support/offload-harness';
import { jobEventProblems } from './support/job-event-schema';

const TOPIC = 'offload.job-events';

interface Received {
  partition: number;
  key: string;
  event: Record<string, unknown>;
  headers: Record<string, string>;
}

interface OutboxRow {
  key: string;
  payload: { event: string };
  published_at: Date | null;
}

async function outboxRows(isolation: Isolation, jobIds: string[]): Promise<OutboxRow[]> {
  const pg = loggingErrors(new Client({ connectionString: isolation.databaseUrl }), 'PostgreSQL');
  await pg.connect();
  try {
    const { rows } = await pg.query(`SELECT key, payload, published_at FROM outbox_events WHERE key = ANY($1) ORDER BY id`, [jobIds]);
    return rows;
  } finally {
    await pg.end();
  }
}

async function enqueue(client: HttpClient, count: number, input: Record<string, unknown> = {}): Promise<string[]> {
  const ids: string[] = [];
  for (let start = 0; start < count; start += 100) {
    const jobs = Array.from({ length: Math.min(100, count - start) }, () => ({ type: 'noop', input, idempotencyKey: randomUUID() }));
    const answer = await client.post('/v1/jobs/batch', { jobs });
    expect(answer.body.results.every((result: { status: number }) => result.status === 202)).toBe(true);
    ids.push(...answer.body.results.map((result: { status: number; job: { id: string } }) => result.job.id));
  }
  return ids;
}

async function finished(client: HttpClient, ids: string[]): Promise<Array<Record<string, any>>> {
  return Promise.all(ids.map((id) => eventually(() => client.get(`/v1/jobs/${id}?wait=5`), (answer) => answer.body.status === 'succeeded').then((answer) => answer.body)));
}

async function metric(url: string, name: string): Promise<number | undefined> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split('\n').find((entry) => entry.startsWith(name));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('outbox relay to Kafka', () => {
  let kafka: KafkaMock;
  let consumer: Consumer;
  const received: Received[] = [];
  const eventsFor = (jobId: string) => received.filter((message) => message.key === jobId);
  const schemaProblems: string[] = [];

  beforeAll(async () => {
    kafka = await startKafkaMock();
    consumer = new Kafka({ clientId: 'outbox-relay-e2e', brokers: kafka.brokers, logLevel: logLevel.NOTHING }).consumer({
      groupId: 'outbox-relay-e2e',
      sessionTimeout: 10_000,
      heartbeatInterval: 500,
    });
    await consumer.connect();
    await consumer.subscribe({ topic: TOPIC, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ partition, message }) => {
        const headers = Object.fromEntries(Object.entries(message.headers ?? {}).map(([name, value]) => [name, String(value)]));
        const event = JSON.parse(message.value!.toString());
        for (const problem of jobEventProblems(event)) schemaProblems.push(`${message.key}: ${problem}`);
        received.push({ partition, key: message.key!.toString(), event, headers });
      },
    });
  });

  afterAll(async () => {
    await consumer?.disconnect();
    await kafka?.stop();
  });

  describe('with KAFKA_BROKERS set', () => {
    let isolation: Isolation;
    let offload: RunningOffload;
    let client: HttpClient;
    let portalId: string;

    beforeAll(async () => {
      isolation = await isolate();
      offload = await startOffload(configFor(isolation, { KAFKA_BROKERS: kafka.brokers.join(','), OUTBOX_POLL_MS: '100' }));
      let portal;
      ({ client, portal } = await newPortal(offload.url));
      portalId = portal.id;
    });

    afterAll(async () => {
      await offload?.close();
      await isolation?.cleanup();
    });

    it('publishes job.queued then job.succeeded for each job, keyed by job id, and marks the rows published', async () => {
      const ids = await enqueue(client, 20, { sleepMs: 5 });
      const jobs = await finished(client, ids);
      await eventually(async () => ids.filter((id) => eventsFor(id).length < 2).length, (missing) => missing === 0);

      for (const job of jobs) {
        const events = eventsFor(job.id);
        expect(events.map((message) => message.event.event)).toEqual(['job.queued', 'job.succeeded']);
        expect(new Set(events.map((message) => message.partition)).size).toBe(1);
        expect(events[0].event).toMatchObject({ event: 'job.queued', jobId: job.id, portalId, type: 'noop', status: 'queued', traceId: job.traceId });
        expect(events[1].event).toMatchObject({ event: 'job.succeeded', jobId: job.id, portalId, type: 'noop', status: 'succeeded', traceId: job.traceId, attempts: 1 });
        expect(Date.parse(events[1].event.occurredAt as string)).toBeGreaterThanOrEqual(Date.parse(events[0].event.occurredAt as string));
      }

      const rows = await eventually(() => outboxRows(isolation, ids), (all) => all.length === 40 && all.every((row) => row.published_at !== null));
      expect(rows.every((row) => row.published_at instanceof Date)).toBe(true);
      expect(await metric(offload.url, 'offload_outbox_events_published_total{topic="offload.job-events"}')).toBeGreaterThanOrEqual(40);
      expect(await metric(offload.url, 'offload_outbox_lag_seconds')).toBeDefined();
    });

    it('publishes a backlog larger than one batch, each event exactly once, while two worker processes relay', async () => {
      const second = await startOffload(
        configFor(isolation, { ROLE: 'worker', KAFKA_BROKERS: kafka.brokers.join(','), OUTBOX_POLL_MS: '20', OUTBOX_BATCH_SIZE: '50' }),
      );
      try {
        const ids = await enqueue(client, 300);
        await finished(client, ids);
        await eventually(async () => ids.filter((id) => eventsFor(id).length < 2).length, (missing) => missing === 0, 30_000);
        await pause(500);
        for (const id of ids) expect(eventsFor(id).map((message) => message.event.event)).toEqual(['job.queued', 'job.succeeded']);
        const rows = await eventually(() => outboxRows(isolation, ids), (all) => all.every((row) => row.published_at !== null));
        expect(rows).toHaveLength(600);
      } finally {
        await second.close();
      }
    });
  });

  describe('when Kafka is unreachable at first', () => {
    let isolation: Isolation;
    let offload: RunningOffload;
    let forwarding: { close(): Promise<void> } | undefined;

    beforeAll(async () => {
      isolation = await isolate();
    });

    afterAll(async () => {
      await offload?.close();
      await forwarding?.close();
      await isolation?.cleanup();
    });

    it('keeps serving and keeps the events, then publishes them once the broker answers', async () => {
      const port = await closedPort();
      offload = await startOffload(configFor(isolation, { KAFKA_BROKERS: `127.0.0.1:${port}`, OUTBOX_POLL_MS: '100' }));
      const { client } = await newPortal(offload.url);
      const ids = await enqueue(client, 3);
      await finished(client, ids);
      await eventually(() => metric(offload.url, 'offload_outbox_publish_failures_total'), (failures) => (failures ?? 0) >= 1);

      expect((await client.get('/health/live')).status).toBe(200);
      const waiting = await outboxRows(isolation, ids);
      expect(waiting).toHaveLength(6);
      expect(waiting.every((row) => row.published_at === null)).toBe(true);
      expect(ids.flatMap(eventsFor)).toEqual([]);

      forwarding = await forwardPort(port, kafka.brokers[0]);
      await eventually(() => outboxRows(isolation, ids), (rows) => rows.every((row) => row.published_at !== null), 30_000);
      await eventually(async () => ids.filter((id) => eventsFor(id).length < 2).length, (missing) => missing === 0);
      for (const id of ids) {
        const events = eventsFor(id).map((message) => message.event.event);
        // At least once: a batch whose acknowledgement was lost may arrive twice, never out of order.
        expect(events.filter((event, index) => event !== events[index - 1])).toEqual(['job.queued', 'job.succeeded']);
      }
    });
  });

  describe('when the broker it publishes to dies and another answers at the same address', () => {
    let isolation: Isolation;
    let offload: RunningOffload;
    let forwarding: { close(): Promise<void> } | undefined;
    let first: KafkaMock | undefined;
    let replacement: KafkaMock | undefined;

    beforeAll(async () => {
      isolation = await isolate();
    });

    afterAll(async () => {
      await offload?.close();
      await forwarding?.close();
      await Promise.all([first?.stop(), replacement?.stop()]);
      await isolation?.cleanup();
    });

    it('publishes again through the new one, without a restart', async () => {
      // KAFKA_BROKERS names an address that leads to a cluster of the test's own, then to another.
      first = await startKafkaMock(1);
      const port = await closedPort();
      forwarding = await forwardPort(port, first.brokers[0]);
      offload = await startOffload(configFor(isolation, { KAFKA_BROKERS: `127.0.0.1:${port}`, OUTBOX_POLL_MS: '100' }));
      const { client } = await newPortal(offload.url);
      const before = await enqueue(client, 3);
      await finished(client, before);
      await eventually(() => outboxRows(isolation, before), (rows) => rows.every((row) => row.published_at !== null), 30_000);

      await forwarding.close();
      await first.stop();
      const during = await enqueue(client, 3);
      await finished(client, during);
      await eventually(() => metric(offload.url, 'offload_outbox_publish_failures_total'), (failures) => (failures ?? 0) >= 1, 30_000);
      expect((await outboxRows(isolation, during)).every((row) => row.published_at === null)).toBe(true);

      replacement = await startKafkaMock(1);
      forwarding = await forwardPort(port, replacement.brokers[0]);
      const after = await enqueue(client, 3);
      await finished(client, after);
      const rows = await eventually(
        () => outboxRows(isolation, [...during, ...after]),
        (all) => all.length === 12 && all.every((row) => row.published_at !== null),
        60_000,
      );
      expect(rows).toHaveLength(12);
    });
  });

  describe('with KAFKA_BROKERS unset, or in an api-only process', () => {
    let isolation: Isolation;

    beforeAll(async () => {
      isolation = await isolate();
    });

    afterAll(async () => {
      await isolation?.cleanup();
    });

    it('leaves the events in the outbox, unpublished', async () => {
      const offload = await startOffload(configFor(isolation, { OUTBOX_POLL_MS: '50' }));
      try {
        const { client } = await newPortal(offload.url);
        const ids = await enqueue(client, 2);
        await finished(client, ids);
        await pause(500);
        const rows = await outboxRows(isolation, ids);
        expect(rows.map((row) => row.payload.event).sort()).toEqual(['job.queued', 'job.queued', 'job.succeeded', 'job.succeeded']);
        expect(rows.every((row) => row.published_at === null)).toBe(true);
        expect(await metric(offload.url, 'offload_outbox_events_published_total')).toBeUndefined();
      } finally {
        await offload.close();
      }
    });

    it('does not relay from ROLE=api even with KAFKA_BROKERS set', async () => {
      const api = await startOffload(configFor(isolation, { ROLE: 'api', KAFKA_BROKERS: kafka.brokers.join(','), OUTBOX_POLL_MS: '50' }));
      try {
        const { client } = await newPortal(api.url);
        const ids = await enqueue(client, 2);
        await pause(1000);
        const rows = await outboxRows(isolation, ids);
        expect(rows.map((row) => row.payload.event)).toEqual(['job.queued', 'job.queued']);
        expect(rows.every((row) => row.published_at === null)).toBe(true);
        expect(ids.flatMap(eventsFor)).toEqual([]);
      } finally {
        await api.close();
      }
    });
  });

  it('published only events that keep to docs/events/job-event.v1.schema.json', () => {
    expect(received.length).toBeGreaterThan(0);
    expect(schemaProblems).toEqual([]);
  });
});
