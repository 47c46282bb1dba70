import { EgressHttp, JobFailure } from '../../registry/job-handler';
import { PdlProvider, pdlCompanyFirmographics, pdlPersonFirmographics } from './pdl-provider';
import { Lookup, ProviderCall, ProviderFailure, retryAfterMs } from './provider';
import { jsonResponse, recordingHttp } from './recording-http.testing';

const RECORD = {
  status: 200,
  name: 'acme',
  industry: 'computer software',
  employee_count: 120,
  size: '51-200',
  inferred_revenue: '$10M-$25M',
  location: { country: 'united states' },
  likelihood: 9,
};

describe('PDL answer mapping', () => {
  it('maps a company record: industry, employee_count, size, inferred_revenue, location.country', () => {
    expect(pdlCompanyFirmographics({ ...RECORD, location: { country: 'united states', locality: 'boston' } })).toEqual({
      industry: 'computer software',
      employeeCount: 120,
      employeeRange: '51-200',
      revenueRange: '$10M-$25M',
      country: 'united states',
    });
  });

  it('keeps what PDL does not know as null: null, absent or empty fields, no location', () => {
    expect(pdlCompanyFirmographics({ status: 200, industry: null, size: '', location: null, likelihood: 6 })).toEqual({
      industry: null,
      employeeCount: null,
      employeeRange: null,
      revenueRange: null,
      country: null,
    });
  });

  it('refuses answers of the wrong shape, naming the field', () => {
    expect(() => pdlCompanyFirmographics({ employee_count: 'many', likelihood: 6 })).toThrow(/employee_count is "many"/);
    expect(() => pdlCompanyFirmographics({ employee_count: -3, likelihood: 6 })).toThrow(/employee_count/);
    expect(() => pdlCompanyFirmographics({ industry: 42, likelihood: 6 })).toThrow(/industry is 42/);
    expect(() => pdlCompanyFirmographics({ location: 'boston', likelihood: 6 })).toThrow(/location/);
    expect(() => pdlCompanyFirmographics({ industry: 'x' })).toThrow(/likelihood/);
    expect(() => pdlCompanyFirmographics({ likelihood: 'high' })).toThrow(/likelihood/);
  });

  it('maps a person answer through the job_company_* fields of data', () => {
    expect(
      pdlPersonFirmographics({
        status: 200,
        likelihood: 8,
        data: { job_company_industry: 'retail', job_company_employee_count: 40, job_company_size: '11-50', job_company_inferred_revenue: null, job_company_location_country: 'france' },
      }),
    ).toEqual({ industry: 'retail', employeeCount: 40, employeeRange: '11-50', revenueRange: null, country: 'france' });
    expect(() => pdlPersonFirmographics({ status: 200, likelihood: 8 })).toThrow(/data/);
  });

  it('reads how long a 429 asks to wait: Retry-After, else the reset time (ISO or epoch seconds), else a minute', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(retryAfterMs(new Headers({ 'retry-after': '3', 'x-ratelimit-reset': '2026-01-01T00:00:50Z' }), now)).toBe(3000);
    expect(retryAfterMs(new Headers({ 'x-ratelimit-reset': '2026-01-01T00:00:12Z' }), now)).toBe(12_000);
    expect(retryAfterMs(new Headers({ 'x-ratelimit-reset': String(now / 1000 + 5) }), now)).toBe(5000);
    expect(retryAfterMs(new Headers(), now)).toBe(60_000);
  });
});

const pdlError = (status: number, type: string, message: string) => jsonResponse(status, { status, error: { type, message } });

const ACME = pdlCompanyFirmographics(RECORD);
const company = (domain: string): Lookup => ({ kind: 'company', domain });

describe('PdlProvider', () => {
  const provider = new PdlProvider();
  const callWith = (http: EgressHttp): ProviderCall => ({ http, baseUrl: 'https://pdl.test/', apiKey: 'key-1', timeoutMs: 2_000 });

  it('enriches one company with GET /v5/company/enrich, the key in X-Api-Key', async () => {
    const { http, sent } = recordingHttp(() => jsonResponse(200, RECORD));
    expect(await provider.enrichOne({ kind: 'company', domain: 'acme.com', name: 'Acme' }, callWith(http))).toEqual({ kind: 'match', firmographics: ACME });
    expect(sent).toHaveLength(1);
    expect(sent[0].method).toBe('GET');
    expect(`${sent[0].url.origin}${sent[0].url.pathname}`).toBe('https://pdl.test/v5/company/enrich');
    expect(Object.fromEntries(sent[0].url.searchParams)).toEqual({ website: 'acme.com', name: 'Acme' });
    expect(sent[0].headers.get('x-api-key')).toBe('key-1');
  });

  it('sends min_likelihood when the portal sets one', async () => {
    const { http, sent } = recordingHttp(() => jsonResponse(404, { status: 404, error: { type: 'not_found', message: 'No records were found matching your request' } }));
    expect(await new PdlProvider({ minLikelihood: 5 }).enrichOne(company('weak.com'), callWith(http))).toEqual({ kind: 'no_match' });
    expect(sent[0].url.searchParams.get('min_likelihood')).toBe('5');
  });

  it('turns 404 into no match, 429 into a wait, 5xx and no answer into outages, 401 and garbage into final failures', async () => {
    const outcome = (response: () => Response | Promise<Response>) => provider.enrichOne(company('acme.com'), callWith(recordingHttp(response).http));

    expect(await outcome(() => pdlError(404, 'not_found', 'No records were found'))).toEqual({ kind: 'no_match' });
    expect(await outcome(() => jsonResponse(429, { status: 429, error: { type: 'rate_limit', message: 'slow down' } }, { 'retry-after': '2' }))).toMatchObject({
      kind: 'failed',
      failure: { reason: 'rate_limited', retryAfterMs: 2000 },
    });

    const down = await outcome(() => pdlError(502, 'api_error', 'upstream failed'));
    expect(down).toMatchObject({ kind: 'failed', failure: { reason: 'unavailable' } });
    expect((down as { failure: ProviderFailure }).failure.message).toMatch(/502.*api_error/);

    const timedOut = await outcome(() => Promise.reject(new DOMException('The operation was aborted due to timeout', 'TimeoutError')));
    expect(timedOut).toMatchObject({ kind: 'failed', failure: { reason: 'unavailable' } });

    expect(await outcome(() => new Response('<html>', { status: 200 }))).toMatchObject({ kind: 'failed', failure: { reason: 'malformed' } });
    expect(await outcome(() => jsonResponse(200, { ...RECORD, employee_count: 'many' }))).toMatchObject({ kind: 'failed', failure: { reason: 'malformed' } });

    const refused = await outcome(() => pdlError(401, 'authentication_error', 'missing or invalid key'));
    expect(refused).toMatchObject({ kind: 'failed', failure: { reason: 'refused' } });
    expect((refused as { failure: ProviderFailure }).failure.message).toMatch(/401.*missing or invalid key/);

    const denied = await outcome(() => Promise.reject(new JobFailure('egress_denied', 'This handler may not call https://elsewhere.test', { retryable: false })));
    expect(denied).toMatchObject({ kind: 'failed', failure: { reason: 'refused', message: expect.stringContaining('egress_denied') } });
  });

  it('enriches many companies with one bulk call, each lookup getting its own outcome in order', async () => {
    const { http, sent } = recordingHttp(({ body }) => {
      const requests = (body as { requests: Array<{ params: { website: string }; metadata: { index: number } }> }).requests;
      const item = ({ params, metadata }: (typeof requests)[number]) => {
        if (params.website === 'nobody.invalid') return { status: 404, metadata };
        if (params.website === 'broken.com') return { status: 200, metadata };
        return { ...RECORD, name: params.website, metadata };
      };
      // Answered in another order than asked: each item carries back its request's metadata.
      return jsonResponse(200, requests.map(item).reverse());
    });
    const outcomes = await provider.enrichMany([company('a.com'), company('nobody.invalid'), company('broken.com'), company('b.com')], callWith(http));
    expect(outcomes).toEqual([
      { kind: 'match', firmographics: ACME },
      { kind: 'no_match' },
      { kind: 'failed', failure: expect.objectContaining({ reason: 'malformed' }) },
      { kind: 'match', firmographics: ACME },
    ]);
    expect(sent).toHaveLength(1);
    expect(sent[0]).toMatchObject({ method: 'POST', url: new URL('https://pdl.test/v5/company/enrich/bulk') });
    expect(sent[0].headers.get('x-api-key')).toBe('key-1');
    expect((sent[0].body as { requests: unknown[] }).requests).toEqual(
      ['a.com', 'nobody.invalid', 'broken.com', 'b.com'].map((website, index) => ({ params: { website }, metadata: { index } })),
    );
  });

  it('fails every lookup of a bulk call the provider refused as a whole', async () => {
    const { http } = recordingHttp(() => jsonResponse(429, { status: 429, error: { type: 'rate_limit', message: 'slow down' } }, { 'retry-after': '1' }));
    expect(await provider.enrichMany([company('a.com'), company('busy.com')], callWith(http))).toEqual([
      { kind: 'failed', failure: expect.objectContaining({ reason: 'rate_limited', retryAfterMs: 1000 }) },
      { kind: 'failed', failure: expect.objectContaining({ reason: 'rate_limited', retryAfterMs: 1000 }) },
    ]);
  });

  it('looks people up one by one with GET /v5/person/enrich, beside the bulk call for companies', async () => {
    const person = {
      status: 200,
      likelihood: 8,
      data: { job_company_industry: 'retail', job_company_employee_count: 40, job_company_size: '11-50', job_company_location_country: 'france' },
    };
    const { http, sent } = recordingHttp(({ url, body }) =>
      url.pathname === '/v5/person/enrich' ? jsonResponse(200, person) : jsonResponse(200, (body as { requests: unknown[] }).requests.map(() => RECORD)),
    );
    const outcomes = await provider.enrichMany([{ kind: 'person', email: 'jane@acme.com' }, company('a.com'), company('b.com')], callWith(http));
    expect(outcomes).toEqual([
      { kind: 'match', firmographics: pdlPersonFirmographics(person) },
      { kind: 'match', firmographics: ACME },
      { kind: 'match', firmographics: ACME },
    ]);
    expect(sent.map((request) => `${request.method} ${request.url.pathname}`).sort()).toEqual(['GET /v5/person/enrich', 'POST /v5/company/enrich/bulk']);
    expect(sent.find((request) => request.method === 'GET')!.url.searchParams.get('email')).toBe('jane@acme.com');
  });
});
