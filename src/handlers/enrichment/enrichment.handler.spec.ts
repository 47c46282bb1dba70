import { compileValidator } from '../../common/schema-validator';
import { configRefusal } from '../../config/config-refusal.testing';
import { checkHandlerClasses, HandlerRegistry } from '../../registry/handler-registry';
import { readSettings } from '../../registry/handler-settings';
import { testJobContext } from '../../registry/job-context.testing';
import { EnrichmentConfig } from './enrichment-config';
import { LookupRequest } from './enrichment-lookups';
import { EnrichmentSettings, enrichmentSettings } from './enrichment-settings';
import { API_KEY_SECRET, enrichedOutputs, enrichmentDeclaration, EnrichmentHandler, lookupFor, notEnriched } from './enrichment.handler';
import { Firmographics, LookupOutcome, ProviderFailure } from './provider';

describe('enrichment outputs', () => {
  it('spells every unknown value out: "unknown" for text, 0 for the employee count', () => {
    expect(enrichedOutputs({ industry: null, employeeCount: null, employeeRange: null, revenueRange: '$1M-$10M', country: null })).toEqual({
      enriched: true,
      industry: 'unknown',
      employee_count: 0,
      employee_range: 'unknown',
      annual_revenue_range: '$1M-$10M',
      country: 'unknown',
      enrichment_error: '',
    });
    expect(notEnriched('no_match')).toMatchObject({ enriched: false, employee_count: 0, industry: 'unknown', enrichment_error: 'no_match' });
  });

  it('declares what it returns, within the registry’s rules', () => {
    expect(checkHandlerClasses([EnrichmentHandler])).toEqual([enrichmentDeclaration]);
    expect(Object.keys(enrichedOutputs({ industry: 'x', employeeCount: 1, employeeRange: '1-10', revenueRange: null, country: 'y' })).sort()).toEqual(
      Object.keys(enrichmentDeclaration.outputs).sort(),
    );
  });
});

describe('enrichment input', () => {
  const validate = compileValidator(enrichmentDeclaration.input);

  it('needs a domain, a name or an email, and nothing else', () => {
    expect(validate({ domain: 'acme.com' })).toEqual([]);
    expect(validate({ email: 'jane@acme.com' })).toEqual([]);
    expect(validate({}).length).toBeGreaterThan(0);
    expect(validate({ domain: 'acme.com', url: 'http://evil.example' })).toContainEqual({ path: 'url', message: 'is not an allowed property' });
    expect(validate({ email: 'not an email' })).toContainEqual(expect.objectContaining({ path: 'email' }));
  });

  it('looks up the domain’s company, else the name’s, else the email’s person', () => {
    expect(lookupFor({ domain: 'https://www.Acme.com/x', name: ' Acme ', email: 'j@acme.com' })).toEqual({ kind: 'company', domain: 'acme.com', name: 'Acme' });
    expect(lookupFor({ name: 'Acme', email: 'j@acme.com' })).toEqual({ kind: 'company', name: 'Acme' });
    expect(lookupFor({ email: ' j@acme.com ' })).toEqual({ kind: 'person', email: 'j@acme.com' });
    expect(() => lookupFor({ domain: 'http://127.0.0.1:8080/admin' })).toThrow(expect.objectContaining({ code: 'enrichment_invalid_input', retryable: false }));
  });
});

describe('enrichment settings', () => {
  const refusal = (env: Record<string, string>) => configRefusal(() => readSettings(enrichmentSettings, env));

  it("calls People Data Labs' API unless told otherwise, caching answers a day and no-matches an hour", () => {
    expect(readSettings(enrichmentSettings, {})).toEqual({
      ENRICHMENT_BASE_URL: 'https://api.peopledatalabs.com',
      ENRICHMENT_CACHE_TTL_S: 86_400,
      ENRICHMENT_NO_MATCH_TTL_S: 3_600,
    });
    expect(readSettings(enrichmentSettings, { ENRICHMENT_BASE_URL: 'http://127.0.0.1:4020', ENRICHMENT_CACHE_TTL_S: ' 600 ' })).toMatchObject({
      ENRICHMENT_BASE_URL: 'http://127.0.0.1:4020',
      ENRICHMENT_CACHE_TTL_S: 600,
    });
  });

  it.each([
    ['ENRICHMENT_BASE_URL', { ENRICHMENT_BASE_URL: 'ftp://api.peopledatalabs.com' }],
    ['ENRICHMENT_BASE_URL', { ENRICHMENT_BASE_URL: 'api.peopledatalabs.com' }],
    ['ENRICHMENT_CACHE_TTL_S', { ENRICHMENT_CACHE_TTL_S: '0' }],
    ['ENRICHMENT_NO_MATCH_TTL_S', { ENRICHMENT_NO_MATCH_TTL_S: 'an hour' }],
  ])('refuses an invalid %s, naming it', (variable, env) => {
    const error = refusal(env);
    expect(error.variable).toBe(variable);
    expect(error.message).toContain(variable);
  });

  it('may reach only the provider the settings name', () => {
    const registered = (settings: Map<string, Record<string, string | number>>) =>
      new HandlerRegistry([new EnrichmentHandler({ lookup: async () => ({ kind: 'no_match' }) })], settings).get('enrichment')!;
    expect(registered(new Map()).egress).toEqual(['https://api.peopledatalabs.com']);
    const local = { ...readSettings(enrichmentSettings, {}), ENRICHMENT_BASE_URL: 'http://127.0.0.1:4020' };
    expect(registered(new Map([['enrichment', local]])).egress).toEqual(['http://127.0.0.1:4020']);
  });
});

describe('EnrichmentHandler', () => {
  const SETTINGS: EnrichmentSettings = { ENRICHMENT_BASE_URL: 'https://pdl.test', ENRICHMENT_CACHE_TTL_S: 60, ENRICHMENT_NO_MATCH_TTL_S: 10 };
  const CONFIG: EnrichmentConfig = { provider: 'pdl', timeoutMs: 300 };
  const ACME: Firmographics = { industry: 'computer software', employeeCount: 120, employeeRange: '51-200', revenueRange: null, country: 'france' };

  /** Lookups that answer `outcome` and keep what they were asked. */
  function fakeLookups(outcome: LookupOutcome) {
    const requests: LookupRequest[] = [];
    return { requests, lookup: async (request: LookupRequest) => (requests.push(request), outcome) };
  }

  const failed = (reason: ProviderFailure['reason'], message: string, retryAfterMs?: number): LookupOutcome => ({
    kind: 'failed',
    failure: new ProviderFailure(reason, message, retryAfterMs),
  });

  function context(input: Record<string, unknown>, options: { attempt?: number; secrets?: Record<string, string> } = {}) {
    return testJobContext({
      input,
      job: { type: 'enrichment', portalId: 'portal-7', attempt: options.attempt ?? 1, maxAttempts: 4 },
      config: CONFIG,
      settings: SETTINGS,
      secrets: options.secrets ?? { [API_KEY_SECRET]: 'key-1' },
      http: { fetch: async () => new Response() },
    });
  }

  it('looks a company up by its domain with the portal, its key, its settings and the job’s client, and reports what the provider knows', async () => {
    const lookups = fakeLookups({ kind: 'match', firmographics: ACME });
    const run = context({ domain: 'www.acme.com' });
    await expect(new EnrichmentHandler(lookups).run(run)).resolves.toEqual(enrichedOutputs(ACME));
    expect(lookups.requests).toEqual([
      { portalId: 'portal-7', config: CONFIG, settings: SETTINGS, lookup: { kind: 'company', domain: 'acme.com' }, apiKey: 'key-1', http: run.http, signal: run.signal },
    ]);
  });

  it("looks a contact known only by email up as a person, and reports the employer's firmographics", async () => {
    const lookups = fakeLookups({ kind: 'match', firmographics: ACME });
    await expect(new EnrichmentHandler(lookups).run(context({ email: 'jane@acme.com' }))).resolves.toEqual(enrichedOutputs(ACME));
    expect(lookups.requests[0].lookup).toEqual({ kind: 'person', email: 'jane@acme.com' });
  });

  it('succeeds unenriched on no match', async () => {
    await expect(new EnrichmentHandler(fakeLookups({ kind: 'no_match' })).run(context({ domain: 'nobody.invalid' }))).resolves.toEqual(notEnriched('no_match'));
  });

  it('fails at once, clearly, without a key (asking nothing), and when the provider refuses the key', async () => {
    const lookups = fakeLookups({ kind: 'no_match' });
    await expect(new EnrichmentHandler(lookups).run(context({ domain: 'acme.com' }, { secrets: {} }))).rejects.toMatchObject({
      code: 'enrichment_not_configured',
      retryable: false,
      message: expect.stringContaining(API_KEY_SECRET),
    });
    expect(lookups.requests).toEqual([]);
    const refused = fakeLookups(failed('refused', 'the enrichment provider refused the request (401): missing or invalid key'));
    await expect(new EnrichmentHandler(refused).run(context({ domain: 'acme.com' }))).rejects.toMatchObject({
      code: 'enrichment_refused',
      retryable: false,
      message: expect.stringMatching(/401/),
    });
  });

  it('retries outages and rate limits (as long as the provider asks), then reports them as values on the last run', async () => {
    const down = new EnrichmentHandler(fakeLookups(failed('unavailable', 'the enrichment provider answered 503')));
    await expect(down.run(context({ domain: 'down.com' }, { attempt: 3 }))).rejects.toMatchObject({ code: 'enrichment_unavailable', retryable: true });
    await expect(down.run(context({ domain: 'down.com' }, { attempt: 4 }))).resolves.toEqual(notEnriched('provider_unavailable'));

    const busy = new EnrichmentHandler(fakeLookups(failed('rate_limited', 'the enrichment provider is rate limiting', 3000)));
    await expect(busy.run(context({ domain: 'busy.com' }))).rejects.toMatchObject({ code: 'enrichment_rate_limited', retryable: true, retryAfterMs: 3000 });
    await expect(busy.run(context({ domain: 'busy.com' }, { attempt: 4 }))).resolves.toEqual(notEnriched('rate_limited'));
  });

  it('fails without retry on a malformed answer, even on the last run', async () => {
    const broken = new EnrichmentHandler(fakeLookups(failed('malformed', "the enrichment provider's answer is malformed: likelihood is missing")));
    await expect(broken.run(context({ domain: 'broken.com' }, { attempt: 4 }))).rejects.toMatchObject({ code: 'enrichment_malformed_answer', retryable: false });
  });
});
