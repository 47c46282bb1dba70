import { Type } from '@sinclair/typebox';
import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { NoopHandler } from '../src/handlers/noop/noop.handler';
import { JobHandlerOf } from '../src/registry/job-handler';
import { createHubSpotSimulator, HubSpotSimulator } from '../tools/simulators/hubspot';
import { ADMIN_TOKEN, configFor, eventually, HttpClient, isolate, Isolation, loggingErrors, RunningOffload, startOffload } from './support/offload-harness';

/** A second job type, so one can be paused while the other runs. */
@JobHandlerOf({ type: 'echo', version: '1.0.0', owner: 'tests', description: 'answers at once', input: Type.Object({}), outputs: {} })
class EchoHandler {
  async run() {
    return {};
  }
}

/** The value of a gauge's series in Prometheus text, or undefined when the series is absent. */
function gauge(text: string, series: string): number | undefined {
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('the kill switch: a portal paused, all its work or some job types', () => {
  let isolation: Isolation;
  let sim: HubSpotSimulator;
  let offload: RunningOffload;
  let admin: HttpClient;
  let db: Client;
  let nextHubSpotId = 8_400_000;

  beforeAll(async () => {
    sim = await createHubSpotSimulator({ seedContacts: 10 });
    isolation = await isolate();
    offload = await startOffload(configFor(isolation, { HUBSPOT_BASE_URL: sim.url }), [NoopHandler, EchoHandler]);
    admin = new HttpClient(offload.url, ADMIN_TOKEN);
    db = loggingErrors(new Client({ connectionString: isolation.databaseUrl }), 'PostgreSQL');
    await db.connect();
  });

  afterAll(async () => {
    await db?.end();
    await offload?.close();
    await sim?.close();
    await isolation?.cleanup();
  });

  async function registered() {
    const hubspotPortalId = nextHubSpotId++;
    sim.addPortal({ portalId: hubspotPortalId });
    sim.seedDemoData(hubspotPortalId, { contacts: 10, owners: 1 });
    sim.defineProperties('contacts', ['ok', 'attempts'], hubspotPortalId);
    const token = sim.addPrivateAppToken(hubspotPortalId);
    const created = await admin.post('/v1/admin/portals', { hubspotPortalId, name: `Pauses ${hubspotPortalId}`, hubspotAccessToken: token });
    expect(created.status).toBe(201);
    return { id: created.body.id as string, hubspotPortalId, client: new HttpClient(offload.url, created.body.apiKey) };
  }

  const enqueue = async (client: HttpClient, body: Record<string, unknown>) => {
    const answer = await client.post('/v1/jobs', { idempotencyKey: randomUUID(), ...body });
    expect(answer.status).toBe(202);
    return answer.body.id as string;
  };
  const waitFor = async (client: HttpClient, id: string, seconds = 15) => (await client.get(`/v1/jobs/${id}?wait=${seconds}`)).body;
  const actionsOf = async (portalId: string) =>
    ((await admin.get('/v1/admin/actions?limit=100')).body.actions as Array<{ target: { portalId?: string } }>).filter((action) => action.target.portalId === portalId);

  it('pauses one job type: its jobs wait, not failed nor counted as an attempt, and say why; other types run; audited', async () => {
    const { id, client } = await registered();
    const paused = await admin.post(`/v1/admin/portals/${id}/pause`, { types: ['noop'], reason: 'bad noop release', actor: 'alice' });
    expect(paused.status).toBe(200);
    expect(paused.body).toMatchObject({ status: 'active', pausedTypes: [{ type: 'noop', pausedReason: 'bad noop release', pausedAt: expect.any(String) }] });
    // Paused again: the first reason stands.
    expect((await admin.post(`/v1/admin/portals/${id}/pause`, { types: ['noop'], reason: 'again' })).body.pausedTypes[0].pausedReason).toBe('bad noop release');

    const noop = await enqueue(client, { type: 'noop' });
    const echo = await enqueue(client, { type: 'echo' });
    expect(await waitFor(client, echo)).toMatchObject({ status: 'succeeded' });
    const waiting = await waitFor(client, noop, 3);
    expect(waiting).toMatchObject({ status: 'queued', attempts: 0, paused: { scope: 'type', reason: 'bad noop release', since: expect.any(String) } });
    const listed = await admin.get(`/v1/admin/jobs?portalId=${id}&status=queued`);
    expect(listed.body.jobs).toEqual([expect.objectContaining({ id: noop, portalId: id, paused: waiting.paused })]);

    const resumed = await admin.post(`/v1/admin/portals/${id}/resume`, { types: ['noop'], reason: 'fixed', actor: 'bob' });
    expect(resumed.body).toMatchObject({ status: 'active', pausedTypes: [] });
    const ran = await waitFor(client, noop);
    expect(ran).toMatchObject({ status: 'succeeded', attempts: 1 });
    expect(ran.paused).toBeUndefined();

    const actions = await actionsOf(id);
    expect(actions.map(({ actor, action, reason, target, matched, done }: any) => ({ actor, action, reason, target, matched, done }))).toEqual([
      { actor: 'bob', action: 'portal.resume', reason: 'fixed', target: { portalId: id, types: ['noop'] }, matched: 1, done: 1 },
      { actor: 'admin', action: 'portal.pause', reason: 'again', target: { portalId: id, types: ['noop'] }, matched: 1, done: 0 },
      { actor: 'alice', action: 'portal.pause', reason: 'bad noop release', target: { portalId: id, types: ['noop'] }, matched: 1, done: 1 },
    ]);
    for (const action of actions as any[]) expect(new Date(action.at).getTime()).toBeGreaterThan(Date.now() - 60_000);
  });

  it("holds a paused type's write-backs (the run already going finishes, its write waits) until the type resumes", async () => {
    const { id, client, hubspotPortalId } = await registered();
    const job = await enqueue(client, { type: 'noop', input: { sleepMs: 1_500 }, object: { type: 'CONTACT', id: '4' }, writeback: true });
    await eventually(async () => (await client.get(`/v1/jobs/${job}`)).body.status, (status) => status === 'running');
    await admin.post(`/v1/admin/portals/${id}/pause`, { types: ['noop'], reason: 'stop its writes' });

    const writing = await eventually(
      async () => (await client.get(`/v1/jobs/${job}`)).body,
      (view) => view.status === 'writing',
    );
    expect(writing).toMatchObject({ attempts: 1, paused: { scope: 'type', reason: 'stop its writes' } });
    // The writer has had its linger and more: the write is held in the journal, and HubSpot has seen no update.
    await eventually(
      async () => (await db.query(`SELECT status FROM writebacks WHERE job_id = $1`, [job])).rows[0]?.status,
      (status) => status === 'held',
    );
    expect(sim.listCalls({ portalId: hubspotPortalId, endpoint: 'crm.objects.batch.update' })).toEqual([]);
    expect(sim.getObject('contacts', 4, hubspotPortalId)!.properties.ok).toBeUndefined();

    await admin.post(`/v1/admin/portals/${id}/resume`, { types: ['noop'] });
    expect(await waitFor(client, job)).toMatchObject({ status: 'succeeded', attempts: 1 });
    expect(sim.getObject('contacts', 4, hubspotPortalId)!.properties.ok).toBe('true');
  });

  it('resumes some types of a paused portal: the rest of its work stays paused, type by type; a resume without types ends every pause', async () => {
    const { id, client } = await registered();
    await admin.post(`/v1/admin/portals/${id}/pause`, { reason: 'maintenance' });
    const noop = await enqueue(client, { type: 'noop' });
    const echo = await enqueue(client, { type: 'echo' });
    expect(await waitFor(client, echo, 2)).toMatchObject({ status: 'queued', paused: { scope: 'portal', reason: 'maintenance' } });

    const partly = await admin.post(`/v1/admin/portals/${id}/resume`, { types: ['echo'] });
    expect(partly.body).toMatchObject({ status: 'active', pausedTypes: [{ type: 'noop', pausedReason: 'maintenance' }] });
    expect(partly.body.pausedTypes).toHaveLength(1);
    expect(await waitFor(client, echo)).toMatchObject({ status: 'succeeded', attempts: 1 });
    expect(await waitFor(client, noop, 2)).toMatchObject({ status: 'queued', attempts: 0, paused: { scope: 'type', reason: 'maintenance' } });

    expect((await admin.post(`/v1/admin/portals/${id}/resume`)).body).toMatchObject({ status: 'active', pausedTypes: [] });
    expect(await waitFor(client, noop)).toMatchObject({ status: 'succeeded', attempts: 1 });
    const [resumeAll, resumeEcho] = (await actionsOf(id)) as any[];
    expect(resumeAll).toMatchObject({ action: 'portal.resume', target: { portalId: id }, done: 1 });
    expect(resumeEcho).toMatchObject({ action: 'portal.resume', target: { portalId: id, types: ['echo'] }, matched: 1, done: 1 });
  });

  it('refuses a type no handler has (naming the field), an empty list, and an unknown portal', async () => {
    const { id } = await registered();
    for (const action of ['pause', 'resume']) {
      const unknown = await admin.post(`/v1/admin/portals/${id}/${action}`, { types: ['noop', 'no-such-type'] });
      expect(unknown.status).toBe(400);
      expect(unknown.body.error).toMatchObject({ code: 'unknown_job_type', details: [{ path: 'types[1]', message: 'is not a registered job type' }] });
      const empty = await admin.post(`/v1/admin/portals/${id}/${action}`, { types: [] });
      expect(empty.status).toBe(400);
      expect(empty.body.error).toMatchObject({ code: 'validation_failed', details: [{ path: 'types' }] });
      expect((await admin.post(`/v1/admin/portals/${randomUUID()}/${action}`, { types: ['noop'] })).status).toBe(404);
    }
    expect((await admin.get(`/v1/admin/portals/${id}`)).body).toMatchObject({ status: 'active', pausedTypes: [] });
  });

  it('reports the paused portals once across processes (offload_portals_paused), all their work and per job type', async () => {
    const second = await startOffload(configFor(isolation, { HUBSPOT_BASE_URL: sim.url, ROLE: 'api' }), [NoopHandler, EchoHandler]);
    try {
      const whole = await registered();
      const typed = await registered();
      await admin.post(`/v1/admin/portals/${whole.id}/pause`, { reason: 'all of it' });
      await admin.post(`/v1/admin/portals/${typed.id}/pause`, { types: ['noop'], reason: 'one type' });
      const scrape = async () => Promise.all([offload.url, second.url].map(async (url) => (await new HttpClient(url).get<string>('/metrics')).body));
      const expected = { all: 1, noop: 1, echo: 0 };
      const texts = await eventually(scrape, (both) => {
        const reporters = both.filter((text) => gauge(text, 'offload_portals_paused{scope="all"}') !== undefined);
        return reporters.length === 1 && gauge(reporters[0], 'offload_portals_paused{scope="type",type="noop"}') === expected.noop;
      });
      const [reporter, silent] = texts.sort((a, b) => (gauge(b, 'offload_portals_paused{scope="all"}') ?? -1) - (gauge(a, 'offload_portals_paused{scope="all"}') ?? -1));
      expect({
        all: gauge(reporter, 'offload_portals_paused{scope="all"}'),
        noop: gauge(reporter, 'offload_portals_paused{scope="type",type="noop"}'),
        echo: gauge(reporter, 'offload_portals_paused{scope="type",type="echo"}'),
      }).toEqual(expected);
      expect(silent).not.toMatch(/^offload_portals_paused\{/m);
      await admin.post(`/v1/admin/portals/${whole.id}/resume`);
      await admin.post(`/v1/admin/portals/${typed.id}/resume`);
    } finally {
      await second.close();
    }
  });
});
