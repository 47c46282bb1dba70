import { egressHttp, egressOrigins } from '../src/worker/egress-http';
import { PdlProvider, pdlCompanyFirmographics } from '../src/handlers/enrichment/pdl-provider';
import { ProviderCall, ProviderFailure } from '../src/handlers/enrichment/provider';
import { companyForDomain, createEnrichmentSimulator, DEFAULT_API_KEY, EnrichmentSimulator } from '../tools/simulators/enrichment';

/** The PDL provider over real HTTP, through the egress client a job gets, against the PDL simulator's answers and failure modes. */
describe('PdlProvider against the PDL simulator', () => {
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
