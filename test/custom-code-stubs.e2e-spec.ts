import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client as PgClient } from 'pg';
import { API_KEY_SECRET } from '../src/handlers/enrichment/enrichment.handler';
import { createEnrichmentSimulator, EnrichmentSimulator } from '../tools/simulators/enrichment';
import { createHubSpotSimulator, HubSpotSimulator } from '../tools/simulators/hubspot';
import { discoverHandlerClasses } from '../src/registry/handler-discovery';
import { declarationOf, HandlerDeclaration } from '../src/registry/job-handler';
import { runStub, StubRunReport } from '../tools/custom-code/runtime/stub-runtime';
import { generateStub } from '../tools/custom-code/stubs/generate-stub';
import { CONTROL_OUTPUTS, REQUEST_TIMEOUT_MS, STUB_LANGUAGES, STUB_MODES, StubLanguage, StubMode } from '../tools/custom-code/stubs/stub-spec';
import { ADMIN_TOKEN, configFor, HttpClient, isolate, Isolation, loggingErrors, RunningOffload, startOffload } from './support/offload-harness';

const CORPUS = join(__dirname, 'corpus', 'events');
const EXPECTATIONS = 'expectations.json';
/** The HubSpot portal every saved event comes from: the simulated HubSpot account, and the portal registered in Offload. */
const HUBSPOT_PORTAL_ID = 62515;
/** The simulated account's demo data, which the events name: contacts 1 to 12, companies 13 to 24 (one id sequence), owners 100001 to 100004. */
const SIMULATED_ACCOUNT = { seedContacts: 12, seedCompanies: 12, seedOwners: 4 };

interface Expectation {
  description: string;
  job_status: 'succeeded' | 'failed' | 'cancelled' | 'error';
  outputs?: Record<string, unknown>;
  outputs_one_of?: Record<string, unknown[]>;
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
  let hubspot: HubSpotSimulator;
  let enrichmentProvider: EnrichmentSimulator;
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
    [hubspot, enrichmentProvider, isolation] = await Promise.all([
      createHubSpotSimulator({ portals: [{ portalId: HUBSPOT_PORTAL_ID }], ...SIMULATED_ACCOUNT }),
      createEnrichmentSimulator(),
      isolate(),
    ]);
    const config = configFor(isolation, { HUBSPOT_BASE_URL: hubspot.url, ENRICHMENT_BASE_URL: enrichmentProvider.url });
    offload = await startOffload(config, handlerClasses);
    client = await connectedPortal();
    secrets = { OFFLOAD_URL: offload.url, OFFLOAD_API_KEY: client.token! };
  });

  afterAll(async () => {
    await offload?.close();
    await Promise.all([hubspot?.close(), enrichmentProvider?.close()]);
    await isolation?.cleanup();
    if (stubs) rmSync(stubs, { recursive: true, force: true });
  });

  /** The simulated HubSpot account as a portal of Offload's, with the enrichment provider's key; a client with its API key. */
  async function connectedPortal(): Promise<HttpClient> {
    const admin = new HttpClient(offload.url, ADMIN_TOKEN);
    const created = await admin.post('/v1/admin/portals', { hubspotPortalId: hubspot.portalId, name: 'Workflow corpus', hubspotAccessToken: hubspot.token });
    if (created.status !== 201) throw new Error(`portal not created: ${created.status} ${JSON.stringify(created.body)}`);
    const secret = await admin.request('PUT', `/v1/admin/portals/${created.body.id}/secrets/${API_KEY_SECRET}`, { value: enrichmentProvider.apiKey });
    if (secret.status !== 204) throw new Error(`${API_KEY_SECRET} not set: ${secret.status} ${JSON.stringify(secret.body)}`);
    return new HttpClient(offload.url, created.body.apiKey);
  }

  const stubFile = (type: string, language: StubLanguage, mode: StubMode) => join(stubs, `${type}.${mode}.${language === 'js' ? 'js' : 'py'}`);
  const run = (type: string, language: StubLanguage, mode: StubMode, event: unknown, withSecrets = secrets) =>
    runStub({ file: stubFile(type, language, mode), event, secrets: withSecrets });
  const ownCallback = (event: HubSpotEvent, suffix: string): HubSpotEvent => ({ ...event, callbackId: `${event.callbackId}-${suffix}` });

  function expectOutcome(type: string, report: StubRunReport, expected: Expectation) {
    expect(report).toMatchObject({ outcome: 'returned', ok: true, problems: [] });
    const outputs = report.outputFields!;
    const declared = [...Object.keys(declarations.get(type)!.outputs), ...CONTROL_OUTPUTS.map((output) => output.name)];
    expect(Object.keys(outputs).sort()).toEqual(declared.sort());
    // Without an expected error, offload_error must be empty: matched with the outputs, so that a failure shows it.
    const offloadError = expected.offload_error ? expect.stringContaining(expected.offload_error) : '';
    expect(outputs).toMatchObject({ job_status: expected.job_status, offload_error: offloadError, ...expected.outputs });
    for (const [name, values] of Object.entries(expected.outputs_one_of ?? {})) expect([name, values]).toEqual([name, expect.arrayContaining([outputs[name]])]);
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

  it('has a corpus for the diagnostic handler at least, with a platform retry in every folder, every event from the simulated portal', () => {
    expect(corpus.map(({ type }) => type)).toContain('noop');
    for (const { type, scenarios } of corpus) {
      expect([type, scenarios.some((scenario) => scenario.expect.platform_retry)]).toEqual([type, true]);
      for (const { name, event } of scenarios) expect([type, name, event.origin.portalId]).toEqual([type, name, HUBSPOT_PORTAL_ID]);
    }
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
      '$name: re-runs of the same execution, in either language and mode, find the job it started and make no other',
      async ({ event, expect: expected }) => {
        const first = await run(type, 'js', 'enqueue', event);
        const again = await run(type, 'js', 'enqueue', event);
        const inPython = await run(type, 'python', 'enqueue', event);
        const jobId = first.outputFields?.job_id;
        expect(jobId).toMatch(/^[0-9a-f-]{36}$/);
        expect([again.outputFields?.job_id, inPython.outputFields?.job_id]).toEqual([jobId, jobId]);

        const waited = await Promise.all(STUB_LANGUAGES.map((language) => run(type, language, 'enqueue-and-wait', event)));
        for (const report of waited) {
          expectOutcome(type, report, expected);
          expect(report.outputFields!.job_id).toBe(jobId);
        }
        expect(waited[1].outputFields).toEqual(waited[0].outputFields);

        const { portalId } = event.origin;
        const key = ['hs', portalId, event.object?.objectType.toLowerCase(), event.object?.objectId, type, event.callbackId].join(':');
        const found = await client.get(`/v1/jobs?idempotencyKey=${encodeURIComponent(key)}`);
        expect(found).toMatchObject({ status: 200, body: { id: jobId, idempotencyKey: key } });
        const pg = loggingErrors(new PgClient({ connectionString: isolation.databaseUrl }), 'PostgreSQL');
        await pg.connect();
        try {
          const { rows } = await pg.query(
            'SELECT count(*) FILTER (WHERE idempotency_key = $1)::int AS "ofKey", count(*) FILTER (WHERE callback_id = $2)::int AS "ofCallback" FROM jobs',
            [key, event.callbackId],
          );
          expect(rows[0]).toEqual({ ofKey: 1, ofCallback: 1 });
        } finally {
          await pg.end();
        }
      },
    );
  });

  describe('when Offload fails (a stand-in answers)', () => {
    let standIn: Server;
    let standInUrl: string;
    let answer: (request: IncomingMessage, response: ServerResponse) => void;

    beforeAll(async () => {
      standIn = createServer((request, response) => answer(request, response));
      await new Promise<void>((resolve) => standIn.listen(0, '127.0.0.1', resolve));
      standInUrl = `http://127.0.0.1:${(standIn.address() as AddressInfo).port}`;
    });

    afterAll(async () => {
      standIn.closeAllConnections();
      await new Promise((resolve) => standIn.close(resolve));
    });

    /** Every job type's enqueue-and-wait stub, in both languages, run with the folder's platform-retry event (one that reaches Offload). */
    const runEveryStub = (withSecrets?: Record<string, string>) =>
      Promise.all(
        corpus.flatMap(({ type, scenarios }) => {
          const { event } = scenarios.find((scenario) => scenario.expect.platform_retry)!;
          return STUB_LANGUAGES.map(async (language) => ({
            stub: `${type} in ${language}`,
            type,
            report: await run(type, language, 'enqueue-and-wait', event, withSecrets ?? { ...secrets, OFFLOAD_URL: standInUrl }),
          }));
        }),
      );
    /** The value a stub gives an output when it got no job, by the output's HubSpot type. */
    const safeDefault = (hubspotType: string) => (hubspotType === 'number' ? 0 : hubspotType === 'bool' ? false : '');
    const noJobOutputs = (type: string) => ({
      ...Object.fromEntries(Object.entries(declarations.get(type)!.outputs).map(([name, output]) => [name, safeDefault(output.hubspotType)])),
      job_id: '',
      job_status: 'error',
    });
    const json = (status: number, body: unknown, headers: Record<string, string> = {}) => (_: IncomingMessage, response: ServerResponse) =>
      response.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));

    it.each([
      ['a 500', json(500, { error: { code: 'internal_error', message: 'boom' } }), 500],
      ['a 503', json(503, { error: { code: 'unavailable', message: 'Redis is unreachable' } }), 503],
      ['a 429', json(429, { error: { code: 'rate_limited', message: 'slow down' } }, { 'retry-after': '30' }), 429],
    ])('throws on %s, with a status HubSpot retries', async (_, reply, status) => {
      answer = reply;
      for (const { stub, report } of await runEveryStub()) {
        expect({ stub, ...report }).toMatchObject({ stub, outcome: 'threw', error: { name: 'OffloadUnavailable', status, retryable: true } });
      }
    });

    it('throws when Offload does not answer in time, with a status HubSpot retries', async () => {
      answer = () => undefined;
      for (const { stub, report } of await runEveryStub()) {
        expect({ stub, ...report }).toMatchObject({ stub, outcome: 'threw', error: { status: 504, retryable: true } });
        expect(report.error!.message).toContain('did not answer');
        // it gave up after its own request timeout (an outcome of 'threw'), not at HubSpot's limit ('timed-out')
        expect(report.durationMs).toBeGreaterThanOrEqual(REQUEST_TIMEOUT_MS - 100);
      }
    });

    it('throws when Offload cannot be reached, with a status HubSpot retries', async () => {
      const closed = createServer();
      await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
      const url = `http://127.0.0.1:${(closed.address() as AddressInfo).port}`;
      await new Promise((resolve) => closed.close(resolve));
      for (const { stub, report } of await runEveryStub({ ...secrets, OFFLOAD_URL: url })) {
        expect({ stub, ...report }).toMatchObject({
          stub,
          outcome: 'threw',
          error: { status: 503, retryable: true, message: expect.stringContaining('unreachable') },
        });
      }
    });

    it.each([
      ['malformed JSON', (_: IncomingMessage, response: ServerResponse) => response.writeHead(202).end('{"id": "'), 'answered 202 with a body that is not JSON'],
      ['a 404', json(404, { error: { code: 'not_found', message: 'Not here' } }), 'Offload refused the request (404): not_found: Not here'],
      ['a 401', json(401, { error: { code: 'unauthorized', message: 'A valid bearer token is required' } }), 'Offload refused the request (401): unauthorized'],
    ])('returns safe defaults and offload_error on %s', async (_, reply, reason) => {
      answer = reply;
      for (const { stub, type, report } of await runEveryStub()) {
        expect({ stub, ...report }).toMatchObject({ stub, outcome: 'returned', ok: true, outputFields: noJobOutputs(type) });
        expect(report.outputFields!.offload_error).toContain(reason);
      }
    });

    it('returns a clear error when a secret is missing', async () => {
      answer = json(500, {});
      const reason = "the secret OFFLOAD_API_KEY is not set: add it to this action's secrets";
      for (const { stub, type, report } of await runEveryStub({ OFFLOAD_URL: standInUrl })) {
        expect({ stub, outputFields: report.outputFields }).toEqual({ stub, outputFields: { ...noJobOutputs(type), offload_error: reason } });
      }
    });

  });
});
