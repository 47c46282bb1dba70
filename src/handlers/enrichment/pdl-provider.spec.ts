import { egressHttp, egressOrigins } from '../../worker/egress-http';
import { PdlProvider, pdlCompanyFirmographics, pdlPersonFirmographics } from './pdl-provider';
import { ProviderCall, ProviderFailure, retryAfterMs } from './provider';
import { companyForDomain, createEnrichmentSimulator, DEFAULT_API_KEY, EnrichmentSimulator } from '../../../tools/simulators/enrichment';

describe('PDL answer mapping', () => {
  it('maps a company record: industry, employee_count, size, inferred_revenue, location.country', () => {
    expect(
      pdlCompanyFirmographics({
        status: 200,
        name: 'acme',
        industry: 'computer software',
        employee_count: 120,
        size: '51-200',
        inferred_revenue: '$10M-$25M',
        location: { country: 'united states', locality: 'boston' },
        likelihood: 9,
      }),
    ).toEqual({ industry: 'computer software', employeeCount: 120, employeeRange: '51-200', revenueRange: '$10M-$25M', country: 'united states' });
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

describe('PdlProvider against the simulator', () => {
  let sim: EnrichmentSimulator;
  let call: ProviderCall;
  const provider = new PdlProvider();

  beforeAll(async () => {
    sim = await createEnrichmentSimulator();
    call = { http: egressHttp(egressOrigins([sim.url]), new AbortController().signal), baseUrl: sim.url, apiKey: DEFAULT_API_KEY, timeoutMs: 2_000 };
  });

  afterAll(() => sim.close());

  beforeEach(() => {
    sim.modes.clear();
    sim.resetCalls();
  });

  it('enriches one company with GET /v5/company/enrich, the key in X-Api-Key', async () => {
    const company = companyForDomain('acme.com');
    const outcome = await provider.enrichOne({ kind: 'company', domain: 'acme.com', name: 'Acme' }, call);
    expect(outcome).toEqual({ kind: 'match', firmographics: pdlCompanyFirmographics(company) });
    expect(sim.calls()).toMatchObject([{ method: 'GET', endpoint: 'company.enrich', status: 200, subjects: ['acme.com'] }]);
  });

  it('sends min_likelihood when the portal sets one', async () => {
    sim.setCompany('weak.com', { likelihood: 4 });
    expect(await new PdlProvider({ minLikelihood: 5 }).enrichOne({ kind: 'company', domain: 'weak.com' }, call)).toEqual({ kind: 'no_match' });
    expect((await new PdlProvider({ minLikelihood: 4 }).enrichOne({ kind: 'company', domain: 'weak.com' }, call)).kind).toBe('match');
  });

  it('turns 404 into no match, 429 into a wait, 5xx and hangs into outages, 401 and garbage into final failures', async () => {
    expect(await provider.enrichOne({ kind: 'company', domain: 'nobody.invalid' }, call)).toEqual({ kind: 'no_match' });

    sim.modes.set({ mode: 'rate_limit', domain: 'busy.com', retryAfterS: 2 });
    const limited = await provider.enrichOne({ kind: 'company', domain: 'busy.com' }, call);
    expect(limited).toMatchObject({ kind: 'failed', failure: { reason: 'rate_limited', retryAfterMs: 2000 } });

    sim.modes.set({ mode: 'server_error', domain: 'down.com', status: 502 });
    const down = await provider.enrichOne({ kind: 'company', domain: 'down.com' }, call);
    expect(down).toMatchObject({ kind: 'failed', failure: { reason: 'unavailable' } });
    expect((down as { failure: ProviderFailure }).failure.message).toMatch(/502.*api_error/);

    sim.modes.set({ mode: 'hang', domain: 'slow.com', hangMs: 5_000 });
    const slow = await provider.enrichOne({ kind: 'company', domain: 'slow.com' }, { ...call, timeoutMs: 100 });
    expect(slow).toMatchObject({ kind: 'failed', failure: { reason: 'unavailable' } });

    sim.modes.set({ mode: 'malformed', domain: 'broken.com' });
    expect(await provider.enrichOne({ kind: 'company', domain: 'broken.com' }, call)).toMatchObject({ kind: 'failed', failure: { reason: 'malformed' } });

    const refused = await provider.enrichOne({ kind: 'company', domain: 'acme.com' }, { ...call, apiKey: 'wrong' });
    expect(refused).toMatchObject({ kind: 'failed', failure: { reason: 'refused' } });
    expect((refused as { failure: ProviderFailure }).failure.message).toMatch(/401.*missing or invalid key/);
  });

  it('enriches many companies with one bulk call, each lookup getting its own outcome in order', async () => {
    sim.modes.set({ mode: 'malformed', domain: 'broken.com' });
    const outcomes = await provider.enrichMany(
      [
        { kind: 'company', domain: 'a.com' },
        { kind: 'company', domain: 'nobody.invalid' },
        { kind: 'company', domain: 'broken.com' },
        { kind: 'company', domain: 'b.com' },
      ],
      call,
    );
    expect(outcomes.map((outcome) => outcome.kind)).toEqual(['match', 'no_match', 'failed', 'match']);
    expect(outcomes[0]).toEqual({ kind: 'match', firmographics: pdlCompanyFirmographics(companyForDomain('a.com')) });
    expect(outcomes[3]).toEqual({ kind: 'match', firmographics: pdlCompanyFirmographics(companyForDomain('b.com')) });
    expect(outcomes[2]).toMatchObject({ failure: { reason: 'malformed' } });
    expect(sim.stats()).toMatchObject({ bulk: 1, single: 0, lookups: 4 });
  });

  it('fails every lookup of a bulk call the provider refused as a whole', async () => {
    sim.modes.set({ mode: 'rate_limit', domain: 'busy.com', retryAfterS: 1 });
    const outcomes = await provider.enrichMany([{ kind: 'company', domain: 'a.com' }, { kind: 'company', domain: 'busy.com' }], call);
    expect(outcomes).toEqual([
      { kind: 'failed', failure: expect.objectContaining({ reason: 'rate_limited', retryAfterMs: 1000 }) },
      { kind: 'failed', failure: expect.objectContaining({ reason: 'rate_limited', retryAfterMs: 1000 }) },
    ]);
  });

  it('looks people up one by one with GET /v5/person/enrich, beside the bulk call for companies', async () => {
    const outcomes = await provider.enrichMany(
      [
        { kind: 'person', email: 'jane@acme.com' },
        { kind: 'company', domain: 'a.com' },
        { kind: 'company', domain: 'b.com' },
      ],
      call,
    );
    const acme = pdlCompanyFirmographics(companyForDomain('acme.com'));
    expect(outcomes[0]).toEqual({ kind: 'match', firmographics: acme });
    expect(outcomes.slice(1).map((outcome) => outcome.kind)).toEqual(['match', 'match']);
    expect(sim.stats().byEndpoint).toEqual({ 'person.enrich': 1, 'company.bulk': 1 });
  });
});
