import { Type } from '@sinclair/typebox';
import { Client } from 'pg';
import { NoopHandler } from '../src/handlers/noop/noop.handler';
import { createHubSpotSimulator, HubSpotSimulator } from '../tools/simulators/hubspot';
import { JobHandlerOf } from '../src/registry/job-handler';
import { ADMIN_TOKEN, configFor, eventually, HttpClient, isolate, Isolation, RunningOffload, startOffload } from './support/offload-harness';

/** Writes a property the simulated portal does not define, so HubSpot refuses any batch it is in. */
@JobHandlerOf({
  type: 'labeller',
  version: '1.0.0',
  owner: 'tests',
  description: 'outputs a label to a property HubSpot does not know',
  input: Type.Object({}),
  outputs: { label: { hubspotType: 'string', description: 'a label' } },
})
class LabellerHandler {
  async run() {
    return { label: 'vip' };
  }
}

/** Writes the stamp it is given; two types of it let two jobs writing one property be active on one record. */
function stamper(type: string) {
  @JobHandlerOf({
    type,
    version: '1.0.0',
    owner: 'tests',
    description: 'outputs the stamp it is given',
    input: Type.Object({ stamp: Type.String(), sleepMs: Type.Optional(Type.Integer({ minimum: 0, maximum: 10_000 })) }),
    outputs: { stamp: { hubspotType: 'string', description: 'the stamp' } },
  })
  class StamperHandler {
    async run({ input }: { input: { stamp: string; sleepMs?: number } }) {
      if (input.sleepMs) await new Promise((resolve) => setTimeout(resolve, input.sleepMs));
      return { stamp: input.stamp };
    }
  }
  return StamperHandler;
}

const CONTACTS = 700;

describe('write-back to HubSpot (through the official client, against the simulator)', () => {
  let isolation: Isolation;
  let sim: HubSpotSimulator;
  let offload: RunningOffload;
  let admin: HttpClient;
  let client: HttpClient;

  beforeAll(async () => {
    // A one-second window keeps the waits after a 429 short: the simulator's interval header says how long.
    sim = await createHubSpotSimulator({ seedContacts: CONTACTS, rateLimit: 100, rateLimitWindowMs: 1_000 });
    sim.defineProperties('contacts', ['ok', 'attempts', 'offload_ok', 'stamp']);
    isolation = await isolate();
    offload = await startOffload(configFor(isolation, { HUBSPOT_BASE_URL: sim.url }), [NoopHandler, LabellerHandler, stamper('stamper'), stamper('restamper')]);
    admin = new HttpClient(offload.url, ADMIN_TOKEN);
    ({ client } = await connectedPortal(sim.portalId, sim.token));
  });

  afterAll(async () => {
    await offload?.close();
    await sim?.close();
    await isolation?.cleanup();
  });

  beforeEach(() => {
    sim.inject.clear();
    sim.resetCalls();
  });

  async function connectedPortal(hubspotPortalId: number, hubspotAccessToken?: string): Promise<{ id: string; client: HttpClient }> {
    const created = await admin.post('/v1/admin/portals', { hubspotPortalId, name: `Portal ${hubspotPortalId}`, hubspotAccessToken });
    expect(created.status).toBe(201);
    return { id: created.body.id, client: new HttpClient(offload.url, created.body.apiKey) };
  }

  /** Enqueues one noop job with write-back per contact, 100 per request, and answers the job ids in order. */
  async function enqueueWritebacks(on: HttpClient, contactIds: Array<string | number>, type = 'noop'): Promise<string[]> {
    const ids: string[] = [];
    for (let i = 0; i < contactIds.length; i += 100) {
      const jobs = contactIds.slice(i, i + 100).map((id) => ({ type, object: { type: 'CONTACT', id }, writeback: true }));
      const answer = await on.post('/v1/jobs/batch', { jobs });
      expect(answer.status).toBe(200);
      for (const result of answer.body.results) {
        expect(result.status).toBe(202);
        ids.push(result.job.id);
      }
    }
    return ids;
  }

  async function ended(on: HttpClient, ids: string[]): Promise<any[]> {
    const isEnded = (answer: { body: { status: string } }) => ['succeeded', 'failed'].includes(answer.body.status);
    return Promise.all(ids.map(async (id) => (await eventually(() => on.get(`/v1/jobs/${id}?wait=5`), isEnded, 30_000)).body));
  }

  const batchUpdates = () => sim.listCalls({ endpoint: 'crm.objects.batch.update' });

  it('coalesces the writes of many jobs into a few batch update calls of up to 100 records', async () => {
    const contacts = Array.from({ length: 300 }, (_, i) => i + 1);
    const jobs = await ended(client, await enqueueWritebacks(client, contacts));

    expect(jobs.every((job) => job.status === 'succeeded')).toBe(true);
    const calls = batchUpdates();
    expect(calls.length).toBeGreaterThanOrEqual(3);
    // how many calls depends on how the jobs' ends spread out on this machine: ten writes a call at the least
    expect(calls.length).toBeLessThanOrEqual(contacts.length / 10);
    expect(calls.every((call) => (call.summary?.inputs as number) <= 100)).toBe(true);
    for (const id of contacts) expect(sim.getObject('contacts', id)?.properties).toMatchObject({ ok: 'true', attempts: '1' });
    expect(sim.stats().propertyValuesNotStrings).toBe(0);
  });

  it('shows a job writing, with its outputs, until HubSpot has its write, then succeeded', async () => {
    // A slow HubSpot keeps the write on its way long enough to watch, whichever batch it joins.
    sim.inject.latency(1_500);
    const [id] = await enqueueWritebacks(client, [301]);
    const writing = await eventually(() => client.get(`/v1/jobs/${id}`), (answer) => answer.body.status === 'writing');
    expect(writing.body.output).toEqual({ ok: true, attempts: 1 });
    expect(writing.body.finishedAt).toBeUndefined();
    const [job] = await ended(client, [id]);
    expect(job).toMatchObject({ status: 'succeeded', output: { ok: true, attempts: 1 }, writeback: true, priority: 'live' });
    const write = batchUpdates().find((call) => (call.summary?.ids as string[]).includes('301'));
    expect(write).toBeDefined();
    expect(Date.parse(write!.time)).toBeLessThanOrEqual(Date.parse(job.finishedAt));
  });

  it('on a 207 fails only the job of the unknown record, with writeback_rejected and HubSpot’s message', async () => {
    const ids = await enqueueWritebacks(client, [302, 303, 999_999_999, 304]);
    const jobs = await ended(client, ids);

    expect(sim.listCalls({ status: 207 })).toHaveLength(1);
    expect(jobs.map((job) => job.status)).toEqual(['succeeded', 'succeeded', 'failed', 'succeeded']);
    expect(jobs[2]).toMatchObject({ attempts: 1, error: { code: 'writeback_rejected', retryable: false } });
    expect(jobs[2].error.message).toMatch(/Could not get some CONTACT objects/i);
    for (const id of [302, 303, 304]) expect(sim.getObject('contacts', id)?.properties.ok).toBe('true');
  });

  it('when HubSpot refuses a whole batch, finds the record at fault and still writes the others', async () => {
    const noops = await enqueueWritebacks(client, [305, 306, 307]);
    const [labeller] = await enqueueWritebacks(client, [308], 'labeller');
    const jobs = await ended(client, [...noops, labeller]);

    expect(jobs.slice(0, 3).map((job) => job.status)).toEqual(['succeeded', 'succeeded', 'succeeded']);
    expect(jobs[3]).toMatchObject({ status: 'failed', error: { code: 'writeback_rejected', retryable: false } });
    expect(jobs[3].error.message).toMatch(/label/);
    expect(batchUpdates().some((call) => call.status === 400)).toBe(true);
  });

  it('waits out a 429 storm as HubSpot’s headers say, losing and duplicating no write', async () => {
    // On the updates: each batch is read first (the portal reads before it writes), and the read is not what this is about.
    sim.inject.faults({ stormCalls: 4, pathIncludes: '/batch/update' });
    const contacts = Array.from({ length: 250 }, (_, i) => 401 + i);
    const jobs = await ended(client, await enqueueWritebacks(client, contacts));

    expect(jobs.every((job) => job.status === 'succeeded' && job.attempts === 1)).toBe(true);
    const calls = batchUpdates();
    expect(calls.filter((call) => call.status === 429)).toHaveLength(4);
    const applied = calls.filter((call) => call.status === 200);
    expect(applied.reduce((sum, call) => sum + (call.summary?.inputs as number), 0)).toBe(contacts.length);
    const written = applied.flatMap((call) => call.summary?.ids as string[]);
    expect(new Set(written).size).toBe(written.length);
    for (const id of contacts) expect(sim.getObject('contacts', id)?.properties.ok).toBe('true');
  });

  it('retries a HubSpot 5xx within the call, so the job still succeeds on its first run', async () => {
    sim.inject.faults({ errorNext: 2, errorStatuses: [502, 503], pathIncludes: '/batch/update' });
    const [job] = await ended(client, await enqueueWritebacks(client, [351]));
    expect(job).toMatchObject({ status: 'succeeded', attempts: 1 });
    expect(batchUpdates().map((call) => call.status)).toEqual([502, 503, 200]);
  });

  it('sends again a record HubSpot’s answer leaves out without an error, and never counts it as written', async () => {
    sim.inject.omitResults({ ids: [661], times: 2, status: 207 });
    const [job] = await ended(client, await enqueueWritebacks(client, [661]));
    expect(job).toMatchObject({ status: 'succeeded', attempts: 1 });
    const sends = batchUpdates().filter((call) => (call.summary?.ids as string[]).includes('661'));
    expect(sends.map((call) => call.status)).toEqual([207, 207, 200]);
    expect(sim.getObject('contacts', 661)?.properties.ok).toBe('true');
  });

  it('fails the job with writeback_unconfirmed when the answers keep leaving its record out, and writes its neighbours', async () => {
    sim.inject.omitResults({ ids: [662] });
    const jobs = await ended(client, await enqueueWritebacks(client, [662, 663]));
    expect(jobs[0]).toMatchObject({ status: 'failed', attempts: 1, error: { code: 'writeback_unconfirmed', retryable: false } });
    expect(jobs[0].error.message).toMatch(/662/);
    expect(jobs[1].status).toBe('succeeded');
    expect(batchUpdates().filter((call) => (call.summary?.ids as string[]).includes('662'))).toHaveLength(3);
    expect(sim.getObject('contacts', 662)?.properties.ok ?? null).toBeNull();
    expect(sim.getObject('contacts', 663)?.properties.ok).toBe('true');
  });

  it('waits out 423 Locked (2 s at least) and 477 Migration in Progress (its Retry-After) within the call', async () => {
    sim.inject.faults({ errorNext: 2, errorStatuses: [423, 477], errorRetryAfterSec: 1, pathIncludes: '/batch/update' });
    const [job] = await ended(client, await enqueueWritebacks(client, [664]));
    expect(job).toMatchObject({ status: 'succeeded', attempts: 1 });
    const calls = batchUpdates();
    expect(calls.map((call) => call.status)).toEqual([423, 477, 200]);
    const arrivals = calls.map((call) => Date.parse(call.time));
    expect(arrivals[1] - arrivals[0]).toBeGreaterThanOrEqual(2_000);
    expect(arrivals[2] - arrivals[1]).toBeGreaterThanOrEqual(1_000);
  });

  it('fails only the job whose property HubSpot refuses, and still writes the other job’s write to that record', async () => {
    const [noop] = await enqueueWritebacks(client, [665]);
    const [labeller] = await enqueueWritebacks(client, [665], 'labeller');
    const jobs = await ended(client, [noop, labeller]);
    expect(jobs[0]).toMatchObject({ status: 'succeeded' });
    expect(jobs[1]).toMatchObject({ status: 'failed', error: { code: 'writeback_rejected', retryable: false } });
    expect(jobs[1].error.message).toMatch(/label/);
    expect(sim.getObject('contacts', 665)?.properties.ok).toBe('true');
  });

  it('sends each job’s write alone when a refusal of their record names no property', async () => {
    const [noop, neighbour] = await enqueueWritebacks(client, [999_999_998, 666]);
    const stamped = await client.post('/v1/jobs', { type: 'stamper', input: { stamp: 'x' }, object: { type: 'CONTACT', id: 999_999_998 }, writeback: true });
    expect(stamped.status).toBe(202);
    const jobs = await ended(client, [noop, stamped.body.id, neighbour]);
    expect(jobs.map((job) => job.status)).toEqual(['failed', 'failed', 'succeeded']);
    for (const job of jobs.slice(0, 2)) {
      expect(job.error).toMatchObject({ code: 'writeback_rejected', retryable: false });
      expect(job.error.message).toMatch(/Could not get some CONTACT objects/i);
    }
  });

  it('applies two jobs’ writes of one property in the order the jobs were created, and both succeed', async () => {
    const stamp = async (type: string, value: string) => {
      const answer = await client.post('/v1/jobs', { type, input: { stamp: value }, object: { type: 'CONTACT', id: 667 }, writeback: true });
      expect(answer.status).toBe(202);
      return answer.body.id as string;
    };
    const first = await stamp('stamper', 'first');
    const second = await stamp('restamper', 'second');
    const jobs = await ended(client, [first, second]);
    expect(jobs.map((job) => job.status)).toEqual(['succeeded', 'succeeded']);
    expect(sim.getObject('contacts', 667)?.properties.stamp).toBe('second');
  });

  it('never lets an earlier job’s late write undo a later job’s, and the journal shows both', async () => {
    const stamp = async (type: string, value: string, sleepMs: number) => {
      const answer = await client.post('/v1/jobs', { type, input: { stamp: value, sleepMs }, object: { type: 'CONTACT', id: 669 }, writeback: true });
      expect(answer.status).toBe(202);
      return answer.body.id as string;
    };
    // The earlier job's run ends last, after the later job's write is made.
    const first = await stamp('stamper', 'first', 3_000);
    const second = await stamp('restamper', 'second', 0);
    const [secondJob] = await ended(client, [second]);
    expect(secondJob.status).toBe('succeeded');
    expect(sim.getObject('contacts', 669)?.properties.stamp).toBe('second');
    const [firstJob] = await ended(client, [first]);
    expect(firstJob).toMatchObject({ status: 'succeeded', output: { stamp: 'first' } });
    expect(sim.getObject('contacts', 669)?.properties.stamp).toBe('second');
    const db = new Client({ connectionString: isolation.databaseUrl });
    await db.connect();
    try {
      const journal = await db.query(`SELECT job_id, properties, status, superseded FROM writebacks WHERE job_id = ANY($1::uuid[])`, [[first, second]]);
      expect(Object.fromEntries(journal.rows.map((row) => [row.job_id, row]))).toEqual({
        [first]: { job_id: first, properties: { stamp: 'first' }, status: 'superseded', superseded: ['stamp'] },
        [second]: { job_id: second, properties: { stamp: 'second' }, status: 'written', superseded: [] },
      });
    } finally {
      await db.end();
    }
  });

  it('closes a call it gave up on before it sends the next try, so no late write can follow', async () => {
    sim.inject.faults({ timeoutNext: 1, timeoutMs: 120_000, pathIncludes: '/batch/update' });
    const [job] = await ended(client, await enqueueWritebacks(client, [668]));
    expect(job).toMatchObject({ status: 'succeeded', attempts: 1 });
    const [abandoned, retry] = batchUpdates();
    expect(abandoned).toMatchObject({ status: 0, fault: 'timeout', clientClosed: true });
    expect(abandoned.durationMs).toBeLessThan(120_000);
    expect(Date.parse(retry.time)).toBeGreaterThanOrEqual(Date.parse(abandoned.time) + Math.floor(abandoned.durationMs));
    expect(retry.status).toBe(200);
  }, 90_000);

  it("writes to the properties the portal maps its outputs to, and leaves out those mapped to null", async () => {
    const other = sim.addPortal({ portalId: 87654321 });
    sim.seed('contacts', [{ id: '5', properties: { email: 'mapped@example.com' } }], other.portalId);
    sim.defineProperties('contacts', ['offload_ok'], other.portalId);
    const mapped = await connectedPortal(other.portalId, sim.addPrivateAppToken(other.portalId));
    const set = await admin.request('PUT', `/v1/admin/portals/${mapped.id}/property-mappings`, { CONTACT: { ok: 'offload_ok', attempts: null } });
    expect(set.status).toBe(200);
    expect(set.body.propertyMappings).toEqual({ contacts: { ok: 'offload_ok', attempts: null } });

    const [job] = await ended(mapped.client, await enqueueWritebacks(mapped.client, [5]));
    expect(job.status).toBe('succeeded');
    const stored = sim.getObject('contacts', 5, other.portalId)!.properties;
    expect(stored.offload_ok).toBe('true');
    expect(stored.ok ?? null).toBeNull();
    expect(stored.attempts ?? null).toBeNull();
  });

  it('fails the job without retrying when the portal has no HubSpot access token', async () => {
    const { client: unconnected } = await connectedPortal(55_555_555);
    const [job] = await ended(unconnected, await enqueueWritebacks(unconnected, [1]));
    expect(job).toMatchObject({ status: 'failed', attempts: 1, error: { code: 'hubspot_not_connected', retryable: false } });
  });
});
