import { Client } from 'pg';
import { configFor, eventually, HttpClient, isolate, Isolation, loggingErrors, newPortal, RunningOffload, startOffload } from './support/offload-harness';

describe('jobs API (contract v1)', () => {
  let isolation: Isolation;
  let offload: RunningOffload;
  let client: HttpClient;

  beforeAll(async () => {
    isolation = await isolate();
    offload = await startOffload(configFor(isolation));
    ({ client } = await newPortal(offload.url));
  });

  afterAll(async () => {
    await offload?.close();
    await isolation?.cleanup();
  });

  describe('enqueue and poll', () => {
    it('queues a job (202), runs it, and long-polls it to success', async () => {
      const created = await client.post('/v1/jobs', { type: 'noop', input: { sleepMs: 50 }, idempotencyKey: 'poll-1' });
      expect(created.status).toBe(202);
      expect(created.body).toMatchObject({ type: 'noop', status: 'queued', idempotencyKey: 'poll-1' });
      expect(created.body.id).toMatch(/^[0-9a-f-]{36}$/);
      expect(Date.parse(created.body.createdAt)).not.toBeNaN();

      const done = await client.get(`/v1/jobs/${created.body.id}?wait=5`);
      expect(done.status).toBe(200);
      expect(done.body).toMatchObject({
        id: created.body.id,
        type: 'noop',
        status: 'succeeded',
        attempts: 1,
        input: { sleepMs: 50 },
        output: { ok: true, attempts: 1 },
      });
      expect(done.body.traceId).toMatch(/^[0-9a-f]{32}$/);
      expect(Date.parse(done.body.startedAt)).toBeLessThanOrEqual(Date.parse(done.body.finishedAt));
      expect(done.body.error).toBeUndefined();
    });

    it('answers a long-poll when the job ends, not when the wait runs out', async () => {
      const created = await client.post('/v1/jobs', { type: 'noop', input: { sleepMs: 400 } });
      const started = Date.now();
      const done = await client.get(`/v1/jobs/${created.body.id}?wait=15`);
      expect(done.body.status).toBe('succeeded');
      // nothing but the job's end could answer a 15-second wait before its time
      expect(Date.now() - started).toBeLessThan(15_000);
    });

    it('answers a long-poll with the current state when the wait runs out', async () => {
      const created = await client.post('/v1/jobs', { type: 'noop', input: { sleepMs: 3000 } });
      const started = Date.now();
      const answer = await client.get(`/v1/jobs/${created.body.id}?wait=1`);
      expect(Date.now() - started).toBeGreaterThanOrEqual(950);
      expect(answer.status).toBe(200);
      expect(['queued', 'running']).toContain(answer.body.status);
    });

    it('answers without waiting when the job has already ended', async () => {
      const created = await client.post('/v1/jobs', { type: 'noop' });
      await client.get(`/v1/jobs/${created.body.id}?wait=15`);
      const started = Date.now();
      const answer = await client.get(`/v1/jobs/${created.body.id}?wait=15`);
      expect(answer.body.status).toBe('succeeded');
      expect(Date.now() - started).toBeLessThan(15_000);
    });

    it('refuses a wait outside 0..15 seconds', async () => {
      const created = await client.post('/v1/jobs', { type: 'noop' });
      for (const wait of ['16', '-1', 'abc', '1.5']) {
        const answer = await client.get(`/v1/jobs/${created.body.id}?wait=${wait}`);
        expect(answer.status).toBe(400);
        expect(answer.body.error).toMatchObject({ code: 'validation_failed', details: [{ path: 'wait' }] });
      }
    });

    it('finds a job by its idempotency key, and 404s an unknown key', async () => {
      const created = await client.post('/v1/jobs', { type: 'noop', idempotencyKey: 'find me/with spaces' });
      const found = await client.get(`/v1/jobs?idempotencyKey=${encodeURIComponent('find me/with spaces')}`);
      expect(found.status).toBe(200);
      expect(found.body.id).toBe(created.body.id);
      const missing = await client.get('/v1/jobs?idempotencyKey=nope');
      expect(missing.status).toBe(404);
      expect(missing.body.error.code).toBe('not_found');
      const noKey = await client.get('/v1/jobs');
      expect(noKey.status).toBe(400);
      expect(noKey.body.error.details).toEqual([{ path: 'idempotencyKey', message: 'is required' }]);
    });

    it('404s an unknown or malformed job id', async () => {
      for (const id of ['6f1c3c3e-1d7b-4a4e-9a43-0a1e2b3c4d5e', 'not-a-uuid']) {
        const answer = await client.get(`/v1/jobs/${id}`);
        expect(answer.status).toBe(404);
        expect(answer.body).toEqual({ error: { code: 'not_found', message: 'Job not found' } });
      }
    });
  });

  describe('idempotency', () => {
    it('answers the same request with the same key with 200 and the same job, doing no new work', async () => {
      const body = { type: 'noop', input: { sleepMs: 10 }, idempotencyKey: 'same-1' };
      const first = await client.post('/v1/jobs', body);
      const second = await client.post('/v1/jobs', { idempotencyKey: 'same-1', input: { sleepMs: 10 }, type: 'noop' });
      expect(first.status).toBe(202);
      expect(second.status).toBe(200);
      expect(second.body.id).toBe(first.body.id);
      const done = await client.get(`/v1/jobs/${first.body.id}?wait=5`);
      expect(done.body.attempts).toBe(1);
      const afterwards = await client.post('/v1/jobs', body);
      expect(afterwards.status).toBe(200);
      expect(afterwards.body).toMatchObject({ id: first.body.id, status: 'succeeded' });
    });

    it('answers 409 idempotency_conflict when the key comes with a different request', async () => {
      const first = await client.post('/v1/jobs', { type: 'noop', input: { sleepMs: 1 }, idempotencyKey: 'conflict-1' });
      const other = await client.post('/v1/jobs', { type: 'noop', input: { sleepMs: 2 }, idempotencyKey: 'conflict-1' });
      expect(other.status).toBe(409);
      expect(other.body.error).toMatchObject({ code: 'idempotency_conflict', details: { jobId: first.body.id } });
    });

    it('derives a deterministic key from portal, type, object and callbackId', async () => {
      const body = { type: 'noop', object: { type: 'CONTACT', id: 4242 }, callbackId: 'ap-123-456-7-8' };
      const first = await client.post('/v1/jobs', body);
      expect(first.status).toBe(202);
      expect(first.body.idempotencyKey).toMatch(/^auto-[0-9a-f]{40}$/);
      expect(first.body.object).toEqual({ type: 'CONTACT', id: '4242' });
      const retry = await client.post('/v1/jobs', { ...body, object: { type: 'CONTACT', id: '4242' } });
      expect(retry.status).toBe(200);
      expect(retry.body.id).toBe(first.body.id);
      const otherExecution = await client.post('/v1/jobs', { ...body, callbackId: 'ap-123-456-7-9' });
      expect(otherExecution.status).toBe(202);
      expect(otherExecution.body.idempotencyKey).not.toBe(first.body.idempotencyKey);
    });

    it('derives the key from the canonical request when there is no object or callbackId', async () => {
      const first = await client.post('/v1/jobs', { type: 'noop', input: { sleepMs: 3, failTimes: 0 } });
      const same = await client.post('/v1/jobs', { input: { failTimes: 0, sleepMs: 3 }, type: 'noop' });
      expect(same.status).toBe(200);
      expect(same.body.id).toBe(first.body.id);
      expect(same.body.idempotencyKey).toBe(first.body.idempotencyKey);
    });

    it('scopes keys to the portal: another portal with the same key gets its own job, and cannot see the first', async () => {
      const mine = await client.post('/v1/jobs', { type: 'noop', idempotencyKey: 'shared-key' });
      const { client: other } = await newPortal(offload.url);
      const theirs = await other.post('/v1/jobs', { type: 'noop', idempotencyKey: 'shared-key' });
      expect(theirs.status).toBe(202);
      expect(theirs.body.id).not.toBe(mine.body.id);
      expect((await other.get(`/v1/jobs/${mine.body.id}`)).status).toBe(404);
      expect((await other.post(`/v1/jobs/${mine.body.id}/cancel`)).status).toBe(404);
    });
  });

  describe('batch', () => {
    it('answers each job as the single call would, in request order', async () => {
      await client.post('/v1/jobs', { type: 'noop', input: { sleepMs: 1 }, idempotencyKey: 'batch-existing' });
      const answer = await client.post('/v1/jobs/batch', {
        jobs: [
          { type: 'noop', idempotencyKey: 'batch-new' },
          { type: 'noop', input: { sleepMs: 1 }, idempotencyKey: 'batch-existing' },
          { type: 'noop', input: { sleepMs: 2 }, idempotencyKey: 'batch-existing' },
          { type: 'nope' },
          { type: 'noop', input: { sleepMs: -1 } },
          'not an object',
          { type: 'noop', idempotencyKey: 'batch-twice' },
          { type: 'noop', idempotencyKey: 'batch-twice' },
        ],
      });
      expect(answer.status).toBe(200);
      const results = answer.body.results;
      expect(results.map((r: { status: number }) => r.status)).toEqual([202, 200, 409, 400, 400, 400, 202, 200]);
      expect(results[0].job).toMatchObject({ status: 'queued', idempotencyKey: 'batch-new' });
      expect(results[2].error.code).toBe('idempotency_conflict');
      expect(results[3].error.code).toBe('unknown_job_type');
      expect(results[4].error).toMatchObject({ code: 'validation_failed', details: [{ path: 'input.sleepMs' }] });
      expect(results[5].error.code).toBe('validation_failed');
      expect(results[7].job.id).toBe(results[6].job.id);
      const done = await client.get(`/v1/jobs/${results[0].job.id}?wait=5`);
      expect(done.body.status).toBe('succeeded');
    });

    it('refuses more than 100 jobs, or none', async () => {
      const tooMany = await client.post('/v1/jobs/batch', { jobs: Array.from({ length: 101 }, () => ({ type: 'noop' })) });
      expect(tooMany.status).toBe(400);
      expect(tooMany.body.error).toMatchObject({ code: 'validation_failed', details: [{ path: 'jobs' }] });
      const none = await client.post('/v1/jobs/batch', { jobs: [] });
      expect(none.status).toBe(400);
    });
  });

  describe('failures, cancellation and retry', () => {
    it('fails a job at once on a non-retryable error', async () => {
      const created = await client.post('/v1/jobs', { type: 'noop', input: { fatal: true } });
      const done = await client.get(`/v1/jobs/${created.body.id}?wait=5`);
      expect(done.body).toMatchObject({
        status: 'failed',
        attempts: 1,
        error: { code: 'noop_fatal', retryable: false },
      });
      expect(done.body.output).toBeUndefined();
    });

    it('retries retryable failures with backoff, then succeeds', async () => {
      const created = await client.post('/v1/jobs', { type: 'noop', input: { failTimes: 3 } });
      const done = await eventually(() => client.get(`/v1/jobs/${created.body.id}?wait=2`), (a) => a.body.status === 'succeeded');
      expect(done.body).toMatchObject({ attempts: 4, output: { ok: true, attempts: 4 } });
      expect(done.body.error).toBeUndefined();
    });

    it('cancels a queued or running job, and tells the running handler to stop', async () => {
      const created = await client.post('/v1/jobs', { type: 'noop', input: { sleepMs: 10_000 } });
      await eventually(() => client.get(`/v1/jobs/${created.body.id}`), (a) => a.body.status === 'running');
      const cancelled = await client.post(`/v1/jobs/${created.body.id}/cancel`);
      expect(cancelled.status).toBe(200);
      expect(cancelled.body).toMatchObject({ status: 'cancelled', error: { code: 'cancelled', retryable: false } });
      const again = await client.post(`/v1/jobs/${created.body.id}/cancel`);
      expect(again.status).toBe(409);
      expect(again.body.error.code).toBe('invalid_job_state');
      // The handler stopped: its run is over well before the 10 s sleep would have ended.
      await eventually(
        () => offload.app.get(require('../src/metrics/metrics.service').MetricsService).jobRunSeconds.get(),
        (metric: { values: Array<{ labels: { outcome?: string } }> }) => metric.values.some((v) => v.labels.outcome === 'cancelled'),
        3000,
      );
      const final = await client.get(`/v1/jobs/${created.body.id}`);
      expect(final.body.status).toBe('cancelled');
    });

    it('wakes a long-poll when its job is cancelled', async () => {
      const created = await client.post('/v1/jobs', { type: 'noop', input: { sleepMs: 10_000 } });
      const poll = client.get(`/v1/jobs/${created.body.id}?wait=10`);
      await new Promise((resolve) => setTimeout(resolve, 200));
      await client.post(`/v1/jobs/${created.body.id}/cancel`, undefined, { 'content-type': 'application/json' });
      const answer = await poll;
      expect(answer.body.status).toBe('cancelled');
    });

    it('retries a failed job on request (202) and refuses to retry one that has not failed (409)', async () => {
      const created = await client.post('/v1/jobs', { type: 'noop', input: { fatal: true } });
      await client.get(`/v1/jobs/${created.body.id}?wait=5`);
      const retried = await client.post(`/v1/jobs/${created.body.id}/retry`);
      expect(retried.status).toBe(202);
      expect(retried.body).toMatchObject({ id: created.body.id, status: 'queued', attempts: 0 });
      const done = await client.get(`/v1/jobs/${created.body.id}?wait=5`);
      expect(done.body).toMatchObject({ status: 'failed', attempts: 1 });

      const ok = await client.post('/v1/jobs', { type: 'noop' });
      await client.get(`/v1/jobs/${ok.body.id}?wait=5`);
      const refused = await client.post(`/v1/jobs/${ok.body.id}/retry`);
      expect(refused.status).toBe(409);
      expect(refused.body.error.code).toBe('invalid_job_state');
    });

    it('retries a cancelled job to completion', async () => {
      const created = await client.post('/v1/jobs', { type: 'noop', input: { sleepMs: 10_000 } });
      await client.post(`/v1/jobs/${created.body.id}/cancel`);
      await client.post(`/v1/jobs/${created.body.id}/retry`);
      await eventually(() => client.get(`/v1/jobs/${created.body.id}`), (a) => a.body.status === 'running');
      await client.post(`/v1/jobs/${created.body.id}/cancel`);
      const final = await client.get(`/v1/jobs/${created.body.id}`);
      expect(final.body.status).toBe('cancelled');
    });
  });

  describe('bad input never gets a 500', () => {
    // Every row has all five cells: jest would take a missing last one for a done callback and wait.
    const cases: Array<[string, () => Promise<{ status: number; body: any }>, number, string, string | null]> = [
      ['an unknown job type', () => client.post('/v1/jobs', { type: 'enrich-everything' }), 400, 'unknown_job_type', 'type'],
      ['a missing type', () => client.post('/v1/jobs', { input: {} }), 400, 'validation_failed', 'type'],
      ['input that breaks the handler schema', () => client.post('/v1/jobs', { type: 'noop', input: { sleepMs: 99_999 } }), 400, 'validation_failed', 'input.sleepMs'],
      ['an unknown input field', () => client.post('/v1/jobs', { type: 'noop', input: { sleep: 1 } }), 400, 'validation_failed', 'input.sleep'],
      ['input that is not an object', () => client.post('/v1/jobs', { type: 'noop', input: [1, 2] }), 400, 'validation_failed', 'input'],
      ['an unknown top-level field', () => client.post('/v1/jobs', { type: 'noop', priority: 'high' }), 400, 'validation_failed', 'priority'],
      ['a malformed object reference', () => client.post('/v1/jobs', { type: 'noop', object: { type: 'CONTACT' } }), 400, 'validation_failed', 'object.id'],
      ['writeback without an object', () => client.post('/v1/jobs', { type: 'noop', writeback: true }), 400, 'validation_failed', 'object'],
      ['an empty idempotency key', () => client.post('/v1/jobs', { type: 'noop', idempotencyKey: '' }), 400, 'validation_failed', 'idempotencyKey'],
      ['a numeric object id past 2^53', () => client.post('/v1/jobs', { type: 'noop', object: { type: 'CONTACT', id: 1e300 } }), 400, 'validation_failed', 'object.id'],
      ['U+0000 in a query string', () => client.get('/v1/jobs?idempotencyKey=%00'), 400, 'validation_failed', 'idempotencyKey'],
      ['a malformed percent-encoding in the path', () => client.get('/v1/jobs/%E0%A4%A'), 400, 'validation_failed', 'url'],
      ['a body that is not JSON', () => client.post('/v1/jobs', '{"type": "noop",', { 'content-type': 'application/json' }), 400, 'malformed_json', null],
      ['a JSON body that is not an object', () => client.post('/v1/jobs', '"noop"', { 'content-type': 'application/json' }), 400, 'validation_failed', null],
      ['an empty body', () => client.post('/v1/jobs', '', { 'content-type': 'application/json' }), 400, 'validation_failed', null],
      ['a body that is not JSON at all', () => client.post('/v1/jobs', 'type=noop', { 'content-type': 'text/plain' }), 415, 'unsupported_media_type', null],
      ['a body over 1 MiB', () => client.post('/v1/jobs', { type: 'noop', input: { pad: 'x'.repeat(1024 * 1024) } }), 413, 'payload_too_large', null],
      ['an unknown route', () => client.get('/v1/nothing-here'), 404, 'not_found', null],
    ];

    it.each(cases)('%s', async (_, call, status, code, path) => {
      const answer = await call();
      expect(answer.status).toBe(status);
      expect(answer.body.error).toMatchObject({ code });
      expect(typeof answer.body.error.message).toBe('string');
      if (path) expect(answer.body.error.details).toEqual(expect.arrayContaining([expect.objectContaining({ path })]));
    });

    it('refuses a __proto__ key as malformed_json, and says that is why', async () => {
      const answer = await client.post('/v1/jobs', '{"type":"noop","input":{"__proto__":{"x":1}}}', { 'content-type': 'application/json' });
      expect(answer.status).toBe(400);
      expect(answer.body.error).toMatchObject({ code: 'malformed_json', message: expect.stringContaining('"__proto__"') });
    });

    it('refuses text PostgreSQL cannot store (U+0000, an unpaired surrogate) without failing the requests batched with it', async () => {
      const [nul, surrogate, inBatch, fine] = await Promise.all([
        client.post('/v1/jobs', '{"type":"noop","idempotencyKey":"nul-\\u0000"}', { 'content-type': 'application/json' }),
        client.post('/v1/jobs', '{"type":"noop","callbackId":"half-\\ud800"}', { 'content-type': 'application/json' }),
        client.post('/v1/jobs/batch', '{"jobs":[{"type":"noop"},{"type":"noop","object":{"type":"\\u0000","id":"1"}}]}', {
          'content-type': 'application/json',
        }),
        client.post('/v1/jobs', { type: 'noop', idempotencyKey: 'beside-the-nul' }),
      ]);
      for (const [answer, path] of [[nul, 'idempotencyKey'], [surrogate, 'callbackId'], [inBatch, 'jobs[1].object.type']] as const) {
        expect(answer.status).toBe(400);
        expect(answer.body.error).toMatchObject({ code: 'validation_failed', details: [{ path, message: expect.stringMatching(/U\+0000/) }] });
      }
      expect(fine.status).toBe(202);
      const emoji = await client.post('/v1/jobs', '{"type":"noop","idempotencyKey":"pair-\\ud83d\\ude00"}', { 'content-type': 'application/json' });
      expect(emoji.status).toBe(202);
      expect(emoji.body.idempotencyKey).toBe('pair-😀');
    });

    it('answers 401 without a key, with a wrong key, and with the admin token', async () => {
      const anonymous = new HttpClient(offload.url);
      for (const caller of [anonymous, anonymous.withToken('ofk_wrong'), anonymous.withToken('test-admin-token-0123456789')]) {
        const answer = await caller.post('/v1/jobs', { type: 'noop' });
        expect(answer.status).toBe(401);
        expect(answer.body.error.code).toBe('unauthorized');
      }
    });
  });

  it('lists the handlers with their input schema and typed outputs', async () => {
    const answer = await client.get('/v1/handlers');
    expect(answer.status).toBe(200);
    const noop = answer.body.find((h: { type: string }) => h.type === 'noop');
    expect(noop).toMatchObject({
      type: 'noop',
      version: '1.0.0',
      owner: 'platform',
      inputSchema: { type: 'object', properties: { sleepMs: { type: 'integer', minimum: 0, maximum: 10000 } } },
      outputs: [
        { name: 'ok', hubspotType: 'bool', description: expect.any(String) },
        { name: 'attempts', hubspotType: 'number', description: expect.any(String) },
      ],
    });
  });
});

describe('long-polls at scale', () => {
  const WAITERS = 500;
  let isolation: Isolation;
  let api: RunningOffload;
  let client: HttpClient;
  let pg: Client;

  /** Transactions committed in the run's database so far; PostgreSQL publishes its counters within a second. */
  const commits = async (): Promise<number> => {
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    const { rows } = await pg.query(`SELECT xact_commit::int AS n FROM pg_stat_database WHERE datname = current_database()`);
    return rows[0].n;
  };

  beforeAll(async () => {
    isolation = await isolate();
    // No workers: every job stays queued, so every long-poll waits out its time.
    api = await startOffload(configFor(isolation, { ROLE: 'api' }));
    ({ client } = await newPortal(api.url));
    pg = loggingErrors(new Client({ connectionString: isolation.databaseUrl }), 'PostgreSQL');
    await pg.connect();
  });

  afterAll(async () => {
    await pg?.end();
    await api?.close();
    await isolation?.cleanup();
  });

  it(`holds ${WAITERS} long-polls at once without polling PostgreSQL while they wait`, async () => {
    const batches = await Promise.all(
      Array.from({ length: WAITERS / 100 }, (_, batch) =>
        client.post('/v1/jobs/batch', { jobs: Array.from({ length: 100 }, (_, i) => ({ type: 'noop', idempotencyKey: `waiter-${batch}-${i}` })) }),
      ),
    );
    const ids: string[] = batches.flatMap((batch) => batch.body.results.map((result: { job: { id: string } }) => result.job.id));
    expect(new Set(ids).size).toBe(WAITERS);

    const before = await commits();
    const started = Date.now();
    const answers = await Promise.all(ids.map((id) => client.get(`/v1/jobs/${id}?wait=3`)));
    const elapsed = Date.now() - started;
    const during = (await commits()) - before;

    expect(answers.every((answer) => answer.status === 200 && answer.body.status === 'queued')).toBe(true);
    expect(elapsed).toBeGreaterThanOrEqual(2_900);
    // A read when each poll starts and one when it ends: at most 1,000, fewer while PostgreSQL has
    // yet to publish its last second. Polling every 100 ms would be 15,000.
    expect(during).toBeLessThan(3 * WAITERS);
  });
});
