import { createHash } from 'node:crypto';
import { Client } from 'pg';
import { CredentialCipher } from '../src/portals/credential-cipher';
import {
  ADMIN_TOKEN,
  configFor,
  ENCRYPTION_KEY,
  eventually,
  HttpClient,
  isolate,
  Isolation,
  loggingErrors,
  RunningOffload,
  startOffload,
} from './support/offload-harness';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const UNKNOWN_ID = '6f1c3c3e-1d7b-4a4e-9a43-0a1e2b3c4d5e';

let nextPortalId = 700_000_000 + Math.floor(Math.random() * 1e8);
const freshPortalId = () => nextPortalId++;

const sha256Hex = (value: string) => createHash('sha256').update(value).digest('hex');

describe('admin API (contract v1)', () => {
  let isolation: Isolation;
  let offload: RunningOffload;
  let admin: HttpClient;
  let db: Client;

  beforeAll(async () => {
    isolation = await isolate();
    offload = await startOffload(configFor(isolation));
    admin = new HttpClient(offload.url, ADMIN_TOKEN);
    db = loggingErrors(new Client({ connectionString: isolation.databaseUrl }), 'PostgreSQL');
    await db.connect();
  });

  afterAll(async () => {
    await db?.end();
    await offload?.close();
    await isolation?.cleanup();
  });

  /** Whether a bearer token is accepted as a portal API key: 404 for an unknown job means it got past the guard. */
  async function keyStatus(apiKey: string): Promise<number> {
    return (await new HttpClient(offload.url, apiKey).get('/v1/jobs/6f1c3c3e-1d7b-4a4e-9a43-0a1e2b3c4d5e')).status;
  }

  async function createPortal(extra: Record<string, unknown> = {}) {
    const hubspotPortalId = freshPortalId();
    const created = await admin.post('/v1/admin/portals', { hubspotPortalId, name: `Portal ${hubspotPortalId}`, ...extra });
    expect(created.status).toBe(201);
    return created.body as { id: string; hubspotPortalId: number; name: string; apiKey: string };
  }

  describe('registering a portal', () => {
    it('answers 201 {id, hubspotPortalId, name, apiKey}, and the key works at once', async () => {
      const hubspotPortalId = freshPortalId();
      const created = await admin.post('/v1/admin/portals', { hubspotPortalId, name: 'Acme EU' });
      expect(created.status).toBe(201);
      expect(created.body).toMatchObject({ hubspotPortalId, name: 'Acme EU' });
      expect(created.body.id).toMatch(UUID);
      expect(typeof created.body.apiKey).toBe('string');
      expect(created.body.apiKey.length).toBeGreaterThanOrEqual(32);

      const client = new HttpClient(offload.url, created.body.apiKey);
      const job = await client.post('/v1/jobs', { type: 'noop', input: {} });
      expect(job.status).toBe(202);
      expect(job.body.status).toBe('queued');

      const row = await db.query('SELECT portal_id FROM jobs WHERE id = $1', [job.body.id]);
      expect(row.rows).toEqual([{ portal_id: created.body.id }]);
    });

    it('keeps a HubSpot portal id above 2^31 exact', async () => {
      const hubspotPortalId = 4_294_967_296 + Math.floor(Math.random() * 1e6);
      const created = await admin.post('/v1/admin/portals', { hubspotPortalId, name: 'Big id' });
      expect(created.status).toBe(201);
      expect(created.body.hubspotPortalId).toBe(hubspotPortalId);
      const fetched = await admin.get(`/v1/admin/portals/${created.body.id}`);
      expect(fetched.status).toBe(200);
      expect(fetched.body.hubspotPortalId).toBe(hubspotPortalId);
    });

    it('stores the access token encrypted with ENCRYPTION_KEY and never returns it', async () => {
      const token = `pat-na1-${createHash('sha1').update(String(Math.random())).digest('hex')}`;
      const portal = await createPortal({ hubspotAccessToken: token, rateLimit: { requestsPer10s: 50 } });

      const answers = [
        JSON.stringify(portal),
        JSON.stringify((await admin.get(`/v1/admin/portals/${portal.id}`)).body),
        JSON.stringify((await admin.get(`/v1/admin/portals/${portal.id}/api-keys`)).body),
        JSON.stringify((await admin.post(`/v1/admin/portals/${portal.id}/api-keys`)).body),
      ];
      for (const answer of answers) {
        expect(answer).not.toContain(token);
        expect(answer).not.toContain(Buffer.from(token).toString('base64'));
      }
      const fetched = await admin.get(`/v1/admin/portals/${portal.id}`);
      expect(fetched.body).toMatchObject({ id: portal.id, hasHubspotAccessToken: true, rateLimit: { requestsPer10s: 50 } });

      const { rows } = await db.query('SELECT * FROM portals WHERE id = $1', [portal.id]);
      expect(rows).toHaveLength(1);
      const stored: string = rows[0].hubspot_access_token_enc;
      expect(typeof stored).toBe('string');
      expect(stored).not.toContain(token);
      expect(stored).not.toContain(Buffer.from(token).toString('base64'));
      expect(JSON.stringify(rows[0])).not.toContain(token);
      expect(rows[0].rate_limit_per_10s).toBe(50);
      // Really encrypted under the configured key (not merely encoded): it decrypts back with that key only.
      expect(new CredentialCipher(Buffer.from(ENCRYPTION_KEY, 'hex')).decrypt(stored)).toBe(token);
      expect(() => new CredentialCipher(Buffer.from('b'.repeat(64), 'hex')).decrypt(stored)).toThrow();
    });

    it('stores no credential for a portal registered without one', async () => {
      const portal = await createPortal();
      const { rows } = await db.query('SELECT hubspot_access_token_enc, rate_limit_per_10s FROM portals WHERE id = $1', [portal.id]);
      expect(rows).toEqual([{ hubspot_access_token_enc: null, rate_limit_per_10s: null }]);
      const fetched = await admin.get(`/v1/admin/portals/${portal.id}`);
      expect(fetched.body).toMatchObject({ hasHubspotAccessToken: false, rateLimit: null });
    });

    it('stores the API key only as its SHA-256 hash', async () => {
      const portal = await createPortal();
      const { rows } = await db.query('SELECT * FROM api_keys WHERE portal_id = $1', [portal.id]);
      expect(rows).toHaveLength(1);
      expect(rows[0].key_hash).toBe(sha256Hex(portal.apiKey));
      expect(JSON.stringify(rows[0])).not.toContain(portal.apiKey);
      expect(portal.apiKey.startsWith(rows[0].key_prefix)).toBe(true);
      expect(rows[0].key_prefix.length).toBeLessThan(portal.apiKey.length / 2);
      const everywhere = await db.query(`SELECT count(*)::int AS n FROM portals p WHERE p::text LIKE '%' || $1 || '%'`, [portal.apiKey]);
      expect(everywhere.rows[0].n).toBe(0);
    });

    it('answers 409 for a HubSpot portal id that is already registered, and stores nothing', async () => {
      const hubspotPortalId = freshPortalId();
      expect((await admin.post('/v1/admin/portals', { hubspotPortalId, name: 'First' })).status).toBe(201);
      const again = await admin.post('/v1/admin/portals', { hubspotPortalId, name: 'Second' });
      expect(again.status).toBe(409);
      expect(again.body.error).toMatchObject({ code: 'conflict', details: [{ path: 'hubspotPortalId' }] });
      const { rows } = await db.query('SELECT name FROM portals WHERE hubspot_portal_id = $1', [hubspotPortalId]);
      expect(rows).toEqual([{ name: 'First' }]);
      const keys = await db.query(
        'SELECT count(*)::int AS n FROM api_keys k JOIN portals p ON p.id = k.portal_id WHERE p.hubspot_portal_id = $1',
        [hubspotPortalId],
      );
      expect(keys.rows[0].n).toBe(1);
    });

    describe('refuses an invalid body with 400 validation_failed naming the field', () => {
      const cases: Array<[string, () => unknown, string]> = [
        ['a missing name', () => ({ hubspotPortalId: freshPortalId() }), 'name'],
        ['an empty name', () => ({ hubspotPortalId: freshPortalId(), name: '' }), 'name'],
        ['a missing hubspotPortalId', () => ({ name: 'x' }), 'hubspotPortalId'],
        ['hubspotPortalId 0', () => ({ hubspotPortalId: 0, name: 'x' }), 'hubspotPortalId'],
        ['a negative hubspotPortalId', () => ({ hubspotPortalId: -5, name: 'x' }), 'hubspotPortalId'],
        ['a fractional hubspotPortalId', () => ({ hubspotPortalId: 12.5, name: 'x' }), 'hubspotPortalId'],
        ['hubspotPortalId as a string', () => ({ hubspotPortalId: '123', name: 'x' }), 'hubspotPortalId'],
        ['a hubspotPortalId past 2^53 (beyond bigint, too)', () => ({ hubspotPortalId: 1e20, name: 'x' }), 'hubspotPortalId'],
        ['rateLimit.requestsPer10s 0', () => ({ hubspotPortalId: freshPortalId(), name: 'x', rateLimit: { requestsPer10s: 0 } }), 'rateLimit.requestsPer10s'],
        ['an unknown field in rateLimit', () => ({ hubspotPortalId: freshPortalId(), name: 'x', rateLimit: { requestsPer10s: 5, burst: 1 } }), 'rateLimit.burst'],
        ['an empty access token', () => ({ hubspotPortalId: freshPortalId(), name: 'x', hubspotAccessToken: '' }), 'hubspotAccessToken'],
        ['an unknown field', () => ({ hubspotPortalId: freshPortalId(), name: 'x', plan: 'gold' }), 'plan'],
        ['scheduling.weight 0', () => ({ hubspotPortalId: freshPortalId(), name: 'x', scheduling: { weight: 0 } }), 'scheduling.weight'],
        ['a fractional scheduling.weight', () => ({ hubspotPortalId: freshPortalId(), name: 'x', scheduling: { weight: 1.5 } }), 'scheduling.weight'],
        ['scheduling.maxConcurrency 0', () => ({ hubspotPortalId: freshPortalId(), name: 'x', scheduling: { maxConcurrency: 0 } }), 'scheduling.maxConcurrency'],
        ['an unknown field in scheduling', () => ({ hubspotPortalId: freshPortalId(), name: 'x', scheduling: { priority: 1 } }), 'scheduling.priority'],
      ];
      it.each(cases)('%s', async (_label, body, path) => {
        const before = (await db.query('SELECT count(*)::int AS n FROM portals')).rows[0].n;
        const answer = await admin.post('/v1/admin/portals', body());
        expect(answer.status).toBe(400);
        expect(answer.body.error.code).toBe('validation_failed');
        expect(answer.body.error.details).toEqual(expect.arrayContaining([expect.objectContaining({ path })]));
        for (const problem of answer.body.error.details) expect(typeof problem.message).toBe('string');
        expect((await db.query('SELECT count(*)::int AS n FROM portals')).rows[0].n).toBe(before);
      });

      it('names "is not an allowed property" for an unknown field', async () => {
        const answer = await admin.post('/v1/admin/portals', { hubspotPortalId: freshPortalId(), name: 'x', plan: 'gold' });
        expect(answer.body.error.details).toEqual([{ path: 'plan', message: 'is not an allowed property' }]);
      });

      it('and malformed JSON with 400 malformed_json', async () => {
        const answer = await admin.post('/v1/admin/portals', '{"hubspotPortalId": 1,', { 'content-type': 'application/json' });
        expect(answer.status).toBe(400);
        expect(answer.body.error.code).toBe('malformed_json');
      });
    });
  });

  describe('authentication', () => {
    let portal: { id: string; apiKey: string };
    let keyId: string;

    beforeAll(async () => {
      portal = await createPortal();
      keyId = (await admin.get(`/v1/admin/portals/${portal.id}/api-keys`)).body[0].id;
    });

    const routes = (): Array<[string, string, unknown?]> => [
      ['POST', '/v1/admin/portals', { hubspotPortalId: freshPortalId(), name: 'Intruder' }],
      ['GET', `/v1/admin/portals/${portal.id}`],
      ['PATCH', `/v1/admin/portals/${portal.id}`, { scheduling: { weight: 5 } }],
      ['GET', '/v1/admin/portals/waiting'],
      ['GET', `/v1/admin/portals/${portal.id}/api-keys`],
      ['POST', `/v1/admin/portals/${portal.id}/api-keys`],
      ['DELETE', `/v1/admin/portals/${portal.id}/api-keys/${keyId}`],
    ];

    async function expectAllUnauthorized(client: HttpClient, headers: Record<string, string> = {}) {
      const before = await db.query('SELECT (SELECT count(*) FROM portals)::int AS portals, (SELECT count(*) FROM api_keys WHERE revoked_at IS NULL)::int AS keys');
      for (const [method, path, body] of routes()) {
        const answer = await client.request(method, path, body, headers);
        expect({ method, path, status: answer.status, code: answer.body?.error?.code }).toEqual({
          method,
          path,
          status: 401,
          code: 'unauthorized',
        });
      }
      const after = await db.query('SELECT (SELECT count(*) FROM portals)::int AS portals, (SELECT count(*) FROM api_keys WHERE revoked_at IS NULL)::int AS keys');
      expect(after.rows[0]).toEqual(before.rows[0]);
    }

    it('answers 401 unauthorized without a token', async () => {
      await expectAllUnauthorized(new HttpClient(offload.url));
    });

    it('answers 401 unauthorized with a wrong token', async () => {
      await expectAllUnauthorized(new HttpClient(offload.url, `${ADMIN_TOKEN}x`));
      await expectAllUnauthorized(new HttpClient(offload.url, ADMIN_TOKEN.slice(0, -1)));
    });

    it('answers 401 unauthorized with a portal API key', async () => {
      await expectAllUnauthorized(new HttpClient(offload.url, portal.apiKey));
    });

    it('answers 401 unauthorized for the token under another scheme', async () => {
      await expectAllUnauthorized(new HttpClient(offload.url), { authorization: `Token ${ADMIN_TOKEN}` });
      await expectAllUnauthorized(new HttpClient(offload.url), { authorization: ADMIN_TOKEN });
    });

    it('checks the token before the body or the id', async () => {
      const anonymous = new HttpClient(offload.url);
      const invalid = await anonymous.post('/v1/admin/portals', { name: '' });
      expect(invalid.status).toBe(401);
      const unknown = await anonymous.get(`/v1/admin/portals/${UNKNOWN_ID}`);
      expect(unknown.status).toBe(401);
    });

    it('still works with the right token afterwards (the portal key is intact)', async () => {
      expect((await admin.get(`/v1/admin/portals/${portal.id}`)).status).toBe(200);
      expect(await keyStatus(portal.apiKey)).toBe(404);
    });
  });

  describe('API key rotation', () => {
    it('issues a second key (201 {id, apiKey}); both keys work; the list shows prefixes only', async () => {
      const portal = await createPortal();
      const issued = await admin.post(`/v1/admin/portals/${portal.id}/api-keys`);
      expect(issued.status).toBe(201);
      expect(issued.body.id).toMatch(UUID);
      expect(typeof issued.body.apiKey).toBe('string');
      expect(issued.body.apiKey).not.toBe(portal.apiKey);

      expect(await keyStatus(portal.apiKey)).toBe(404);
      expect(await keyStatus(issued.body.apiKey)).toBe(404);

      const stored = await db.query('SELECT key_hash FROM api_keys WHERE id = $1', [issued.body.id]);
      expect(stored.rows).toEqual([{ key_hash: sha256Hex(issued.body.apiKey) }]);

      const list = await admin.get(`/v1/admin/portals/${portal.id}/api-keys`);
      expect(list.status).toBe(200);
      expect(list.body).toHaveLength(2);
      expect(list.body.map((key: { id: string }) => key.id)).toContain(issued.body.id);
      const text = JSON.stringify(list.body);
      expect(text).not.toContain(portal.apiKey);
      expect(text).not.toContain(issued.body.apiKey);
      for (const key of list.body) {
        expect(key.id).toMatch(UUID);
        expect(key).not.toHaveProperty('apiKey');
        expect(key).not.toHaveProperty('keyHash');
        expect(typeof key.prefix).toBe('string');
        expect(key.prefix.length).toBeGreaterThan(0);
      }
      const byId = new Map(list.body.map((key: { id: string; prefix: string }) => [key.id, key.prefix]));
      expect(issued.body.apiKey.startsWith(byId.get(issued.body.id) as string)).toBe(true);
    });

    it('revokes a key (204): it answers 401 at once, even just after use; the other key keeps working', async () => {
      const portal = await createPortal();
      const oldKeyId = (await admin.get(`/v1/admin/portals/${portal.id}/api-keys`)).body[0].id;
      const issued = await admin.post(`/v1/admin/portals/${portal.id}/api-keys`);
      const oldClient = new HttpClient(offload.url, portal.apiKey);

      // Used just now, so whatever caches keys holds it.
      const job = await oldClient.post('/v1/jobs', { type: 'noop', input: {}, idempotencyKey: 'before-revoke' });
      expect(job.status).toBe(202);
      expect(await keyStatus(portal.apiKey)).toBe(404);

      const revoked = await admin.request('DELETE', `/v1/admin/portals/${portal.id}/api-keys/${oldKeyId}`);
      expect(revoked.status).toBe(204);
      expect(revoked.body).toBeUndefined();

      const refused = await oldClient.get(`/v1/jobs/${job.body.id}`);
      expect(refused.status).toBe(401);
      expect(refused.body.error.code).toBe('unauthorized');
      expect((await oldClient.post('/v1/jobs', { type: 'noop', input: {} })).status).toBe(401);

      const newClient = new HttpClient(offload.url, issued.body.apiKey);
      const seen = await newClient.get(`/v1/jobs/${job.body.id}`);
      expect(seen.status).toBe(200);
      expect(seen.body.id).toBe(job.body.id);

      const list = await admin.get(`/v1/admin/portals/${portal.id}/api-keys`);
      expect(list.body.map((key: { id: string }) => key.id)).toEqual([issued.body.id]);
      const row = await db.query('SELECT revoked_at FROM api_keys WHERE id = $1', [oldKeyId]);
      expect(row.rows[0].revoked_at).toBeInstanceOf(Date);

      const twice = await admin.request('DELETE', `/v1/admin/portals/${portal.id}/api-keys/${oldKeyId}`);
      expect(twice.status).toBe(404);
      expect(twice.body.error.code).toBe('not_found');
    });

    it('revokes a cached key in every process sharing the deployment', async () => {
      const other = await startOffload(configFor(isolation));
      try {
        const portal = await createPortal();
        const keyId = (await admin.get(`/v1/admin/portals/${portal.id}/api-keys`)).body[0].id;
        const viaOther = new HttpClient(other.url, portal.apiKey);
        expect((await viaOther.get(`/v1/jobs/${UNKNOWN_ID}`)).status).toBe(404);

        expect((await admin.request('DELETE', `/v1/admin/portals/${portal.id}/api-keys/${keyId}`)).status).toBe(204);
        // Well under the key cache's lifetime: the revocation has to be pushed, not waited out.
        await eventually(
          async () => (await viaOther.get(`/v1/jobs/${UNKNOWN_ID}`)).status,
          (status) => status === 401,
          2_000,
        );
      } finally {
        await other.close();
      }
    });

    it('cannot revoke a key through another portal', async () => {
      const mine = await createPortal();
      const theirs = await createPortal();
      const theirKeyId = (await admin.get(`/v1/admin/portals/${theirs.id}/api-keys`)).body[0].id;
      const answer = await admin.request('DELETE', `/v1/admin/portals/${mine.id}/api-keys/${theirKeyId}`);
      expect(answer.status).toBe(404);
      expect(answer.body.error.code).toBe('not_found');
      expect(await keyStatus(theirs.apiKey)).toBe(404);
      const row = await db.query('SELECT revoked_at FROM api_keys WHERE id = $1', [theirKeyId]);
      expect(row.rows).toEqual([{ revoked_at: null }]);
    });
  });

  describe('scheduling', () => {
    it('defaults to weight 1 and no maxConcurrency, takes both at registration, and changes each on its own', async () => {
      const plain = await createPortal();
      expect((await admin.get(`/v1/admin/portals/${plain.id}`)).body.scheduling).toEqual({ weight: 1, maxConcurrency: null });
      const portal = await createPortal({ scheduling: { weight: 3, maxConcurrency: 20 } });
      expect((portal as unknown as { scheduling: unknown }).scheduling).toEqual({ weight: 3, maxConcurrency: 20 });

      const weighted = await admin.request('PATCH', `/v1/admin/portals/${portal.id}`, { scheduling: { weight: 2 } });
      expect(weighted.body.scheduling).toEqual({ weight: 2, maxConcurrency: 20 });
      const unlimited = await admin.request('PATCH', `/v1/admin/portals/${portal.id}`, { scheduling: { maxConcurrency: null } });
      expect(unlimited.body.scheduling).toEqual({ weight: 2, maxConcurrency: null });
      expect((await admin.get(`/v1/admin/portals/${portal.id}`)).body.scheduling).toEqual({ weight: 2, maxConcurrency: null });

      const refused = await admin.request('PATCH', `/v1/admin/portals/${portal.id}`, { scheduling: { weight: 1001 } });
      expect(refused.status).toBe(400);
      expect(refused.body.error.details).toEqual(expect.arrayContaining([expect.objectContaining({ path: 'scheduling.weight' })]));
    });
  });

  describe('unknown ids answer 404 not_found', () => {
    let portal: { id: string; apiKey: string };

    beforeAll(async () => {
      portal = await createPortal();
    });

    for (const [label, id] of [
      ['an unknown portal id', UNKNOWN_ID],
      ['a portal id that is not a uuid', 'not-a-uuid'],
      ['a portal id that is a number', '12345'],
    ] as const) {
      it(label, async () => {
        const keysBefore = (await db.query('SELECT count(*)::int AS n FROM api_keys')).rows[0].n;
        for (const [method, path] of [
          ['GET', `/v1/admin/portals/${id}`],
          ['GET', `/v1/admin/portals/${id}/api-keys`],
          ['POST', `/v1/admin/portals/${id}/api-keys`],
        ]) {
          const answer = await admin.request(method, path);
          expect({ method, path, status: answer.status, code: answer.body?.error?.code }).toEqual({
            method,
            path,
            status: 404,
            code: 'not_found',
          });
        }
        expect((await db.query('SELECT count(*)::int AS n FROM api_keys')).rows[0].n).toBe(keysBefore);
      });
    }

    for (const [label, id] of [
      ['an unknown portal id', UNKNOWN_ID],
      ['a portal id that is not a uuid', 'not-a-uuid'],
      ['a portal id that is a number', '12345'],
    ] as const) {
      it(`${label}, when revoking a key`, async () => {
        const keyId = (await admin.get(`/v1/admin/portals/${portal.id}/api-keys`)).body[0].id;
        for (const target of [UNKNOWN_ID, keyId]) {
          const answer = await admin.request('DELETE', `/v1/admin/portals/${id}/api-keys/${target}`);
          expect({ target, status: answer.status, code: answer.body?.error?.code }).toEqual({ target, status: 404, code: 'not_found' });
        }
        expect(await keyStatus(portal.apiKey)).toBe(404);
      });
    }

    for (const [label, keyId] of [
      ['an unknown key id', UNKNOWN_ID],
      ['a key id that is not a uuid', 'not-a-uuid'],
    ] as const) {
      it(label, async () => {
        const answer = await admin.request('DELETE', `/v1/admin/portals/${portal.id}/api-keys/${keyId}`);
        expect(answer.status).toBe(404);
        expect(answer.body.error.code).toBe('not_found');
        expect(await keyStatus(portal.apiKey)).toBe(404);
      });
    }
  });
});
