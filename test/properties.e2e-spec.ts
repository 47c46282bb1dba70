import fc from 'fast-check';
import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { ADMIN_TOKEN, configFor, isolate, Isolation, loggingErrors, newPortal, RunningOffload, startOffload } from './support/offload-harness';

/**
 * Generated input for every endpoint: whatever arrives is answered in the contract's error shape or
 * accepted, never with a 5xx, and a refused request (or the refused part of a batch) writes nothing.
 * No worker runs, so the database changes only by what these requests write.
 */
const RUNS = 40;

/** Text of every kind: plain, any code point, and the values known to trouble parsers and PostgreSQL. */
const text = fc.oneof(
  fc.string(),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.constantFrom('', ' ', '\u0000', '\ud800', 'a\udc00b', '..', '.', '__proto__', 'constructor', '%', '%00', '%E0%A4%A', 'x'.repeat(300), '0', '-1', '1e309'),
);

const json: fc.Arbitrary<unknown> = fc.oneof(fc.jsonValue({ maxDepth: 3 }), text, fc.integer(), fc.double(), fc.boolean(), fc.constant(null));

const noopInput = fc.record(
  { sleepMs: fc.integer({ min: 0, max: 5 }), failTimes: fc.integer({ min: 0, max: 10 }), fatal: fc.boolean() },
  { requiredKeys: [] },
);

/** Now and then, a field the schema does not know. */
const withStrayField = <T extends object>(arbitrary: fc.Arbitrary<T>) =>
  fc
    .tuple(arbitrary, fc.option(fc.dictionary(text, json, { minKeys: 1, maxKeys: 1 }), { nil: undefined, freq: 4 }))
    .map(([value, stray]) => ({ ...stray, ...value }));

/** A request the contract accepts. */
const validJobRequest = fc.record(
  {
    type: fc.constant('noop'),
    input: noopInput,
    object: fc.record({ type: fc.constantFrom('CONTACT', 'contacts', 'deals'), id: fc.oneof(fc.nat(), fc.nat().map(String)) }),
    idempotencyKey: fc.oneof(fc.uuid(), fc.string({ minLength: 1, maxLength: 255 })),
    callbackId: fc.string({ minLength: 1, maxLength: 255 }),
    priority: fc.constantFrom('live', 'bulk'),
  },
  { requiredKeys: ['type'] },
);

/** A valid request with some of its fields, or all, replaced by anything at all. */
const mutatedJobRequest = withStrayField(
  fc.tuple(validJobRequest, fc.dictionary(fc.constantFrom('type', 'input', 'object', 'idempotencyKey', 'callbackId', 'writeback', 'priority'), json, { minKeys: 1 })).map(
    ([valid, replaced]) => ({ ...valid, ...replaced }),
  ),
);

const jobRequest = fc.oneof(validJobRequest, mutatedJobRequest);

/** Every byte of the text percent-encoded (a lone surrogate as U+FFFD), or one of the raw forms a parser may choke on. */
const pathSegment = fc.oneof(
  text.map((value) => [...Buffer.from(value)].map((byte) => `%${byte.toString(16).padStart(2, '0')}`).join('')),
  fc.constantFrom('%', '%E0%A4%A', '%zz', '..', '.', ''),
);

const query = fc.dictionary(fc.oneof(fc.constantFrom('portalId', 'objectType', 'writeback', 'priority', 'wait', 'idempotencyKey'), text), text, { maxKeys: 4 });
const queryString = (params: Record<string, string>) => new URLSearchParams(params).toString();

interface Answer {
  status: number;
  body: any;
}

/** The contract: no 5xx, and every error as {error: {code, message, details?}}. */
function expectContractAnswer(request: string, answer: Answer): void {
  expect({ request, status: answer.status, below500: answer.status < 500 }).toEqual({ request, status: answer.status, below500: true });
  if (answer.status < 400) return;
  const { error, ...rest } = answer.body ?? {};
  expect({ request, rest, code: typeof error?.code, message: typeof error?.message }).toEqual({ request, rest: {}, code: 'string', message: 'string' });
  expect(Object.keys(error).filter((key) => !['code', 'message', 'details'].includes(key))).toEqual([]);
}

describe('generated input for every endpoint', () => {
  let isolation: Isolation;
  let offload: RunningOffload;
  let pg: Client;
  let apiKey: string;
  let portalId: string;
  let jobId: string;

  beforeAll(async () => {
    isolation = await isolate();
    offload = await startOffload(configFor(isolation, { ROLE: 'api', LOG_LEVEL: 'fatal' }));
    const { client, portal } = await newPortal(offload.url);
    apiKey = portal.apiKey;
    portalId = portal.id;
    jobId = (await client.post('/v1/jobs', { type: 'noop' })).body.id;
    pg = loggingErrors(new Client({ connectionString: isolation.databaseUrl }), 'PostgreSQL');
    await pg.connect();
  });

  afterAll(async () => {
    await pg?.end();
    await offload?.close();
    await isolation?.cleanup();
  });

  async function send(method: string, path: string, body?: string, headers: Record<string, string> = {}, token: string | null = apiKey): Promise<Answer> {
    const response = await fetch(`${offload.url}${path}`, {
      method,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
      body,
    });
    const raw = await response.text();
    let parsed: unknown = raw;
    try {
      parsed = raw ? JSON.parse(raw) : undefined;
    } catch {
      // not JSON: the contract check reports it
    }
    return { status: response.status, body: parsed };
  }

  /** Rows written so far: jobs, their job.queued events, portals, API keys and handler settings. */
  async function rows(): Promise<Record<string, number>> {
    const { rows: [counts] } = await pg.query(`SELECT
      (SELECT count(*) FROM jobs)::int AS jobs,
      (SELECT count(*) FROM outbox_events WHERE payload->>'event' = 'job.queued')::int AS queued,
      (SELECT count(*) FROM portals)::int AS portals,
      (SELECT count(*) FROM api_keys)::int AS keys,
      (SELECT count(*) FROM portal_handler_configs)::int AS configs`);
    return counts;
  }

  async function portalRow(): Promise<string> {
    const { rows: [row] } = await pg.query(`SELECT row_to_json(p)::text AS row FROM portals p WHERE id = $1`, [portalId]);
    return row.row;
  }

  const run = (property: fc.IAsyncProperty<any>) => fc.assert(property, { numRuns: RUNS });

  it('POST /v1/jobs: a job is written only with a 202, and with its one job.queued event', async () => {
    await run(
      fc.asyncProperty(fc.oneof({ weight: 4, arbitrary: jobRequest.map((value) => JSON.stringify(value)) }, { weight: 1, arbitrary: text }), async (body) => {
        const before = await rows();
        const answer = await send('POST', '/v1/jobs', body);
        expectContractAnswer(`POST /v1/jobs ${body}`, answer);
        const written = answer.status === 202 ? 1 : 0;
        expect(await rows()).toEqual({ ...before, jobs: before.jobs + written, queued: before.queued + written });
      }),
    );
  });

  it('POST /v1/jobs/batch: each result in the contract shape, and only the 202 results written', async () => {
    await run(
      fc.asyncProperty(
        fc.oneof(
          { weight: 4, arbitrary: fc.array(jobRequest, { maxLength: 12 }).map((jobs) => JSON.stringify({ jobs })) },
          { weight: 1, arbitrary: fc.array(jobRequest, { minLength: 101, maxLength: 103 }).map((jobs) => JSON.stringify({ jobs })) },
          { weight: 1, arbitrary: json.map((value) => JSON.stringify(value) ?? '') },
        ),
        async (body) => {
          const before = await rows();
          const answer = await send('POST', '/v1/jobs/batch', body);
          expectContractAnswer(`POST /v1/jobs/batch ${body}`, answer);
          let written = 0;
          if (answer.status === 200) {
            for (const result of answer.body.results) {
              if (result.status === 202) written++;
              if (result.status < 400) expect(result.job).toMatchObject({ id: expect.any(String) });
              else expectContractAnswer(`a result of POST /v1/jobs/batch ${body}`, { status: result.status, body: { error: result.error } });
            }
          }
          expect(await rows()).toEqual({ ...before, jobs: before.jobs + written, queued: before.queued + written });
        },
      ),
    );
  });

  it('GET /v1/jobs/:id and GET /v1/jobs?idempotencyKey: any id, any wait, any key, read-only', async () => {
    await run(
      fc.asyncProperty(
        fc.oneof(pathSegment, fc.uuid(), fc.constant(jobId)),
        // A wait that parses blocks on a job that never ends here: only waits that do not are drawn for the real job.
        fc.oneof(fc.constantFrom('', '0', '-1', '16', '1.5', 'abc', '%00'), text),
        query,
        async (id, wait, params) => {
          const before = await rows();
          const waitsForNothing = id !== jobId || !/^\s*\d+\s*$/.test(wait) || Number(wait) === 0;
          const path = `/v1/jobs/${id}?${queryString({ wait: waitsForNothing ? wait : '0' })}`;
          expectContractAnswer(`GET ${path}`, await send('GET', path));
          const byKey = `/v1/jobs?${queryString(params)}`;
          expectContractAnswer(`GET ${byKey}`, await send('GET', byKey));
          expect(await rows()).toEqual(before);
        },
      ),
    );
  });

  it('POST /v1/hubspot/webhooks/:type: any type, query and properties, with or without the key', async () => {
    await run(
      fc.asyncProperty(
        fc.oneof(fc.constant('noop'), pathSegment),
        query,
        fc.oneof(fc.dictionary(fc.oneof(fc.constantFrom('hs_object_id', 'sleepMs', 'failTimes', 'fatal'), text), json, { maxKeys: 5 }), json),
        fc.boolean(),
        async (type, params, properties, withKey) => {
          const before = await rows();
          const path = `/v1/hubspot/webhooks/${type}?${queryString(params)}`;
          const answer = await send('POST', path, JSON.stringify(properties) ?? '', {}, withKey ? apiKey : null);
          expectContractAnswer(`POST ${path} ${JSON.stringify(properties)}`, answer);
          // Without credentials, 401; only a path that leads to no route ("." and ".." resolved), or a body
          // or URL unreadable at the door, before any route, is refused otherwise.
          if (!withKey && answer.status !== 401) {
            const { code, message, details } = answer.body.error;
            const atTheDoor =
              (answer.status === 404 && message === 'No such route') ||
              (answer.status === 400 && (code === 'malformed_json' || /U\+0000|is malformed/.test(JSON.stringify(details))));
            expect({ path, status: answer.status, atTheDoor }).toEqual({ path, status: answer.status, atTheDoor: true });
          }
          const written = answer.status === 202 ? 1 : 0;
          expect(await rows()).toEqual({ ...before, jobs: before.jobs + written, queued: before.queued + written });
        },
      ),
    );
  });

  it('the admin API: a portal, its key and its settings are written only by a 2xx', async () => {
    const validPortal = fc.record(
      {
        hubspotPortalId: fc.integer({ min: 1, max: 1e12 }),
        name: fc.string({ minLength: 1, maxLength: 200 }),
        hubspotAccessToken: fc.string({ minLength: 10, maxLength: 80, unit: 'grapheme-ascii' }).filter((token) => token.trim() === token),
        rateLimit: fc.record({ requestsPer10s: fc.integer({ min: 1, max: 100_000 }), daily: fc.integer({ min: 1, max: 1e9 }) }, { requiredKeys: ['requestsPer10s'] }),
      },
      { requiredKeys: ['hubspotPortalId', 'name'] },
    );
    const portalBody = fc.oneof(
      validPortal,
      withStrayField(
        fc.tuple(validPortal, fc.dictionary(fc.constantFrom('hubspotPortalId', 'name', 'hubspotAccessToken', 'hubspotOAuth', 'rateLimit'), json, { minKeys: 1 })).map(
          ([valid, replaced]) => ({ ...valid, ...replaced }),
        ),
      ),
    );
    await run(
      fc.asyncProperty(
        fc.oneof(portalBody.map((value) => JSON.stringify(value)), text),
        fc.oneof(portalBody.map((value) => JSON.stringify(value)), text),
        fc.oneof(fc.constantFrom('noop', 'enrichment', 'icp-score', 'lead-assignment'), pathSegment),
        fc.oneof(
          fc.constantFrom('{"provider":"pdl"}', '{"provider":"pdl","minLikelihood":4}'),
          json.map((value) => JSON.stringify(value) ?? ''),
        ),
        async (created, change, type, settings) => {
          const before = await rows();
          const creation = await send('POST', '/v1/admin/portals', created, {}, ADMIN_TOKEN);
          expectContractAnswer(`POST /v1/admin/portals ${created}`, creation);
          const made = creation.status === 201 ? 1 : 0;
          expect(await rows()).toEqual({ ...before, portals: before.portals + made, keys: before.keys + made });

          const portal = await portalRow();
          const patch = await send('PATCH', `/v1/admin/portals/${portalId}`, change, {}, ADMIN_TOKEN);
          expectContractAnswer(`PATCH /v1/admin/portals/:id ${change}`, patch);
          if (patch.status >= 400) expect(await portalRow()).toBe(portal);

          const configs = (await rows()).configs;
          const path = `/v1/admin/portals/${portalId}/handlers/${type}/config`;
          const put = await send('PUT', path, settings, {}, ADMIN_TOKEN);
          expectContractAnswer(`PUT ${path} ${settings}`, put);
          if (put.status >= 400) expect((await rows()).configs).toBe(configs);
          expectContractAnswer(`PUT (no token) ${path}`, await send('PUT', path, settings, {}, randomUUID()));
        },
      ),
    );
  });
});
