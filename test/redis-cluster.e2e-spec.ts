import { Cluster } from 'ioredis';
import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { AppConfig } from '../src/config/app-config';
import { IcpObservations } from '../src/handlers/icp-score/icp-observations';
import { RateBudget } from '../src/hubspot/client/rate-budget';
import { RedisService } from '../src/redis/redis.service';
import { RequestRateLimiter } from '../src/request-limits/request-rate-limiter';
import { createHubSpotSimulator, HubSpotSimulator } from '../tools/simulators/hubspot';
import { envFor, eventually, HttpClient, isolate, Isolation, loggingErrors, newPortal } from './support/offload-harness';
import { RedisCluster, startRedisCluster } from './support/redis-cluster';
import { call, firstAnswer, freePort, SpawnedOffload, spawnOffload, START_WITHIN_MS, stop, stopAll } from './support/spawned-offload';
import { expectContactsWrittenOnce } from './support/writeback-count';

const WRITTEN_CONTACTS = 50;
const BACKLOG = 3_000;

/** Enqueues jobs through the batch call, 100 at a time, each under a key of its own; answers their ids in order. */
async function enqueue(client: HttpClient, jobs: Array<Record<string, unknown>>): Promise<string[]> {
  const ids: string[] = [];
  const tag = randomUUID();
  for (let i = 0; i < jobs.length; i += 100) {
    const batch = jobs.slice(i, i + 100).map((job, j) => ({ ...job, idempotencyKey: `${tag}-${i + j}` }));
    const answer = await client.post('/v1/jobs/batch', { jobs: batch });
    if (answer.status !== 200 || answer.body.results.some((result: { status: number }) => result.status !== 202)) {
      throw new Error(`enqueue answered ${answer.status}: ${JSON.stringify(answer.body).slice(0, 500)}`);
    }
    ids.push(...answer.body.results.map((result: { job: { id: string } }) => result.job.id));
  }
  return ids;
}

describe('Offload on a Redis Cluster of three masters', () => {
  let cluster: RedisCluster;
  let isolation: Isolation;
  let sim: HubSpotSimulator;
  let pg: Client;
  let api: SpawnedOffload;
  let worker: SpawnedOffload;
  /** Where REDIS_URL points: nothing listens there, so a connection that is not a cluster client fails. */
  let nowhere: number;
  let hubspotPortal: Awaited<ReturnType<typeof newPortal>>;
  let otherPortal: Awaited<ReturnType<typeof newPortal>>;
  /** A backlog of one portal and a few jobs of the other, both waiting before any worker starts. */
  let backlog: string[] = [];
  let trickle: string[] = [];

  async function spawn(role: 'api' | 'worker'): Promise<SpawnedOffload> {
    const port = await freePort();
    const spawned = spawnOffload(
      envFor(isolation, {
        ROLE: role,
        PORT: String(port),
        REDIS_CLUSTER_NODES: cluster.nodes,
        REDIS_URL: `redis://127.0.0.1:${nowhere}/0`,
        HUBSPOT_BASE_URL: sim.url,
        LOG_LEVEL: 'error',
      }),
    );
    const ready = await firstAnswer(spawned, '/health/ready', START_WITHIN_MS);
    if (ready?.status !== 200) throw new Error(`Offload (${role}) is not ready: ${JSON.stringify(ready?.body)}\n${spawned.stderr()}`);
    return spawned;
  }

  const job = (client: HttpClient, id: string) => client.get(`/v1/jobs/${id}`);
  const ended = (client: HttpClient, id: string) =>
    eventually(() => client.get(`/v1/jobs/${id}?wait=5`), (answer) => ['succeeded', 'failed', 'cancelled'].includes(answer.body.status), 120_000);

  /** A RedisService of the test's own on the cluster, under the isolation's prefix. */
  const clusterRedis = () =>
    new RedisService({
      redis: { host: '127.0.0.1', port: nowhere, db: 0 },
      redisClusterNodes: cluster.ports.map((port) => ({ host: '127.0.0.1', port })),
      redisPrefix: isolation.redisPrefix,
    } as AppConfig);

  beforeAll(async () => {
    cluster = await startRedisCluster();
    nowhere = await freePort();
    isolation = await isolate();
    sim = await createHubSpotSimulator({ seedContacts: WRITTEN_CONTACTS });
    sim.defineProperties('contacts', ['ok', 'attempts']);
    pg = loggingErrors(new Client({ connectionString: isolation.databaseUrl }), 'PostgreSQL');
    await pg.connect();
    api = await spawn('api');
    const url = `http://127.0.0.1:${api.port}`;
    hubspotPortal = await newPortal(url, sim.portalId);
    const connected = await hubspotPortal.admin.request('PATCH', `/v1/admin/portals/${hubspotPortal.portal.id}`, { hubspotAccessToken: sim.token });
    expect(connected.status).toBe(200);
    otherPortal = await newPortal(url);
  }, 180_000);

  afterAll(async () => {
    await stopAll();
    await pg?.end();
    await sim?.close();
    await cluster?.stop();
    await isolation?.cleanup();
  });

  it('is ready only while every master keeps its keys (maxmemory-policy noeviction on each)', async () => {
    const ready = () => call(`http://127.0.0.1:${api.port}/health/ready`);
    expect((await ready()).status).toBe(200);
    const last = cluster.ports[cluster.ports.length - 1];
    const master = (await cluster.client()).nodes('master').find((node) => node.options.port === last);
    await master!.config('SET', 'maxmemory-policy', 'allkeys-lru');
    try {
      const evicting = await ready();
      expect(evicting.status).toBe(503);
      expect(JSON.stringify(evicting.body)).toContain('allkeys-lru');
    } finally {
      await master!.config('SET', 'maxmemory-policy', 'noeviction');
    }
    expect((await ready()).status).toBe(200);
  });

  it('runs jobs whose queue entries Redis lost: the reconciler queues them again', async () => {
    const lost = await enqueue(otherPortal.client, Array.from({ length: 20 }, () => ({ type: 'noop' })));
    // No worker yet: the jobs wait in Redis. Every key of the prefix goes, on every master, as a flush would take them.
    const client = await cluster.client();
    await eventually(async () => (await keysOf(client, isolation.redisPrefix)).some((key) => key.includes(':bull:')), Boolean);
    for (const master of client.nodes('master')) {
      const keys = await master.keys(`${isolation.redisPrefix}:*`);
      if (keys.length > 0) await Promise.all(keys.map((key) => master.del(key)));
    }
    expect(await keysOf(client, isolation.redisPrefix)).toEqual([]);

    // The next test's backlog waits too, so that both portals have jobs waiting when the worker starts.
    backlog = await enqueue(hubspotPortal.client, Array.from({ length: BACKLOG }, () => ({ type: 'noop' })));
    trickle = await enqueue(otherPortal.client, Array.from({ length: 10 }, () => ({ type: 'noop' })));

    worker = await spawn('worker');
    for (const id of lost) expect((await ended(otherPortal.client, id)).body).toMatchObject({ status: 'succeeded', attempts: 1 });
  }, 240_000);

  it("shares the workers fairly: a portal's few jobs start ahead of another portal's backlog", async () => {
    for (const id of trickle) expect((await ended(otherPortal.client, id)).body.status).toBe('succeeded');
    const { rows } = await pg.query(
      `SELECT count(*)::int AS n FROM jobs WHERE portal_id = $1 AND started_at < (SELECT max(started_at) FROM jobs WHERE id = ANY($2::uuid[]))`,
      [hubspotPortal.portal.id, trickle],
    );
    // In arrival order, the whole backlog would have started first.
    expect(rows[0].n).toBeLessThan(BACKLOG / 3);
    const succeeded = async () => (await pg.query(`SELECT count(*)::int AS n FROM jobs WHERE id = ANY($1::uuid[]) AND status = 'succeeded'`, [backlog])).rows[0].n;
    await eventually(succeeded, (n) => n === BACKLOG, 180_000);
  }, 240_000);

  it("runs jobs that write back, each record written once, within the portal's budget", async () => {
    const ids = await enqueue(
      hubspotPortal.client,
      Array.from({ length: WRITTEN_CONTACTS }, (_, i) => ({ type: 'noop', object: { type: 'contacts', id: String(i + 1) }, writeback: true })),
    );
    for (const id of ids) expect((await ended(hubspotPortal.client, id)).body).toMatchObject({ status: 'succeeded', attempts: 1, output: { ok: true } });
    expectContactsWrittenOnce(sim, WRITTEN_CONTACTS);
    const budget = await hubspotPortal.admin.get(`/v1/admin/portals/${hubspotPortal.portal.id}/budget`);
    expect(budget.status).toBe(200);
    expect(budget.body.day.used).toBeGreaterThan(0);
  }, 180_000);

  it('retries a job that fails, then it succeeds', async () => {
    const [id] = await enqueue(otherPortal.client, [{ type: 'noop', input: { failTimes: 2 } }]);
    expect((await ended(otherPortal.client, id)).body).toMatchObject({ status: 'succeeded', attempts: 3, output: { attempts: 3 } });
  }, 120_000);

  it('stops a running job when it is cancelled: the signal reaches its worker through the cluster', async () => {
    const [id] = await enqueue(otherPortal.client, [{ type: 'noop', input: { sleepMs: 10_000 } }]);
    await eventually(() => job(otherPortal.client, id), (answer) => answer.body.status === 'running', 60_000);
    expect((await otherPortal.client.post(`/v1/jobs/${id}/cancel`)).status).toBe(200);
    // The worker's run ended as cancelled: the handler was stopped, not left to sleep it out.
    await eventually(
      async () => (await call(`http://127.0.0.1:${worker.port}/metrics`)).body as string,
      (metrics) => /offload_job_run_seconds_count\{[^}]*outcome="cancelled"[^}]*\} 1/.test(metrics),
      9_000,
    );
    expect((await job(otherPortal.client, id)).body.status).toBe('cancelled');
  }, 120_000);

  it("shows every job type's queue, with its jobs, in the dashboard (/ops/queues)", async () => {
    const [id] = await enqueue(otherPortal.client, [{ type: 'noop', input: { sleepMs: 3_000 } }]);
    await eventually(() => job(otherPortal.client, id), (answer) => answer.body.status === 'running', 60_000);
    const queues = await otherPortal.admin.get('/ops/queues/api/queues?activeQueue=jobs.noop&status=active');
    expect(queues.status).toBe(200);
    const noop = queues.body.queues.find((queue: { name: string }) => queue.name === 'jobs.noop');
    expect(noop.counts.active).toBeGreaterThanOrEqual(1);
  }, 120_000);

  it('shuts down on SIGTERM, closing its cluster connections, and exits 0', async () => {
    const [workerExit, apiExit] = await Promise.all([stop(worker, 30_000), stop(api, 30_000)]);
    expect(workerExit.code).toBe(0);
    expect(apiExit.code).toBe(0);
  }, 60_000);

  describe("Offload's own multi-key commands, each kept to one node", () => {
    let redis: RedisService;

    beforeAll(() => {
      redis = clusterRedis();
    });

    afterAll(async () => {
      await redis?.onApplicationShutdown();
    });

    it('counts request limits for many keys at once (a pipeline per node)', async () => {
      const limiter = new RequestRateLimiter({ rateLimits: { perKey: 2, perIp: 0 } } as AppConfig, redis);
      const tokens = Array.from({ length: 30 }, (_, i) => `token-${i}`);
      const now = Date.now();
      for (let round = 0; round < 2; round++) {
        const verdicts = await Promise.all(tokens.map((token) => limiter.check({ ip: '10.0.0.1', token }, now)));
        expect(verdicts.every((verdict) => verdict.allowed)).toBe(true);
      }
      const third = await Promise.all(tokens.map((token) => limiter.check({ ip: '10.0.0.1', token }, now)));
      expect(third.every((verdict) => !verdict.allowed)).toBe(true);
    });

    it("records observations of many portals' properties in one batch", async () => {
      const observations = new IcpObservations(redis, 0);
      const portals = Array.from({ length: 12 }, (_, i) => `portal-${i}`);
      await Promise.all(portals.map((portalId) => observations.record(portalId, { industry: 'SOFTWARE', country: 'FR' })));
      for (const portalId of portals) {
        expect(await observations.histograms(portalId, ['industry', 'country'])).toEqual({ industry: { SOFTWARE: 1 }, country: { FR: 1 } });
      }
    });

    it("grants, reads and gives back a portal's HubSpot budget", async () => {
      const budget = new RateBudget(redis.client, { keyPrefix: redis.key('hubspot', 'budget'), limits: () => ({ requestsPer10s: 10, daily: 1_000 }) });
      const grants = await Promise.all(Array.from({ length: 3 }, () => budget.acquire('4242', { priority: 'live' })));
      expect(await budget.usage('4242')).toMatchObject({ window: { used: 3 }, day: { used: 3, exhausted: false } });
      await budget.release(grants[0]);
      await budget.settle(grants[1]);
      expect(await budget.usage('4242')).toMatchObject({ window: { used: 2 }, day: { used: 2 } });
    });
  });
});

/** Every key of the prefix, from every master. */
async function keysOf(client: Cluster, prefix: string): Promise<string[]> {
  return (await Promise.all(client.nodes('master').map((master) => master.keys(`${prefix}:*`)))).flat();
}
