import { SpanStatusCode } from '@opentelemetry/api';
import { InMemorySpanExporter, ReadableSpan, SimpleSpanProcessor } from '@opentelemetry/sdk-trace';
import { Type } from '@sinclair/typebox';
import { Consumer, Kafka, logLevel } from 'kafkajs';
import { Client } from 'pg';
import { discoverHandlerClasses } from '../src/registry/handler-discovery';
import { JobContext, JobFailure, JobHandlerOf } from '../src/registry/job-handler';
import { startTracing } from '../src/telemetry/tracing';
import { createHubSpotSimulator, HubSpotSimulator } from '../tools/simulators/hubspot';
import { KafkaMock, startKafkaMock } from './support/kafka-mock';
import { configFor, eventually, isolate, Isolation, loggingErrors, newPortal, RunningOffload, startOffload } from './support/offload-harness';

/** Reads a contact from HubSpot, then fails as a provider outage would: retried once, then failed for good. */
@JobHandlerOf({
  type: 'hubspot-then-fail',
  version: '1.0.0',
  owner: 'tests',
  description: 'calls HubSpot, then fails retryably',
  input: Type.Object({}),
  outputs: {},
  retry: { attempts: 2, backoffMs: 50, maxBackoffMs: 50 },
})
class HubSpotThenFail {
  async run({ hubspot }: JobContext<unknown>): Promise<never> {
    await hubspot.call((client) => client.crm.objects.basicApi.getById('contacts', '1')).catch(() => undefined);
    throw new JobFailure('provider_down', 'the provider is down', { retryable: true });
  }
}

const CALLER_TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const CALLER_SPAN = '00f067aa0ba902b7';

describe('the trace of a failed job', () => {
  const exporter = new InMemorySpanExporter();
  const tracing = startTracing({ OTEL_SERVICE_NAME: 'offload-test' }, { spanProcessors: [new SimpleSpanProcessor({ exporter })], instrumentations: [] })!;
  let isolation: Isolation;
  let sim: HubSpotSimulator;
  let kafka: KafkaMock;
  let consumer: Consumer;
  let offload: RunningOffload;
  let db: Client;
  const headersByJob = new Map<string, Array<Record<string, string>>>();

  beforeAll(async () => {
    isolation = await isolate();
    sim = await createHubSpotSimulator({ seedContacts: 5, rateLimitWindowMs: 1_000 });
    kafka = await startKafkaMock(1);
    consumer = new Kafka({ clientId: 'job-traces-e2e', brokers: kafka.brokers, logLevel: logLevel.NOTHING }).consumer({ groupId: 'job-traces-e2e' });
    await consumer.connect();
    await consumer.subscribe({ topic: 'offload.job-events', fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        const headers = Object.fromEntries(Object.entries(message.headers ?? {}).map(([name, value]) => [name, String(value)]));
        const key = message.key!.toString();
        headersByJob.set(key, [...(headersByJob.get(key) ?? []), headers]);
      },
    });
    offload = await startOffload(
      configFor(isolation, { HUBSPOT_BASE_URL: sim.url, KAFKA_BROKERS: kafka.brokers.join(','), OUTBOX_POLL_MS: '50' }),
      [...discoverHandlerClasses(), HubSpotThenFail],
    );
    db = loggingErrors(new Client({ connectionString: isolation.databaseUrl }), 'PostgreSQL');
    await db.connect();
  });

  afterAll(async () => {
    await db?.end();
    await offload?.close();
    await consumer?.disconnect();
    await kafka?.stop();
    await sim?.close();
    await isolation?.cleanup();
    await tracing.shutdown();
  });

  it('continues the caller trace, marks each failed run ERROR with its code, and spans its queue waits, HubSpot calls and Kafka events', async () => {
    const { portal, client, admin } = await newPortal(offload.url, sim.portalId);
    expect((await admin.request('PATCH', `/v1/admin/portals/${portal.id}`, { hubspotAccessToken: sim.token })).status).toBe(200);
    // HubSpot's first answer is a 429 (every process waits its window out), its second a 502 (tried again), then it answers.
    sim.inject.storm({ calls: 1 });
    sim.inject.errors({ next: 1, statuses: [502] });

    const enqueued = await client.post('/v1/jobs', { type: 'hubspot-then-fail', idempotencyKey: 'a client secret, never an attribute' }, {
      traceparent: `00-${CALLER_TRACE}-${CALLER_SPAN}-01`,
    });
    expect(enqueued.status).toBe(202);
    const jobId = enqueued.body.id;
    expect(enqueued.body.traceId).toBe(CALLER_TRACE);
    const failed = await eventually(
      () => client.get(`/v1/jobs/${jobId}`),
      (answer) => answer.body.status === 'failed',
    );
    expect(failed.body).toMatchObject({ attempts: 2, error: { code: 'provider_down' } });

    const spans = () => exporter.getFinishedSpans().filter((span) => span.spanContext().traceId === CALLER_TRACE);
    await eventually(async () => spans().filter((span) => span.name.startsWith('job.run')).length, (runs) => runs === 2);
    const all = spans();

    // The enqueue span is the caller's child: its trace goes on.
    const enqueue = all.find((span) => span.name === 'job hubspot-then-fail')!;
    expect(enqueue.parentSpanContext?.spanId).toBe(CALLER_SPAN);

    const runs = all.filter((span) => span.name === 'job.run hubspot-then-fail').sort((a, b) => Number(a.attributes['offload.job.attempt']) - Number(b.attributes['offload.job.attempt']));
    expect(runs.map((run) => run.attributes['offload.job.attempt'])).toEqual([1, 2]);
    for (const run of runs) {
      expect(run.parentSpanContext?.spanId).toBe(enqueue.spanContext().spanId);
      expect(run.status).toEqual({ code: SpanStatusCode.ERROR, message: 'provider_down' });
      expect(run.attributes).toMatchObject({ 'offload.job.id': jobId, 'offload.error.code': 'provider_down', 'error.type': 'provider_down', 'offload.portal.id': portal.id });
      expect(run.events.find((event) => event.name === 'exception')?.attributes).toMatchObject({
        'exception.type': 'provider_down',
        'exception.message': 'the provider is down',
      });
    }

    const waits = all.filter((span) => span.name === 'job.queue_wait');
    expect(waits).toHaveLength(2);
    for (const wait of waits) expect(wait.parentSpanContext?.spanId).toBe(enqueue.spanContext().spanId);

    // The first run's HubSpot call: a 429, a 502, then an answer, each a span under the run.
    const calls = (run: ReadableSpan) => all.filter((span) => span.parentSpanContext?.spanId === run.spanContext().spanId && span.attributes['offload.hubspot.try'] !== undefined);
    const first = calls(runs[0]).sort((a, b) => Number(a.attributes['offload.hubspot.try']) - Number(b.attributes['offload.hubspot.try']));
    expect(first.map((call) => [call.attributes['http.response.status_code'], call.attributes['offload.hubspot.rate_limited'], call.status.code])).toEqual([
      [429, true, SpanStatusCode.ERROR],
      [502, false, SpanStatusCode.ERROR],
      [200, false, SpanStatusCode.UNSET],
    ]);
    for (const call of first) {
      // The dated path of the configured HubSpot API version (HUBSPOT_API_VERSION).
      expect(call.name).toBe('HubSpot GET /crm/objects/2026-03/contacts/{id}');
      expect(call.attributes).toMatchObject({ 'url.template': '/crm/objects/2026-03/contacts/{id}', 'offload.portal.id': portal.id });
    }
    expect(calls(runs[1])).toHaveLength(1);

    // No attribute holds what the client wrote.
    for (const span of all) expect(JSON.stringify(span.attributes)).not.toContain('client secret');

    // Every lifecycle event goes to Kafka with the job's trace context.
    const traceparent = `00-${CALLER_TRACE}-${enqueue.spanContext().spanId}-01`;
    const outbox = await db.query(`SELECT headers FROM outbox_events WHERE key = $1`, [jobId]);
    expect(outbox.rows.length).toBeGreaterThanOrEqual(2);
    for (const row of outbox.rows) expect(row.headers).toEqual({ traceparent });
    const messages = await eventually(
      async () => headersByJob.get(jobId) ?? [],
      (headers) => headers.length === outbox.rows.length,
    );
    for (const headers of messages) expect(headers.traceparent).toBe(traceparent);
  });

  it("links a write-back batch's span to the trace of each job it writes for, and gives each job's trace a span of its write", async () => {
    const hubspotPortalId = sim.portalId + 1;
    sim.addPortal({ portalId: hubspotPortalId });
    sim.seedDemoData(hubspotPortalId, { contacts: 5, owners: 1 });
    sim.defineProperties('contacts', ['ok', 'attempts'], hubspotPortalId);
    const { portal, client, admin } = await newPortal(offload.url, hubspotPortalId);
    expect((await admin.request('PATCH', `/v1/admin/portals/${portal.id}`, { hubspotAccessToken: sim.addPrivateAppToken(hubspotPortalId) })).status).toBe(200);

    const enqueued = await client.post('/v1/jobs/batch', {
      jobs: [1, 2, 3].map((id) => ({ type: 'noop', object: { type: 'CONTACT', id: String(id) }, writeback: true, idempotencyKey: `traced-write-${id}` })),
    });
    const jobs: Array<{ id: string; traceId: string }> = enqueued.body.results.map((result: { job: { id: string; traceId: string } }) => result.job);
    for (const job of jobs) expect((await client.get(`/v1/jobs/${job.id}?wait=15`)).body.status).toBe('succeeded');

    const batchesOf = (traceId: string) =>
      exporter.getFinishedSpans().filter((span) => span.name === 'writeback.send' && span.links.some((link) => link.context.traceId === traceId));
    const writesOf = (traceId: string) => exporter.getFinishedSpans().filter((span) => span.name === 'job.writeback' && span.spanContext().traceId === traceId);
    await eventually(async () => jobs.every((job) => writesOf(job.traceId).length > 0), Boolean);
    for (const job of jobs) {
      const enqueue = exporter.getFinishedSpans().find((span) => span.name === 'job noop' && span.spanContext().traceId === job.traceId)!;
      const [batch] = batchesOf(job.traceId);
      // The batch stands in a trace of its own, linked to the job's root span.
      expect(batch.spanContext().traceId).not.toBe(job.traceId);
      expect(batch.links.find((link) => link.context.traceId === job.traceId)).toMatchObject({
        context: { spanId: enqueue.spanContext().spanId },
        attributes: { 'offload.job.id': job.id },
      });
      const [write] = writesOf(job.traceId);
      expect(write.parentSpanContext?.spanId).toBe(enqueue.spanContext().spanId);
      expect(write.attributes).toMatchObject({ 'offload.job.id': job.id, 'offload.writeback.outcome': 'written', 'offload.writeback.kind': 'send' });
      expect(write.links.map((link) => link.context.spanId)).toEqual([batch.spanContext().spanId]);
    }
    // The writes shared a call: one batch links all three jobs.
    expect(new Set(jobs.map((job) => batchesOf(job.traceId)[0].spanContext().spanId)).size).toBe(1);
  });
});
