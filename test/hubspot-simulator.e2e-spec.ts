import { Client } from '@hubspot/api-client';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { createHubSpotSimulator, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, HubSpotSimulator } from '../tools/simulators/hubspot';

/**
 * The HubSpot simulator, driven through the official client (@hubspot/api-client) as Offload
 * drives HubSpot, plus raw HTTP where the exact bytes matter.
 */

type Apis = ReturnType<typeof apisOf>;

function apisOf(client: Client) {
  return {
    contacts: client.crm.contacts,
    companies: client.crm.companies,
    objects: client.crm.objects,
    owners: client.crm.owners.ownersApi,
    callbacks: client.automation.actions.callbacksApi,
    tokens: client.oauth.tokensApi,
  };
}

/**
 * A client of the simulator. Its API objects are built at once: the client installs its retry and
 * limiter decorators process-wide and applies them when an API object is first built, so building
 * them later could pick up another client's settings.
 */
function hubspot(sim: HubSpotSimulator, options: { token?: string; numberOfApiCallRetries?: number } = {}): Apis {
  return apisOf(new Client({ accessToken: options.token ?? sim.token, basePath: sim.url, numberOfApiCallRetries: options.numberOfApiCallRetries ?? 0 }));
}

interface Raw {
  status: number;
  headers: Headers;
  text: string;
  json: any;
}

async function raw(sim: HubSpotSimulator, method: string, path: string, body?: unknown, token: string | null = sim.token): Promise<Raw> {
  const response = await fetch(`${sim.url}${path}`, {
    method,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: response.status, headers: response.headers, text, json };
}

/** The error a promise rejects with; fails the test if it resolves. */
async function rejection(promise: Promise<unknown>): Promise<any> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection, got a result');
}

const EXACT_TEN_SECONDLY =
  /^\{"status":"error","message":"You have reached your ten_secondly_rolling limit\.","errorType":"RATE_LIMIT","correlationId":"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}","policyName":"TEN_SECONDLY_ROLLING"\}$/;
const EXACT_DAILY =
  /^\{"status":"error","message":"You have reached your daily limit\.","errorType":"RATE_LIMIT","correlationId":"[0-9a-f-]{36}","policyName":"DAILY"\}$/;

describe('HubSpot simulator (through @hubspot/api-client)', () => {
  let errorLog: jest.SpyInstance;

  beforeAll(() => {
    // The client logs every retry with console.error; the retry tests read these lines.
    errorLog = jest.spyOn(console, 'error').mockImplementation(() => undefined);
  });

  afterAll(() => errorLog.mockRestore());

  describe('CRM objects', () => {
    let sim: HubSpotSimulator;
    let api: Apis;

    beforeAll(async () => {
      sim = await createHubSpotSimulator({ seed: 7, seedContacts: 20, seedCompanies: 3, seedDeals: 2 });
      api = hubspot(sim);
    });

    afterAll(() => sim.close());

    it('serves seeded contacts with plausible properties, by name and by type id 0-1', async () => {
      const contact = await api.contacts.basicApi.getById('3', ['email', 'company', 'website', 'firstname']);
      expect(contact.id).toBe('3');
      expect(contact.properties.email).toMatch(/^[a-z.-]+3@[a-z0-9.-]+\.[a-z]+$/);
      expect(contact.properties.website).toBe(`https://${contact.properties.email!.split('@')[1]}`);
      expect(contact.properties.company).toEqual(expect.any(String));
      expect(contact.properties.hs_object_id).toBe('3');
      expect(contact.createdAt).toBeInstanceOf(Date);
      expect(contact.archived).toBe(false);

      const byTypeId = await api.objects.basicApi.getById('0-1', '3', ['email']);
      expect(byTypeId.properties.email).toBe(contact.properties.email);

      // Without `properties`, HubSpot's default set; comma-separated lists work as well as repeated parameters.
      const plain = await raw(sim, 'GET', '/crm/v3/objects/contacts/3');
      expect(Object.keys(plain.json.properties).sort()).toEqual(['createdate', 'email', 'firstname', 'hs_object_id', 'lastmodifieddate', 'lastname']);
      const listed = await raw(sim, 'GET', '/crm/v3/objects/contacts/3?properties=email,company');
      expect(listed.json.properties).toMatchObject({ email: contact.properties.email, company: contact.properties.company });
    });

    it('answers 404 OBJECT_NOT_FOUND with HubSpot’s error body for an unknown id', async () => {
      const error = await rejection(api.contacts.basicApi.getById('424242'));
      expect(error.code).toBe(404);
      expect(error.body).toMatchObject({ status: 'error', category: 'OBJECT_NOT_FOUND', message: expect.any(String) });
      expect(error.body.correlationId).toMatch(/^[0-9a-f-]{36}$/);
      const unknownType = await raw(sim, 'GET', '/crm/v3/objects/widgets/1');
      expect(unknownType.status).toBe(400);
      expect(unknownType.json).toMatchObject({ category: 'VALIDATION_ERROR', message: 'Unable to infer object type from: widgets' });
    });

    it('batch update answers 200 COMPLETE; "" clears a property; the change reads back', async () => {
      const answer = await api.contacts.batchApi.updateWithHttpInfo({
        inputs: [
          { id: '1', properties: { firstname: 'Ada', jobtitle: '' } },
          { id: '2', properties: { lastname: 'Hopper' } },
        ],
      });
      expect(answer.httpStatusCode).toBe(200);
      expect(answer.data.status).toBe('COMPLETE');
      expect(answer.data.results.map((r) => r.id)).toEqual(['1', '2']);
      expect(answer.data.results[0].properties).toMatchObject({ firstname: 'Ada', jobtitle: '', hs_object_id: '1' });
      expect(answer.data.startedAt).toBeInstanceOf(Date);
      expect(answer.data.completedAt).toBeInstanceOf(Date);
      expect((answer.data as any).numErrors).toBeUndefined();

      const read = await api.contacts.basicApi.getById('1', ['firstname', 'jobtitle']);
      expect(read.properties).toMatchObject({ firstname: 'Ada', jobtitle: '' });
      expect(sim.getObject('contacts', '2')!.properties.lastname).toBe('Hopper');
      expect(read.updatedAt.getTime()).toBeGreaterThan(read.createdAt.getTime());
    });

    it('batch update with unknown ids answers 207: returned, not thrown, errors listing the unknown ids', async () => {
      const answer = await api.contacts.batchApi.updateWithHttpInfo({
        inputs: [
          { id: '3', properties: { firstname: 'Grace' } },
          { id: '9001', properties: { firstname: 'Nobody' } },
          { id: '9002', properties: { firstname: 'Nobody' } },
        ],
      });
      expect(answer.httpStatusCode).toBe(207);
      const data = answer.data as any;
      expect(data.status).toBe('COMPLETE');
      expect(data.results.map((r: any) => r.id)).toEqual(['3']);
      expect(data.numErrors).toBe(1);
      expect(data.errors).toHaveLength(1);
      expect(data.errors[0]).toMatchObject({
        status: 'error',
        category: 'OBJECT_NOT_FOUND',
        message: 'Could not get some CONTACT objects, they may be deleted or not exist. Check that ids are valid.',
        context: { ids: ['9001', '9002'] },
      });
      expect(sim.getObject('contacts', '3')!.properties.firstname).toBe('Grace');

      // The plain method resolves with the 207 body as well.
      const plain = (await api.contacts.batchApi.update({ inputs: [{ id: '9003', properties: { firstname: 'x' } }] })) as any;
      expect(plain.numErrors).toBe(1);
      expect(plain.results).toEqual([]);
    });

    it('rejects more than 100 inputs with 400 VALIDATION_ERROR and applies nothing; 100 are fine', async () => {
      const inputs = Array.from({ length: 101 }, (_, i) => ({ id: String(i + 1), properties: { firstname: 'Many' } }));
      const error = await rejection(api.contacts.batchApi.update({ inputs }));
      expect(error.code).toBe(400);
      expect(error.body).toMatchObject({ status: 'error', category: 'VALIDATION_ERROR' });
      expect(error.body.message).toContain('100');
      expect(sim.getObject('contacts', '4')!.properties.firstname).not.toBe('Many');

      const hundred = await api.contacts.batchApi.updateWithHttpInfo({ inputs: inputs.slice(0, 100) });
      expect(hundred.httpStatusCode).toBe(207);
      expect(hundred.data.results).toHaveLength(20);
      expect((hundred.data as any).errors[0].context.ids).toHaveLength(80);

      const readTooMany = await rejection(api.contacts.batchApi.read({ inputs: inputs.map(({ id }) => ({ id })), properties: [], propertiesWithHistory: [] }));
      expect(readTooMany.code).toBe(400);
    });

    it('refuses unknown and read-only properties and duplicate ids (400), as HubSpot does', async () => {
      const unknown = await rejection(api.contacts.batchApi.update({ inputs: [{ id: '5', properties: { favourite_colour: 'teal' } }] }));
      expect(unknown.code).toBe(400);
      expect(unknown.body.category).toBe('VALIDATION_ERROR');
      expect(unknown.body.message).toMatch(/^Property values were not valid: .*PROPERTY_DOESNT_EXIST/);

      sim.defineProperties('contacts', ['favourite_colour']);
      await api.contacts.batchApi.update({ inputs: [{ id: '5', properties: { favourite_colour: 'teal' } }] });
      expect(sim.getObject('contacts', '5')!.properties.favourite_colour).toBe('teal');

      const readOnly = await rejection(api.contacts.basicApi.update('5', { properties: { hs_object_id: '77' } }));
      expect(readOnly.code).toBe(400);
      expect(readOnly.body.message).toContain('READ_ONLY_VALUE');

      const duplicates = await rejection(api.contacts.batchApi.update({ inputs: [{ id: '6', properties: {} }, { id: '6', properties: {} }] }));
      expect(duplicates.code).toBe(400);
      expect(duplicates.body.message).toContain('Duplicate IDs');
    });

    it('stores numbers and booleans as their text and counts those non-string values', async () => {
      const before = sim.stats().propertyValuesNotStrings;
      const answer = await raw(sim, 'POST', '/crm/v3/objects/contacts/batch/update', { inputs: [{ id: '7', properties: { annualrevenue: 42, industry: true } }] });
      expect(answer.status).toBe(200);
      expect(answer.json.results[0].properties).toMatchObject({ annualrevenue: '42', industry: 'true' });
      expect(sim.stats().propertyValuesNotStrings).toBe(before + 2);
    });

    it('treats a batch without `inputs` as empty: 200 and nothing done (the client quirk)', async () => {
      const answer = await api.contacts.batchApi.updateWithHttpInfo({} as any);
      expect(answer.httpStatusCode).toBe(200);
      expect(answer.data.results).toEqual([]);
    });

    it('updates one record with PATCH and answers 404 for an unknown one', async () => {
      const updated = await api.contacts.basicApi.update('8', { properties: { phone: '+1 555 0100' } });
      expect(updated.properties).toMatchObject({ phone: '+1 555 0100', hs_object_id: '8' });
      const missing = await rejection(api.contacts.basicApi.update('8888', { properties: { phone: '1' } }));
      expect(missing.code).toBe(404);
      expect(missing.body.category).toBe('OBJECT_NOT_FOUND');
    });

    it('batch read answers 200, or 207 with the unknown ids, with the requested properties', async () => {
      const all = await api.contacts.batchApi.readWithHttpInfo({ inputs: [{ id: '9' }, { id: '10' }], properties: ['email', 'no_such_property'], propertiesWithHistory: [] });
      expect(all.httpStatusCode).toBe(200);
      expect(all.data.results.map((r) => r.id)).toEqual(['9', '10']);
      expect(all.data.results[0].properties).toHaveProperty('email');
      expect(all.data.results[0].properties).not.toHaveProperty('no_such_property');

      const partial = await api.objects.batchApi.readWithHttpInfo('0-1', { inputs: [{ id: '11' }, { id: '5555' }], properties: ['email'], propertiesWithHistory: [] });
      expect(partial.httpStatusCode).toBe(207);
      expect((partial.data as any).errors[0]).toMatchObject({ category: 'OBJECT_NOT_FOUND', context: { ids: ['5555'] } });

      const companies = await api.companies.batchApi.read({ inputs: [{ id: '21' }, { id: '22' }], properties: ['name', 'domain'], propertiesWithHistory: [] });
      expect(companies.results.map((c) => c.properties.domain)).toEqual([expect.stringMatching(/\./), expect.stringMatching(/\./)]);
    });

    it('keeps each property’s history, newest first, with its source: an app’s API writes, seeded values, a person’s edits', async () => {
      await api.contacts.batchApi.update({ inputs: [{ id: '13', properties: { jobtitle: 'Analyst' } }] });
      const before = sim.getObject('contacts', 13)!.updatedAt;
      await new Promise((resolve) => setTimeout(resolve, 5));
      sim.editAsPerson('contacts', 13, { jobtitle: 'Head of Data' }, { userId: 4242 });
      const answer = await api.contacts.batchApi.read({ inputs: [{ id: '13' }], properties: ['jobtitle'], propertiesWithHistory: ['jobtitle', 'email'] });
      const [record] = answer.results;
      expect(record.properties.jobtitle).toBe('Head of Data');
      expect(record.updatedAt.getTime()).toBeGreaterThan(Date.parse(before));
      const history = record.propertiesWithHistory!.jobtitle;
      expect(history.map((version) => [version.value, version.sourceType])).toEqual([
        ['Head of Data', 'CRM_UI'],
        ['Analyst', 'INTEGRATION'],
        [expect.any(String), 'IMPORT'],
      ]);
      expect(history[0]).toMatchObject({ sourceId: 'userId:4242', updatedByUserId: 4242 });
      expect(history[0].timestamp.getTime()).toBeGreaterThan(history[1].timestamp.getTime());
      expect(record.propertiesWithHistory!.email).toHaveLength(1);
      // A read that asks for no history answers none; so does the control endpoint's edit, then a read by id.
      const plain = await api.contacts.batchApi.read({ inputs: [{ id: '13' }], properties: ['jobtitle'], propertiesWithHistory: [] });
      expect(plain.results[0].propertiesWithHistory).toBeUndefined();
      expect((await raw(sim, 'POST', '/__sim/objects/contacts/13/edits', { properties: { jobtitle: 'CTO' } }, null)).status).toBe(204);
      const single = await raw(sim, 'GET', '/crm/v3/objects/contacts/13?properties=jobtitle&propertiesWithHistory=jobtitle');
      expect(single.json.propertiesWithHistory.jobtitle.map((version: { value: string }) => version.value).slice(0, 2)).toEqual(['CTO', 'Head of Data']);
    });

    it('serves the date-versioned paths as aliases of the v3 ones', async () => {
      const update = await raw(sim, 'POST', '/crm/objects/2026-03/contacts/batch/update', { inputs: [{ id: '12', properties: { firstname: 'Dated' } }] });
      expect(update.status).toBe(200);
      const read = await raw(sim, 'GET', '/crm/objects/2026-03/0-1/12?properties=firstname');
      expect(read.json.properties.firstname).toBe('Dated');
      const batchRead = await raw(sim, 'POST', '/crm/objects/2026-03/contacts/batch/read', { inputs: [{ id: '12' }, { id: '404404' }], properties: ['firstname'] });
      expect(batchRead.status).toBe(207);
      const recorded = sim.listCalls({ limit: 3 });
      expect(recorded.map((c) => c.endpoint)).toEqual(['crm.objects.batch.update', 'crm.objects.get', 'crm.objects.batch.read']);
      expect(recorded[0].path).toBe('/crm/objects/2026-03/contacts/batch/update');
    });
  });

  describe('owners', () => {
    let sim: HubSpotSimulator;
    let api: Apis;

    beforeAll(async () => {
      sim = await createHubSpotSimulator({ seedOwners: 7 });
      sim.seedOwners([{ email: 'gone@example.com', firstName: 'Gone', lastName: 'Away', archived: true }]);
      api = hubspot(sim);
    });

    afterAll(() => sim.close());

    it('pages through owners with limit and after', async () => {
      const pages: string[][] = [];
      let after: string | undefined;
      for (;;) {
        const page = await api.owners.getPage(undefined, after, 3);
        pages.push(page.results.map((o) => o.id));
        for (const owner of page.results) {
          expect(owner).toMatchObject({ id: expect.any(String), email: expect.stringContaining('@'), firstName: expect.any(String), lastName: expect.any(String), userId: expect.any(Number), archived: false });
          expect(Array.isArray(owner.teams)).toBe(true);
        }
        if (!page.paging?.next) break;
        expect(page.paging.next.link).toContain(`/crm/v3/owners/?limit=3&after=${page.paging.next.after}`);
        after = page.paging.next.after;
      }
      expect(pages.map((p) => p.length)).toEqual([3, 3, 1]);
      expect(new Set(pages.flat()).size).toBe(7);
    });

    it('lists archived owners apart, filters by email, and finds one by id', async () => {
      const archived = await api.owners.getPage(undefined, undefined, 100, true);
      expect(archived.results.map((o) => o.email)).toEqual(['gone@example.com']);
      const first = (await api.owners.getPage(undefined, undefined, 1)).results[0];
      const byEmail = await api.owners.getPage(first.email);
      expect(byEmail.results.map((o) => o.id)).toEqual([first.id]);
      const byId = await api.owners.getById(Number(first.id));
      expect(byId.email).toBe(first.email);
      const tooMany = await raw(sim, 'GET', '/crm/v3/owners?limit=501');
      expect(tooMany.status).toBe(400);
    });
  });

  describe('workflow action callbacks', () => {
    let sim: HubSpotSimulator;
    let api: Apis;

    beforeAll(async () => {
      sim = await createHubSpotSimulator();
      api = hubspot(sim);
    });

    afterAll(() => sim.close());

    it('answers 204 to single and batch completions and records them', async () => {
      sim.registerCallback('ap-1-2-3-1');
      await expect(api.callbacks.complete('ap-1-2-3-1', { outputFields: { hs_execution_state: 'SUCCESS', score: '42' } })).resolves.toBeUndefined();
      await expect(
        api.callbacks.completeBatch({
          inputs: [
            { callbackId: 'ap-1-2-3-2', outputFields: { hs_execution_state: 'FAIL_CONTINUE', error: 'boom' } },
            { callbackId: 'ap-1-2-3-3', outputFields: { hs_execution_state: 'SUCCESS' } },
          ],
        }),
      ).resolves.toBeUndefined();
      expect(sim.callbacks.map(({ callbackId, executionState, via, known }) => ({ callbackId, executionState, via, known }))).toEqual([
        { callbackId: 'ap-1-2-3-1', executionState: 'SUCCESS', via: 'single', known: true },
        { callbackId: 'ap-1-2-3-2', executionState: 'FAIL_CONTINUE', via: 'batch', known: false },
        { callbackId: 'ap-1-2-3-3', executionState: 'SUCCESS', via: 'batch', known: false },
      ]);
      expect(sim.callbacks[0]).toMatchObject({ portalId: sim.portalId, outputFields: { score: '42' } });
      const recorded = sim.listCalls({ endpoint: 'automation.callbacks.completeBatch' });
      expect(recorded[0]).toMatchObject({ status: 204, portalId: sim.portalId, summary: { callbackIds: ['ap-1-2-3-2', 'ap-1-2-3-3'], inputs: 2 } });
    });

    it('counts repeated and unknown completions, serves the date-versioned paths, and refuses bad states', async () => {
      const before = sim.stats().callbacks;
      const single = await raw(sim, 'POST', '/automation/actions/callbacks/2026-03/ap-1-2-3-1/complete', { outputFields: { hs_execution_state: 'SUCCESS' } });
      expect(single.status).toBe(204);
      expect(single.text).toBe('');
      const batch = await raw(sim, 'POST', '/automation/actions/callbacks/2026-03/complete', { inputs: [{ callbackId: 'never-seen', outputFields: { hs_execution_state: 'SUCCESS' } }] });
      expect(batch.status).toBe(204);
      expect(sim.stats().callbacks).toEqual({ completed: before.completed + 2, repeated: before.repeated + 1, unknown: before.unknown + 1 });
      expect(sim.callbacks.filter((c) => c.callbackId === 'ap-1-2-3-1').map((c) => c.completion)).toEqual([1, 2]);

      const blocked = await rejection(api.callbacks.complete('ap-1-2-3-9', { outputFields: { hs_execution_state: 'BLOCK' } }));
      expect(blocked.code).toBe(400);
      expect(blocked.body.category).toBe('VALIDATION_ERROR');
    });

    it('can refuse callbackIds it never registered (404), when asked to', async () => {
      const strict = await createHubSpotSimulator({ unknownCallbacks: 'reject' });
      try {
        strict.registerCallback('known-1');
        const strictApi = hubspot(strict);
        await strictApi.callbacks.complete('known-1', { outputFields: { hs_execution_state: 'SUCCESS' } });
        const error = await rejection(strictApi.callbacks.complete('unknown-1', { outputFields: { hs_execution_state: 'SUCCESS' } }));
        expect(error.code).toBe(404);
        expect(strict.callbacks.map((c) => c.callbackId)).toEqual(['known-1']);
      } finally {
        await strict.close();
      }
    });
  });

  describe('authentication and OAuth', () => {
    let sim: HubSpotSimulator;

    beforeAll(async () => {
      sim = await createHubSpotSimulator({ seedContacts: 2 });
    });

    afterAll(() => sim.close());

    it('answers 401 INVALID_AUTHENTICATION to an unknown or missing token, without rate-limit headers', async () => {
      const error = await rejection(hubspot(sim, { token: 'pat-na1-not-a-real-token' }).contacts.basicApi.getById('1'));
      expect(error.code).toBe(401);
      expect(error.body).toMatchObject({ status: 'error', category: 'INVALID_AUTHENTICATION' });

      const missing = await raw(sim, 'GET', '/crm/v3/objects/contacts/1', undefined, null);
      expect(missing.status).toBe(401);
      expect(Object.keys(missing.json)).toEqual(['status', 'message', 'correlationId', 'category']);
      expect(missing.json.message).toMatch(/^Authentication credentials not found/);
      expect(missing.headers.get('x-hubspot-ratelimit-max')).toBeNull();
      expect(missing.headers.get('x-hubspot-correlation-id')).toBe(missing.json.correlationId);
      expect(sim.listCalls({ limit: 1 })[0]).toMatchObject({ status: 401, portalId: null });
    });

    it('refreshes an expired OAuth access token; the new one works', async () => {
      const issued = sim.issueOAuthTokens();
      expect(issued.expiresIn).toBe(1800);
      const oauthApi = hubspot(sim, { token: issued.accessToken });
      const ok = await oauthApi.contacts.basicApi.getByIdWithHttpInfo('1');
      expect(ok.httpStatusCode).toBe(200);
      // OAuth-authorised calls carry the rolling-window headers but not the daily ones.
      expect(ok.headers['x-hubspot-ratelimit-max']).toBe('100');
      expect(ok.headers['x-hubspot-ratelimit-daily']).toBeUndefined();

      sim.advanceClock(31 * 60_000);
      const expired = await rejection(oauthApi.contacts.basicApi.getById('1'));
      expect(expired.code).toBe(401);
      expect(expired.body).toMatchObject({ category: 'EXPIRED_AUTHENTICATION', message: 'The OAuth token used to make this call expired 1 minute(s) ago.' });

      const tokens = hubspot(sim).tokens;
      const refreshed = await tokens.create('refresh_token', undefined, undefined, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, issued.refreshToken);
      expect(refreshed).toMatchObject({ tokenType: 'bearer', refreshToken: issued.refreshToken, expiresIn: 1800 });
      expect(refreshed.accessToken).not.toBe(issued.accessToken);
      const again = await hubspot(sim, { token: refreshed.accessToken }).contacts.basicApi.getById('1');
      expect(again.id).toBe('1');
      expect(sim.listCalls({ endpoint: 'oauth.token' })[0]).toMatchObject({ status: 200, portalId: sim.portalId });

      const badToken = await rejection(tokens.create('refresh_token', undefined, undefined, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, 'nope'));
      expect(badToken.code).toBe(400);
      expect(badToken.body.message).toBe('missing or unknown refresh token');
      const badSecret = await rejection(tokens.create('refresh_token', undefined, undefined, DEFAULT_CLIENT_ID, 'wrong', issued.refreshToken));
      expect(badSecret.code).toBe(400);
    });
  });

  describe('rate limits', () => {
    it('the 101st call within 10 s answers 429 TEN_SECONDLY_ROLLING with the exact body and headers; the window rolls', async () => {
      const sim = await createHubSpotSimulator({ seedContacts: 1 });
      try {
        const api = hubspot(sim);
        const first = await api.contacts.basicApi.getByIdWithHttpInfo('1');
        expect(first.headers).toMatchObject({
          'x-hubspot-ratelimit-max': '100',
          'x-hubspot-ratelimit-remaining': '99',
          'x-hubspot-ratelimit-interval-milliseconds': '10000',
          'x-hubspot-ratelimit-daily': '250000',
          'x-hubspot-ratelimit-daily-remaining': '249999',
        });
        await Promise.all(Array.from({ length: 99 }, () => api.contacts.basicApi.getById('1')));
        expect(sim.limits().remaining).toBe(0);

        const refused = await raw(sim, 'GET', '/crm/v3/objects/contacts/1');
        expect(refused.status).toBe(429);
        expect(refused.text).toMatch(EXACT_TEN_SECONDLY);
        expect(refused.headers.get('content-type')).toBe('application/json;charset=utf-8');
        expect(refused.headers.get('x-hubspot-ratelimit-max')).toBe('100');
        expect(refused.headers.get('x-hubspot-ratelimit-remaining')).toBe('0');
        expect(refused.headers.get('x-hubspot-ratelimit-interval-milliseconds')).toBe('10000');
        expect(refused.headers.get('x-hubspot-ratelimit-daily-remaining')).toBe('249900');
        expect(refused.headers.get('retry-after')).toBeNull();

        const thrown = await rejection(api.contacts.batchApi.update({ inputs: [{ id: '1', properties: { firstname: 'x' } }] }));
        expect(thrown.code).toBe(429);
        expect(thrown.body).toMatchObject({ status: 'error', errorType: 'RATE_LIMIT', policyName: 'TEN_SECONDLY_ROLLING' });

        // Refused calls are recorded but spend nothing.
        const stats = sim.stats();
        expect(stats.total).toBe(102);
        expect(stats.rateLimited).toEqual({ total: 2, TEN_SECONDLY_ROLLING: 2, DAILY: 0 });
        expect(sim.listCalls({ status: 429 }).map((c) => c.policyName)).toEqual(['TEN_SECONDLY_ROLLING', 'TEN_SECONDLY_ROLLING']);

        // Another portal has a budget of its own.
        sim.addPortal({ portalId: 777, privateAppTokens: ['pat-other'] });
        expect((await raw(sim, 'GET', '/crm/v3/objects/contacts/1', undefined, 'pat-other')).status).toBe(404);

        sim.advanceClock(10_000);
        const recovered = await api.contacts.basicApi.getByIdWithHttpInfo('1');
        expect(recovered.httpStatusCode).toBe(200);
        expect(recovered.headers['x-hubspot-ratelimit-remaining']).toBe('99');
      } finally {
        await sim.close();
      }
    });

    it('is a rolling window, not a fixed one', async () => {
      const sim = await createHubSpotSimulator({ seedContacts: 1 });
      try {
        sim.spend(60);
        sim.advanceClock(6_000);
        sim.spend(40);
        expect((await raw(sim, 'GET', '/crm/v3/objects/contacts/1')).status).toBe(429);
        sim.advanceClock(4_000); // the first 60 leave the window; the last 40 stay in it
        const after = await raw(sim, 'GET', '/crm/v3/objects/contacts/1');
        expect(after.status).toBe(200);
        expect(after.headers.get('x-hubspot-ratelimit-remaining')).toBe('59');
      } finally {
        await sim.close();
      }
    });

    it('recovers once a short window has passed', async () => {
      const sim = await createHubSpotSimulator({ rateLimit: 5, rateLimitWindowMs: 5_000, seedContacts: 1 });
      try {
        const statuses = [];
        for (let i = 0; i < 6; i++) statuses.push((await raw(sim, 'GET', '/crm/v3/objects/contacts/1')).status);
        expect(statuses).toEqual([200, 200, 200, 200, 200, 429]);
        const refused = sim.listCalls({ status: 429 })[0];
        expect(refused.policyName).toBe('TEN_SECONDLY_ROLLING');
        sim.advanceClock(5_000);
        const recovered = await raw(sim, 'GET', '/crm/v3/objects/contacts/1');
        expect(recovered.status).toBe(200);
        expect(recovered.headers.get('x-hubspot-ratelimit-interval-milliseconds')).toBe('5000');
      } finally {
        await sim.close();
      }
    });

    it('answers 429 DAILY once the daily budget is spent, until the day turns', async () => {
      const sim = await createHubSpotSimulator({ dailyLimit: 5, seedContacts: 1 });
      try {
        const api = hubspot(sim);
        for (let i = 0; i < 5; i++) await api.contacts.basicApi.getById('1');
        const refused = await raw(sim, 'GET', '/crm/v3/objects/contacts/1');
        expect(refused.status).toBe(429);
        expect(refused.text).toMatch(EXACT_DAILY);
        expect(refused.headers.get('x-hubspot-ratelimit-daily')).toBe('5');
        expect(refused.headers.get('x-hubspot-ratelimit-daily-remaining')).toBe('0');
        const thrown = await rejection(api.contacts.basicApi.getById('1'));
        expect(thrown.code).toBe(429);
        expect(thrown.body.policyName).toBe('DAILY');
        expect(sim.stats().rateLimited).toMatchObject({ DAILY: 2 });

        sim.advanceClock(86_400_000 - (sim.now() % 86_400_000)); // to the next midnight UTC
        expect((await raw(sim, 'GET', '/crm/v3/objects/contacts/1')).status).toBe(200);
      } finally {
        await sim.close();
      }
    });
  });

  describe('fault injection', () => {
    let sim: HubSpotSimulator;
    let api: Apis;

    beforeAll(async () => {
      sim = await createHubSpotSimulator({ seed: 42, seedContacts: 5, rateLimit: 10_000 });
      api = hubspot(sim);
    });

    beforeEach(() => {
      sim.inject.clear();
      sim.resetCalls();
      sim.advanceClock(10_000); // an empty rolling window for each test
    });

    afterAll(() => sim.close());

    it('answers a share of calls with 502/503 and HubSpot-like bodies, the same share for the same seed', async () => {
      sim.inject.errors({ rate: 1 });
      const error = await rejection(api.contacts.basicApi.getById('1'));
      expect([502, 503]).toContain(error.code);
      expect(error.body).toMatchObject({ status: 'error', correlationId: expect.any(String), category: expect.any(String) });

      const sequence = async (target: HubSpotSimulator) => {
        target.inject.errors({ rate: 0.3 });
        const statuses: number[] = [];
        for (let i = 0; i < 40; i++) statuses.push((await raw(target, 'GET', '/crm/v3/objects/contacts/1', undefined, target.token)).status);
        return statuses;
      };
      const a = await createHubSpotSimulator({ seed: 99, seedContacts: 1 });
      const b = await createHubSpotSimulator({ seed: 99, seedContacts: 1 });
      try {
        const [first, second] = [await sequence(a), await sequence(b)];
        expect(first).toEqual(second);
        const failed = first.filter((s) => s >= 500).length;
        expect(failed).toBeGreaterThan(3);
        expect(failed).toBeLessThan(25);
        expect(a.stats().faults.error).toBe(failed);
      } finally {
        await Promise.all([a.close(), b.close()]);
      }
    });

    it('can answer 5xx as an edge proxy’s HTML page, and after applying the write', async () => {
      sim.inject.errors({ next: 1, statuses: [502], body: 'html', applyWrites: true });
      const answer = await raw(sim, 'POST', '/crm/v3/objects/contacts/batch/update', { inputs: [{ id: '2', properties: { firstname: 'Applied' } }] });
      expect(answer.status).toBe(502);
      expect(answer.headers.get('content-type')).toContain('text/html');
      expect(sim.getObject('contacts', '2')!.properties.firstname).toBe('Applied');
      expect((await raw(sim, 'GET', '/crm/v3/objects/contacts/2')).status).toBe(200);
    });

    it('storms: 429 TEN_SECONDLY_ROLLING to the next N calls whatever the budget, without spending it', async () => {
      sim.inject.storm({ calls: 3 });
      const statuses: number[] = [];
      let last: Raw | undefined;
      for (let i = 0; i < 4; i++) {
        last = await raw(sim, 'GET', '/crm/v3/objects/contacts/1');
        statuses.push(last.status);
        if (i === 0) {
          expect(last.text).toMatch(EXACT_TEN_SECONDLY);
          expect(last.headers.get('x-hubspot-ratelimit-remaining')).toBe('0');
        }
      }
      expect(statuses).toEqual([429, 429, 429, 200]);
      expect(last!.headers.get('x-hubspot-ratelimit-remaining')).toBe(String(10_000 - 1));
      expect(sim.stats().faults.storm).toBe(3);
      expect(sim.stats().rateLimited.TEN_SECONDLY_ROLLING).toBe(3);
    });

    it('storms for a time', async () => {
      sim.inject.storm({ ms: 60_000 });
      expect((await raw(sim, 'GET', '/crm/v3/objects/contacts/1')).status).toBe(429);
      expect((await raw(sim, 'GET', '/crm/v3/objects/contacts/1')).status).toBe(429);
      sim.advanceClock(60_000);
      expect((await raw(sim, 'GET', '/crm/v3/objects/contacts/1')).status).toBe(200);
    });

    it('adds latency', async () => {
      sim.inject.latency(150);
      const started = Date.now();
      await api.contacts.basicApi.getById('1');
      expect(Date.now() - started).toBeGreaterThanOrEqual(145);
      expect(sim.calls[0].durationMs).toBeGreaterThanOrEqual(145);
    });

    it('times out: holds the call, then drops the connection without an answer or an effect', async () => {
      sim.inject.timeouts({ next: 1, ms: 200 });
      const started = Date.now();
      const error = await rejection(raw(sim, 'POST', '/crm/v3/objects/contacts/batch/update', { inputs: [{ id: '3', properties: { firstname: 'Lost' } }] }));
      expect(String(error)).toMatch(/fetch failed|terminated|socket/i);
      expect(Date.now() - started).toBeGreaterThanOrEqual(190);
      expect(sim.getObject('contacts', '3')!.properties.firstname).not.toBe('Lost');
      expect(sim.calls[0]).toMatchObject({ status: 0, fault: 'timeout', endpoint: 'crm.objects.batch.update' });
      expect((await raw(sim, 'GET', '/crm/v3/objects/contacts/3')).status).toBe(200);
    });

    it('limits faults to a path', async () => {
      sim.inject.faults({ errorRate: 1, pathIncludes: '/callbacks/' });
      expect((await raw(sim, 'GET', '/crm/v3/objects/contacts/1')).status).toBe(200);
      const error = await rejection(api.callbacks.complete('cb-x', { outputFields: { hs_execution_state: 'SUCCESS' } }));
      expect(error.code).toBeGreaterThanOrEqual(502);
    });

    it('is driven at runtime through /__sim/ (faults, calls, stats, limits, clock)', async () => {
      const set = await raw(sim, 'POST', '/__sim/faults', { errorNext: 2, errorStatuses: [503] });
      expect(set.status).toBe(200);
      expect(set.json).toMatchObject({ errorNext: 2, errorStatuses: [503] });
      expect((await raw(sim, 'GET', '/crm/v3/objects/contacts/1')).status).toBe(503);
      expect((await raw(sim, 'GET', '/__sim/faults')).json.errorNext).toBe(1);
      expect((await raw(sim, 'DELETE', '/__sim/faults')).status).toBe(204);
      expect((await raw(sim, 'GET', '/crm/v3/objects/contacts/1')).status).toBe(200);
      expect((await raw(sim, 'POST', '/__sim/faults', { errorRate: 3 })).status).toBe(400);

      const stats = (await raw(sim, 'GET', '/__sim/stats')).json;
      expect(stats).toMatchObject({ total: 2, byStatus: { '200': 1, '503': 1 }, byEndpoint: { 'crm.objects.get': { total: 2 } }, faults: { error: 1 } });
      const calls = (await raw(sim, 'GET', '/__sim/calls?limit=1')).json;
      expect(calls.calls).toEqual([expect.objectContaining({ seq: 2, method: 'GET', path: '/crm/v3/objects/contacts/1', portalId: sim.portalId, status: 200, time: expect.any(String), summary: { type: 'contacts', id: '1' } })]);
      expect((await raw(sim, 'DELETE', '/__sim/calls')).status).toBe(204);
      expect((await raw(sim, 'GET', '/__sim/stats')).json.total).toBe(0);

      const limits = await raw(sim, 'PUT', '/__sim/limits', { rateLimit: 2 });
      expect(limits.json).toMatchObject({ rateLimit: 2, windowMs: 10_000 });
      expect((await raw(sim, 'GET', '/crm/v3/objects/contacts/1')).status).toBe(429); // the calls above are still in the window
      await raw(sim, 'POST', '/__sim/clock', { advanceMs: 10_000 });
      expect((await raw(sim, 'GET', '/crm/v3/objects/contacts/1')).status).toBe(200);
      await raw(sim, 'PUT', '/__sim/limits', { rateLimit: 10_000 });

      const seeded = await raw(sim, 'POST', '/__sim/objects/contacts', { records: [{ id: 500, properties: { email: 'new@example.com' } }] });
      expect(seeded.status).toBe(201);
      expect((await raw(sim, 'GET', '/crm/v3/objects/contacts/500?properties=email')).json.properties.email).toBe('new@example.com');
    });
  });

  describe('the official client’s retries (numberOfApiCallRetries)', () => {
    let sim: HubSpotSimulator;

    beforeAll(async () => {
      sim = await createHubSpotSimulator({ seedContacts: 2 });
    });

    beforeEach(() => {
      sim.inject.clear();
      sim.resetCalls();
      errorLog.mockClear();
    });

    afterAll(() => sim.close());

    it('retries 5xx after 200 ms x attempt; N is the number of attempts in all, not of retries', async () => {
      const api = hubspot(sim, { numberOfApiCallRetries: 3 });
      sim.inject.errors({ next: 2 });
      const started = Date.now();
      const contact = await api.contacts.basicApi.getById('1');
      expect(contact.id).toBe('1');
      expect(Date.now() - started).toBeGreaterThanOrEqual(580); // 200 + 400
      expect(sim.calls.map((c) => c.status)).toEqual([502, 503, 200]);
      expect(errorLog.mock.calls.map((c) => c[0])).toEqual([
        'Request failed with status code [502], will retry [1] time in [200] ms',
        'Request failed with status code [503], will retry [2] time in [200] ms',
      ]);

      sim.resetCalls();
      sim.inject.errors({ next: 3 });
      const error = await rejection(api.contacts.basicApi.getById('1'));
      expect(error.code).toBe(502);
      expect(sim.calls).toHaveLength(3);

      sim.resetCalls();
      const once = hubspot(sim, { numberOfApiCallRetries: 1 });
      sim.inject.errors({ next: 1 });
      expect((await rejection(once.contacts.basicApi.getById('1'))).code).toBe(502);
      expect(sim.calls).toHaveLength(1);
    });

    it('never retries a DAILY 429', async () => {
      const api = hubspot(sim, { numberOfApiCallRetries: 3 });
      sim.setLimits({ dailyLimit: 0 });
      try {
        const error = await rejection(api.contacts.basicApi.getById('1'));
        expect(error.code).toBe(429);
        expect(error.body.policyName).toBe('DAILY');
        expect(sim.calls).toHaveLength(1);
      } finally {
        sim.setLimits({ dailyLimit: 250_000 });
      }
    });

    it('never retries a dropped connection; it rejects with the transport error, not an ApiException', async () => {
      const api = hubspot(sim, { numberOfApiCallRetries: 3 });
      sim.inject.timeouts({ next: 1, ms: 50 });
      const error = await rejection(api.contacts.basicApi.getById('1'));
      expect(error.code).toBeUndefined();
      expect(String(error)).toMatch(/fetch failed/);
      expect(sim.calls.map((c) => c.status)).toEqual([0]);
    });

    it('retries a TEN_SECONDLY_ROLLING 429 after 10 s x attempt (it ignores Retry-After)', async () => {
      const api = hubspot(sim, { numberOfApiCallRetries: 2 });
      sim.inject.storm({ calls: 1 });
      const started = Date.now();
      const answer = await api.contacts.batchApi.update({ inputs: [{ id: '2', properties: { firstname: 'Retried' } }] });
      expect(answer.status).toBe('COMPLETE');
      expect(Date.now() - started).toBeGreaterThanOrEqual(9_900);
      expect(sim.calls.map((c) => c.status)).toEqual([429, 200]);
      expect(errorLog.mock.calls.map((c) => c[0])).toEqual(['Request failed with status code [429], will retry [1] time in [10000] ms']);
    }, 30_000);
  });

  describe('bounds, determinism and load', () => {
    it('keeps only the last maxRecordedCalls calls, but counts them all', async () => {
      const sim = await createHubSpotSimulator({ maxRecordedCalls: 10, seedContacts: 1 });
      try {
        for (let i = 0; i < 25; i++) await raw(sim, 'GET', '/crm/v3/objects/contacts/1');
        expect(sim.calls.map((c) => c.seq)).toEqual(Array.from({ length: 10 }, (_, i) => 16 + i));
        expect(sim.stats()).toMatchObject({ total: 25, recordedCalls: 10, droppedCalls: 15 });
      } finally {
        await sim.close();
      }
    });

    it('makes the same data and correlation ids from the same seed', async () => {
      const run = async () => {
        const sim = await createHubSpotSimulator({ seed: 5, seedContacts: 3, seedOwners: 2 });
        try {
          const contact = await raw(sim, 'GET', '/crm/v3/objects/contacts/2?properties=email,company');
          const missing = await raw(sim, 'GET', '/crm/v3/objects/contacts/99');
          const owners = await raw(sim, 'GET', '/crm/v3/owners');
          return [contact.json.properties, missing.json.correlationId, owners.json.results.map((o: any) => o.email)];
        } finally {
          await sim.close();
        }
      };
      expect(await run()).toEqual(await run());
    });

    it('serves thousands of concurrent calls', async () => {
      const sim = await createHubSpotSimulator({ seedContacts: 100, rateLimit: 1_000_000, faults: { latencyMs: 2 } });
      try {
        let next = 0;
        const statuses: number[] = [];
        await Promise.all(
          Array.from({ length: 50 }, async () => {
            while (next < 3000) {
              const i = next++;
              const answer =
                i % 2 === 0
                  ? await raw(sim, 'GET', `/crm/v3/objects/contacts/${(i % 100) + 1}`)
                  : await raw(sim, 'POST', '/crm/v3/objects/contacts/batch/update', { inputs: [{ id: String((i % 100) + 1), properties: { firstname: `n${i}` } }] });
              statuses.push(answer.status);
            }
          }),
        );
        expect(statuses.filter((s) => s === 200)).toHaveLength(3000);
        const stats = sim.stats();
        expect(stats.total).toBe(3000);
        expect(stats.maxInFlight).toBeGreaterThan(10); // calls overlap while they wait out the latency
      } finally {
        await sim.close();
      }
    });
  });

  describe('command line', () => {
    it('prints its URL and serves seeded contacts with the given limits; --help lists the options', async () => {
      const main = join(__dirname, '..', 'dist', 'tools', 'simulators', 'hubspot', 'main.js');
      const help = spawn(process.execPath, [main, '--help']);
      let helpText = '';
      help.stdout.on('data', (chunk) => (helpText += chunk));
      await new Promise((resolve) => help.on('close', resolve));
      for (const flag of ['--port', '--rate-limit', '--daily-limit', '--latency-ms', '--seed-contacts', '--error-rate', '--storm-calls', '--timeout-ms'])
        expect(helpText).toContain(flag);

      const child = spawn(process.execPath, [main, '--port', '0', '--seed-contacts', '3', '--rate-limit', '7', '--latency-ms', '1']);
      try {
        const url = await new Promise<string>((resolve, reject) => {
          let out = '';
          child.stdout.on('data', (chunk) => {
            out += chunk;
            const match = /listening on (http:\/\/\S+)/.exec(out);
            if (match) resolve(match[1]);
          });
          child.on('exit', (code) => reject(new Error(`exited with ${code}: ${out}`)));
        });
        const response = await fetch(`${url}/crm/v3/objects/contacts/3?properties=email`, { headers: { authorization: 'Bearer pat-sim-12345678' } });
        expect(response.status).toBe(200);
        expect(response.headers.get('x-hubspot-ratelimit-max')).toBe('7');
        expect(((await response.json()) as any).properties.email).toContain('@');
      } finally {
        child.kill('SIGTERM');
        await new Promise((resolve) => child.once('exit', resolve));
      }
    });
  });
});
