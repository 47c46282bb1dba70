import { HandlerRegistry } from '../src/registry/handler-registry';
import {
  configFor,
  eventually,
  HttpClient,
  isolate,
  Isolation,
  newPortal,
  RunningOffload,
  startOffload,
} from './support/offload-harness';
import { call, exitWithin, firstAnswer, freePort, spawnOffload, SpawnedOffload, START_WITHIN_MS, stop, stopAll, validEnv } from './support/spawned-offload';
import { TcpProxy } from './support/tcp-proxy';

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Prometheus text exposition format, samples only. */
function parseMetrics(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$/.exec(line);
    if (!match) throw new Error(`not a Prometheus sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, name, value] of (match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[name] = value;
    samples.push({ name: match[1], labels, value: Number(match[3]) });
  }
  return samples;
}

/** The sum over the samples of that name whose labels include these (other labels summed over); 0 when none. */
function valueOf(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  return samples
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((sum, s) => sum + s.value, 0);
}

describe('operations (contract v1)', () => {
  let isolation: Isolation;
  let offload: RunningOffload;
  let client: HttpClient;
  let anonymous: HttpClient;

  beforeAll(async () => {
    isolation = await isolate();
    offload = await startOffload(configFor(isolation));
    ({ client } = await newPortal(offload.url));
    anonymous = new HttpClient(offload.url);
  });

  afterAll(async () => {
    await stopAll();
    await offload?.close();
    await isolation?.cleanup();
  });

  describe('health', () => {
    it('GET /health/live answers 200', async () => {
      const live = await anonymous.get('/health/live');
      expect(live.status).toBe(200);
      expect(live.body).toEqual({ status: 'ok' });
    });

    it('GET /health/ready answers 200 with PostgreSQL and Redis up', async () => {
      const ready = await anonymous.get('/health/ready');
      expect(ready.status).toBe(200);
      expect(ready.body).toMatchObject({ status: 'ok', info: { postgres: { status: 'up' }, redis: { status: 'up' } } });
    });
  });

  describe('readiness while a backing service becomes unreachable', () => {
    // A process of its own (the compiled app, as deployed) reaching PostgreSQL and Redis through
    // proxies the test can cut, so nothing else loses them.
    const GRACE_MS = 2_000;
    let postgres: TcpProxy;
    let redis: TcpProxy;
    let behind: SpawnedOffload;

    beforeAll(async () => {
      postgres = await new TcpProxy(5432).start();
      redis = await new TcpProxy(6379).start();
      const databaseUrl = new URL(isolation.databaseUrl);
      databaseUrl.port = String(postgres.port);
      behind = spawnOffload({
        ...validEnv(isolation, await freePort()),
        ROLE: 'all',
        DATABASE_URL: databaseUrl.toString(),
        REDIS_URL: `redis://127.0.0.1:${redis.port}/${isolation.redisDb}`,
        SHUTDOWN_GRACE_MS: String(GRACE_MS),
      });
      const live = await firstAnswer(behind, '/health/live', START_WITHIN_MS);
      expect({ status: live?.status, stderr: behind.stderr() }).toMatchObject({ status: 200 });
    });

    afterAll(async () => {
      if (behind) await stop(behind, 1_000);
      await postgres?.close();
      await redis?.close();
    });

    const get = (path: string) => call(`http://127.0.0.1:${behind.port}${path}`);

    const becomesReady = () => eventually(async () => (await get('/health/ready')).status, (status) => status === 200, 15_000);

    it('is ready while both answer', async () => {
      const ready = await get('/health/ready');
      expect(ready.status).toBe(200);
      expect(ready.body).toMatchObject({ status: 'ok', info: { postgres: { status: 'up' }, redis: { status: 'up' } } });
    });

    it('answers 503 unavailable while Redis is unreachable, and 200 again once it is back', async () => {
      await redis.sever();
      try {
        const ready = await get('/health/ready');
        expect(ready.status).toBe(503);
        expect(ready.body.error.code).toBe('unavailable');
        expect(typeof ready.body.error.message).toBe('string');
        expect(ready.body.error.details).toMatchObject({ error: { redis: { status: 'down' } }, info: { postgres: { status: 'up' } } });
        // Liveness does not depend on the backing services: a restart would not bring Redis back.
        expect((await get('/health/live')).status).toBe(200);
      } finally {
        await redis.restore();
      }
      await becomesReady();
    });

    it('answers 503 unavailable while PostgreSQL is unreachable, and 200 again once it is back', async () => {
      await postgres.sever();
      try {
        const ready = await get('/health/ready');
        expect(ready.status).toBe(503);
        expect(ready.body.error.code).toBe('unavailable');
        expect(ready.body.error.details).toMatchObject({ error: { postgres: { status: 'down' } }, info: { redis: { status: 'up' } } });
        expect((await get('/health/live')).status).toBe(200);
      } finally {
        await postgres.restore();
      }
      await becomesReady();
    });

    it('answers 503 unavailable while both are unreachable', async () => {
      await Promise.all([postgres.sever(), redis.sever()]);
      try {
        const ready = await get('/health/ready');
        expect(ready.status).toBe(503);
        expect(ready.body.error).toMatchObject({
          code: 'unavailable',
          details: { error: { postgres: { status: 'down' }, redis: { status: 'down' } } },
        });
      } finally {
        await Promise.all([postgres.restore(), redis.restore()]);
      }
      await becomesReady();
    });

    it('takes and completes jobs again once both are back', async () => {
      const { client: viaBehind } = await newPortal(`http://127.0.0.1:${behind.port}`);
      const created = await viaBehind.post('/v1/jobs', { type: 'noop', input: { sleepMs: 1 }, idempotencyKey: 'after-outage' });
      expect(created.status).toBe(202);
      expect((await viaBehind.get(`/v1/jobs/${created.body.id}?wait=10`)).body.status).toBe('succeeded');
    });

    it('stops on SIGTERM once a Redis outage has ended', async () => {
      await redis.sever();
      expect((await get('/health/ready')).status).toBe(503);
      await redis.restore();
      await becomesReady();
      behind.child.kill('SIGTERM');
      const exit = await exitWithin(behind, GRACE_MS + 30_000);
      if (exit === undefined) {
        const live = await call(`http://127.0.0.1:${behind.port}/health/live`).catch(() => undefined);
        expect(`still running ${GRACE_MS + 30_000} ms after SIGTERM (GET /health/live: ${live?.status ?? 'no answer'})`).toBe('exited');
      }
    });
  });

  describe('start-up while a backing service is unreachable', () => {
    // A process that cannot reach a backing service at start-up must not hang silently: it either
    // comes up and reports itself not ready (503), or it gives up with a message naming the service.
    let redisDown: SpawnedOffload;
    let postgresDown: SpawnedOffload;

    beforeAll(async () => {
      // Port 1: nothing listens there, now or later (a port picked as free could be taken meanwhile).
      redisDown = spawnOffload({ ...validEnv(isolation, await freePort()), ROLE: 'all', REDIS_URL: 'redis://127.0.0.1:1/0' });
      const databaseUrl = new URL(isolation.databaseUrl);
      databaseUrl.port = '1';
      postgresDown = spawnOffload({ ...validEnv(isolation, await freePort()), ROLE: 'all', DATABASE_URL: databaseUrl.toString() });
    });

    afterAll(async () => {
      await Promise.all([redisDown && stop(redisDown, 1_000), postgresDown && stop(postgresDown, 1_000)]);
    });

    type Outcome =
      | { kind: 'served'; status: number; body: any }
      | { kind: 'exited'; code: number | null; signal: string | null; output: string }
      | { kind: 'hung'; after: string };

    async function outcome(app: SpawnedOffload, withinMs: number): Promise<Outcome> {
      const ready = await firstAnswer(app, '/health/ready', withinMs);
      if (ready) return { kind: 'served', ...ready };
      if (app.hasExited()) return { kind: 'exited', ...(await app.exited), output: app.stdout() + app.stderr() };
      return { kind: 'hung', after: `neither served /health/ready nor exited within ${withinMs} ms` };
    }

    function expectReportedOrRefused(result: Outcome, service: RegExp) {
      if (result.kind === 'exited') {
        expect(result.code).not.toBe(0);
        expect(result.output).toMatch(service);
      } else {
        expect(result).toMatchObject({ kind: 'served', status: 503, body: { error: { code: 'unavailable' } } });
      }
    }

    it('with Redis unreachable', async () => {
      expectReportedOrRefused(await outcome(redisDown, START_WITHIN_MS), /redis/i);
    });

    it('with PostgreSQL unreachable', async () => {
      expectReportedOrRefused(await outcome(postgresDown, START_WITHIN_MS), /postgres|database/i);
    });
  });

  describe('metrics', () => {
    async function scrape() {
      const answer = await anonymous.get<string>('/metrics');
      expect(answer.status).toBe(200);
      return { text: answer.body, samples: parseMetrics(answer.body), contentType: answer.headers.get('content-type') };
    }

    it('serves Prometheus text with the job, run, HTTP and queue metrics', async () => {
      const { text, contentType } = await scrape();
      expect(contentType).toMatch(/^text\/plain; version=0\.0\.4/);
      expect(text).toMatch(/^# TYPE offload_jobs_enqueued_total counter$/m);
      expect(text).toMatch(/^# TYPE offload_jobs_finished_total counter$/m);
      expect(text).toMatch(/^# TYPE offload_job_run_seconds histogram$/m);
      expect(text).toMatch(/^# TYPE offload_http_request_seconds histogram$/m);
      expect(text).toMatch(/^# TYPE offload_queue_jobs gauge$/m);
    });

    it('counts a noop job enqueued once (not its idempotent repeat), its run and its success', async () => {
      const before = (await scrape()).samples;
      const body = { type: 'noop', input: { sleepMs: 20 }, idempotencyKey: `metrics-${Date.now()}` };
      const created = await client.post('/v1/jobs', body);
      expect(created.status).toBe(202);
      expect((await client.post('/v1/jobs', body)).status).toBe(200);
      expect((await client.get(`/v1/jobs/${created.body.id}?wait=5`)).body.status).toBe('succeeded');

      const after = (await eventually(scrape, (s) => valueOf(s.samples, 'offload_jobs_finished_total', { type: 'noop', status: 'succeeded' }) > valueOf(before, 'offload_jobs_finished_total', { type: 'noop', status: 'succeeded' }), 5_000)).samples;
      const delta = (name: string, labels: Record<string, string>) => valueOf(after, name, labels) - valueOf(before, name, labels);

      expect(delta('offload_jobs_enqueued_total', { type: 'noop' })).toBe(1);
      expect(delta('offload_jobs_finished_total', { type: 'noop', status: 'succeeded' })).toBe(1);
      expect(delta('offload_jobs_finished_total', { type: 'noop', status: 'failed' })).toBe(0);
      expect(delta('offload_job_run_seconds_count', { type: 'noop', outcome: 'succeeded' })).toBe(1);
      expect(delta('offload_job_run_seconds_sum', { type: 'noop', outcome: 'succeeded' })).toBeGreaterThanOrEqual(0.015);
      expect(delta('offload_job_run_seconds_bucket', { type: 'noop', outcome: 'succeeded', le: '+Inf' })).toBe(1);
      expect(delta('offload_http_request_seconds_count', { method: 'POST', route: '/v1/jobs', status: '202' })).toBe(1);
      expect(delta('offload_http_request_seconds_count', { method: 'POST', route: '/v1/jobs', status: '200' })).toBe(1);
      for (const state of ['waiting', 'active', 'delayed']) {
        expect(after.some((s) => s.name === 'offload_queue_jobs' && s.labels.type === 'noop' && s.labels.state === state)).toBe(true);
      }
      expect(valueOf(after, 'offload_queue_jobs', { type: 'noop', state: 'active' })).toBe(0);
    });

    it('counts a failed job as failed', async () => {
      const before = (await scrape()).samples;
      const created = await client.post('/v1/jobs', { type: 'noop', input: { fatal: true } });
      expect(created.status).toBe(202);
      expect((await client.get(`/v1/jobs/${created.body.id}?wait=5`)).body.status).toBe('failed');
      const after = (await scrape()).samples;
      const delta = (labels: Record<string, string>) =>
        valueOf(after, 'offload_jobs_finished_total', labels) - valueOf(before, 'offload_jobs_finished_total', labels);
      expect(delta({ type: 'noop', status: 'failed' })).toBe(1);
      expect(delta({ type: 'noop', status: 'succeeded' })).toBe(0);
    });

    it('shows queued work in offload_queue_jobs', async () => {
      const created = await client.post('/v1/jobs', { type: 'noop', input: { sleepMs: 1500 } });
      expect(created.status).toBe(202);
      const during = await eventually(
        scrape,
        (s) => valueOf(s.samples, 'offload_queue_jobs', { type: 'noop', state: 'active' }) >= 1,
        2_000,
      );
      expect(valueOf(during.samples, 'offload_queue_jobs', { type: 'noop', state: 'active' })).toBe(1);
      await client.get(`/v1/jobs/${created.body.id}?wait=5`);
    });

    it('labels HTTP requests by route, never by raw path', async () => {
      const id = '0b7c8c52-5d22-4f0e-9c8e-3d1d9c0f6a11';
      const junk = `nothing-here-${Date.now()}`;
      expect((await client.get(`/v1/jobs/${id}`)).status).toBe(404);
      expect((await anonymous.get(`/${junk}`)).status).toBe(404);
      const { text, samples } = await scrape();
      expect(text).not.toContain(id);
      expect(text).not.toContain(junk);
      expect(valueOf(samples, 'offload_http_request_seconds_count', { method: 'GET', route: '/v1/jobs/:id', status: '404' })).toBeGreaterThanOrEqual(1);
    });
  });

  describe('API documentation', () => {
    it('GET /docs serves the OpenAPI UI, with its assets', async () => {
      const page = await anonymous.get<string>('/docs');
      expect(page.status).toBe(200);
      expect(page.headers.get('content-type')).toMatch(/^text\/html/);
      expect(page.body).toMatch(/swagger-ui/i);
      const assets = [...page.body.matchAll(/(?:src|href)="([^"]+\.(?:js|css))"/g)].map((m) => m[1]);
      expect(assets.length).toBeGreaterThanOrEqual(2);
      for (const asset of assets) {
        const answer = await call(new URL(asset, `${offload.url}/docs`).toString());
        expect({ asset, status: answer.status }).toEqual({ asset, status: 200 });
      }
    });

    it('/docs/openapi.json is an OpenAPI 3 document of the public API', async () => {
      const doc = await anonymous.get('/docs/openapi.json');
      expect(doc.status).toBe(200);
      expect(doc.headers.get('content-type')).toMatch(/^application\/json/);
      expect(doc.body.openapi).toMatch(/^3\.\d+\.\d+$/);
      expect(doc.body.info).toMatchObject({ title: expect.any(String), version: expect.any(String) });
      const paths = doc.body.paths;
      for (const path of ['/v1/jobs', '/v1/jobs/{id}', '/v1/jobs/batch', '/v1/handlers', '/v1/admin/portals']) {
        expect(Object.keys(paths)).toContain(path);
      }
      expect(paths['/v1/jobs']).toHaveProperty('post');
      expect(paths['/v1/jobs']).toHaveProperty('get');
      expect(paths['/v1/jobs/{id}']).toHaveProperty('get');
      expect(paths['/v1/jobs/batch']).toHaveProperty('post');
      expect(paths['/v1/handlers']).toHaveProperty('get');
      expect(paths['/v1/admin/portals']).toHaveProperty('post');
      expect(Object.keys(paths)).not.toContain('/metrics');
    });

    it('documents the request body of POST /v1/jobs', async () => {
      const doc = (await anonymous.get('/docs/openapi.json')).body;
      const schema = doc.paths['/v1/jobs'].post.requestBody.content['application/json'].schema;
      expect(schema.type).toBe('object');
      // The contract's fields; the API may grow more (v1 is extended, never narrowed).
      expect(Object.keys(schema.properties)).toEqual(
        expect.arrayContaining(['type', 'input', 'object', 'idempotencyKey', 'callbackId', 'writeback']),
      );
      expect(schema.required).toEqual(['type']);
      expect(schema.properties.type.type).toBe('string');
      expect(schema.properties.input.type).toBe('object');
      expect(schema.properties.writeback.type).toBe('boolean');
      expect(schema.properties.object).toMatchObject({ type: 'object', required: expect.arrayContaining(['type', 'id']) });

      const portal = doc.paths['/v1/admin/portals'].post.requestBody.content['application/json'].schema;
      expect(Object.keys(portal.properties)).toEqual(expect.arrayContaining(['hubspotPortalId', 'name', 'hubspotAccessToken', 'rateLimit']));
      expect(portal.required).toEqual(expect.arrayContaining(['hubspotPortalId', 'name']));

      const batch = doc.paths['/v1/jobs/batch'].post.requestBody.content['application/json'].schema;
      expect(batch.properties.jobs).toMatchObject({ type: 'array', maxItems: 100 });
    });

    it('declares bearer authentication', async () => {
      const doc = (await anonymous.get('/docs/openapi.json')).body;
      const schemes = Object.values(doc.components?.securitySchemes ?? {}) as Array<{ type: string; scheme: string }>;
      expect(schemes).toContainEqual(expect.objectContaining({ type: 'http', scheme: 'bearer' }));
    });
  });

  describe('roles', () => {
    let split: Isolation;
    let api: RunningOffload | undefined;
    let worker: RunningOffload | undefined;

    beforeAll(async () => {
      split = await isolate();
    });

    afterAll(async () => {
      await api?.close();
      await worker?.close();
      await split?.cleanup();
    });

    it('ROLE=api takes jobs without running them; ROLE=worker runs them and serves no API', async () => {
      api = await startOffload(configFor(split, { ROLE: 'api' }));
      const { client: viaApi } = await newPortal(api.url);
      const created = await viaApi.post('/v1/jobs', { type: 'noop', input: {} });
      expect(created.status).toBe(202);
      const waited = await viaApi.get(`/v1/jobs/${created.body.id}?wait=1`);
      expect(waited.body).toMatchObject({ status: 'queued', attempts: 0 });

      worker = await startOffload(configFor(split, { ROLE: 'worker' }));
      const done = await viaApi.get(`/v1/jobs/${created.body.id}?wait=10`);
      expect(done.body).toMatchObject({ status: 'succeeded', attempts: 1, output: { ok: true, attempts: 1 } });

      const direct = new HttpClient(worker.url);
      expect((await direct.get('/health/live')).status).toBe(200);
      expect((await direct.get('/health/ready')).status).toBe(200);
      expect((await direct.get('/metrics')).status).toBe(200);
      for (const path of [`/v1/jobs/${created.body.id}`, '/v1/admin/portals', '/docs', '/docs/openapi.json']) {
        expect({ path, status: (await direct.get(path)).status }).toEqual({ path, status: 404 });
      }
    });

    it('a worker reports the slots of each job type (its handler\'s concurrency), what the prod autoscaler divides queue depth by; an api none', async () => {
      const slots = async (running: RunningOffload) =>
        parseMetrics((await new HttpClient(running.url).get<string>('/metrics')).body).filter((sample) => sample.name === 'offload_worker_slots');
      const handlers = worker!.app.get(HandlerRegistry).list();
      expect(handlers.length).toBeGreaterThan(0);
      expect(await slots(worker!)).toEqual(
        expect.arrayContaining(handlers.map(({ type, concurrency }) => ({ name: 'offload_worker_slots', labels: { type }, value: concurrency }))),
      );
      expect(await slots(api!)).toEqual([]);
    });
  });
});
