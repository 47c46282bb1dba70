import { compileValidator } from '../../common/schema-validator';
import { enrichmentConfigSchema } from './enrichment-config';
import { GenericProvider, GenericSettings, mapFirmographics, valueAt } from './generic-provider';
import { ProviderCall, ProviderFailure } from './provider';
import { recordingHttp, SentRequest } from './recording-http.testing';

const SETTINGS: GenericSettings = {
  urlTemplate: '/api/v2/lookup?domain={domain}&company={name}',
  keyHeader: 'Authorization',
  keyPrefix: 'Bearer ',
  fields: {
    industry: 'company.category.industry',
    employee_count: 'company.metrics.employees',
    employee_range: 'company.metrics.employeesRange',
    annual_revenue_range: '$.company.metrics.estimatedAnnualRevenue',
    country: 'company.geo[0].country',
  },
};

describe('generic mapping', () => {
  const answer = {
    company: {
      category: { industry: 'Software' },
      metrics: { employees: 250, employeesRange: '251-1K', estimatedAnnualRevenue: '$10M-$50M' },
      geo: [{ country: 'Germany' }, { country: 'France' }],
    },
  };

  it('reads values by dotted paths with array indices', () => {
    expect(valueAt(answer, 'company.category.industry')).toBe('Software');
    expect(valueAt(answer, '$.company.geo[1].country')).toBe('France');
    expect(valueAt(answer, 'company.geo[5].country')).toBeUndefined();
    expect(valueAt(answer, 'company.missing.deeper')).toBeUndefined();
    expect(valueAt(answer, 'company.category.industry.length')).toBeUndefined();
    expect(valueAt({ a: [1] }, 'a.length')).toBeUndefined();
  });

  it('maps an answer to firmographics', () => {
    expect(mapFirmographics(answer, SETTINGS.fields)).toEqual({
      industry: 'Software',
      employeeCount: 250,
      employeeRange: '251-1K',
      revenueRange: '$10M-$50M',
      country: 'Germany',
    });
  });

  it('leaves unmapped and absent fields unknown, accepts digits for a count, and refuses values of the wrong kind', () => {
    expect(mapFirmographics({ n: '42' }, { employee_count: 'n' })).toEqual({ industry: null, employeeCount: 42, employeeRange: null, revenueRange: null, country: null });
    expect(mapFirmographics({}, SETTINGS.fields).employeeCount).toBeNull();
    expect(() => mapFirmographics({ n: 'lots' }, { employee_count: 'n' })).toThrow(/n is "lots", not a count/);
    expect(() => mapFirmographics({ i: { name: 'x' } }, { industry: 'i' })).toThrow(/i is .* not a value/);
  });
});

describe('generic settings (the portal config schema)', () => {
  const validate = compileValidator(enrichmentConfigSchema);

  it('accepts PDL alone, and generic only with its settings', () => {
    expect(validate({ provider: 'pdl' })).toEqual([]);
    expect(validate({ provider: 'pdl', minLikelihood: 6, timeoutMs: 3000 })).toEqual([]);
    expect(validate({ provider: 'generic', generic: SETTINGS })).toEqual([]);
    expect(validate({ provider: 'generic' })).toContainEqual({ path: 'generic', message: 'is required' });
    expect(validate({ provider: 'clearbit' }).length).toBeGreaterThan(0);
  });

  it('refuses a URL template that names a host of its own, and paths or headers that are not what they say', () => {
    const withTemplate = (urlTemplate: string) => validate({ provider: 'generic', generic: { ...SETTINGS, urlTemplate } });
    expect(withTemplate('https://evil.example/steal?d={domain}').length).toBeGreaterThan(0);
    expect(withTemplate('//evil.example/steal').length).toBeGreaterThan(0);
    expect(withTemplate('/\\evil.example/steal').length).toBeGreaterThan(0);
    expect(withTemplate('/lookup?d={domain}&x={secret}').length).toBeGreaterThan(0);
    expect(withTemplate('/lookup/{domain}')).toEqual([]);
    expect(validate({ provider: 'generic', generic: { ...SETTINGS, keyHeader: 'X-Key: injected' } }).length).toBeGreaterThan(0);
    expect(validate({ provider: 'generic', generic: { ...SETTINGS, fields: { industry: 'a..b' } } }).length).toBeGreaterThan(0);
    expect(validate({ provider: 'generic', generic: { ...SETTINGS, fields: {} } }).length).toBeGreaterThan(0);
  });
});

describe('GenericProvider', () => {
  const baseUrl = 'https://provider.test';
  let reply: { status: number; body: string } = { status: 200, body: '{}' };
  let sent: SentRequest[];
  let call: ProviderCall;

  beforeEach(() => {
    const recording = recordingHttp(() => new Response(reply.body, { status: reply.status, headers: { 'Content-Type': 'application/json', 'Retry-After': '4' } }));
    sent = recording.sent;
    call = { http: recording.http, baseUrl, apiKey: 'k-123', timeoutMs: 2000 };
  });

  const provider = new GenericProvider(SETTINGS);

  it('calls the template on the configured host with the key in the configured header, values URL-encoded', async () => {
    reply = { status: 200, body: JSON.stringify({ company: { category: { industry: 'Retail' }, metrics: { employees: '12' } } }) };
    const outcome = await provider.enrichOne({ kind: 'company', domain: 'acme.com', name: 'Acme & Sons' }, call);
    expect(outcome).toEqual({ kind: 'match', firmographics: { industry: 'Retail', employeeCount: 12, employeeRange: null, revenueRange: null, country: null } });
    expect(sent).toHaveLength(1);
    expect(sent[0].url.href).toBe(`${baseUrl}/api/v2/lookup?domain=acme.com&company=Acme%20%26%20Sons`);
    expect(sent[0].headers.get('authorization')).toBe('Bearer k-123');
  });

  it('keeps a value that tries to add a path or a host inside its parameter', () => {
    const url = new GenericProvider({ ...SETTINGS, urlTemplate: '/c/{name}' }).urlFor({ kind: 'company', name: '../../admin?x=//evil.example' }, baseUrl);
    expect(url).toBeInstanceOf(URL);
    expect((url as URL).origin).toBe(baseUrl);
    expect((url as URL).pathname).toBe('/c/..%2F..%2Fadmin%3Fx%3D%2F%2Fevil.example');
  });

  it('refuses a value that would make a dot segment of the path, which URL resolution would climb with', async () => {
    const byName = new GenericProvider({ ...SETTINGS, urlTemplate: '/v1/companies/{name}/profile' });
    for (const name of ['..', '.']) {
      const url = byName.urlFor({ kind: 'company', name }, baseUrl);
      expect({ name, url }).toMatchObject({ name, url: { reason: 'refused', message: expect.stringMatching(/"\.\."/) } });
    }
    expect(new GenericProvider({ ...SETTINGS, urlTemplate: '/v1/companies/.{name}' }).urlFor({ kind: 'company', name: '.' }, baseUrl)).toBeInstanceOf(
      ProviderFailure,
    );
    const outcome = await byName.enrichOne({ kind: 'company', name: '..' }, call);
    expect(outcome).toMatchObject({ kind: 'failed', failure: { reason: 'refused' } });
    expect(sent).toHaveLength(0);

    // Dots within a name, or a dot segment in the query, go as they are.
    expect((byName.urlFor({ kind: 'company', name: '...' }, baseUrl) as URL).pathname).toBe('/v1/companies/.../profile');
    expect((byName.urlFor({ kind: 'company', name: 'Acme Inc.' }, baseUrl) as URL).pathname).toBe('/v1/companies/Acme%20Inc./profile');
    expect((provider.urlFor({ kind: 'company', domain: 'acme.com', name: '..' }, baseUrl) as URL).search).toBe('?domain=acme.com&company=..');
  });

  it('fails a lookup that fills none of its template’s placeholders, and leaves the others empty', async () => {
    const outcome = await provider.enrichOne({ kind: 'person', email: 'jane@acme.com' }, call);
    expect(outcome).toMatchObject({ kind: 'failed', failure: { reason: 'refused' } });
    expect((outcome as { failure: ProviderFailure }).failure.message).toMatch(/\{domain\}, \{name\}/);
    expect(sent).toHaveLength(0);
    const byName = provider.urlFor({ kind: 'company', name: 'Acme' }, baseUrl) as URL;
    expect(byName.search).toBe('?domain=&company=Acme');
  });

  it('treats 404 as no match, 429 as a wait, 5xx as an outage and a body that is not JSON as malformed', async () => {
    reply = { status: 404, body: '{"error":"unknown"}' };
    expect(await provider.enrichOne({ kind: 'company', domain: 'x.com' }, call)).toEqual({ kind: 'no_match' });
    reply = { status: 429, body: 'slow down' };
    expect(await provider.enrichOne({ kind: 'company', domain: 'x.com' }, call)).toMatchObject({ failure: { reason: 'rate_limited', retryAfterMs: 4000 } });
    reply = { status: 500, body: 'oops' };
    expect(await provider.enrichOne({ kind: 'company', domain: 'x.com' }, call)).toMatchObject({ failure: { reason: 'unavailable' } });
    reply = { status: 200, body: '<html>' };
    expect(await provider.enrichOne({ kind: 'company', domain: 'x.com' }, call)).toMatchObject({ failure: { reason: 'malformed' } });
  });

  it('enriches many lookups as one call each', async () => {
    reply = { status: 200, body: '{}' };
    const outcomes = await provider.enrichMany(
      Array.from({ length: 12 }, (_, i) => ({ kind: 'company' as const, domain: `c${i}.com` })),
      call,
    );
    expect(outcomes.every((outcome) => outcome.kind === 'match')).toBe(true);
    expect(sent.map((request) => request.url.searchParams.get('domain')).sort()).toEqual(Array.from({ length: 12 }, (_, i) => `c${i}.com`).sort());
  });
});
