import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'pg';
import { PortalSettingsService } from '../src/portals/portal-settings.service';
import { PortalsService } from '../src/portals/portals.service';
import { configFor, ENCRYPTION_KEY, HttpClient, isolate, Isolation, loggingErrors, newPortal, startOffload } from './support/offload-harness';

const REENCRYPT_JS = join(__dirname, '..', 'dist', 'src', 'portals', 'reencrypt-credentials.js');
const NEW_KEY = 'b'.repeat(64);

describe('encryption key rotation', () => {
  let isolation: Isolation;
  let db: Client;

  beforeAll(async () => {
    isolation = await isolate();
    db = loggingErrors(new Client({ connectionString: isolation.databaseUrl }), 'PostgreSQL');
    await db.connect();
  });

  afterAll(async () => {
    await db?.end();
    await isolation?.cleanup();
  });

  async function withOffload<T>(env: Record<string, string>, use: (offload: { url: string; app: Awaited<ReturnType<typeof startOffload>>['app'] }) => Promise<T>): Promise<T> {
    const offload = await startOffload(configFor(isolation, env));
    try {
      return await use(offload);
    } finally {
      await offload.close();
    }
  }

  const ready = (url: string) => new HttpClient(url).get('/health/ready');

  it('fails readiness naming the variable with the wrong key, and rotates with ENCRYPTION_KEYS and keys:reencrypt', async () => {
    const portalId = await withOffload({}, async ({ url }) => {
      const { portal, admin } = await newPortal(url);
      expect((await admin.request('PATCH', `/v1/admin/portals/${portal.id}`, { hubspotAccessToken: 'pat-secret-token' })).status).toBe(200);
      expect((await admin.request('PUT', `/v1/admin/portals/${portal.id}/secrets/PROVIDER_KEY`, { value: 'provider-secret' })).status).toBe(204);
      return portal.id as string;
    });

    // A deploy with only the new key: not ready, and says why.
    await withOffload({ ENCRYPTION_KEY: NEW_KEY }, async ({ url, app }) => {
      const answer = await ready(url);
      expect(answer.status).toBe(503);
      expect(answer.body.error.code).toBe('unavailable');
      expect(answer.body.error.details.error.credentials.message).toMatch(/2 of 2 stored credentials cannot be decrypted with ENCRYPTION_KEYS \(or ENCRYPTION_KEY\)/);
      const metrics = await new HttpClient(url).get('/metrics');
      expect(metrics.body).toMatch(/^offload_credentials_undecryptable 2$/m);
      expect(() => app.get(PortalsService).decryptAccessToken({ hubspotAccessTokenEnc: 'v1:x:y:z' } as never)).toThrow(/ENCRYPTION_KEYS/);
    });

    // Both keys, the new first: ready, and keys:reencrypt moves every credential to the new key.
    await withOffload({ ENCRYPTION_KEY: '', ENCRYPTION_KEYS: `${NEW_KEY},${ENCRYPTION_KEY}` }, async ({ url }) => {
      expect((await ready(url)).status).toBe(200);
      const { stdout } = await promisify(execFile)(process.execPath, [REENCRYPT_JS], {
        env: { PATH: process.env.PATH, DATABASE_URL: isolation.databaseUrl, ENCRYPTION_KEYS: `${NEW_KEY},${ENCRYPTION_KEY}` },
      });
      expect(JSON.parse(stdout)).toMatchObject({ event: 'keys.reencrypted', reencrypted: 2, current: 0 });
    });

    // The old key dropped: everything still decrypts.
    await withOffload({ ENCRYPTION_KEY: NEW_KEY }, async ({ url, app }) => {
      expect((await ready(url)).status).toBe(200);
      const portal = await app.get(PortalsService).findById(portalId);
      expect(app.get(PortalsService).decryptAccessToken(portal)).toBe('pat-secret-token');
      expect(await app.get(PortalSettingsService).secret(portalId, 'PROVIDER_KEY')).toBe('provider-secret');
    });
    const stored = await db.query(`SELECT hubspot_access_token_enc AS v FROM portals UNION ALL SELECT value_enc FROM portal_secrets`);
    for (const { v } of stored.rows) expect(v).not.toMatch(/secret/);
  });
});
