import { randomUUID } from 'node:crypto';
import { NoopHandler } from '../src/handlers/noop/noop.handler';
import { signatureV3 } from '../src/hubspot/entry-points/request-signature';
import { createHubSpotSimulator, HubSpotSimulator } from '../tools/simulators/hubspot';
import { DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET } from '../tools/simulators/hubspot/simulator';
import { ADMIN_TOKEN, configFor, eventually, HttpClient, isolate, Isolation, RunningOffload, startOffload } from './support/offload-harness';

describe('portal credentials: OAuth tokens renewed before they expire, and changes that take effect at once', () => {
  let isolation: Isolation;
  let sim: HubSpotSimulator;
  let offload: RunningOffload;
  let admin: HttpClient;
  let nextPortalId = 7_100_000;

  beforeAll(async () => {
    sim = await createHubSpotSimulator({ seedContacts: 300 });
    sim.defineProperties('contacts', ['ok', 'attempts']);
    isolation = await isolate();
    offload = await startOffload(
      configFor(isolation, { HUBSPOT_BASE_URL: sim.url, HUBSPOT_CLIENT_ID: DEFAULT_CLIENT_ID, HUBSPOT_CLIENT_SECRET: DEFAULT_CLIENT_SECRET }),
      [NoopHandler],
    );
    admin = new HttpClient(offload.url, ADMIN_TOKEN);
  });

  afterAll(async () => {
    await offload?.close();
    await sim?.close();
    await isolation?.cleanup();
  });

  /** A simulated HubSpot account with contacts 1..300, registered in Offload with the given credentials. */
  async function portal(credentials: (hubspotPortalId: number) => Record<string, unknown>) {
    const hubspotPortalId = nextPortalId++;
    sim.addPortal({ portalId: hubspotPortalId });
    sim.seedDemoData(hubspotPortalId, { contacts: 300 });
    sim.defineProperties('contacts', ['ok', 'attempts'], hubspotPortalId);
    const created = await admin.post('/v1/admin/portals', { hubspotPortalId, name: `OAuth ${hubspotPortalId}`, ...credentials(hubspotPortalId) });
    expect(created.status).toBe(201);
    return { id: created.body.id as string, hubspotPortalId, client: new HttpClient(offload.url, created.body.apiKey) };
  }

  async function writeBack(client: HttpClient, contactIds: number[]) {
    const answer = await client.post('/v1/jobs/batch', {
      jobs: contactIds.map((id) => ({ type: 'noop', object: { type: 'contacts', id: String(id) }, writeback: true, idempotencyKey: randomUUID() })),
    });
    expect(answer.status).toBe(200);
    return Promise.all(answer.body.results.map(async (result: { job: { id: string } }) => (await client.get(`/v1/jobs/${result.job.id}?wait=10`)).body));
  }

  const refreshes = (hubspotPortalId: number) => sim.listCalls({ endpoint: 'oauth.token' }).filter((call) => call.portalId === hubspotPortalId);

  it('fetches an access token with the refresh token alone, once for a burst of jobs, and writes with it', async () => {
    const { client, hubspotPortalId } = await portal((portalId) => ({ hubspotOAuth: { refreshToken: sim.issueOAuthTokens(portalId).refreshToken } }));
    const jobs = await writeBack(client, Array.from({ length: 40 }, (_, i) => i + 1));
    expect(jobs.every((job) => job.status === 'succeeded')).toBe(true);
    expect(refreshes(hubspotPortalId)).toHaveLength(1);
    expect(sim.getObject('contacts', 40, hubspotPortalId)!.properties.ok).toBe('true');
  });

  it('renews a token that is about to expire before using it', async () => {
    const { client, hubspotPortalId } = await portal((portalId) => {
      const issued = sim.issueOAuthTokens(portalId, { expiresInSeconds: 120 });
      return { hubspotOAuth: { refreshToken: issued.refreshToken, accessToken: issued.accessToken, expiresIn: 120 } };
    });
    const [job] = await writeBack(client, [7]);
    expect(job.status).toBe('succeeded');
    const calls = sim.listCalls({}).filter((call) => call.portalId === hubspotPortalId);
    expect(calls[0].endpoint).toBe('oauth.token');
    expect(calls.filter((call) => call.status === 401)).toHaveLength(0);
  });

  it('renews a token HubSpot says has expired, once, and loses no write', async () => {
    let accessToken = '';
    const { client, hubspotPortalId } = await portal((portalId) => {
      const issued = sim.issueOAuthTokens(portalId);
      accessToken = issued.accessToken;
      return { hubspotOAuth: { refreshToken: issued.refreshToken, accessToken, expiresIn: issued.expiresIn } };
    });
    expect((await writeBack(client, [1]))[0].status).toBe('succeeded');
    expect(refreshes(hubspotPortalId)).toHaveLength(0);

    sim.expireToken(accessToken);
    const jobs = await writeBack(client, Array.from({ length: 30 }, (_, i) => i + 10));
    expect(jobs.map((job) => job.status)).toEqual(Array(30).fill('succeeded'));
    expect(jobs.every((job) => job.attempts === 1)).toBe(true);
    expect(refreshes(hubspotPortalId)).toHaveLength(1);
  });

  it('pauses the portal when HubSpot refuses the refresh token, fails no job for it, and never shows a token', async () => {
    const { id, client } = await portal(() => ({ hubspotOAuth: { refreshToken: 'not-a-refresh-token-HubSpot-issued' } }));
    const answer = await client.post('/v1/jobs', { type: 'noop', object: { type: 'contacts', id: '3' }, writeback: true });
    const shown = await eventually(
      async () => (await admin.get(`/v1/admin/portals/${id}`)).body,
      (view) => view.status === 'paused',
    );
    expect(shown).toMatchObject({ hubspotConnection: 'oauth', hasHubspotAccessToken: true });
    expect(shown.pausedReason).toMatch(/refused/);
    expect(JSON.stringify(shown)).not.toContain('not-a-refresh-token');
    expect((await client.get(`/v1/jobs/${answer.body.id}?wait=2`)).body.status).not.toBe('failed');
  });

  it('takes a replaced token and rate limit at once, in every process', async () => {
    const { id, client, hubspotPortalId } = await portal(() => ({ hubspotAccessToken: 'pat-na1-revoked' }));
    expect((await writeBack(client, [5]))[0]).toMatchObject({ status: 'failed', error: { code: 'writeback_rejected' } });

    const token = sim.addPrivateAppToken(hubspotPortalId);
    const changed = await admin.request('PATCH', `/v1/admin/portals/${id}`, { hubspotAccessToken: token, rateLimit: { requestsPer10s: 190, daily: 625_000 } });
    expect(changed.status).toBe(200);
    expect(changed.body).toMatchObject({ hubspotConnection: 'private_app', rateLimit: { requestsPer10s: 190, daily: 625_000 } });
    expect(JSON.stringify(changed.body)).not.toContain(token);
    expect((await writeBack(client, [5]))[0].status).toBe('succeeded');
  });

  it('refuses a change that is not one, or that gives two kinds of credentials, naming the field', async () => {
    const { id } = await portal(() => ({ hubspotAccessToken: 'pat-na1-x' }));
    const empty = await admin.request('PATCH', `/v1/admin/portals/${id}`, {});
    expect(empty.status).toBe(400);
    const both = await admin.request('PATCH', `/v1/admin/portals/${id}`, { hubspotAccessToken: 'a', hubspotOAuth: { refreshToken: 'b' } });
    expect(both.status).toBe(400);
    expect(both.body.error.details[0].path).toBe('hubspotOAuth');
    const badLimit = await admin.request('PATCH', `/v1/admin/portals/${id}`, { rateLimit: { requestsPer10s: 0 } });
    expect(badLimit.status).toBe(400);
    expect(badLimit.body.error.details[0].path).toBe('rateLimit.requestsPer10s');
    const unknown = await admin.request('PATCH', `/v1/admin/portals/${randomUUID()}`, { name: 'x' });
    expect(unknown.status).toBe(404);
  });

  /** A custom workflow action's request for the account's contact 3, signed as HubSpot signs it with the app's client secret. */
  function workflowAction(hubspotPortalId: number, callbackId: string) {
    const body = JSON.stringify({ callbackId, origin: { portalId: hubspotPortalId }, object: { objectId: 3, objectType: 'CONTACT' }, inputFields: {} });
    const timestamp = String(Date.now());
    const signature = signatureV3(DEFAULT_CLIENT_SECRET, 'POST', `${offload.url}/v1/hubspot/actions/noop`, body, timestamp);
    return new HttpClient(offload.url).post('/v1/hubspot/actions/noop', body, {
      'content-type': 'application/json',
      'x-hubspot-signature-v3': signature,
      'x-hubspot-request-timestamp': timestamp,
    });
  }

  it('blocks a workflow step of a portal holding only a refresh token, runs its job and completes the step', async () => {
    const { hubspotPortalId } = await portal((portalId) => ({ hubspotOAuth: { refreshToken: sim.issueOAuthTokens(portalId).refreshToken } }));
    const callbackId = `oauth-action-${hubspotPortalId}`;
    const answer = await workflowAction(hubspotPortalId, callbackId);
    expect(answer.status).toBe(200);
    expect(answer.body.outputFields.hs_execution_state).toBe('BLOCK');
    const completions = await eventually(
      async () => sim.callbacks.filter((completion) => completion.callbackId === callbackId),
      (list) => list.length > 0,
      20_000,
    );
    expect(completions[0]).toMatchObject({ portalId: hubspotPortalId, executionState: 'SUCCESS', outputFields: { ok: 'true' } });
  });

  it('refuses a workflow step of a portal with no HubSpot credentials at all (409)', async () => {
    const { hubspotPortalId } = await portal(() => ({}));
    const answer = await workflowAction(hubspotPortalId, `no-credentials-${hubspotPortalId}`);
    expect(answer.status).toBe(409);
    expect(answer.body.error.code).toBe('conflict');
  });
});
