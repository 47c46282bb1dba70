import { Client } from 'pg';
import { NoopHandler } from '../src/handlers/noop/noop.handler';
import { createHubSpotSimulator, HubSpotSimulator } from '../tools/simulators/hubspot';
import { jobEventProblems } from './support/job-event-schema';
import { ADMIN_TOKEN, configFor, eventually, HttpClient, isolate, Isolation, loggingErrors, RunningOffload, startOffload } from './support/offload-harness';

describe('lifecycle events: every kind a job emits keeps to the published schema', () => {
  let isolation: Isolation;
  let sim: HubSpotSimulator;
  let offload: RunningOffload;
  let client: HttpClient;
  let db: Client;

  beforeAll(async () => {
    sim = await createHubSpotSimulator({ seedContacts: 10 });
    sim.defineProperties('contacts', ['ok', 'attempts']);
    isolation = await isolate();
    offload = await startOffload(configFor(isolation, { HUBSPOT_BASE_URL: sim.url }), [NoopHandler]);
    const admin = new HttpClient(offload.url, ADMIN_TOKEN);
    const created = await admin.post('/v1/admin/portals', { hubspotPortalId: sim.portalId, name: 'events', hubspotAccessToken: sim.token });
    expect(created.status).toBe(201);
    client = new HttpClient(offload.url, created.body.apiKey);
    db = loggingErrors(new Client({ connectionString: isolation.databaseUrl }), 'PostgreSQL');
    await db.connect();
  });

  afterAll(async () => {
    await db?.end();
    await offload?.close();
    await sim?.close();
    await isolation?.cleanup();
  });

  const ended = (id: string) =>
    eventually(
      () => client.get(`/v1/jobs/${id}?wait=5`),
      (answer) => ['succeeded', 'failed', 'cancelled'].includes(answer.body.status),
    );

  it('queued, writing, succeeded, failed, cancelled and queued again: each event valid, each id unique, in order per job', async () => {
    const enqueue = async (job: Record<string, unknown>) => ((await client.post('/v1/jobs', { type: 'noop', ...job })).body.id as string);
    const succeeded = await enqueue({ input: {} });
    const written = await enqueue({ input: {}, object: { type: 'contacts', id: '1' }, writeback: true });
    const refused = await enqueue({ input: {}, object: { type: 'contacts', id: '999999' }, writeback: true });
    const failed = await enqueue({ input: { fatal: true, failTimes: 1 } });
    const cancelled = await enqueue({ input: { sleepMs: 10_000 } });
    expect((await client.post(`/v1/jobs/${cancelled}/cancel`)).status).toBe(200);
    for (const id of [succeeded, written, refused, failed]) await ended(id);
    expect((await client.post(`/v1/jobs/${failed}/retry`)).status).toBe(202);
    await ended(failed);

    const { rows } = await db.query(`SELECT key, payload FROM outbox_events ORDER BY id`);
    const problems = rows.flatMap((row) => jobEventProblems(row.payload).map((problem) => `${row.payload.event} ${problem}`));
    expect(problems).toEqual([]);
    expect(new Set(rows.map((row) => row.payload.eventId)).size).toBe(rows.length);
    const eventsOf = (id: string) => rows.filter((row) => row.key === id).map((row) => row.payload.event);
    expect(eventsOf(succeeded)).toEqual(['job.queued', 'job.succeeded']);
    expect(eventsOf(written)).toEqual(['job.queued', 'job.writing', 'job.succeeded']);
    expect(eventsOf(refused)).toEqual(['job.queued', 'job.writing', 'job.failed']);
    expect(eventsOf(failed)).toEqual(['job.queued', 'job.failed', 'job.queued', 'job.failed']);
    expect(eventsOf(cancelled)).toEqual(['job.queued', 'job.cancelled']);
  });
});
