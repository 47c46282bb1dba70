import { Client } from 'pg';
import { dataSourceOptions } from '../src/database/data-source';
import { ensureDatabase, migrate } from '../src/database/migrate';
import { envFor, eventually, isolate, Isolation, loggingErrors } from './support/offload-harness';
import { RedisServer, startRedisServer } from './support/redis-server';
import { call, firstAnswer, freePort, spawnOffload, SpawnedOffload, START_WITHIN_MS, stop, stopAll } from './support/spawned-offload';

const SHIPPED = dataSourceOptions('postgres://unused/x').migrations as Array<new () => { name?: string }>;
const MIGRATIONS = SHIPPED.map((migration) => new migration().name ?? migration.name);

/** An Offload process of the role on the isolation's Redis prefix (on the shared Redis unless REDIS_URL says), answering /health/live. */
async function offload(role: 'api' | 'worker', isolation: Isolation, env: Record<string, string> = {}): Promise<SpawnedOffload> {
  const port = await freePort();
  const spawned = spawnOffload(envFor(isolation, { ROLE: role, PORT: String(port), ...env }));
  if ((await firstAnswer(spawned, '/health/live', START_WITHIN_MS))?.status !== 200) throw new Error(`Offload did not start:\n${spawned.stderr()}`);
  return spawned;
}

const ready = (spawned: SpawnedOffload) => call(`http://127.0.0.1:${spawned.port}/health/ready`);

describe('readiness requires the schema the code ships', () => {
  let isolation: Isolation;
  let emptyUrl: string;

  beforeAll(async () => {
    isolation = await isolate();
    emptyUrl = `${isolation.databaseUrl}_empty`;
    await ensureDatabase(emptyUrl);
  });

  afterAll(async () => {
    await stopAll();
    const pg = loggingErrors(new Client({ connectionString: 'postgres://postgres@127.0.0.1:5432/postgres' }), 'PostgreSQL');
    await pg.connect();
    await pg.query(`DROP DATABASE IF EXISTS "${new URL(emptyUrl).pathname.slice(1)}" WITH (FORCE)`);
    await pg.end();
    await isolation?.cleanup();
  });

  it.each(['worker', 'api'] as const)('a process of ROLE=%s on an empty database is not ready, naming every migration; ready once migrated', async (role) => {
    const spawned = await offload(role, isolation, { DATABASE_URL: emptyUrl });
    const answer = await ready(spawned);
    expect(answer.status).toBe(503);
    expect(answer.body.error).toMatchObject({
      code: 'unavailable',
      details: {
        error: { schema: { status: 'down', expected: MIGRATIONS[MIGRATIONS.length - 1], pending: MIGRATIONS } },
        info: { postgres: { status: 'up' }, redis: { status: 'up' } },
      },
    });
    if (role === 'api') {
      await migrate(emptyUrl);
      const after = await eventually(() => ready(spawned), (reply) => reply.status === 200, 10_000);
      expect(after.body.info.schema).toEqual({ status: 'up', version: MIGRATIONS[MIGRATIONS.length - 1] });
    }
    await stop(spawned);
  });

  it('a database without the newest migration is not ready, and names that one', async () => {
    const pg = loggingErrors(new Client({ connectionString: isolation.databaseUrl }), 'PostgreSQL');
    await pg.connect();
    const newest = MIGRATIONS[MIGRATIONS.length - 1];
    await pg.query('DELETE FROM schema_migrations WHERE name = $1', [newest]);
    await pg.end();
    const spawned = await offload('worker', isolation);
    const answer = await ready(spawned);
    expect(answer.status).toBe(503);
    expect(answer.body.error.details.error.schema).toMatchObject({ status: 'down', pending: [newest] });
    await stop(spawned);
  });
});

describe('readiness requires a Redis that does not evict keys', () => {
  let isolation: Isolation;
  let evicting: RedisServer;
  let managed: RedisServer;

  beforeAll(async () => {
    isolation = await isolate();
    evicting = await startRedisServer(['--maxmemory-policy', 'allkeys-lru']);
    // As managed Redis services have it: CONFIG disabled, the policy readable only through INFO.
    managed = await startRedisServer(['--maxmemory-policy', 'volatile-lfu', '--rename-command', 'CONFIG', '']);
  });

  afterAll(async () => {
    await stopAll();
    await Promise.all([evicting?.stop(), managed?.stop()]);
    await isolation?.cleanup();
  });

  /** The structured log lines (JSON) a process wrote that report the eviction policy. */
  const policyLines = (spawned: SpawnedOffload) =>
    spawned
      .stdout()
      .split('\n')
      .filter((line) => line.includes('"redis_eviction_policy"'))
      .map((line) => JSON.parse(line));

  const gauge = async (spawned: SpawnedOffload) =>
    /^offload_redis_eviction_policy_ok (\d+)$/m.exec((await call(`http://127.0.0.1:${spawned.port}/metrics`)).body)?.[1];

  it.each([
    ['allkeys-lru', 'CONFIG GET', () => evicting],
    ['volatile-lfu', 'INFO (CONFIG disabled)', () => managed],
  ])('is not ready on a Redis with maxmemory-policy %s (read by %s): a structured error names the fix, the gauge says 0', async (policy, _how, server) => {
    const worker = await offload('worker', isolation, { REDIS_URL: server().url });
    const answer = await ready(worker);
    expect(answer.status).toBe(503);
    expect(answer.body.error).toMatchObject({
      code: 'unavailable',
      details: { error: { redisEvictionPolicy: { status: 'down', policy, required: 'noeviction' } }, info: { redis: { status: 'up' } } },
    });
    expect(await gauge(worker)).toBe('0');
    const lines = await eventually(async () => policyLines(worker), (found) => found.length > 0, 10_000);
    expect(lines[0]).toMatchObject({ level: 50, event: 'redis_eviction_policy', policy, fix: 'maxmemory-policy noeviction' });
    // Reported once, not at every probe; BullMQ's own plain-text line is not printed.
    await ready(worker);
    expect(policyLines(worker)).toHaveLength(1);
    expect(worker.stdout() + worker.stderr()).not.toContain('IMPORTANT! Eviction policy');
    await stop(worker);
  });

  it('is ready with REDIS_EVICTION_ALLOWED=true, still logging the error and the gauge at 0', async () => {
    const api = await offload('api', isolation, { REDIS_URL: evicting.url, REDIS_EVICTION_ALLOWED: 'true' });
    const answer = await ready(api);
    expect(answer.status).toBe(200);
    expect(answer.body.info.redisEvictionPolicy).toEqual({ status: 'up', policy: 'allkeys-lru', allowedBy: 'REDIS_EVICTION_ALLOWED' });
    expect(await gauge(api)).toBe('0');
    await eventually(async () => policyLines(api), (found) => found.length === 1, 10_000);
    await stop(api);
  });

  it('is ready on noeviction, the gauge at 1', async () => {
    const api = await offload('api', isolation);
    const answer = await ready(api);
    expect(answer.status).toBe(200);
    expect(answer.body.info.redisEvictionPolicy).toEqual({ status: 'up', policy: 'noeviction' });
    expect(await gauge(api)).toBe('1');
    await stop(api);
  });
});
