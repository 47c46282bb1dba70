import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client as PgClient } from 'pg';
import { discoverHandlerClasses } from '../src/registry/handler-discovery';
import { declarationOf, HandlerDeclaration } from '../src/registry/job-handler';
import { runStub, StubRunReport } from '../src/custom-code/runtime/stub-runtime';
import { generateStub } from '../src/custom-code/stubs/generate-stub';
import { CONTROL_OUTPUTS, REQUEST_TIMEOUT_MS, STUB_LANGUAGES, STUB_MODES, StubLanguage, StubMode } from '../src/custom-code/stubs/stub-spec';
import { configFor, HttpClient, isolate, Isolation, newPortal, RunningOffload, startOffload } from './support/offload-harness';

const CORPUS = join(__dirname, 'corpus', 'events');
const EXPECTATIONS = 'expectations.json';

interface Expectation {
  description: string;
  job_status: 'succeeded' | 'failed' | 'cancelled' | 'error';
  outputs?: Record<string, unknown>;
  offload_error?: string;
  platform_retry?: boolean;
}

interface HubSpotEvent {
  origin: { portalId: number };
  object?: { objectType: string; objectId: number | string };
  inputFields: Record<string, unknown>;
  callbackId: string;
}

interface Scenario {
  name: string;
  event: HubSpotEvent;
  expect: Expectation;
}

/** Every corpus folder's events with what each must end with; a file without an entry, or the reverse, is an error. */
function loadCorpus(): Array<{ type: string; scenarios: Scenario[] }> {
  return readdirSync(CORPUS)
    .filter((entry) => statSync(join(CORPUS, entry)).isDirectory())
    .sort()
    .map((type) => {
      const folder = join(CORPUS, type);
      const expectations = JSON.parse(readFileSync(join(folder, EXPECTATIONS), 'utf8')) as Record<string, Expectation>;
      const files = readdirSync(folder).filter((file) => file.endsWith('.json') && file !== EXPECTATIONS);
      const unexpected = files.filter((file) => !expectations[file]);
      const missing = Object.keys(expectations).filter((file) => !files.includes(file));
      if (unexpected.length + missing.length > 0) {
        throw new Error(`${folder}: events without an expectation: [${unexpected}]; expectations without an event: [${missing}]`);
      }
      const scenarios = files.sort().map((file) => ({
        name: file.replace(/\.json$/, ''),
        event: JSON.parse(readFileSync(join(folder, file), 'utf8')) as HubSpotEvent,
        expect: expectations[file],
      }));
      return { type, scenarios };
    });
}

const corpus = loadCorpus();

describe('generated workflow stubs, run as HubSpot runs them', () => {
  let isolation: Isolation;
  let offload: RunningOffload;
  let client: HttpClient;
  let secrets: Record<string, string>;
  let stubs: string;
  const declarations = new Map<string, HandlerDeclaration>();

  beforeAll(async () => {
    const handlerClasses = discoverHandlerClasses().filter((handlerClass) => corpus.some(({ type }) => declarationOf(handlerClass)!.type === type));
    for (const handlerClass of handlerClasses) declarations.set(declarationOf(handlerClass)!.type, declarationOf(handlerClass)!);
    const withoutHandler = corpus.map(({ type }) => type).filter((type) => !declarations.has(type));
    if (withoutHandler.length > 0) throw new Error(`corpus folders without a handler: ${withoutHandler.join(', ')}`);

    stubs = mkdtempSync(join(tmpdir(), 'custom-code-stubs-'));
    for (const declaration of declarations.values()) {
      for (const language of STUB_LANGUAGES) {
        for (const mode of STUB_MODES) {
          const stub = generateStub(declaration, language, mode);
          writeFileSync(join(stubs, stub.fileName), stub.code);
        }
      }
    }
    isolation = await isolate();
    offload = await startOffload(configFor(isolation), handlerClasses);
    ({ client } = await newPortal(offload.url));
    secrets = { OFFLOAD_URL: offload.url, OFFLOAD_API_KEY: client.token! };
  });

  afterAll(async () => {
    await offload?.close();
    await isolation?.cleanup();
    if (stubs) rmSync(stubs, { recursive: true, force: true });
  });

  const stubFile = (type: string, language: StubLanguage, mode: StubMode) => join(stubs, `${type}.${mode}.${language === 'js' ? 'js' : 'py'}`);
  const run = (type: string, language: StubLanguage, mode: StubMode, event: unknown, withSecrets = secrets) =>
    runStub({ file: stubFile(type, language, mode), event, secrets: withSecrets });
  const ownCallback = (event: HubSpotEvent, suffix: string): HubSpotEvent => ({ ...event, callbackId: `${event.callbackId}-${suffix}` });

  function expectOutcome(type: string, report: StubRunReport, expected: Expectation) {
    expect(report).toMatchObject({ outcome: 'returned', ok: true, problems: [] });
    const outputs = report.outputFields!;
    const declared = [...Object.keys(declarations.get(type)!.outputs), ...CONTROL_OUTPUTS.map((output) => output.name)];
    expect(Object.keys(outputs).sort()).toEqual(declared.sort());
    expect(outputs).toMatchObject({ job_status: expected.job_status, ...expected.outputs });
    if (expected.offload_error) expect(outputs.offload_error).toContain(expected.offload_error);
    else expect(outputs.offload_error).toBe('');
    if (expected.job_status === 'error') expect(outputs.job_id).toBe('');
    else expect(outputs.job_id).toMatch(/^[0-9a-f-]{36}$/);
  }

  /** Polls with the poll stub, as a workflow would after a delay, until the job has ended. */
  async function pollUntilEnded(type: string, language: StubLanguage, event: HubSpotEvent, jobId: string): Promise<StubRunReport> {
    const pollEvent = { ...ownCallback(event, `${language}-poll`), inputFields: { job_id: jobId } };
    for (let poll = 1; ; poll++) {
      const polled = await run(type, language, 'poll', pollEvent);
      if (polled.outputFields?.job_status !== 'pending' || poll === 3) return polled;
    }
  }

  it('has a corpus for the diagnostic handler at least, with a platform retry in every folder', () => {
    expect(corpus.map(({ type }) => type)).toContain('noop');
    for (const { type, scenarios } of corpus) expect([type, scenarios.some((scenario) => scenario.expect.platform_retry)]).toEqual([type, true]);
  });

  describe.each(corpus)('for $type', ({ type, scenarios }) => {
    const runOnce = scenarios.filter((scenario) => !scenario.expect.platform_retry);
    it.each(runOnce)('$name: every language and mode ends as expected', async ({ event, expect: expected }) => {
      await Promise.all(
        STUB_LANGUAGES.map(async (language) => {
          const waited = await run(type, language, 'enqueue-and-wait', ownCallback(event, `${language}-wait`));
          expectOutcome(type, waited, expected);

          const enqueued = await run(type, language, 'enqueue', ownCallback(event, `${language}-enqueue`));
          if (expected.job_status === 'error') return expectOutcome(type, enqueued, expected);
          expect(['pending', expected.job_status]).toContain(enqueued.outputFields?.job_status);
          const polled = await pollUntilEnded(type, language, event, enqueued.outputFields!.job_id as string);
          expectOutcome(type, polled, expected);
          expect(polled.outputFields!.job_id).toBe(enqueued.outputFields!.job_id);
        }),
      );
    });

    it.each(scenarios.filter((scenario) => scenario.expect.platform_retry))(
      '$name: a re-run of the same execution, in either language, finds the job it started',
      async ({ event, expect: expected }) => {
        const first = await run(type, 'js', 'enqueue', event);
        const again = await run(type, 'js', 'enqueue', event);
        const inPython = await run(type, 'python', 'enqueue', event);
        const jobId = first.outputFields?.job_id;
        expect(jobId).toMatch(/^[0-9a-f-]{36}$/);
        expect([again.outputFields?.job_id, inPython.outputFields?.job_id]).toEqual([jobId, jobId]);

        const { portalId } = event.origin;
        const key = ['hs', portalId, event.object?.objectType.toLowerCase(), event.object?.objectId, type, event.callbackId].join(':');
        const found = await client.get(`/v1/jobs?idempotencyKey=${encodeURIComponent(key)}`);
        expect(found).toMatchObject({ status: 200, body: { id: jobId, idempotencyKey: key } });
        const pg = new PgClient({ connectionString: isolation.databaseUrl });
        await pg.connect();
        try {
          const { rows } = await pg.query('SELECT count(*)::int AS jobs FROM jobs WHERE idempotency_key = $1', [key]);
          expect(rows[0].jobs).toBe(1);
        } finally {
          await pg.end();
        }

        const waited = await run(type, 'python', 'enqueue-and-wait', event);
        expectOutcome(type, waited, expected);
        expect(waited.outputFields!.job_id).toBe(jobId);
      },
    );
  });

  describe('when Offload fails (a stand-in answers)', () => {
    let standIn: Server;
    let standInUrl: string;
    let answer: (request: IncomingMessage, response: ServerResponse) => void;
    const event = { origin: { portalId: 62515 }, object: { objectType: 'CONTACT', objectId: 1 }, inputFields: {}, callbackId: 'ap-62515-1-1-1' };
    const noopDefaults = { ok: false, attempts: 0, job_id: '', job_status: 'error' };

    beforeAll(async () => {
      standIn = createServer((request, response) => answer(request, response));
      await new Promise<void>((resolve) => standIn.listen(0, '127.0.0.1', resolve));
      standInUrl = `http://127.0.0.1:${(standIn.address() as AddressInfo).port}`;
    });

    afterAll(async () => {
      standIn.closeAllConnections();
      await new Promise((resolve) => standIn.close(resolve));
    });

    /** Both languages' enqueue-and-wait stub for noop, against the stand-in. */
    const runBoth = (withSecrets?: Record<string, string>) =>
      Promise.all(
        STUB_LANGUAGES.map((language) => run('noop', language, 'enqueue-and-wait', event, withSecrets ?? { ...secrets, OFFLOAD_URL: standInUrl })),
      );
    const json = (status: number, body: unknown, headers: Record<string, string> = {}) => (_: IncomingMessage, response: ServerResponse) =>
      response.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));

    it.each([
      ['a 500', json(500, { error: { code: 'internal_error', message: 'boom' } }), 500],
      ['a 503', json(503, { error: { code: 'unavailable', message: 'Redis is unreachable' } }), 503],
      ['a 429', json(429, { error: { code: 'rate_limited', message: 'slow down' } }, { 'retry-after': '30' }), 429],
    ])('throws on %s, with a status HubSpot retries', async (_, reply, status) => {
      answer = reply;
      for (const report of await runBoth()) {
        expect(report).toMatchObject({ outcome: 'threw', error: { name: 'OffloadUnavailable', status, retryable: true } });
      }
    });

    it('throws when Offload does not answer in time, with a status HubSpot retries', async () => {
      answer = () => undefined;
      for (const report of await runBoth()) {
        expect(report).toMatchObject({ outcome: 'threw', error: { status: 504, retryable: true } });
        expect(report.error!.message).toContain('did not answer');
        expect(report.durationMs).toBeGreaterThanOrEqual(REQUEST_TIMEOUT_MS - 100);
        expect(report.durationMs).toBeLessThan(REQUEST_TIMEOUT_MS + 2_000);
      }
    });

    it('throws when Offload cannot be reached, with a status HubSpot retries', async () => {
      const closed = createServer();
      await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
      const url = `http://127.0.0.1:${(closed.address() as AddressInfo).port}`;
      await new Promise((resolve) => closed.close(resolve));
      for (const report of await runBoth({ ...secrets, OFFLOAD_URL: url })) {
        expect(report).toMatchObject({ outcome: 'threw', error: { status: 503, retryable: true, message: expect.stringContaining('unreachable') } });
      }
    });

    it.each([
      ['malformed JSON', (_: IncomingMessage, response: ServerResponse) => response.writeHead(202).end('{"id": "'), 'answered 202 with a body that is not JSON'],
      ['a 404', json(404, { error: { code: 'not_found', message: 'Not here' } }), 'Offload refused the request (404): not_found: Not here'],
      ['a 401', json(401, { error: { code: 'unauthorized', message: 'A valid bearer token is required' } }), 'Offload refused the request (401): unauthorized'],
    ])('returns safe defaults and offload_error on %s', async (_, reply, reason) => {
      answer = reply;
      for (const report of await runBoth()) {
        expect(report).toMatchObject({ outcome: 'returned', ok: true, outputFields: noopDefaults });
        expect(report.outputFields!.offload_error).toContain(reason);
      }
    });

    it('returns a clear error when a secret is missing', async () => {
      answer = json(500, {});
      for (const report of await runBoth({ OFFLOAD_URL: standInUrl })) {
        const reason = "the secret OFFLOAD_API_KEY is not set: add it to this action's secrets";
        expect(report.outputFields).toEqual({ ...noopDefaults, offload_error: reason });
      }
    });

  });
});
