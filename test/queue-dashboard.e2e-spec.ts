import { ADMIN_TOKEN, configFor, HttpClient, isolate, Isolation, newPortal, RunningOffload, startOffload } from './support/offload-harness';

describe('queue dashboard (/ops/queues)', () => {
  let isolation: Isolation;
  let offload: RunningOffload;

  beforeAll(async () => {
    isolation = await isolate();
    offload = await startOffload(configFor(isolation));
  });

  afterAll(async () => {
    await offload?.close();
    await isolation?.cleanup();
  });

  it('asks for the admin token, and lets a browser log in with Basic auth', async () => {
    const anonymous = await new HttpClient(offload.url).get('/ops/queues');
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('www-authenticate')).toBe('Basic realm="Offload ops"');
    expect(anonymous.body.error.code).toBe('unauthorized');

    const { portal } = await newPortal(offload.url);
    expect((await new HttpClient(offload.url, portal.apiKey).get('/ops/queues')).status).toBe(401);

    const basic = Buffer.from(`ops:${ADMIN_TOKEN}`).toString('base64');
    const page = await new HttpClient(offload.url).request('GET', '/ops/queues', undefined, { authorization: `Basic ${basic}` });
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/text\/html/);
  });

  it("shows every job type's queue with its jobs", async () => {
    const { client } = await newPortal(offload.url);
    await client.post('/v1/jobs', { type: 'noop', input: { sleepMs: 3000 } });
    const admin = new HttpClient(offload.url, ADMIN_TOKEN);
    const queues = await admin.get('/ops/queues/api/queues?activeQueue=jobs.noop&status=active');
    expect(queues.status).toBe(200);
    const noop = queues.body.queues.find((q: { name: string }) => q.name === 'jobs.noop');
    expect(noop).toBeDefined();
    expect(noop.counts.active + noop.counts.waiting).toBeGreaterThanOrEqual(1);
  });
});
