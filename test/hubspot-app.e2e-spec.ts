import { Type } from '@sinclair/typebox';
import { randomUUID } from 'node:crypto';
import { NoopHandler } from '../src/handlers/noop/noop.handler';
import { signatureV2 } from '../src/hubspot/entry-points/request-signature';
import { JobContext, JobHandlerOf } from '../src/registry/job-handler';
import { createHubSpotSimulator, HubSpotSimulator } from '../tools/simulators/hubspot';
import { DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET } from '../tools/simulators/hubspot/simulator';
import { ADMIN_TOKEN, configFor, eventually, HttpClient, isolate, Isolation, RunningOffload, startOffload } from './support/offload-harness';

/** Reads the contact's email and the portal's owners through its context, as a handler does. */
@JobHandlerOf({
  type: 'record-probe',
  version: '1.0.0',
  owner: 'tests',
  description: 'reads a property of its record and the owners',
  objectTypes: ['CONTACT'],
  input: Type.Object({}),
  outputs: {
    email: { hubspotType: 'string', description: 'the record email' },
    owners: { hubspotType: 'number', description: 'active owners' },
  },
})
class RecordProbeHandler {
  async run({ job, hubspot }: JobContext<Record<string, never>>) {
    const { email } = await hubspot.readProperties(job.object!, ['email']);
    return { email: email ?? '', owners: (await hubspot.owners()).length };
  }
}

describe('the HubSpot app: date-versioned APIs, installs and uninstalls, signed requests', () => {
  let isolation: Isolation;
  let sim: HubSpotSimulator;
  let offload: RunningOffload;
  let admin: HttpClient;
  let nextPortalId = 8_200_000;

  beforeAll(async () => {
    sim = await createHubSpotSimulator({ seedContacts: 50, seedOwners: 4 });
    isolation = await isolate();
    offload = await startOffload(
      configFor(isolation, {
        HUBSPOT_BASE_URL: sim.url,
        HUBSPOT_AUTHORIZE_URL: `${sim.url}/oauth/authorize`,
        HUBSPOT_CLIENT_ID: DEFAULT_CLIENT_ID,
        HUBSPOT_CLIENT_SECRET: DEFAULT_CLIENT_SECRET,
      }),
      [NoopHandler, RecordProbeHandler],
    );
    admin = new HttpClient(offload.url, ADMIN_TOKEN);
  });

  afterAll(async () => {
    await offload?.close();
    await sim?.close();
    await isolation?.cleanup();
  });

  /** A simulated HubSpot account with contacts 1..50 and four owners. */
  function account(): number {
    const hubspotPortalId = nextPortalId++;
    sim.addPortal({ portalId: hubspotPortalId });
    sim.seedDemoData(hubspotPortalId, { contacts: 50, owners: 4 });
    sim.defineProperties('contacts', ['ok', 'attempts'], hubspotPortalId);
    return hubspotPortalId;
  }

  async function registered(hubspotPortalId = account()) {
    const token = sim.addPrivateAppToken(hubspotPortalId);
    const created = await admin.post('/v1/admin/portals', { hubspotPortalId, name: `App ${hubspotPortalId}`, hubspotAccessToken: token });
    expect(created.status).toBe(201);
    return { id: created.body.id as string, hubspotPortalId, client: new HttpClient(offload.url, created.body.apiKey) };
  }

  const pathsOf = (hubspotPortalId: number) => sim.listCalls({ portalId: hubspotPortalId }).map((call) => `${call.method} ${call.path}`);

  async function writeBack(client: HttpClient, contactIds: number[]) {
    const answer = await client.post('/v1/jobs/batch', {
      jobs: contactIds.map((id) => ({ type: 'noop', object: { type: 'CONTACT', id: String(id) }, writeback: true, idempotencyKey: randomUUID() })),
    });
    expect(answer.status).toBe(200);
    return answer.body.results.map((result: { job: { id: string } }) => result.job.id) as string[];
  }

  const waitFor = async (client: HttpClient, id: string) => (await client.get(`/v1/jobs/${id}?wait=15`)).body;

  /** A request HubSpot signs with v2, as it signs custom workflow action requests. */
  function signedV2(path: string, body: unknown) {
    const raw = JSON.stringify(body);
    const signature = signatureV2(DEFAULT_CLIENT_SECRET, 'POST', `${offload.url}${path}`, raw);
    return new HttpClient(offload.url).post(path, raw, {
      'content-type': 'application/json',
      'x-hubspot-signature': signature,
      'x-hubspot-signature-version': 'v2',
    });
  }

  describe('every call on the 2026-03 paths, through the official client', () => {
    it('writes back through the dated batch update', async () => {
      const { client, hubspotPortalId } = await registered();
      const [id] = await writeBack(client, [3]);
      expect(await waitFor(client, id)).toMatchObject({ status: 'succeeded' });
      expect(sim.getObject('contacts', 3, hubspotPortalId)!.properties.ok).toBe('true');
      const paths = pathsOf(hubspotPortalId);
      expect(paths).toContain('POST /crm/objects/2026-03/contacts/batch/update');
      expect(paths.filter((path) => /\/v\d\//.test(path))).toEqual([]);
    });

    it('completes a workflow step through the dated callbacks, and reads owners on the dated path', async () => {
      const { hubspotPortalId } = await registered();
      const callbackId = `ap-${hubspotPortalId}-1`;
      const answer = await signedV2('/v1/hubspot/actions/record-probe', {
        callbackId,
        origin: { portalId: hubspotPortalId, actionDefinitionId: 1 },
        object: { objectId: 9, objectType: 'CONTACT' },
        inputFields: {},
      });
      expect(answer.status).toBe(200);
      expect(answer.body.outputFields.hs_execution_state).toBe('BLOCK');
      const [completion] = await eventually(
        async () => sim.callbacks.filter((done) => done.callbackId === callbackId),
        (list) => list.length > 0,
      );
      expect(completion).toMatchObject({ executionState: 'SUCCESS', outputFields: { email: sim.getObject('contacts', 9, hubspotPortalId)!.properties.email, owners: '4' } });
      const paths = pathsOf(hubspotPortalId);
      expect(paths).toEqual(
        expect.arrayContaining([
          'POST /crm/objects/2026-03/contacts/batch/read',
          'GET /crm/owners/2026-03',
          'POST /automation/actions/callbacks/2026-03/complete',
        ]),
      );
      expect(paths.filter((path) => /\/v\d\//.test(path))).toEqual([]);
    });

    it("takes a custom action's record properties into the job, and the handler reads them without calling HubSpot", async () => {
      const { client, hubspotPortalId } = await registered();
      const callbackId = `ap-${hubspotPortalId}-2`;
      await signedV2('/v1/hubspot/actions/record-probe', {
        callbackId,
        origin: { portalId: hubspotPortalId },
        object: { objectId: 11, objectType: 'CONTACT', properties: { email: 'carried@example.com' } },
        inputFields: {},
      });
      const [completion] = await eventually(
        async () => sim.callbacks.filter((done) => done.callbackId === callbackId),
        (list) => list.length > 0,
      );
      expect(completion.outputFields).toMatchObject({ email: 'carried@example.com' });
      const direct = await client.post('/v1/jobs', { type: 'record-probe', object: { type: 'CONTACT', id: '12', properties: { email: 'given@example.com' } } });
      expect(direct.body.object).toEqual({ type: 'CONTACT', id: '12', properties: { email: 'given@example.com' } });
      expect(await waitFor(client, direct.body.id)).toMatchObject({ status: 'succeeded', output: { email: 'given@example.com' } });
      expect(pathsOf(hubspotPortalId).filter((path) => path.includes('batch/read'))).toEqual([]);
    });

    it('fails the job of a write a validation rule refuses, with HubSpot\'s message, and writes the others', async () => {
      const { client, hubspotPortalId } = await registered();
      sim.setValidationRule('contacts', 'attempts', { pattern: /^[2-9]$/, message: 'Attempts must be at least 2 (validation rule)' }, hubspotPortalId);
      const [refused] = await writeBack(client, [4]);
      const failed = await waitFor(client, refused);
      expect(failed).toMatchObject({ status: 'failed', error: { code: 'writeback_rejected' } });
      expect(failed.error.message).toContain('Attempts must be at least 2 (validation rule)');
      const answer = await client.post('/v1/jobs', { type: 'noop', input: { failTimes: 1 }, object: { type: 'CONTACT', id: '5' }, writeback: true });
      expect(await waitFor(client, answer.body.id)).toMatchObject({ status: 'succeeded' });
      expect(sim.getObject('contacts', 5, hubspotPortalId)!.properties.attempts).toBe('2');
    });
  });

  describe('install and uninstall', () => {
    /** What a user's browser does: Offload's install, HubSpot's authorize page for the account, back to the callback. */
    async function install(hubspotPortalId: number) {
      const started = await fetch(`${offload.url}/v1/hubspot/oauth/install`, { redirect: 'manual' });
      expect(started.status).toBe(302);
      const cookie = started.headers.get('set-cookie')!.split(';')[0];
      const authorize = new URL(started.headers.get('location')!);
      authorize.searchParams.set('portalId', String(hubspotPortalId));
      const consented = await fetch(authorize, { redirect: 'manual' });
      expect(consented.status).toBe(302);
      const callback = new URL(consented.headers.get('location')!);
      const answer = await fetch(callback, { headers: { cookie } });
      return { authorize, callback, cookie, status: answer.status, body: (await answer.json()) as any };
    }

    it('redirects to the authorize page with the scopes the handlers need, and creates the portal on the callback; its jobs run', async () => {
      const hubspotPortalId = account();
      const { authorize, status, body } = await install(hubspotPortalId);
      expect(authorize.origin + authorize.pathname).toBe(`${sim.url}/oauth/authorize`);
      expect(authorize.searchParams.get('client_id')).toBe(DEFAULT_CLIENT_ID);
      expect(authorize.searchParams.get('redirect_uri')).toBe(`${offload.url}/v1/hubspot/oauth/callback`);
      expect(authorize.searchParams.get('scope')!.split(' ')).toEqual(
        expect.arrayContaining(['oauth', 'automation', 'crm.objects.contacts.read', 'crm.objects.contacts.write', 'crm.objects.deals.write']),
      );
      expect(status).toBe(200);
      expect(body).toMatchObject({ created: true, portal: { hubspotPortalId, status: 'active' } });
      expect(body.apiKey).toMatch(/^ofk_/);
      expect(pathsOf(hubspotPortalId)).toEqual(expect.arrayContaining(['POST /oauth/2026-03/token', 'POST /oauth/2026-03/token/introspect']));

      const client = new HttpClient(offload.url, body.apiKey);
      const [id] = await writeBack(client, [7]);
      expect(await waitFor(client, id)).toMatchObject({ status: 'succeeded' });
      expect(sim.getObject('contacts', 7, hubspotPortalId)!.properties.ok).toBe('true');
      expect((await admin.get(`/v1/admin/portals/${body.portal.id}`)).body).toMatchObject({ hubspotConnection: 'oauth', status: 'active' });
    });

    it('refuses a callback whose state is forged, from another browser, or used before', async () => {
      const hubspotPortalId = account();
      const started = await fetch(`${offload.url}/v1/hubspot/oauth/install`, { redirect: 'manual' });
      const cookie = started.headers.get('set-cookie')!.split(';')[0];
      const authorize = new URL(started.headers.get('location')!);
      authorize.searchParams.set('portalId', String(hubspotPortalId));
      const callback = new URL((await fetch(authorize, { redirect: 'manual' })).headers.get('location')!);

      const forged = new URL(callback);
      forged.searchParams.set('state', `${callback.searchParams.get('state')!.split('.')[0]}.${Date.now().toString(36)}.forged`);
      const refusals = [
        await fetch(forged, { headers: { cookie } }),
        await fetch(callback),
        await fetch(callback, { headers: { cookie: 'offload_hubspot_install=another-browser' } }),
      ];
      for (const refused of refusals) {
        expect(refused.status).toBe(400);
        expect(((await refused.json()) as any).error).toMatchObject({ code: 'validation_failed', details: [{ path: 'state' }] });
      }
      expect((await fetch(callback, { headers: { cookie } })).status).toBe(200);
      const again = await fetch(callback, { headers: { cookie } });
      expect(again.status).toBe(400);
      expect(((await again.json()) as any).error.details[0].message).toMatch(/used already/);
    });

    it('pauses the work of an uninstalled portal once, not job by job, and resumes it when the app is installed again', async () => {
      const hubspotPortalId = account();
      const installed = await install(hubspotPortalId);
      const portalId = installed.body.portal.id as string;
      const client = new HttpClient(offload.url, installed.body.apiKey);
      expect(await waitFor(client, (await writeBack(client, [1]))[0])).toMatchObject({ status: 'succeeded' });

      const refusedRefreshes = () => sim.listCalls({ endpoint: 'oauth.token' }).filter((call) => call.status === 400).length;
      const refusedBefore = refusedRefreshes();
      sim.uninstall(hubspotPortalId);
      const ids = await writeBack(client, Array.from({ length: 20 }, (_, i) => i + 10));
      const paused = await eventually(
        async () => (await admin.get(`/v1/admin/portals/${portalId}`)).body,
        (portal) => portal.status === 'paused',
      );
      expect(paused.pausedReason).toMatch(/refused the app's OAuth refresh token.*install it again/);
      const audited = async () =>
        (await admin.get('/v1/admin/actions?limit=100')).body.actions.filter((action: { target: { portalId?: string } }) => action.target.portalId === portalId);
      expect(await audited()).toEqual([expect.objectContaining({ actor: 'offload', action: 'portal.pause', reason: paused.pausedReason, target: { portalId }, done: 1 })]);
      // Jobs wait, none fails, and HubSpot is asked for a token once, not once per job.
      await new Promise((resolve) => setTimeout(resolve, 3_000));
      const waiting = await Promise.all(ids.map(async (id) => (await client.get(`/v1/jobs/${id}`)).body));
      expect(waiting.filter((job) => job.status === 'failed')).toEqual([]);
      expect(refusedRefreshes() - refusedBefore).toBe(1);

      const reinstalled = await install(hubspotPortalId);
      expect(reinstalled.body).toMatchObject({ created: false, resumed: true, portal: { id: portalId } });
      expect((await audited())[0]).toMatchObject({ actor: 'offload', action: 'portal.resume', reason: 'the app was installed again', target: { portalId }, done: 1 });
      const ended = await Promise.all(ids.map((id) => waitFor(client, id)));
      expect(ended.map((job) => job.status)).toEqual(Array(20).fill('succeeded'));
      expect(sim.getObject('contacts', 29, hubspotPortalId)!.properties.ok).toBe('true');
      expect((await admin.get(`/v1/admin/portals/${portalId}`)).body).toMatchObject({ status: 'active' });
    });

    it('lets an admin pause and resume a portal: jobs wait while it is paused', async () => {
      const { id, client } = await registered();
      const paused = await admin.post(`/v1/admin/portals/${id}/pause`, { reason: 'maintenance' });
      expect(paused.body).toMatchObject({ status: 'paused', pausedReason: 'maintenance' });
      expect((await admin.post(`/v1/admin/portals/${id}/pause`, { reason: 'second' })).body.pausedReason).toBe('maintenance');
      const [job] = await writeBack(client, [2]);
      expect((await client.get(`/v1/jobs/${job}?wait=3`)).body.status).toBe('queued');
      expect((await admin.post(`/v1/admin/portals/${id}/resume`)).body).toMatchObject({ status: 'active' });
      expect(await waitFor(client, job)).toMatchObject({ status: 'succeeded', attempts: 1 });
      expect((await admin.post(`/v1/admin/portals/${randomUUID()}/pause`)).status).toBe(404);
      expect((await admin.post(`/v1/admin/portals/${id}/pause`, { reason: 7 })).status).toBe(400);
    });
  });

  describe('the webhook entry point', () => {
    it('takes a v2 signature when no v3 header is present; a replay finds the same job', async () => {
      const { client, hubspotPortalId } = await registered();
      const path = `/v1/hubspot/webhooks/noop?portalId=${hubspotPortalId}&objectType=CONTACT`;
      const first = await signedV2(path, { hs_object_id: 12, email: 'a@example.com' });
      expect(first.status).toBe(202);
      const replay = await signedV2(path, { hs_object_id: 12, email: 'a@example.com' });
      expect(replay.status).toBe(200);
      expect(replay.body.id).toBe(first.body.id);
      expect(await waitFor(client, first.body.id)).toMatchObject({ status: 'succeeded', object: { type: 'contacts', id: '12' } });

      const raw = JSON.stringify({ hs_object_id: 12 });
      const forged = await new HttpClient(offload.url).post(path, raw, {
        'content-type': 'application/json',
        'x-hubspot-signature': signatureV2('not-the-secret', 'POST', `${offload.url}${path}`, raw),
        'x-hubspot-signature-version': 'v2',
      });
      expect(forged.status).toBe(401);
      expect((await new HttpClient(offload.url).post(path, raw, { 'content-type': 'application/json' })).status).toBe(401);
    });
  });
});
