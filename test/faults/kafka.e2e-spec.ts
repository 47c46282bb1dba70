import { Consumer, Kafka, logLevel } from 'kafkajs';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client } from 'pg';
import { closedPort, forwardPort, KafkaMock, startKafkaMock } from '../support/kafka-mock';
import { loggingErrors } from '../support/offload-harness';
import { FaultEnv, JobSpec, until } from './support/fault-env';
import { expectEveryJobDoneOnce } from './support/job-audit';
import { report, seconds } from './support/summary';

const TOPIC = 'offload.job-events';
const WAVES = 15;
const WAVE = 100;

/** A message as a consumer of the topic got it: the job's id and the event's JSON as the outbox holds it. */
interface Received {
  key: string;
  value: string;
}

async function consume(brokers: string[], group: string, into: Received[]): Promise<Consumer> {
  const consumer = new Kafka({ clientId: group, brokers, logLevel: logLevel.NOTHING }).consumer({
    groupId: group,
    sessionTimeout: 10_000,
    heartbeatInterval: 500,
    maxWaitTimeInMs: 100,
  });
  await consumer.connect();
  await consumer.subscribe({ topic: TOPIC, fromBeginning: true });
  await consumer.run({ eachMessage: async ({ message }) => void into.push({ key: message.key!.toString(), value: message.value!.toString() }) });
  return consumer;
}

/** The relay passes a worker process has seen fail. */
async function publishFailures(port: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const line = text.split('\n').find((entry) => entry.startsWith('offload_outbox_publish_failures_total'));
  return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1));
}

describe("fault suite: Kafka's broker dies and another takes its address", () => {
  let env: FaultEnv | undefined;
  const brokers: KafkaMock[] = [];
  const consumers: Consumer[] = [];
  let forwarding: { close(): Promise<void> } | undefined;

  afterAll(async () => {
    await Promise.all(consumers.map((consumer) => consumer.disconnect()));
    await env?.stop();
    await forwarding?.close();
    await Promise.all(brokers.map((broker) => broker.stop()));
  });

  it('the relay publishes every event to one broker or the next, in order per job; none is lost', async () => {
    // KAFKA_BROKERS names an address of the test's own, which leads to the first mock cluster, then to the second.
    const first = await startKafkaMock(1);
    brokers.push(first);
    const port = await closedPort();
    forwarding = await forwardPort(port, first.brokers[0]);
    const fromFirst: Received[] = [];
    const fromSecond: Received[] = [];
    consumers.push(await consume(first.brokers, 'fault-suite-first', fromFirst));
    env = await FaultEnv.start({ env: { KAFKA_BROKERS: `127.0.0.1:${port}` } });

    const wave = (n: number): JobSpec[] => Array.from({ length: WAVE }, (_, i) => ({ type: 'noop', input: { sleepMs: 200 }, idempotencyKey: `wave-${n}-${i}` }));
    const ids: string[] = [];
    let killedAt = 0;
    let secondAt = 0;
    for (let n = 0; n < WAVES; n++) {
      ids.push(...(await env.enqueue(wave(n))));
      await sleep(500);
      if (n === 4) {
        // The mock broker keeps its log in memory only: what it acknowledged and its consumer has not
        // read yet would die with it. So the test holds the relay's lock (one relay publishes at a
        // time; see OutboxRepository) until the consumer has read everything acknowledged, then kills it.
        const lock = loggingErrors(new Client({ connectionString: env.databaseUrl }), 'PostgreSQL');
        await lock.connect();
        await lock.query(`SELECT pg_advisory_lock(hashtext('offload.outbox-relay'))`);
        const acknowledged = await env.query<{ key: string; value: string }>(`SELECT key, payload::text AS value FROM outbox_events WHERE published_at IS NOT NULL`);
        expect(acknowledged.length).toBeGreaterThan(0);
        await until(
          async () => new Set(fromFirst.map((message) => `${message.key} ${message.value}`)),
          (got) => acknowledged.every((event) => got.has(`${event.key} ${event.value}`)),
          60_000,
        );
        await consumers.pop()!.disconnect();
        await forwarding.close();
        await first.stop();
        killedAt = Date.now();
        await lock.end();
      }
      if (n === 9) {
        const second = await startKafkaMock(1);
        brokers.push(second);
        consumers.push(await consume(second.brokers, 'fault-suite-second', fromSecond));
        forwarding = await forwardPort(port, second.brokers[0]);
        secondAt = Date.now();
      }
    }
    await env.allEnded(ids.length, 300_000);
    const outbox = await until(
      () => env!.query<{ key: string; value: string; published_at: Date | null }>(`SELECT key, payload::text AS value, published_at FROM outbox_events ORDER BY id`),
      (rows) => rows.every((row) => row.published_at !== null),
      120_000,
    );
    const caughtUpAt = Math.max(...outbox.map((row) => row.published_at!.getTime()));
    // None lost: every event reaches the consumer of one broker or the other.
    const received = () => new Set([...fromFirst, ...fromSecond].map((message) => `${message.key} ${message.value}`));
    await until(async () => outbox.filter((row) => !received().has(`${row.key} ${row.value}`)).length, (missing) => missing === 0, 60_000);

    await expectEveryJobDoneOnce(env, ids);
    // Each job's events, as its consumers saw them first (a repeat is at-least-once delivery), are in the order the outbox made them.
    const seen = new Map<string, string[]>();
    for (const { key, value } of [...fromFirst, ...fromSecond]) {
      const events = seen.get(key) ?? [];
      if (!events.includes(value)) seen.set(key, [...events, value]);
    }
    const madeInOrder = new Map<string, string[]>();
    for (const { key, value } of outbox) madeInOrder.set(key, [...(madeInOrder.get(key) ?? []), value]);
    const outOfOrder = [...seen].filter(([key, events]) => {
      const made = madeInOrder.get(key) ?? [];
      return events.some((value, i) => i > 0 && made.indexOf(value) < made.indexOf(events[i - 1]));
    });
    expect(outOfOrder).toEqual([]);
    expect(outbox.filter((row) => JSON.parse(row.value).event === 'job.succeeded')).toHaveLength(ids.length);
    // The relay did meet the dead broker, and came through it.
    const failures = (await Promise.all(env.workers.map((worker) => publishFailures(worker.port!)))).reduce((sum, n) => sum + n, 0);
    expect(failures).toBeGreaterThan(0);

    report(
      'Kafka broker killed, another started at its address',
      `${ids.length} jobs, ${outbox.length} events; broker down ${seconds(killedAt, secondAt)}; ${failures} relay passes failed meanwhile; every event published ${seconds(secondAt, caughtUpAt)} after the new broker came`,
    );
  }, 420_000);
});
