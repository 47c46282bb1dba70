import { Client as PgClient } from 'pg';
import { NoopHandler } from '../src/handlers/noop/noop.handler';
import { createHubSpotSimulator, HubSpotSimulator } from '../tools/simulators/hubspot';
import { signatureV2, signatureV3 } from '../src/hubspot/entry-points/request-signature';
import { WorkflowStepCompleter } from '../src/hubspot/client/workflow-step-completer';
import { deriveIdempotencyKey } from '../src/jobs/idempotency';
import { ADMIN_TOKEN, configFor, eventually, HttpClient, isolate, Isolation, loggingErrors, RunningOffload, startOffload } from './support/offload-harness';

const CLIENT_SECRET = 'test-app-client-secret';

describe('HubSpot entry points: custom workflow actions and the "send a webhook" action', () => {
  let isolation: Isolation;
  let sim: HubSpotSimulator;
  let offload: RunningOffload;
  let anonymous: HttpClient;
  let client: HttpClient;
  let portalId: string;
  let nextCallback = 1;

  beforeAll(async () => {
    sim = await createHubSpotSimulator({ seedContacts: 50 });
    sim.defineProperties('contacts', ['ok', 'attempts']);
    isolation = await isolate();
    offload = await startOffload(configFor(isolation, { HUBSPOT_BASE_URL: sim.url, HUBSPOT_CLIENT_SECRET: CLIENT_SECRET }), [NoopHandler]);
    anonymous = new HttpClient(offload.url);
    const created = await anonymous
      .withToken(ADMIN_TOKEN)
      .post('/v1/admin/portals', { hubspotPortalId: sim.portalId, name: 'Simulated portal', hubspotAccessToken: sim.token });
    expect(created.status).toBe(201);
    portalId = created.body.id;
    client = anonymous.withToken(created.body.apiKey);
  });

  afterAll(async () => {
    await offload?.close();
    await sim?.close();
    await isolation?.cleanup();
  });

  afterEach(() => sim.inject.clear());

  const callbackId = () => `ap-${sim.portalId}-${Date.now()}-${nextCallback++}`;
  /** The idempotency key of the job a noop action request for this callback and contact makes. */
  const actionJobKey = (callback: string, contactId: string) =>
    deriveIdempotencyKey(portalId, {
      type: 'noop',
      input: {},
      object: { type: 'contacts', id: contactId },
      callbackId: callback,
      writeback: false,
      completesWorkflowStep: true,
    });

  function actionRequest(callback: string, inputFields: Record<string, unknown> = {}, objectId = 7) {
    return {
      callbackId: callback,
      origin: { portalId: sim.portalId, actionDefinitionId: 4711, actionDefinitionVersion: 1 },
      context: { source: 'WORKFLOWS', workflowId: 99 },
      object: { objectId, objectType: 'CONTACT', properties: { email: 'ada@example.com' } },
      inputFields,
    };
  }

  type Signing = { version?: 'v2' | 'v3'; secret?: string; timestamp?: number; sentBody?: string };

  /** POSTs the body as HubSpot would, signed over the URI and the exact bytes sent. */
  function signedPost(path: string, body: unknown, { version = 'v3', secret = CLIENT_SECRET, timestamp = Date.now(), sentBody }: Signing = {}) {
    const raw = JSON.stringify(body);
    const uri = `${offload.url}${path}`;
    const headers: Record<string, string> =
      version === 'v3'
        ? {
            'x-hubspot-signature-v3': signatureV3(secret, 'POST', uri, raw, String(timestamp)),
            'x-hubspot-request-timestamp': String(timestamp),
          }
        : { 'x-hubspot-signature': signatureV2(secret, 'POST', uri, raw), 'x-hubspot-signature-version': 'v2' };
    return anonymous.post(path, sentBody ?? raw, { 'content-type': 'application/json; charset=utf-8', ...headers });
  }

  const completionsOf = (callback: string) => sim.callbacks.filter((completion) => completion.callbackId === callback);
  const completed = (callback: string) => eventually(async () => completionsOf(callback), (list) => list.length > 0, 20_000);

  describe('POST /v1/hubspot/actions/:type', () => {
    it('answers a v3-signed request with BLOCK at once, then completes the step with the outputs', async () => {
      const callback = callbackId();
      const answer = await signedPost('/v1/hubspot/actions/noop', actionRequest(callback));
      expect(answer.status).toBe(200);
      // noop: 11 runs of up to 30 s and 10 backoffs of up to 2 s, plus a day for queues, in whole hours.
      expect(answer.body).toEqual({ outputFields: { hs_execution_state: 'BLOCK', hs_expiration_duration: 'P1DT1H' } });

      const [completion] = await completed(callback);
      expect(completion).toMatchObject({
        portalId: sim.portalId,
        executionState: 'SUCCESS',
        outputFields: { hs_execution_state: 'SUCCESS', ok: 'true', attempts: '1' },
      });

      const key = actionJobKey(callback, '7');
      const job = await client.get(`/v1/jobs?idempotencyKey=${key}`);
      expect(job.body).toMatchObject({
        status: 'succeeded',
        callbackId: callback,
        object: { type: 'contacts', id: '7' },
        priority: 'live',
        completesWorkflowStep: true,
      });
    });

    it('answers a retried request with the same job: its completion once it has ended, and no second job', async () => {
      const callback = callbackId();
      await signedPost('/v1/hubspot/actions/noop', actionRequest(callback));
      await completed(callback);
      const again = await signedPost('/v1/hubspot/actions/noop', actionRequest(callback));
      expect(again.status).toBe(200);
      expect(again.body).toEqual({ outputFields: { hs_execution_state: 'SUCCESS', ok: 'true', attempts: '1', job_id: expect.any(String), job_status: 'succeeded' } });
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      expect(completionsOf(callback)).toHaveLength(1);
    });

    it('accepts a v2 signature too', async () => {
      const callback = callbackId();
      const answer = await signedPost('/v1/hubspot/actions/noop', actionRequest(callback), { version: 'v2' });
      expect(answer.status).toBe(200);
      expect(answer.body.outputFields.hs_execution_state).toBe('BLOCK');
      expect((await completed(callback))[0].executionState).toBe('SUCCESS');
    });

    it.each<[string, (callback: string) => Signing]>([
      ['a wrong client secret (v3)', () => ({ secret: 'forged' })],
      ['a wrong client secret (v2)', () => ({ version: 'v2', secret: 'forged' })],
      ['a stale timestamp', () => ({ timestamp: Date.now() - 6 * 60_000 })],
      ['a body other than the one signed', (callback) => ({ sentBody: JSON.stringify(actionRequest(callback, { fatal: true })) })],
    ])('answers 401 to %s, and enqueues nothing', async (_, signing) => {
      const callback = callbackId();
      const answer = await signedPost('/v1/hubspot/actions/noop', actionRequest(callback), signing(callback));
      expect(answer.status).toBe(401);
      expect(answer.body.error.code).toBe('unauthorized');
      const key = actionJobKey(callback, '7');
      expect((await client.get(`/v1/jobs?idempotencyKey=${key}`)).status).toBe(404);
    });

    it('answers 401 to an unsigned request', async () => {
      const answer = await anonymous.post('/v1/hubspot/actions/noop', actionRequest(callbackId()));
      expect(answer.status).toBe(401);
    });

    it('completes the step with FAIL_CONTINUE and the error when the job fails', async () => {
      const callback = callbackId();
      await signedPost('/v1/hubspot/actions/noop', actionRequest(callback, { fatal: 'true' }));
      const [completion] = await completed(callback);
      expect(completion.executionState).toBe('FAIL_CONTINUE');
      expect(completion.outputFields).toEqual({
        hs_execution_state: 'FAIL_CONTINUE',
        errorCode: 'noop_fatal',
        offload_error: 'noop_fatal: noop was asked to fail fatally',
        job_id: expect.any(String),
        job_status: 'failed',
      });
    });

    it('completes the step with FAIL_CONTINUE when the job is cancelled', async () => {
      const callback = callbackId();
      await signedPost('/v1/hubspot/actions/noop', actionRequest(callback, { sleepMs: 10_000 }, 8));
      const key = actionJobKey(callback, '8');
      const job = await client.get(`/v1/jobs?idempotencyKey=${key}`);
      expect(job.body.input).toEqual({ sleepMs: 10_000 });
      expect((await client.post(`/v1/jobs/${job.body.id}/cancel`)).status).toBe(200);
      const [completion] = await completed(callback);
      expect(completion.outputFields).toEqual({
        hs_execution_state: 'FAIL_CONTINUE',
        errorCode: 'cancelled',
        offload_error: 'cancelled: Cancelled on request',
        job_id: job.body.id,
        job_status: 'cancelled',
      });
    });

    it('completes steps that end together in shared batch calls', async () => {
      sim.resetCalls();
      const callbacks = Array.from({ length: 40 }, () => callbackId());
      const answers = await Promise.all(callbacks.map((callback, i) => signedPost('/v1/hubspot/actions/noop', actionRequest(callback, {}, 10 + i))));
      expect(answers.every((answer) => answer.status === 200)).toBe(true);
      for (const callback of callbacks) await completed(callback);
      const calls = sim.listCalls({ endpoint: 'automation.callbacks.completeBatch' });
      expect(calls.length).toBeLessThanOrEqual(4);
      expect(calls.reduce((sum, call) => sum + (call.summary?.inputs as number), 0)).toBe(40);
      expect(sim.listCalls({ endpoint: 'automation.callbacks.complete' })).toHaveLength(0);
    });

    it('sends a completion HubSpot did not take again from the sweep, and settles it once accepted', async () => {
      sim.inject.faults({ errorRate: 1, errorStatuses: [503], pathIncludes: '/callbacks' });
      const callback = callbackId();
      await signedPost('/v1/hubspot/actions/noop', actionRequest(callback, {}, 60));
      const key = actionJobKey(callback, '60');
      const { id } = (await client.get(`/v1/jobs?idempotencyKey=${key}`)).body;
      const db = loggingErrors(new PgClient({ connectionString: isolation.databaseUrl }), 'PostgreSQL');
      await db.connect();
      try {
        const settledAt = async () =>
          (await db.query('SELECT workflow_step_settled_at FROM jobs WHERE id = $1', [id])).rows[0].workflow_step_settled_at;
        const refusals = async () => sim.listCalls({ status: 503 }).filter((call) => call.path.includes('/callbacks')).length;
        // The worker's own attempts (five, with backoff) all meet the outage; the step stays owed.
        await eventually(refusals, (n) => n >= 5, 20_000);
        await new Promise((resolve) => setTimeout(resolve, 200));
        expect(await settledAt()).toBeNull();
        expect(completionsOf(callback)).toHaveLength(0);

        sim.inject.clear();
        await db.query(`UPDATE jobs SET finished_at = now() - interval '10 minutes' WHERE id = $1`, [id]);
        await offload.app.get(WorkflowStepCompleter).sweep();
        expect(completionsOf(callback)).toEqual([expect.objectContaining({ executionState: 'SUCCESS', completion: 1 })]);
        expect(await settledAt()).toBeInstanceOf(Date);
      } finally {
        await db.end();
      }
    });

    it('reads inputFields sent as text in the types the handler declares, and answers 400 with paths for bad ones', async () => {
      const callback = callbackId();
      expect((await signedPost('/v1/hubspot/actions/noop', actionRequest(callback, { sleepMs: '5', failTimes: '0' }))).status).toBe(200);
      expect((await completed(callback))[0].executionState).toBe('SUCCESS');

      const bad = await signedPost('/v1/hubspot/actions/noop', actionRequest(callbackId(), { sleepMs: 'soon' }));
      expect(bad.status).toBe(400);
      expect(bad.body.error.code).toBe('validation_failed');
      expect(bad.body.error.details).toEqual(expect.arrayContaining([expect.objectContaining({ path: 'input.sleepMs' })]));
    });

    it('answers 404 for a HubSpot account with no portal, and 400 for an unknown job type', async () => {
      const stranger = { ...actionRequest(callbackId()), origin: { portalId: 99_999_999 } };
      const unknown = await signedPost('/v1/hubspot/actions/noop', stranger);
      expect(unknown.status).toBe(404);
      expect(unknown.body.error.code).toBe('not_found');
      const type = await signedPost('/v1/hubspot/actions/enrich-everything', actionRequest(callbackId()));
      expect(type.status).toBe(400);
      expect(type.body.error.code).toBe('unknown_job_type');
    });

    it('answers 503 unavailable, not 500, when no client secret is configured', async () => {
      const unsigned = await startOffload(configFor(isolation, { ROLE: 'api', HUBSPOT_BASE_URL: sim.url }), [NoopHandler]);
      try {
        const answer = await new HttpClient(unsigned.url).post('/v1/hubspot/actions/noop', actionRequest(callbackId()), {
          'x-hubspot-signature-v3': 'anything',
          'x-hubspot-request-timestamp': String(Date.now()),
        });
        expect(answer.status).toBe(503);
        expect(answer.body.error).toMatchObject({ code: 'unavailable', message: expect.stringContaining('HUBSPOT_CLIENT_SECRET') });
      } finally {
        await unsigned.close();
      }
    });
  });

  describe('POST /v1/hubspot/webhooks/:type', () => {
    const payload = (id: number, extra: Record<string, unknown> = {}) => ({
      hs_object_id: String(id),
      email: `contact${id}@example.com`,
      firstname: 'Ada',
      sleepMs: '1',
      ...extra,
    });

    it('enqueues with the portal API key: input from the declared properties, object from hs_object_id', async () => {
      const answer = await client.post('/v1/hubspot/webhooks/noop', payload(21));
      expect(answer.status).toBe(202);
      expect(answer.body).toMatchObject({
        type: 'noop',
        status: 'queued',
        input: { sleepMs: 1 },
        object: { type: 'contacts', id: '21' },
        priority: 'live',
        writeback: false,
      });

      const again = await client.post('/v1/hubspot/webhooks/noop', payload(21));
      expect(again.status).toBe(200);
      expect(again.body.id).toBe(answer.body.id);
      const changed = await client.post('/v1/hubspot/webhooks/noop', payload(21, { firstname: 'Grace' }));
      expect(changed.status).toBe(202);
      expect(changed.body.id).not.toBe(answer.body.id);
    });

    it('writes the outputs back to the record when asked, with the object type given', async () => {
      const answer = await client.post('/v1/hubspot/webhooks/noop?objectType=CONTACT&writeback=true&priority=bulk', payload(22));
      expect(answer.status).toBe(202);
      expect(answer.body).toMatchObject({ writeback: true, priority: 'bulk', object: { type: 'contacts', id: '22' } });
      await eventually(() => client.get(`/v1/jobs/${answer.body.id}?wait=5`), (a) => a.body.status === 'succeeded');
      expect(sim.getObject('contacts', 22)?.properties).toMatchObject({ ok: 'true', attempts: '1' });
    });

    it('accepts a v3 signature, the portal named by ?portalId', async () => {
      const answer = await signedPost(`/v1/hubspot/webhooks/noop?portalId=${sim.portalId}`, payload(23));
      expect(answer.status).toBe(202);
      expect(answer.body.object).toEqual({ type: 'contacts', id: '23' });
      const job = await client.get(`/v1/jobs/${answer.body.id}`);
      expect(job.status).toBe(200);
    });

    it('refuses a request without a key or signature (401), a forged v3 or v2 signature (401), and a signed one naming no portal (400)', async () => {
      expect((await anonymous.post('/v1/hubspot/webhooks/noop', payload(24))).status).toBe(401);
      expect((await anonymous.withToken('ofk_wrong').post('/v1/hubspot/webhooks/noop', payload(24))).status).toBe(401);
      const forged = await signedPost(`/v1/hubspot/webhooks/noop?portalId=${sim.portalId}`, payload(24), { secret: 'forged' });
      expect(forged.status).toBe(401);
      const forgedV2 = await signedPost(`/v1/hubspot/webhooks/noop?portalId=${sim.portalId}`, payload(24), { version: 'v2', secret: 'forged' });
      expect(forgedV2.status).toBe(401);
      const nameless = await signedPost('/v1/hubspot/webhooks/noop', payload(24));
      expect(nameless.status).toBe(400);
      expect(nameless.body.error.details).toEqual([expect.objectContaining({ path: 'portalId' })]);
    });

    it('authenticates before it reads the query: a bad query without credentials is 401, with them 400', async () => {
      for (const query of ['bogus=1', 'writeback=maybe', 'portalId=abc']) {
        const anonymousAnswer = await anonymous.post(`/v1/hubspot/webhooks/noop?${query}`, payload(25));
        expect({ query, status: anonymousAnswer.status, code: anonymousAnswer.body.error.code }).toEqual({ query, status: 401, code: 'unauthorized' });
        const wrongKey = await anonymous.withToken('ofk_wrong').post(`/v1/hubspot/webhooks/noop?${query}`, payload(25));
        expect({ query, status: wrongKey.status }).toEqual({ query, status: 401 });
        const withKey = await client.post(`/v1/hubspot/webhooks/noop?${query}`, payload(25));
        expect({ query, status: withKey.status, code: withKey.body.error.code }).toEqual({ query, status: 400, code: 'validation_failed' });
      }
    });
  });
});
