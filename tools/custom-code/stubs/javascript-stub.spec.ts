import { runInNewContext } from 'node:vm';
import { scoringDeclaration } from '../../../test/support/stub-declarations';
import { generateStub } from './generate-stub';
import { StubMode } from './stub-spec';

interface SentRequest {
  method: string;
  url: string;
  headers: Record<string, string>;
  body?: any;
  signal: AbortSignal;
}

type Answer = { status: number; body?: unknown; text?: string; headers?: Record<string, string> };
/** An answer, or what fetch rejects with (an Error, or the DOMException of a timeout). */
type Reply = Answer | Error | DOMException;

const SECRETS = { OFFLOAD_URL: 'https://offload.test/', OFFLOAD_API_KEY: 'key-1' };
const JOB_ID = '0b9e7c1e-8a47-4d51-9d3c-3c1f5d0c2a11';
const EVENT = {
  origin: { portalId: 62515, actionDefinitionId: 9 },
  object: { objectType: 'CONTACT', objectId: 501 },
  inputFields: { count: '12' },
  callbackId: 'ap-62515-1-2-3',
};
const FAILURE_DEFAULTS = { score: 0, qualified: false, summary: '', grade: '', scored_at: '', review_on: '', phone: '', job_id: '' };

const job = (status: string, extra: Record<string, unknown> = {}) => ({ id: JOB_ID, type: 'scoring', status, ...extra });

/**
 * Runs a generated JavaScript stub in a context of its own, with a fetch that answers as the test
 * says and a clock that a long-poll moves forward by its wait, as one that timed out would.
 */
function stubFor(mode: StubMode, reply: (request: SentRequest) => Reply, env: Record<string, string> = SECRETS) {
  const clock = { now: 1_000_000 };
  const requests: SentRequest[] = [];
  const context = {
    exports: {} as { main: (event: unknown) => Promise<{ outputFields: Record<string, unknown> }> },
    process: { env },
    console: { error: () => undefined },
    AbortSignal,
    Date: { now: () => clock.now },
    fetch: async (url: string, init: { method: string; headers: Record<string, string>; body?: string; signal: AbortSignal }) => {
      const request = { method: init.method, url, headers: init.headers, body: init.body && JSON.parse(init.body), signal: init.signal };
      requests.push(request);
      const wait = /[?&]wait=(\d+)/.exec(url);
      if (wait) clock.now += Number(wait[1]) * 1000;
      const answer = reply(request);
      if (!('status' in answer)) throw answer;
      return new Response(answer.text ?? JSON.stringify(answer.body), { status: answer.status, headers: answer.headers });
    },
  };
  runInNewContext(generateStub(scoringDeclaration, 'js', mode).code, context);
  return { main: context.exports.main, requests, clock };
}

const queued = () => ({ status: 202, body: job('queued') });

describe('the JavaScript stub', () => {
  describe('enqueueing', () => {
    it('sends the job type, the read inputs, the object, the callback id and a key derived from the event', async () => {
      const { main, requests } = stubFor('enqueue', queued);
      const { outputFields } = await main(EVENT);
      expect(requests).toEqual([
        expect.objectContaining({
          method: 'POST',
          url: 'https://offload.test/v1/jobs',
          headers: { authorization: 'Bearer key-1', 'content-type': 'application/json' },
          body: {
            type: 'scoring',
            input: { count: 12 },
            idempotencyKey: 'hs:62515:contact:501:scoring:ap-62515-1-2-3',
            callbackId: 'ap-62515-1-2-3',
            object: { type: 'CONTACT', id: 501 },
          },
        }),
      ]);
      expect(outputFields).toEqual({ ...FAILURE_DEFAULTS, job_id: JOB_ID, job_status: 'pending', offload_error: '' });
    });

    it('derives the same key for a re-run of the same execution, and another for any other', async () => {
      const { main, requests } = stubFor('enqueue', queued);
      await main(EVENT);
      await main(EVENT);
      await main({ ...EVENT, callbackId: 'ap-62515-1-2-4' });
      await main({ ...EVENT, object: { objectType: 'CONTACT', objectId: 502 } });
      await main({ ...EVENT, object: undefined });
      expect(requests.map((request) => request.body.idempotencyKey)).toEqual([
        'hs:62515:contact:501:scoring:ap-62515-1-2-3',
        'hs:62515:contact:501:scoring:ap-62515-1-2-3',
        'hs:62515:contact:501:scoring:ap-62515-1-2-4',
        'hs:62515:contact:502:scoring:ap-62515-1-2-3',
        'hs:62515:::scoring:ap-62515-1-2-3',
      ]);
      expect(requests[4].body).not.toHaveProperty('object');
    });

    it('reads each input as the kind its schema declares, and leaves out what is not set', async () => {
      const { main, requests } = stubFor('enqueue', queued);
      const inputFields = { count: ' 12 ', ratio: '2.5e-1', active: 'TRUE', tags: '["a","b"]', label: 7, tier: 'gold', anything: 'as is', extra: 'x' };
      await main({ ...EVENT, inputFields });
      await main({ ...EVENT, inputFields: { count: 3, ratio: '', active: null, label: '' } });
      expect(requests.map((request) => request.body.input)).toEqual([
        { count: 12, ratio: 0.25, active: true, tags: ['a', 'b'], label: '7', tier: 'gold', anything: 'as is' },
        { count: 3 },
      ]);
    });

    it.each([
      [{}, 'missing required input "count"'],
      [{ count: '' }, 'missing required input "count"'],
      [{ count: '12abc' }, 'input "count" must be a whole number, not "12abc"'],
      [{ count: '1.5' }, 'input "count" must be a whole number, not "1.5"'],
      [{ count: '1', ratio: '0x10' }, 'input "ratio" must be a number, not "0x10"'],
      [{ count: '1', active: 'yes' }, 'input "active" must be true or false, not "yes"'],
      [{ count: '1', tags: '[oops' }, 'input "tags" must be JSON text, not "[oops"'],
    ])('fails for good, without calling Offload, on inputs %j', async (inputFields, reason) => {
      const { main, requests } = stubFor('enqueue', queued);
      const { outputFields } = await main({ ...EVENT, inputFields });
      expect(outputFields).toEqual({ ...FAILURE_DEFAULTS, job_status: 'error', offload_error: reason });
      expect(requests).toEqual([]);
    });

    it('takes the job this execution started when a re-run brings other input values', async () => {
      const { main, requests } = stubFor('enqueue', (request) =>
        request.method === 'POST'
          ? { status: 409, body: { error: { code: 'idempotency_conflict', message: 'taken', details: { jobId: JOB_ID } } } }
          : { status: 200, body: job('running') },
      );
      const { outputFields } = await main(EVENT);
      expect(requests.map((request) => `${request.method} ${request.url}`)).toEqual([
        'POST https://offload.test/v1/jobs',
        `GET https://offload.test/v1/jobs/${JOB_ID}`,
      ]);
      expect(outputFields).toMatchObject({ job_id: JOB_ID, job_status: 'pending' });
    });
  });

  describe('waiting', () => {
    it('long-polls the job it enqueued and returns its outputs', async () => {
      const output = { score: 87, qualified: true, summary: 'fits', grade: 'A', scored_at: 1_767_225_600_000 };
      const { main, requests } = stubFor('enqueue-and-wait', (request) =>
        request.method === 'POST' ? queued() : { status: 200, body: job('succeeded', { output }) },
      );
      const { outputFields } = await main(EVENT);
      expect(requests[1]).toMatchObject({ method: 'GET', url: `https://offload.test/v1/jobs/${JOB_ID}?wait=15`, headers: { authorization: 'Bearer key-1' } });
      expect(outputFields).toEqual({ ...FAILURE_DEFAULTS, ...output, job_id: JOB_ID, job_status: 'succeeded', offload_error: '' });
    });

    it('polls again until the deadline, keeping 3 s of the 20 s, then answers pending with the job id', async () => {
      const { main, requests, clock } = stubFor('enqueue-and-wait', (request) =>
        request.method === 'POST' ? queued() : { status: 200, body: job('running') },
      );
      const started = clock.now;
      const { outputFields } = await main(EVENT);
      expect(requests.map((request) => request.url.replace(/.*\?/, ''))).toEqual(['https://offload.test/v1/jobs', 'wait=15', 'wait=1']);
      expect(clock.now - started).toBeLessThanOrEqual(17_000);
      expect(outputFields).toMatchObject({ job_id: JOB_ID, job_status: 'pending', offload_error: '' });
    });

    it('reads the job_id input when polling', async () => {
      const { main, requests } = stubFor('poll', () => ({ status: 200, body: job('cancelled') }));
      const { outputFields } = await main({ ...EVENT, inputFields: { job_id: ` ${JOB_ID} ` } });
      expect(requests.map((request) => request.url)).toEqual([`https://offload.test/v1/jobs/${JOB_ID}?wait=15`]);
      expect(outputFields).toMatchObject({ job_id: JOB_ID, job_status: 'cancelled', offload_error: 'the job was cancelled' });
      const missing = await main({ ...EVENT, inputFields: {} });
      expect(missing.outputFields).toMatchObject({ job_status: 'error', offload_error: expect.stringContaining('missing required input "job_id"') });
    });

    it('returns safe defaults and the reason for a failed job', async () => {
      const error = { code: 'provider_rejected', message: 'no such company', retryable: false };
      const { main } = stubFor('enqueue-and-wait', (request) => (request.method === 'POST' ? { status: 200, body: job('failed', { error }) } : new Error('no GET expected')));
      const { outputFields } = await main(EVENT);
      expect(outputFields).toEqual({ ...FAILURE_DEFAULTS, job_id: JOB_ID, job_status: 'failed', offload_error: 'provider_rejected: no such company' });
    });
  });

  describe('failing', () => {
    it.each([
      ['a 503', { status: 503, body: { error: { code: 'unavailable', message: 'later' } } }, 503],
      ['a 502 page', { status: 502, text: '<html>bad gateway</html>' }, 502],
      ['a network error', Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNREFUSED' } }), 503],
      ['a timeout', new DOMException('The operation was aborted due to timeout', 'TimeoutError'), 504],
    ])('throws on %s with the status HubSpot retries on', async (_, answer, status) => {
      const { main } = stubFor('enqueue', () => answer as Reply);
      await expect(main(EVENT)).rejects.toMatchObject({ name: 'OffloadUnavailable', status, code: status, response: { status } });
    });

    it("throws on a 429 and passes on Offload's Retry-After", async () => {
      const { main } = stubFor('enqueue', () => ({ status: 429, body: { error: { code: 'rate_limited', message: 'slow' } }, headers: { 'retry-after': '30' } }));
      await expect(main(EVENT)).rejects.toMatchObject({ status: 429, response: { status: 429, headers: { 'retry-after': '30' } } });
    });

    it('gives every call a time limit', async () => {
      const { main, requests } = stubFor('enqueue', queued);
      await main(EVENT);
      expect(requests[0].signal).toBeInstanceOf(AbortSignal);
    });

    it.each([
      ['a body that is not JSON', { status: 200, text: '{"id": "' }, 'POST /v1/jobs: Offload answered 200 with a body that is not JSON'],
      [
        'a 400',
        { status: 400, body: { error: { code: 'validation_failed', message: 'Validation failed: input.count: must be <= 10' } } },
        'Offload refused the request (400): validation_failed: Validation failed: input.count: must be <= 10',
      ],
      ['a 401 without details', { status: 401, body: {} }, 'Offload refused the request (401): no error details'],
      ['a 202 that is not a job', { status: 202, body: { ok: true } }, 'Offload answered 202 without a job'],
    ])('returns safe defaults and the reason on %s', async (_, answer, reason) => {
      const { main } = stubFor('enqueue', () => answer);
      const { outputFields } = await main(EVENT);
      expect(outputFields).toEqual({ ...FAILURE_DEFAULTS, job_status: 'error', offload_error: reason });
    });

    it.each([
      [{ OFFLOAD_API_KEY: 'key-1' }, "the secret OFFLOAD_URL is not set: add it to this action's secrets"],
      [{ OFFLOAD_URL: 'https://offload.test' }, "the secret OFFLOAD_API_KEY is not set: add it to this action's secrets"],
      [{ OFFLOAD_URL: 'offload.test', OFFLOAD_API_KEY: 'key-1' }, 'the secret OFFLOAD_URL is not an http(s) URL'],
    ])('returns a clear error when a secret is missing or wrong (%j)', async (env, reason) => {
      const { main, requests } = stubFor('enqueue-and-wait', queued, env);
      const { outputFields } = await main(EVENT);
      expect(outputFields).toEqual({ ...FAILURE_DEFAULTS, job_status: 'error', offload_error: reason });
      expect(requests).toEqual([]);
    });

    it('returns its outputs even on a defect of its own', async () => {
      const { main } = stubFor('enqueue', queued);
      const { outputFields } = await main(null);
      expect(outputFields).toMatchObject({ job_status: 'error', offload_error: expect.stringMatching(/^unexpected error: .*null/) });
    });
  });
});
