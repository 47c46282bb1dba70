import { configFor, eventually, HttpClient, isolate, Isolation, newPortal, RunningOffload, startOffload } from './support/offload-harness';

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

  it('enqueues a noop job and long-polls it to success', async () => {
    const created = await client.post('/v1/jobs', { type: 'noop', input: { sleepMs: 50 }, idempotencyKey: 'smoke-1' });
    expect(created.status).toBe(202);
    expect(created.body).toMatchObject({ type: 'noop', status: 'queued', idempotencyKey: 'smoke-1' });
    const done = await client.get(`/v1/jobs/${created.body.id}?wait=5`);
    expect(done.status).toBe(200);
    expect(done.body).toMatchObject({ status: 'succeeded', attempts: 1, output: { ok: true, attempts: 1 } });
    expect(done.body.traceId).toMatch(/^[0-9a-f]{32}$/);
  });

  it('retries a retryable failure until it succeeds', async () => {
    const created = await client.post('/v1/jobs', { type: 'noop', input: { failTimes: 2 } });
    const done = await eventually(() => client.get(`/v1/jobs/${created.body.id}?wait=2`), (a) => a.body.status === 'succeeded');
    expect(done.body).toMatchObject({ attempts: 3, output: { ok: true, attempts: 3 } });
  });
});
