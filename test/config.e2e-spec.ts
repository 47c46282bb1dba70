import Redis from 'ioredis';
import { isolate, Isolation, loggingErrors, newPortal } from './support/offload-harness';
import { call, exitWithin, firstAnswer, freePort, spawnOffload, START_WITHIN_MS, stop, stopAll, validEnv } from './support/spawned-offload';

/** How long a process may take to refuse a bad configuration: no connection is attempted first. */
const REFUSE_WITHIN_MS = 30_000;

describe('configuration of the compiled app (contract v1)', () => {
  let isolation: Isolation;

  beforeAll(async () => {
    isolation = await isolate();
  });

  afterAll(async () => {
    await stopAll();
    await isolation?.cleanup();
  });

  async function env(changes: Record<string, string | undefined>) {
    return { ...validEnv(isolation, await freePort()), ...changes };
  }

  it('starts with the valid environment the other cases break (ROLE=api)', async () => {
    const app = spawnOffload(await env({}));
    try {
      const live = await firstAnswer(app, '/health/live', START_WITHIN_MS);
      expect({ status: live?.status, stderr: app.stderr() }).toMatchObject({ status: 200 });
      const ready = await firstAnswer(app, '/health/ready', START_WITHIN_MS);
      expect(ready?.status).toBe(200);
    } finally {
      await stop(app);
    }
  });

  const refused: Array<[string, Record<string, string | undefined>, string]> = [
    ['ENCRYPTION_KEY is missing', { ENCRYPTION_KEY: undefined }, 'ENCRYPTION_KEY'],
    ['ENCRYPTION_KEY is empty', { ENCRYPTION_KEY: '' }, 'ENCRYPTION_KEY'],
    ['ENCRYPTION_KEY is 63 hex characters', { ENCRYPTION_KEY: 'a'.repeat(63) }, 'ENCRYPTION_KEY'],
    ['ENCRYPTION_KEY is 64 characters but not hex', { ENCRYPTION_KEY: 'g'.repeat(64) }, 'ENCRYPTION_KEY'],
    ['ENCRYPTION_KEY is base64 of 32 bytes', { ENCRYPTION_KEY: Buffer.alloc(32, 7).toString('base64') }, 'ENCRYPTION_KEY'],
    ['ADMIN_TOKEN is missing with ROLE=api', { ADMIN_TOKEN: undefined, ROLE: 'api' }, 'ADMIN_TOKEN'],
    ['ADMIN_TOKEN is missing with ROLE=all', { ADMIN_TOKEN: undefined, ROLE: 'all' }, 'ADMIN_TOKEN'],
    ['ADMIN_TOKEN is missing and ROLE unset (all)', { ADMIN_TOKEN: undefined, ROLE: undefined }, 'ADMIN_TOKEN'],
    ['ROLE is bogus', { ROLE: 'bogus' }, 'ROLE'],
    ['PORT is abc', { PORT: 'abc' }, 'PORT'],
    ['PORT is out of range', { PORT: '70000' }, 'PORT'],
    ['REDIS_URL is ftp://x', { REDIS_URL: 'ftp://x' }, 'REDIS_URL'],
    ['REDIS_URL is not a URL', { REDIS_URL: 'localhost:6379' }, 'REDIS_URL'],
    ['REDIS_URL has a db index that is not a number', { REDIS_URL: 'redis://127.0.0.1:6379/abc' }, 'REDIS_URL'],
    ['DATABASE_URL is not PostgreSQL', { DATABASE_URL: 'mysql://root@127.0.0.1/offload' }, 'DATABASE_URL'],
    ['HUBSPOT_BASE_URL is not http(s)', { HUBSPOT_BASE_URL: 'ftp://api.hubapi.com' }, 'HUBSPOT_BASE_URL'],
    ['a handler setting, ENRICHMENT_BASE_URL, is not http(s)', { ENRICHMENT_BASE_URL: 'ftp://api.peopledatalabs.com' }, 'ENRICHMENT_BASE_URL'],
    ['a handler setting, ENRICHMENT_CACHE_TTL_S, is 0', { ENRICHMENT_CACHE_TTL_S: '0' }, 'ENRICHMENT_CACHE_TTL_S'],
  ];

  it.each(refused)('exits non-zero at once, naming the variable, when %s', async (_label, changes, variable) => {
    const app = spawnOffload(await env(changes));
    const exit = await exitWithin(app, REFUSE_WITHIN_MS);
    const stderr = app.stderr();
    if (exit === undefined) await stop(app);
    expect({ exit, stderr }).toMatchObject({ exit: { code: expect.any(Number), signal: null } });
    expect(exit!.code).not.toBe(0);
    expect(stderr).toContain(variable);
    // A message for a person, not a crash: no stack trace.
    expect(stderr).not.toMatch(/^\s+at /m);
    // It never got as far as serving.
    expect(app.stdout()).not.toMatch(/listening/i);
  });

  it('starts ROLE=worker without ADMIN_TOKEN: it serves /health and /metrics but not the API', async () => {
    const app = spawnOffload(await env({ ROLE: 'worker', ADMIN_TOKEN: undefined }));
    try {
      const live = await firstAnswer(app, '/health/live', START_WITHIN_MS);
      expect({ status: live?.status, stderr: app.stderr() }).toMatchObject({ status: 200 });
      expect(live!.body).toEqual({ status: 'ok' });
      const base = `http://127.0.0.1:${app.port}`;
      expect((await call(`${base}/health/ready`)).status).toBe(200);
      expect((await call(`${base}/metrics`)).status).toBe(200);
      expect((await call(`${base}/v1/admin/portals`, { method: 'POST' })).status).toBe(404);
      expect((await call(`${base}/v1/jobs/6f1c3c3e-1d7b-4a4e-9a43-0a1e2b3c4d5e`)).status).toBe(404);
      expect((await call(`${base}/v1/handlers`)).status).toBe(404);
    } finally {
      const exit = await stop(app, 15_000);
      // SIGTERM is a graceful stop, not a crash.
      expect(exit.code === 0 || exit.signal === 'SIGTERM').toBe(true);
    }
  });

  it('honours the db index in REDIS_URL: every key it writes lands in that Redis database', async () => {
    const inDb5 = await isolate({ redisDb: 5 });
    const app = spawnOffload({ ...validEnv(inDb5, await freePort()), ROLE: 'all', REDIS_URL: 'redis://127.0.0.1:6379/5' });
    try {
      const live = await firstAnswer(app, '/health/live', START_WITHIN_MS);
      expect({ status: live?.status, stderr: app.stderr() }).toMatchObject({ status: 200 });
      const { client } = await newPortal(`http://127.0.0.1:${app.port}`);
      const job = await client.post('/v1/jobs', { type: 'noop', input: {} });
      expect(job.status).toBe(202);
      expect((await client.get(`/v1/jobs/${job.body.id}?wait=10`)).body.status).toBe('succeeded');

      const keysIn = async (db: number) => {
        const redis = loggingErrors(new Redis({ host: '127.0.0.1', port: 6379, db }), 'Redis');
        try {
          return await redis.keys(`${inDb5.redisPrefix}:*`);
        } finally {
          redis.disconnect();
        }
      };
      const db5 = await keysIn(5);
      expect(db5.some((key) => key.startsWith(`${inDb5.redisPrefix}:bull:jobs.noop:`))).toBe(true);
      expect(await keysIn(0)).toEqual([]);
    } finally {
      await stop(app);
      await inDb5.cleanup();
    }
  });
});
