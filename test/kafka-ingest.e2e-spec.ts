import { Admin, Consumer, IHeaders, Kafka, logLevel, Message, Producer } from 'kafkajs';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client } from 'pg';
import { KafkaMock, startKafkaMock } from './support/kafka-mock';
import { envFor, eventually, HttpClient, isolate, Isolation, loggingErrors, newPortal, RunningOffload, startOffload, configFor } from './support/offload-harness';
import { firstAnswer, freePort, spawnOffload, SpawnedOffload, START_WITHIN_MS, stop, stopAll } from './support/spawned-offload';
import { TcpProxy } from './support/tcp-proxy';

interface DeadLetter {
  headers: Record<string, string>;
  body: { error: { code: string; field?: string; message: string }; source: { topic: string; partition: number; offset: string }; value: string | null };
}

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';

describe('Kafka ingest: job requests read from a topic, as POST /v1/jobs takes them', () => {
  let kafka: KafkaMock;
  let client: Kafka;
  let producer: Producer;
  let admin: Admin;
  const consumers: Consumer[] = [];
  let isolation: Isolation;
  let api: RunningOffload;
  let portal: { id: string };
  let http: HttpClient;
  let pg: Client;

  beforeAll(async () => {
    kafka = await startKafkaMock();
    client = new Kafka({ clientId: 'kafka-ingest-e2e', brokers: kafka.brokers, logLevel: logLevel.NOTHING });
    producer = client.producer({ allowAutoTopicCreation: true });
    await producer.connect();
    admin = client.admin();
    await admin.connect();
    isolation = await isolate();
    api = await startOffload(configFor(isolation, { ROLE: 'api' }));
    ({ portal, client: http } = await newPortal(api.url));
    pg = loggingErrors(new Client({ connectionString: isolation.databaseUrl }), 'PostgreSQL');
    await pg.connect();
  }, START_WITHIN_MS);

  afterAll(async () => {
    await stopAll();
    await Promise.all(consumers.map((consumer) => consumer.disconnect()));
    await producer?.disconnect();
    await admin?.disconnect();
    await pg?.end();
    await api?.close();
    await isolation?.cleanup();
    await kafka?.stop();
  });

  /** A worker process reading `topic` as `group`, up and serving /health/live. */
  async function startWorker(topic: string, group: string, env: Record<string, string> = {}): Promise<SpawnedOffload> {
    const port = await freePort();
    const worker = spawnOffload(
      envFor(isolation, {
        ROLE: 'worker',
        PORT: String(port),
        KAFKA_BROKERS: kafka.brokers.join(','),
        KAFKA_INGEST_TOPIC: topic,
        KAFKA_INGEST_GROUP: group,
        // The mock cluster keeps a member that left until its session times out: a restarted worker waits that long for its partitions.
        KAFKA_INGEST_SESSION_TIMEOUT_MS: '6000',
        ...env,
      }),
    );
    const live = await firstAnswer(worker, '/health/live', START_WITHIN_MS);
    if (live?.status !== 200) throw new Error(`worker did not start: ${worker.stderr()}${worker.stdout().slice(-2000)}`);
    return worker;
  }

  const request = (job: Record<string, unknown>, portalId = portal.id) => JSON.stringify({ portalId, job });
  const noop = (key: string, input: Record<string, unknown> = {}) => ({ type: 'noop', input, idempotencyKey: key });

  async function produce(topic: string, messages: Array<Message | string>): Promise<void> {
    await producer.send({ topic, acks: -1, messages: messages.map((message) => (typeof message === 'string' ? { partition: 0, value: message } : message)) });
  }

  async function jobsOfKeys(keys: string[]): Promise<Map<string, number>> {
    const { rows } = await pg.query('SELECT idempotency_key, count(*)::int AS jobs FROM jobs WHERE idempotency_key = ANY($1) GROUP BY 1', [keys]);
    return new Map(rows.map((row) => [row.idempotency_key, row.jobs]));
  }

  /** Every key has its one job. */
  async function oneJobEach(keys: string[]): Promise<void> {
    const jobs = await eventually(() => jobsOfKeys(keys), (found) => found.size === keys.length);
    expect([...jobs.values()].every((count) => count === 1)).toBe(true);
  }

  /** The group's committed offset, and the end of the topic, on each partition. */
  async function offsets(group: string, topic: string): Promise<{ committed: number[]; end: number[] }> {
    const [committed] = await admin.fetchOffsets({ groupId: group, topics: [topic] });
    const ends = await admin.fetchTopicOffsets(topic);
    const byPartition = (list: Array<{ partition: number; offset: string }>) =>
      [...list].sort((a, b) => a.partition - b.partition).map(({ offset }) => Math.max(Number(offset), 0));
    return { committed: byPartition(committed.partitions), end: byPartition(ends) };
  }

  async function everythingCommitted(group: string, topic: string): Promise<void> {
    await eventually(() => offsets(group, topic), ({ committed, end }) => JSON.stringify(committed) === JSON.stringify(end));
  }

  /** Puts the group's offsets back to the start of the topic: its consumers read everything, and committed nothing. */
  async function rewind(group: string, topic: string): Promise<void> {
    const partitions = (await admin.fetchTopicOffsets(topic)).map(({ partition }) => partition);
    const consumer = client.consumer({ groupId: group, sessionTimeout: 6_000, heartbeatInterval: 600 });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    const joined = new Promise((resolve) => consumer.on(consumer.events.GROUP_JOIN, resolve));
    await consumer.run({ autoCommit: false, eachBatchAutoResolve: false, eachBatch: async () => consumer.pause([{ topic }]) });
    await joined;
    await consumer.commitOffsets(partitions.map((partition) => ({ topic, partition, offset: '0' })));
    await consumer.disconnect();
  }

  async function metric(worker: SpawnedOffload, name: string): Promise<number> {
    const text = await (await fetch(`http://127.0.0.1:${worker.port}/metrics`)).text();
    const line = text.split('\n').find((entry) => entry.startsWith(`${name} `) || entry.startsWith(`${name}{`));
    return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1));
  }

  async function readDeadLetters(topic: string): Promise<DeadLetter[]> {
    const letters: DeadLetter[] = [];
    const consumer = client.consumer({ groupId: `dlq-reader-${randomUUID()}`, maxWaitTimeInMs: 100 });
    consumers.push(consumer);
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        const headers = Object.fromEntries(Object.entries(message.headers ?? {}).map(([name, value]) => [name, String(value)]));
        letters.push({ headers, body: JSON.parse(message.value!.toString()) });
      },
    });
    return letters;
  }

  describe('one worker reading a topic', () => {
    const topic = `job-requests-${randomUUID()}`;
    const group = `offload-ingest-${randomUUID()}`;
    let worker: SpawnedOffload;
    let deadLetters: DeadLetter[];

    beforeAll(async () => {
      worker = await startWorker(topic, group);
      deadLetters = await readDeadLetters(`${topic}.dlq`);
    }, START_WITHIN_MS);

    afterAll(async () => {
      await stop(worker);
    });

    it('makes the job a message asks for, as the HTTP API would (the same derived key, the same job), continuing its trace', async () => {
      const job = { type: 'noop', input: { sleepMs: 1 }, object: { type: 'CONTACT', id: 42 }, callbackId: `cb-${randomUUID()}` };
      const headers: IHeaders = { traceparent: `00-${TRACE_ID}-00f067aa0ba902b7-01` };
      await produce(topic, [{ partition: 0, value: request(job), headers }]);

      const { rows } = await eventually(
        () => pg.query('SELECT id FROM jobs WHERE callback_id = $1', [job.callbackId]),
        (result) => result.rows.length === 1,
      );
      const done = await eventually(() => http.get(`/v1/jobs/${rows[0].id}?wait=5`), (answer) => answer.body.status === 'succeeded');
      expect(done.body).toMatchObject({ type: 'noop', input: { sleepMs: 1 }, object: { type: 'CONTACT', id: '42' }, traceId: TRACE_ID });

      const again = await http.post('/v1/jobs', job);
      expect(again.status).toBe(200);
      expect(again.body.id).toBe(rows[0].id);
      await everythingCommitted(group, topic);
      expect(await metric(worker, 'offload_kafka_ingest_messages_total{outcome="accepted"}')).toBeGreaterThanOrEqual(1);
    });

    it('makes one job of a message produced twice', async () => {
      const key = `twice-${randomUUID()}`;
      await produce(topic, [request(noop(key)), request(noop(key))]);
      await everythingCommitted(group, topic);
      expect(await jobsOfKeys([key])).toEqual(new Map([[key, 1]]));
      expect(await metric(worker, 'offload_kafka_ingest_messages_total{outcome="repeated"}')).toBeGreaterThanOrEqual(1);
    });

    it('dead-letters each invalid message with its reason, and goes on with the messages after it on the partition', async () => {
      const first = `first-${randomUUID()}`;
      const last = `last-${randomUUID()}`;
      const poison = [
        '{"portalId": ',
        JSON.stringify({ portalId: portal.id, job: { type: 'noop', input: { sleepMs: 'slow' } } }),
        request(noop(`unknown-portal-${randomUUID()}`), randomUUID()),
        request({ type: 'no-such-handler' }),
        request(noop(first, { sleepMs: 2 })),
        JSON.stringify({ job: noop(`no-portal-${randomUUID()}`) }),
      ];
      await produce(topic, [request(noop(first, { sleepMs: 1 })), ...poison, request(noop(last))]);

      await oneJobEach([first, last]);
      await eventually(async () => deadLetters.length, (count) => count === poison.length);
      // The dead-letter topic has partitions of its own: its order is not the source's.
      deadLetters.sort((a, b) => Number(a.body.source.offset) - Number(b.body.source.offset));
      const reasons = deadLetters.map(({ headers }) => [headers['offload-error-code'], headers['offload-error-field']]);
      expect(reasons).toEqual([
        ['malformed_json', undefined],
        ['validation_failed', 'job.input.sleepMs'],
        ['unknown_portal', 'portalId'],
        ['unknown_job_type', 'job.type'],
        ['idempotency_conflict', 'job.idempotencyKey'],
        ['validation_failed', 'portalId'],
      ]);
      for (const [index, letter] of deadLetters.entries()) {
        expect(letter.body.value).toBe(poison[index]);
        expect(letter.body.error.code).toBe(letter.headers['offload-error-code']);
        expect(letter.body.source).toMatchObject({ topic, partition: 0 });
        expect(letter.headers).toMatchObject({ 'offload-source-topic': topic, 'offload-source-partition': '0', 'offload-source-offset': letter.body.source.offset });
      }
      await everythingCommitted(group, topic);
      expect(await metric(worker, 'offload_kafka_ingest_messages_total{outcome="dead_lettered"}')).toBe(poison.length);
    });
  });

  describe('a worker restarted', () => {
    const topic = `job-requests-${randomUUID()}`;
    const group = `offload-ingest-${randomUUID()}`;
    const spread = (keys: string[]) => keys.map((key, index) => ({ partition: index % 3, value: request(noop(key)) }));
    const before = Array.from({ length: 30 }, (_, index) => `before-${index}-${randomUUID()}`);
    const meanwhile = Array.from({ length: 30 }, (_, index) => `meanwhile-${index}-${randomUUID()}`);

    it('resumes from the committed offsets: the messages produced while it was down make their jobs, and none before them is read again', async () => {
      const first = await startWorker(topic, group);
      await produce(topic, spread(before));
      await oneJobEach(before);
      await everythingCommitted(group, topic);
      await stop(first);

      await produce(topic, spread(meanwhile));
      const second = await startWorker(topic, group);
      try {
        await oneJobEach([...before, ...meanwhile]);
        await everythingCommitted(group, topic);
        expect(await metric(second, 'offload_kafka_ingest_messages_total{outcome="accepted"}')).toBe(meanwhile.length);
        expect(await metric(second, 'offload_kafka_ingest_messages_total{outcome="repeated"}')).toBe(0);
      } finally {
        await stop(second);
      }
    });

    it('makes no second job of messages read again after their jobs were made (offsets not committed, as a crash before the commit leaves them)', async () => {
      await rewind(group, topic);
      const third = await startWorker(topic, group);
      try {
        await everythingCommitted(group, topic);
        await eventually(() => metric(third, 'offload_kafka_ingest_messages_total{outcome="repeated"}'), (repeated) => repeated === before.length + meanwhile.length);
        expect(await metric(third, 'offload_kafka_ingest_messages_total{outcome="accepted"}')).toBe(0);
        await oneJobEach([...before, ...meanwhile]);
      } finally {
        await stop(third);
      }
    });
  });

  describe('a worker killed while it reads', () => {
    const topic = `job-requests-${randomUUID()}`;
    const group = `offload-ingest-${randomUUID()}`;
    const keys = Array.from({ length: 3_000 }, (_, index) => `killed-${index}-${randomUUID()}`);

    it('loses nothing and makes nothing twice: the next worker reads on from the last commit, and finds the jobs made since', async () => {
      await produce(
        topic,
        keys.map((key, index) => ({ partition: index % 3, value: request(noop(key)) })),
      );
      const first = await startWorker(topic, group);
      // SIGKILL as soon as it has made some jobs: its last batches are made, partly or wholly, and not committed.
      await eventually(async () => (await jobsOfKeys(keys)).size, (made) => made > 0, 60_000);
      first.child.kill('SIGKILL');
      await first.exited;
      // A commit PostgreSQL had already received still lands after the process is gone: count once that has settled.
      await sleep(1_000);
      const madeBeforeKill = (await jobsOfKeys(keys)).size;

      const second = await startWorker(topic, group);
      try {
        await oneJobEach(keys);
        await everythingCommitted(group, topic);
        const accepted = await metric(second, 'offload_kafka_ingest_messages_total{outcome="accepted"}');
        const repeated = await metric(second, 'offload_kafka_ingest_messages_total{outcome="repeated"}');
        // Every job not made before the kill was made by the second worker; what it read again found its job.
        expect(accepted).toBe(keys.length - madeBeforeKill);
        expect(repeated).toBeLessThanOrEqual(madeBeforeKill);
      } finally {
        await stop(second);
      }
    });
  });

  describe('while PostgreSQL cannot be reached', () => {
    const topic = `job-requests-${randomUUID()}`;
    const group = `offload-ingest-${randomUUID()}`;
    let proxy: TcpProxy;
    let worker: SpawnedOffload;

    beforeAll(async () => {
      proxy = await new TcpProxy(5432).start();
      const databaseUrl = isolation.databaseUrl.replace('127.0.0.1:5432', `127.0.0.1:${proxy.port}`);
      worker = await startWorker(topic, group, { DATABASE_URL: databaseUrl });
    }, START_WITHIN_MS);

    afterAll(async () => {
      await stop(worker);
      await proxy?.close();
    });

    it('neither dead-letters nor commits a valid message, and makes its job once PostgreSQL is back', async () => {
      const deadLetters = await readDeadLetters(`${topic}.dlq`);
      const key = `outage-${randomUUID()}`;
      await proxy.sever();
      await produce(topic, [request(noop(key))]);
      // /metrics answers 503 without PostgreSQL: the log says the partition is held.
      const holds = () => worker.stdout().match(/Kafka ingest holds/g)?.length ?? 0;
      await eventually(async () => holds(), (count) => count >= 2);

      expect((await offsets(group, topic)).committed.every((offset) => offset === 0)).toBe(true);
      expect(deadLetters).toEqual([]);
      expect(await jobsOfKeys([key])).toEqual(new Map());

      await proxy.restore();
      await oneJobEach([key]);
      await everythingCommitted(group, topic);
      expect(deadLetters).toEqual([]);
      expect(await metric(worker, 'offload_kafka_ingest_waits_total')).toBeGreaterThanOrEqual(2);
    });
  });

  describe('while Redis cannot be reached', () => {
    const topic = `job-requests-${randomUUID()}`;
    const group = `offload-ingest-${randomUUID()}`;
    let proxy: TcpProxy;
    let worker: SpawnedOffload;

    beforeAll(async () => {
      proxy = await new TcpProxy(6379).start();
      worker = await startWorker(topic, group, { REDIS_URL: `redis://127.0.0.1:${proxy.port}/${isolation.redisDb}` });
    }, START_WITHIN_MS);

    afterAll(async () => {
      await stop(worker);
      await proxy?.close();
    });

    it('accepts the message once PostgreSQL has its job, as the API does, and the job runs once Redis is back', async () => {
      const key = `redis-outage-${randomUUID()}`;
      await proxy.sever();
      await produce(topic, [request(noop(key))]);
      await oneJobEach([key]);
      await everythingCommitted(group, topic);

      await proxy.restore();
      const { rows } = await pg.query('SELECT id FROM jobs WHERE idempotency_key = $1', [key]);
      await eventually(() => http.get(`/v1/jobs/${rows[0].id}?wait=5`), (answer) => answer.body.status === 'succeeded');
    });
  });
});
