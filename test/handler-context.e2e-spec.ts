import { Type } from '@sinclair/typebox';
import { randomUUID } from 'node:crypto';
import { createServer, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { createHubSpotSimulator, HubSpotSimulator } from '../tools/simulators/hubspot';
import { JobContext, JobHandlerOf } from '../src/registry/job-handler';
import { ADMIN_TOKEN, configFor, HttpClient, isolate, Isolation, RunningOffload, startOffload } from './support/offload-harness';

/** Set once the stand-in provider listens; the handler's egress reads it. */
let providerUrl = '';

/** Reports what its context gave it: settings, a secret, a call to its one allowed host, HubSpot reads. */
@JobHandlerOf({
  type: 'context-probe',
  version: '1.0.0',
  owner: 'tests',
  description: 'reads everything a handler context offers',
  input: Type.Object({ url: Type.Optional(Type.String()), contactId: Type.Optional(Type.String()) }),
  outputs: {
    greeting: { hubspotType: 'string', description: 'from the portal settings' },
    has_key: { hubspotType: 'bool', description: 'whether the PROVIDER_KEY secret is set' },
    provider_said: { hubspotType: 'string', description: 'what the provider answered' },
    email: { hubspotType: 'string', description: 'the contact email read from HubSpot' },
    owners: { hubspotType: 'number', description: 'active owners' },
  },
  config: {
    schema: Type.Object({ greeting: Type.String({ minLength: 1 }), loud: Type.Optional(Type.Boolean()) }, { additionalProperties: false }),
    default: { greeting: 'hello' },
  },
  egress: () => [providerUrl],
})
class ContextProbeHandler {
  async run({ input, config, secrets, http, hubspot }: JobContext<{ url?: string; contactId?: string }, { greeting: string; loud?: boolean }>) {
    const key = await secrets.get('PROVIDER_KEY');
    const answer = await http.fetch(input.url ?? `${providerUrl}/hello`, { headers: key ? { 'x-api-key': key } : {} });
    const contact = input.contactId ? await hubspot.readProperties({ type: 'CONTACT', id: input.contactId }, ['email', 'no_such_property']) : undefined;
    return {
      greeting: config.loud ? config.greeting.toUpperCase() : config.greeting,
      has_key: key !== undefined,
      provider_said: await answer.text(),
      email: contact?.email ?? '',
      owners: input.contactId ? (await hubspot.owners()).length : 0,
    };
  }
}

describe('the handler context: portal settings, secrets, egress and HubSpot', () => {
  let isolation: Isolation;
  let sim: HubSpotSimulator;
  let provider: Server;
  let elsewhere: Server;
  let elsewhereHits = 0;
  const providerKeys: Array<string | undefined> = [];
  let offload: RunningOffload;
  let admin: HttpClient;
  let client: HttpClient;
  let portalId: string;

  beforeAll(async () => {
    provider = createServer((request, response) => {
      providerKeys.push(request.headers['x-api-key'] as string | undefined);
      response.end(`provider ${request.url}`);
    });
    elsewhere = createServer((_, response) => {
      elsewhereHits++;
      response.end('should never be reached');
    });
    await new Promise<void>((resolve) => provider.listen(0, '127.0.0.1', resolve));
    await new Promise<void>((resolve) => elsewhere.listen(0, '127.0.0.1', resolve));
    providerUrl = `http://127.0.0.1:${(provider.address() as AddressInfo).port}`;
    sim = await createHubSpotSimulator({ seedContacts: 200, seedOwners: 6 });
    isolation = await isolate();
    offload = await startOffload(configFor(isolation, { HUBSPOT_BASE_URL: sim.url }), [ContextProbeHandler]);
    admin = new HttpClient(offload.url, ADMIN_TOKEN);
    const created = await admin.post('/v1/admin/portals', { hubspotPortalId: sim.portalId, name: 'Context', hubspotAccessToken: sim.token });
    portalId = created.body.id;
    client = new HttpClient(offload.url, created.body.apiKey);
  });

  afterAll(async () => {
    await offload?.close();
    await sim?.close();
    provider?.close();
    elsewhere?.close();
    await isolation?.cleanup();
  });

  async function run(input: Record<string, unknown>) {
    // A key per run: the same input again is a new job here, not a retry of the last one.
    const enqueued = await client.post('/v1/jobs', { type: 'context-probe', input, idempotencyKey: randomUUID() });
    expect(enqueued.status).toBe(202);
    const done = await client.get(`/v1/jobs/${enqueued.body.id}?wait=10`);
    return done.body;
  }

  it('gives the default settings until the portal sets its own, and the new ones at once after', async () => {
    expect(await run({})).toMatchObject({ status: 'succeeded', output: { greeting: 'hello', has_key: false } });
    expect((await admin.get(`/v1/admin/portals/${portalId}/handlers/context-probe/config`)).body).toEqual({ config: { greeting: 'hello' }, isDefault: true });

    const set = await admin.request('PUT', `/v1/admin/portals/${portalId}/handlers/context-probe/config`, { greeting: 'bonjour', loud: true });
    expect(set.status).toBe(200);
    expect(set.body).toMatchObject({ config: { greeting: 'bonjour', loud: true }, isDefault: false });
    expect(await run({})).toMatchObject({ output: { greeting: 'BONJOUR' } });

    expect((await admin.request('DELETE', `/v1/admin/portals/${portalId}/handlers/context-probe/config`)).status).toBe(204);
    expect(await run({})).toMatchObject({ output: { greeting: 'hello' } });
  });

  it('refuses settings that break the handler’s schema, naming the field, and keeps the old ones', async () => {
    const bad = await admin.request('PUT', `/v1/admin/portals/${portalId}/handlers/context-probe/config`, { greeting: '', colour: 'red' });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('validation_failed');
    expect(bad.body.error.details.map((d: { path: string }) => d.path).sort()).toEqual(['colour', 'greeting']);
    const array = await admin.request('PUT', `/v1/admin/portals/${portalId}/handlers/context-probe/config`, [1]);
    expect(array.status).toBe(400);
    const unknown = await admin.request('PUT', `/v1/admin/portals/${portalId}/handlers/no-such-type/config`, {});
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe('not_found');
    expect((await admin.get(`/v1/admin/portals/${portalId}/handlers/context-probe/config`)).body.isDefault).toBe(true);
  });

  it('keeps secrets encrypted and unreadable through the API, and hands them to the handler', async () => {
    const put = await admin.request('PUT', `/v1/admin/portals/${portalId}/secrets/PROVIDER_KEY`, { value: 'sk-live-123' });
    expect(put.status).toBe(204);
    const listed = await admin.get(`/v1/admin/portals/${portalId}/secrets`);
    expect(listed.body).toEqual([{ name: 'PROVIDER_KEY', updatedAt: expect.any(String) }]);
    expect(JSON.stringify(listed.body)).not.toContain('sk-live');

    expect(await run({})).toMatchObject({ output: { has_key: true } });
    expect(providerKeys.at(-1)).toBe('sk-live-123');

    const badName = await admin.request('PUT', `/v1/admin/portals/${portalId}/secrets/lower-case`, { value: 'x' });
    expect(badName.status).toBe(400);
    expect(badName.body.error.details[0].path).toBe('name');
    const empty = await admin.request('PUT', `/v1/admin/portals/${portalId}/secrets/OTHER`, { value: '' });
    expect(empty.status).toBe(400);
    expect(empty.body.error.details[0].path).toBe('value');

    expect((await admin.request('DELETE', `/v1/admin/portals/${portalId}/secrets/PROVIDER_KEY`)).status).toBe(204);
    expect((await admin.request('DELETE', `/v1/admin/portals/${portalId}/secrets/PROVIDER_KEY`)).status).toBe(404);
    expect(await run({})).toMatchObject({ output: { has_key: false } });
  });

  it('lets a handler reach only its declared hosts, whatever URL an input carries', async () => {
    const elsewhereUrl = `http://127.0.0.1:${(elsewhere.address() as AddressInfo).port}/steal`;
    const job = await run({ url: elsewhereUrl });
    expect(job).toMatchObject({ status: 'failed', attempts: 1, error: { code: 'egress_denied', retryable: false } });
    expect(elsewhereHits).toBe(0);
  });

  it('reads record properties from concurrent jobs in shared batch reads, and the owners once', async () => {
    sim.resetCalls();
    const jobs = await Promise.all(Array.from({ length: 60 }, (_, i) => run({ contactId: String(i + 1) })));
    for (const [i, job] of jobs.entries()) {
      expect(job).toMatchObject({ status: 'succeeded', output: { email: sim.getObject('contacts', i + 1)!.properties.email, owners: 6 } });
    }
    const reads = sim.listCalls({ endpoint: 'crm.objects.batch.read' });
    expect(reads.length).toBeLessThan(20);
    expect(sim.listCalls({ endpoint: 'crm.owners.list' }).length).toBe(1);
  });

  it('fails a job whose record HubSpot does not have, without retrying', async () => {
    const job = await run({ contactId: '999999' });
    expect(job).toMatchObject({ status: 'failed', attempts: 1, error: { code: 'hubspot_record_not_found', retryable: false } });
  });
});
