import { randomBytes } from 'node:crypto';
import { AppConfig } from '../../config/app-config';
import { RedisService } from '../../redis/redis.service';
import { testJobContext } from '../../registry/job-context.testing';
import { checkHandlerClasses } from '../../registry/handler-registry';
import { egressHttp, egressOrigins } from '../../worker/egress-http';
import { compileValidator } from '../../common/schema-validator';
import { EnrichmentConfig } from './enrichment-config';
import { API_KEY_SECRET, enrichedOutputs, enrichmentDeclaration, EnrichmentHandler, lookupFor, notEnriched } from './enrichment.handler';
import { pdlCompanyFirmographics } from './pdl-provider';
import { companyForDomain, createEnrichmentSimulator, DEFAULT_API_KEY, EnrichmentSimulator } from '../../../tools/simulators/enrichment';

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

describe('EnrichmentHandler', () => {
  let sim: EnrichmentSimulator;
  let redis: RedisService;
  let handler: EnrichmentHandler;
  const prefix = `offload-test-${randomBytes(5).toString('hex')}`;
  let portalCounter = 0;

  beforeAll(async () => {
    sim = await createEnrichmentSimulator();
    const config = { redis: { host: '127.0.0.1', port: 6379, db: 0 }, redisPrefix: prefix, enrichmentBaseUrl: sim.url, enrichmentCacheTtlS: 60, enrichmentNoMatchTtlS: 10 };
    redis = new RedisService(config as AppConfig);
    handler = new EnrichmentHandler(redis, config as AppConfig);
  });

  afterAll(async () => {
    const keys = await redis.client.keys(`${prefix}:*`);
    if (keys.length > 0) await redis.client.del(...keys);
    await redis.onApplicationShutdown();
    await sim.close();
  });

  beforeEach(() => sim.modes.clear());

  function context(input: Record<string, unknown>, options: { attempt?: number; secrets?: Record<string, string>; config?: EnrichmentConfig } = {}) {
    const signal = new AbortController().signal;
    return testJobContext({
      input,
      signal,
      job: { type: 'enrichment', portalId: `portal-${++portalCounter}`, attempt: options.attempt ?? 1, maxAttempts: 4 },
      config: options.config ?? { provider: 'pdl' as const, timeoutMs: 300 },
      secrets: options.secrets ?? { [API_KEY_SECRET]: DEFAULT_API_KEY },
      http: egressHttp(egressOrigins([sim.url]), signal),
    });
  }

  it('enriches a company by domain', async () => {
    await expect(handler.run(context({ domain: 'www.acme.com' }))).resolves.toEqual(enrichedOutputs(pdlCompanyFirmographics(companyForDomain('acme.com'))));
  });

  it('succeeds unenriched on no match', async () => {
    await expect(handler.run(context({ domain: 'nobody.invalid' }))).resolves.toEqual(notEnriched('no_match'));
  });

  it('fails at once, clearly, without a key, and with a key the provider refuses', async () => {
    await expect(handler.run(context({ domain: 'acme.com' }, { secrets: {} }))).rejects.toMatchObject({
      code: 'enrichment_not_configured',
      retryable: false,
      message: expect.stringContaining(API_KEY_SECRET),
    });
    await expect(handler.run(context({ domain: 'acme.com' }, { secrets: { [API_KEY_SECRET]: 'wrong' } }))).rejects.toMatchObject({
      code: 'enrichment_refused',
      retryable: false,
      message: expect.stringMatching(/401/),
    });
  });

  it('retries outages and rate limits, then reports them as values on the last run', async () => {
    sim.modes.set({ mode: 'server_error', domain: 'down.com' });
    await expect(handler.run(context({ domain: 'down.com' }, { attempt: 3 }))).rejects.toMatchObject({ code: 'enrichment_unavailable', retryable: true });
    await expect(handler.run(context({ domain: 'down.com' }, { attempt: 4 }))).resolves.toEqual(notEnriched('provider_unavailable'));

    sim.modes.set({ mode: 'hang', domain: 'slow.com', hangMs: 2_000 });
    await expect(handler.run(context({ domain: 'slow.com' }))).rejects.toMatchObject({ code: 'enrichment_unavailable', retryable: true });

    sim.modes.set({ mode: 'rate_limit', domain: 'busy.com', retryAfterS: 3 });
    await expect(handler.run(context({ domain: 'busy.com' }))).rejects.toMatchObject({ code: 'enrichment_rate_limited', retryable: true, retryAfterMs: 3000 });
    await expect(handler.run(context({ domain: 'busy.com' }, { attempt: 4 }))).resolves.toEqual(notEnriched('rate_limited'));
  });

  it('fails without retry on a malformed answer', async () => {
    sim.modes.set({ mode: 'malformed', domain: 'broken.com' });
    await expect(handler.run(context({ domain: 'broken.com' }, { attempt: 4 }))).rejects.toMatchObject({ code: 'enrichment_malformed_answer', retryable: false });
  });

  it("enriches a contact known only by email through the employer's record", async () => {
    const output = await handler.run(context({ email: 'jane@acme.com' }));
    expect(output).toEqual(enrichedOutputs(pdlCompanyFirmographics(companyForDomain('acme.com'))));
  });
});
