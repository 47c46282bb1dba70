import { createEnrichmentSimulator, DEFAULT_API_KEY, EnrichmentSimulator } from '.';
import { companyForDomain, COMPANY_SIZES, REVENUE_RANGES } from './companies';
import { parseArgs } from './main';

describe('enrichment provider simulator (PDL)', () => {
  let sim: EnrichmentSimulator;

  beforeAll(async () => {
    sim = await createEnrichmentSimulator({ rateLimit: 1000 });
  });

  afterAll(() => sim.close());

  beforeEach(() => {
    sim.modes.clear();
    sim.resetCalls();
    sim.setLimits({ rateLimit: 1000, windowMs: 60_000 });
  });

  /** An answer's JSON body, loosely typed: the tests look into PDL's shapes field by field. */
  const json = async (response: Response): Promise<any> => response.json();
  const get = (path: string, key: string | null = DEFAULT_API_KEY) => fetch(`${sim.url}${path}`, { headers: key === null ? {} : { 'X-Api-Key': key } });
  const bulk = (body: unknown, key = DEFAULT_API_KEY) =>
    fetch(`${sim.url}/v5/company/enrich/bulk`, {
      method: 'POST',
      headers: { 'X-Api-Key': key, 'Content-Type': 'application/json' },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
  const control = (method: string, path: string, body?: unknown) =>
    fetch(`${sim.url}/__sim/${path}`, { method, headers: { 'Content-Type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });

  it('answers a company by website with its fields at the top level, status and likelihood, and PDL headers', async () => {
    const response = await get('/v5/company/enrich?website=https://www.Acme-Widgets.com/about');
    expect(response.status).toBe(200);
    const body = await json(response);
    expect(body).toMatchObject({ status: 200, website: 'acme-widgets.com', name: 'acme widgets', display_name: 'Acme Widgets' });
    expect(body.likelihood).toBeGreaterThanOrEqual(6);
    expect(COMPANY_SIZES).toContain(body.size);
    expect(body.data).toBeUndefined();
    expect(response.headers.get('x-call-credits-spent')).toBe('1');
    expect(response.headers.get('x-call-credits-type')).toBe('enrich_company');
    expect(JSON.parse(response.headers.get('x-ratelimit-remaining')!)).toEqual({ minute: 999 });
    expect(response.headers.get('x-ratelimit-reset')).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
  });

  it('gives every domain the same company every time, with some fields unknown across many domains', () => {
    expect(companyForDomain('acme.com')).toEqual(companyForDomain('acme.com'));
    const companies = Array.from({ length: 400 }, (_, i) => companyForDomain(`company-${i}.com`));
    expect(companies.some((c) => c.inferred_revenue === null)).toBe(true);
    expect(companies.some((c) => c.industry === null)).toBe(true);
    expect(companies.some((c) => c.location === null)).toBe(true);
    for (const c of companies) {
      if (c.inferred_revenue !== null) expect(REVENUE_RANGES).toContain(c.inferred_revenue);
      expect(c.employee_count).toBeGreaterThan(0);
    }
  });

  it('answers 404 with PDL’s error body for .invalid domains, set no-matches and weak likelihoods', async () => {
    const notFound = { status: 404, error: { type: 'not_found', message: 'No records were found matching your request' } };
    let response = await get('/v5/company/enrich?website=nobody.invalid');
    expect(response.status).toBe(404);
    expect(await json(response)).toEqual(notFound);
    expect(response.headers.get('x-call-credits-spent')).toBe('0');

    sim.setCompany('gone.com', null);
    expect((await get('/v5/company/enrich?website=gone.com')).status).toBe(404);

    sim.setCompany('weak.com', { likelihood: 3 });
    expect((await get('/v5/company/enrich?website=weak.com&min_likelihood=5')).status).toBe(404);
    expect((await get('/v5/company/enrich?website=weak.com&min_likelihood=3')).status).toBe(200);
  });

  it('requires a key (header or api_key parameter), a parameter, and the right method', async () => {
    const unauthorized = await get('/v5/company/enrich?website=acme.com', null);
    expect(unauthorized.status).toBe(401);
    expect(await json(unauthorized)).toEqual({ status: 401, error: { type: 'authentication_error', message: 'Request contained a missing or invalid key' } });
    expect((await get('/v5/company/enrich?website=acme.com', 'wrong')).status).toBe(401);
    expect((await get(`/v5/company/enrich?website=acme.com&api_key=${DEFAULT_API_KEY}`, null)).status).toBe(200);

    const missing = await get('/v5/company/enrich?min_likelihood=2');
    expect(missing.status).toBe(400);
    expect((await json(missing)).error.type).toBe('invalid_request_error');
    expect((await fetch(`${sim.url}/v5/company/enrich?website=acme.com`, { method: 'POST', headers: { 'X-Api-Key': DEFAULT_API_KEY } })).status).toBe(405);
  });

  it('matches by name or LinkedIn profile too', async () => {
    const byName = await json(await get('/v5/company/enrich?name=Acme%20Widgets'));
    expect(byName.website).toBe('acme-widgets.com');
    const byProfile = await json(await get('/v5/company/enrich?profile=linkedin.com/company/acme-widgets'));
    expect(byProfile.id).toBe(byName.id);
  });

  it('enriches up to 100 companies in one bulk call, each item with its status and metadata, billing the 200s', async () => {
    const response = await bulk({
      requests: [
        { params: { website: 'acme.com' }, metadata: { index: 0 } },
        { params: { website: 'nobody.invalid' }, metadata: { index: 1 } },
        { params: {}, metadata: { index: 2 } },
      ],
    });
    expect(response.status).toBe(200);
    const items = await json(response);
    expect(items).toHaveLength(3);
    expect(items[0]).toMatchObject({ status: 200, website: 'acme.com', metadata: { index: 0 } });
    expect(items[1]).toEqual({ status: 404, error: { type: 'not_found', message: 'No records were found matching your request' }, metadata: { index: 1 } });
    expect(items[2]).toMatchObject({ status: 400, error: { type: 'invalid_request_error' } });
    expect(response.headers.get('x-call-credits-spent')).toBe('1');

    const tooMany = await bulk({ requests: Array.from({ length: 101 }, (_, i) => ({ params: { website: `c${i}.com` } })) });
    expect(tooMany.status).toBe(400);
    expect((await bulk('{not json')).status).toBe(400);
    expect(sim.stats()).toMatchObject({ bulk: 3, single: 0, lookups: 3, byStatus: { 200: 1, 400: 2 } });
  });

  it('answers people by email with their employer in job_company_* fields', async () => {
    const response = await get('/v5/person/enrich?email=jane.doe@acme.com');
    expect(response.status).toBe(200);
    const body = await json(response);
    const company = companyForDomain('acme.com');
    expect(body).toMatchObject({ status: 200, likelihood: 8 });
    expect(body.data).toMatchObject({ first_name: 'jane', job_company_website: 'acme.com', job_company_size: company.size, job_company_employee_count: company.employee_count });
    const freeMail = await json(await get('/v5/person/enrich?email=jane@gmail.com'));
    expect(freeMail.data.job_company_name).toBeNull();
  });

  it('refuses calls over the window with 429, Retry-After and the reset time', async () => {
    sim.setLimits({ rateLimit: 2, windowMs: 60_000 });
    sim.addApiKey('a-key-of-its-own');
    await get('/v5/company/enrich?website=a.com', 'a-key-of-its-own');
    await get('/v5/company/enrich?website=b.com', 'a-key-of-its-own');
    const refused = await get('/v5/company/enrich?website=c.com', 'a-key-of-its-own');
    expect(refused.status).toBe(429);
    expect(await json(refused)).toEqual({ status: 429, error: { type: 'rate_limit_error', message: 'An error occurred due to requests hitting the API too quick' } });
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(JSON.parse(refused.headers.get('x-ratelimit-remaining')!)).toEqual({ minute: 0 });
    expect(sim.stats().rateLimited).toBe(1);
  });

  it('injects modes per domain or for every call, spending `times`', async () => {
    await control('POST', 'modes', { mode: 'server_error', domain: 'down.com', status: 502, times: 1 });
    await control('POST', 'modes', { mode: 'rate_limit', domain: 'busy.com', retryAfterS: 7 });
    await control('POST', 'modes', { mode: 'malformed', domain: 'broken.com' });
    await control('POST', 'modes', { mode: 'no_match', domain: 'hidden.com' });

    const down = await get('/v5/company/enrich?website=down.com');
    expect(down.status).toBe(502);
    expect((await json(down)).error.type).toBe('api_error');
    expect((await get('/v5/company/enrich?website=down.com')).status).toBe(200);

    const busy = await get('/v5/company/enrich?website=busy.com');
    expect(busy.status).toBe(429);
    expect(busy.headers.get('retry-after')).toBe('7');

    const broken = await get('/v5/company/enrich?website=broken.com');
    expect(broken.status).toBe(200);
    const text = await broken.text();
    expect(() => JSON.parse(text)).toThrow();
    expect((await get('/v5/company/enrich?website=hidden.com')).status).toBe(404);

    // In a bulk call, a no-match or malformed domain spoils only its item; a rate limit the whole call.
    const items = await json(await bulk({ requests: [{ params: { website: 'hidden.com' } }, { params: { website: 'broken.com' } }, { params: { website: 'fine.com' } }] }));
    expect(items.map((item: { status: number }) => item.status)).toEqual([404, 200, 200]);
    expect(items[1].employee_count).toBe('many');
    expect((await bulk({ requests: [{ params: { website: 'fine.com' } }, { params: { website: 'busy.com' } }] })).status).toBe(429);

    await control('POST', 'modes', { mode: 'hang', hangMs: 50 });
    await expect(get('/v5/company/enrich?website=fine.com')).rejects.toThrow();
    expect(sim.calls({ subject: 'fine.com' }).at(-1)).toMatchObject({ status: 0, mode: 'hang' });

    expect((await control('POST', 'modes', { mode: 'sideways' })).status).toBe(400);
    expect((await control('DELETE', 'modes')).status).toBe(204);
    expect(await json(await control('GET', 'modes'))).toEqual({ modes: [] });
  });

  it('records every call with its endpoint, lookups and subjects, and counts single against bulk', async () => {
    await get('/v5/company/enrich?website=acme.com');
    await bulk({ requests: [{ params: { website: 'a.com' } }, { params: { website: 'b.com' } }] });
    const { calls } = await json(await control('GET', 'calls'));
    expect(calls.map((call: { endpoint: string; lookups: number; subjects: string[] }) => [call.endpoint, call.lookups, call.subjects])).toEqual([
      ['company.enrich', 1, ['acme.com']],
      ['company.bulk', 2, ['a.com', 'b.com']],
    ]);
    expect(await json(await control('GET', 'stats'))).toMatchObject({ total: 2, single: 1, bulk: 1, lookups: 3, credits: 3 });
  });

  it('parses its command line', () => {
    const { options } = parseArgs(['--port', '0', '--api-key=k1', '--mode', 'no_match:Acme.com', '--rate-limit', '5']);
    expect(options).toMatchObject({ port: 0, apiKeys: ['k1'], rateLimit: 5, modes: [{ mode: 'no_match', domain: 'acme.com' }] });
    expect(() => parseArgs(['--mode', 'sideways'])).toThrow(/mode must be one of/);
    expect(() => parseArgs(['--nope'])).toThrow(/unknown option/);
  });
});
