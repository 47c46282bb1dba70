import { Client } from 'pg';
import { JobRetention } from '../src/retention/job-retention.service';
import { ADMIN_TOKEN, configFor, eventually, HttpClient, isolate, Isolation, loggingErrors, newPortal, RunningOffload, startOffload } from './support/offload-harness';

describe('admin jobs API', () => {
  let isolation: Isolation;
  let offload: RunningOffload;
  let admin: HttpClient;
  let db: Client;

  beforeAll(async () => {
    isolation = await isolate();
    offload = await startOffload(configFor(isolation, { METRICS_TOKEN: 'metrics-token-0123456789', DOCS_PUBLIC: 'false' }));
    admin = new HttpClient(offload.url, ADMIN_TOKEN);
    db = loggingErrors(new Client({ connectionString: isolation.databaseUrl }), 'PostgreSQL');
    await db.connect();
  });

  afterAll(async () => {
    await db?.end();
    await offload?.close();
    await isolation?.cleanup();
  });

  async function settled(client: HttpClient, ids: string[], statuses = ['succeeded', 'failed']) {
    return eventually(
      () => Promise.all(ids.map((id) => client.get(`/v1/jobs/${id}`).then((answer) => answer.body))),
      (jobs) => jobs.every((job) => statuses.includes(job.status)),
    );
  }

  it('lists any portal jobs by status, type, portal, error and time, newest first, in keyset pages', async () => {
    const a = await newPortal(offload.url);
    const b = await newPortal(offload.url);
    const failed = await Promise.all([1, 2, 3].map((n) => a.client.post('/v1/jobs', { type: 'noop', input: { fatal: true }, idempotencyKey: `f${n}` })));
    const ok = await b.client.post('/v1/jobs', { type: 'noop', input: {} });
    await settled(a.client, failed.map((answer) => answer.body.id));
    await settled(b.client, [ok.body.id]);

    const pages: string[][] = [];
    let cursor: string | undefined;
    do {
      const page = await admin.get(`/v1/admin/jobs?status=failed&portalId=${a.portal.id}&limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      expect(page.status).toBe(200);
      pages.push(page.body.jobs.map((job: { id: string; portalId: string }) => job.id));
      for (const job of page.body.jobs) expect(job).toMatchObject({ portalId: a.portal.id, status: 'failed', type: 'noop' });
      cursor = page.body.nextCursor;
    } while (cursor);
    expect(pages.flat().sort()).toEqual(failed.map((answer) => answer.body.id).sort());
    expect(pages[0]).toHaveLength(2);

    const errorCode = (await a.client.get(`/v1/jobs/${failed[0].body.id}`)).body.error.code;
    const byError = await admin.get(`/v1/admin/jobs?errorCode=${errorCode}&type=noop&from=${new Date(Date.now() - 60_000).toISOString()}`);
    expect(byError.body.jobs.map((job: { id: string }) => job.id).sort()).toEqual(failed.map((answer) => answer.body.id).sort());
    expect((await admin.get(`/v1/admin/jobs?status=succeeded&portalId=${b.portal.id}`)).body.jobs.map((job: { id: string }) => job.id)).toEqual([ok.body.id]);
    expect((await admin.get(`/v1/admin/jobs?to=${new Date(Date.now() - 3_600_000).toISOString()}`)).body.jobs).toEqual([]);

    const groups = await admin.get(`/v1/admin/jobs/failures?portalId=${a.portal.id}`);
    expect(groups.body.groups).toEqual([{ type: 'noop', errorCode, portalId: a.portal.id, count: 3, lastFailedAt: expect.any(String) }]);
    // The last day unless `from` says otherwise, and the answer says since when.
    expect(Date.now() - Date.parse(groups.body.from)).toBeGreaterThanOrEqual(24 * 3_600_000);
    expect(Date.now() - Date.parse(groups.body.from)).toBeLessThan(25 * 3_600_000);
    const later = new Date(Date.now() + 60_000).toISOString();
    expect((await admin.get(`/v1/admin/jobs/failures?portalId=${a.portal.id}&from=${later}`)).body).toEqual({ groups: [], from: later });
  });

  it('refuses bad filters and cursors in the contract shape, and any caller without the admin token', async () => {
    for (const query of ['status=done', 'portalId=nope', 'from=yesterday', 'cursor=abc', 'limit=0', 'limit=501']) {
      const answer = await admin.get(`/v1/admin/jobs?${query}`);
      expect({ query, status: answer.status, code: answer.body.error.code }).toEqual({ query, status: 400, code: 'validation_failed' });
    }
    const { client } = await newPortal(offload.url);
    const refused = await client.get('/v1/admin/jobs');
    expect(refused.status).toBe(401);
    expect(refused.headers.get('www-authenticate')).toBe('Basic realm="Offload ops"');
    const basic = Buffer.from(`ops:${ADMIN_TOKEN}`).toString('base64');
    expect((await new HttpClient(offload.url).request('GET', '/v1/admin/jobs', undefined, { authorization: `Basic ${basic}` })).status).toBe(200);
    for (const body of [{}, { ids: [], filter: {} }, { ids: ['x'] }, { filter: { status: ['succeeded'] } }, { filter: {}, extra: 1 }]) {
      const answer = await admin.post('/v1/admin/jobs/retry', body);
      expect({ body, status: answer.status, code: answer.body.error.code }).toEqual({ body, status: 400, code: 'validation_failed' });
    }
  });

  it('retries by filter: a dry run counts, the real run answers {matched, done} and is audited', async () => {
    const { portal, client } = await newPortal(offload.url);
    const jobs = await Promise.all([1, 2, 3, 4].map((n) => client.post('/v1/jobs', { type: 'noop', input: { fatal: true }, idempotencyKey: `r${n}` })));
    await settled(client, jobs.map((answer) => answer.body.id));
    const filter = { portalId: portal.id, type: 'noop' };

    expect((await admin.post('/v1/admin/jobs/retry', { filter, dryRun: true })).body).toEqual({ matched: 4, dryRun: true });
    expect((await admin.get(`/v1/admin/jobs?status=failed&portalId=${portal.id}`)).body.jobs).toHaveLength(4);

    const run = await admin.post('/v1/admin/jobs/retry', { filter, reason: 'provider back', actor: 'alice' });
    expect(run.status).toBe(200);
    expect(run.body).toEqual({ matched: 4, done: 4 });
    // Each runs again (and fails again: the input says so), a fresh series of attempts.
    await eventually(
      () => admin.get(`/v1/admin/jobs?portalId=${portal.id}&status=failed`),
      (answer) => answer.body.jobs.length === 4 && answer.body.jobs.every((job: { attempts: number; updatedAt: string }) => job.attempts === 1),
    );
    const { actions } = (await admin.get('/v1/admin/actions')).body;
    expect(actions[0]).toMatchObject({ actor: 'alice', action: 'jobs.retry', reason: 'provider back', target: { filter }, matched: 4, done: 4, at: expect.any(String) });
  });

  it('cancels by ids, only the live ones, and retries a cancelled one by id', async () => {
    const { client } = await newPortal(offload.url);
    const slow = await client.post('/v1/jobs', { type: 'noop', input: { sleepMs: 10_000 } });
    const done = await client.post('/v1/jobs', { type: 'noop', input: {} });
    await settled(client, [done.body.id]);
    const ids = [slow.body.id, done.body.id];
    expect((await admin.post('/v1/admin/jobs/cancel', { ids, dryRun: true })).body).toEqual({ matched: 1, dryRun: true });
    expect((await admin.post('/v1/admin/jobs/cancel', { ids, reason: 'stop it' })).body).toEqual({ matched: 1, done: 1 });
    expect((await client.get(`/v1/jobs/${slow.body.id}`)).body.status).toBe('cancelled');
    expect((await admin.post('/v1/admin/jobs/retry', { ids: [slow.body.id] })).body).toEqual({ matched: 1, done: 1 });
    await settled(client, [slow.body.id], ['running', 'succeeded']);
    const { actions } = (await admin.get('/v1/admin/actions?limit=2')).body;
    expect(actions.map((action: { action: string; actor: string }) => [action.action, action.actor])).toEqual([
      ['jobs.retry', 'admin'],
      ['jobs.cancel', 'admin'],
    ]);
  });

  it("purges every job naming a record, cancelling live ones, with their journal and events; audited", async () => {
    const { portal, client } = await newPortal(offload.url);
    const about = await Promise.all([
      client.post('/v1/jobs', { type: 'noop', input: {}, object: { type: 'CONTACT', id: 77 } }),
      client.post('/v1/jobs', { type: 'noop', input: { sleepMs: 10_000 }, object: { type: 'contacts', id: '77' } }),
    ]);
    const other = await client.post('/v1/jobs', { type: 'noop', input: {}, object: { type: 'contacts', id: 78 } });
    await settled(client, [about[0].body.id, other.body.id]);
    const purge = await admin.request('DELETE', `/v1/admin/portals/${portal.id}/records/CONTACT/77?reason=DSR-1`);
    expect(purge.status).toBe(200);
    expect(purge.body).toMatchObject({ objectType: 'contacts', objectId: '77', jobs: 2, events: expect.any(Number) });
    expect(purge.body.events).toBeGreaterThanOrEqual(3);
    for (const answer of about) expect((await client.get(`/v1/jobs/${answer.body.id}`)).status).toBe(404);
    expect((await client.get(`/v1/jobs/${other.body.id}`)).status).toBe(200);
    const ids = about.map((answer) => answer.body.id);
    expect((await db.query(`SELECT count(*)::int AS n FROM outbox_events WHERE key = ANY($1)`, [ids])).rows).toEqual([{ n: 0 }]);
    expect((await admin.get('/v1/admin/actions?limit=1')).body.actions[0]).toMatchObject({ action: 'records.purge', reason: 'DSR-1', matched: 2, done: 2 });
    expect((await admin.request('DELETE', `/v1/admin/portals/${portal.id}/records/contacts/a%20b`)).status).toBe(400);
  });

  it('purges jobs that ended past JOB_RETENTION_DAYS with their write-back journal and outbox events, and keeps the rest', async () => {
    const { client } = await newPortal(offload.url);
    const old = await client.post('/v1/jobs', { type: 'noop', input: {}, object: { type: 'contacts', id: 5 } });
    const young = await client.post('/v1/jobs', { type: 'noop', input: {} });
    await settled(client, [old.body.id, young.body.id]);
    await db.query(
      `INSERT INTO writebacks (job_id, portal_id, object_type, object_id, priority, job_order, properties, status, handler_type, handler_version)
       SELECT id, portal_id, 'contacts', '5', 'live', created_at, '{"a": "1"}', 'written', type, handler_version FROM jobs WHERE id = $1`,
      [old.body.id],
    );
    await db.query(`UPDATE jobs SET finished_at = now() - interval '31 days', created_at = now() - interval '31 days' WHERE id = $1`, [old.body.id]);
    await db.query(`UPDATE outbox_events SET created_at = now() - interval '31 days' WHERE key = $1`, [old.body.id]);

    const purged = await offload.app.get(JobRetention).purge();
    expect(purged.jobs).toBe(1);
    expect(purged.events).toBeGreaterThanOrEqual(2);
    expect((await client.get(`/v1/jobs/${old.body.id}`)).status).toBe(404);
    expect((await client.get(`/v1/jobs/${young.body.id}`)).status).toBe(200);
    const left = await db.query(
      `SELECT (SELECT count(*) FROM writebacks WHERE job_id = $1::uuid)::int AS writes, (SELECT count(*) FROM outbox_events WHERE key = $1::text)::int AS events,
              (SELECT count(*) FROM outbox_events WHERE key = $2::text)::int AS young_events`,
      [old.body.id, young.body.id],
    );
    expect(left.rows[0]).toMatchObject({ writes: 0, events: 0 });
    expect(left.rows[0].young_events).toBeGreaterThan(0);
  });

  it("reads a portal's HubSpot budget use and the outbox backlog", async () => {
    const { portal } = await newPortal(offload.url);
    const budget = await admin.get(`/v1/admin/portals/${portal.id}/budget`);
    expect(budget.status).toBe(200);
    expect(budget.body).toMatchObject({ limits: { requestsPer10s: 100 }, window: { used: 0 }, day: { used: 0, exhausted: false } });
    expect((await admin.get('/v1/admin/portals/00000000-0000-4000-8000-000000000000/budget')).status).toBe(404);
    const outbox = await admin.get('/v1/admin/outbox');
    expect(outbox.body).toEqual({ unpublished: expect.any(Number), oldestUnpublishedSeconds: expect.any(Number), publishedKept: 0 });
    expect(outbox.body.unpublished).toBeGreaterThan(0);
  });

  it('asks for METRICS_TOKEN on /metrics and for the admin token on /docs when DOCS_PUBLIC is false', async () => {
    const anonymous = new HttpClient(offload.url);
    expect((await anonymous.get('/metrics')).status).toBe(401);
    expect((await anonymous.withToken(ADMIN_TOKEN).get('/metrics')).status).toBe(401);
    const metrics = await anonymous.withToken('metrics-token-0123456789').get('/metrics');
    expect(metrics.status).toBe(200);
    expect(metrics.body).toMatch(/^# TYPE offload_job_queue_wait_seconds histogram$/m);
    expect(metrics.body).toMatch(/^offload_queue_jobs\{type="noop",state="waiting"\} \d+$/m);
    expect((await anonymous.get('/docs')).status).toBe(401);
    expect((await anonymous.get('/docs/openapi.json')).status).toBe(401);
    const docs = await anonymous.withToken(ADMIN_TOKEN).get('/docs/openapi.json');
    expect(docs.status).toBe(200);
    expect(Object.keys(docs.body.paths)).toEqual(expect.arrayContaining(['/v1/admin/jobs', '/v1/admin/jobs/retry', '/v1/admin/jobs/cancel']));
  });
});
