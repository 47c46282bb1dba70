import { Inject } from '@nestjs/common';
import { Type } from '@sinclair/typebox';
import { ConfigOf, HandlerDeclaration, InputOf, JobContext, JobFailure, JobHandler, JobHandlerOf } from '../../registry/job-handler';
import { InvalidDomainError, normaliseDomain } from './domain';
import { DEFAULT_ENRICHMENT_CONFIG, enrichmentConfigSchema } from './enrichment-config';
import { EnrichmentLookups } from './enrichment-lookups';
import { EnrichmentSettings, enrichmentSettings } from './enrichment-settings';
import { Firmographics, Lookup } from './provider';

/** The portal secret that holds the provider's API key. */
export const API_KEY_SECRET = 'ENRICHMENT_API_KEY';
/** What a text output says when the provider does not know. */
export const UNKNOWN = 'unknown';

export const enrichmentDeclaration = {
  type: 'enrichment',
  version: '1.0.0',
  owner: 'platform',
  objectTypes: ['COMPANY', 'CONTACT'],
  description:
    "Company firmographics (industry, headcount, revenue bracket, country) for a domain or website, or for a contact's employer by email, from People Data Labs or another provider the portal maps.",
  input: Type.Object(
    {
      domain: Type.Optional(
        Type.String({ minLength: 1, maxLength: 2048, description: 'The company domain ("acme.com") or website URL ("https://www.acme.com/about")' }),
      ),
      name: Type.Optional(Type.String({ minLength: 1, maxLength: 256, description: 'The company name; helps the match, or is all there is' })),
      email: Type.Optional(
        Type.String({ format: 'email', maxLength: 320, description: "A contact's email: without a domain, the contact's employer is looked up" }),
      ),
    },
    { additionalProperties: false, anyOf: [{ required: ['domain'] }, { required: ['name'] }, { required: ['email'] }] },
  ),
  outputs: {
    enriched: { hubspotType: 'bool', description: 'Whether the provider matched the company (or the contact)' },
    industry: { hubspotType: 'string', description: 'The industry, or "unknown"' },
    employee_count: { hubspotType: 'number', description: 'Number of employees; 0 when unknown (no company has none)' },
    employee_range: { hubspotType: 'string', description: 'Headcount bracket such as "51-200", or "unknown"' },
    annual_revenue_range: { hubspotType: 'string', description: 'Revenue bracket such as "$10M-$25M", or "unknown"' },
    country: { hubspotType: 'string', description: 'Country of the headquarters, or "unknown"' },
    enrichment_error: {
      hubspotType: 'string',
      description: 'Why not enriched: "no_match", "rate_limited" or "provider_unavailable" (after the last retry); "" when enriched',
    },
  },
  timeoutMs: 60_000,
  retry: { attempts: 4, backoffMs: 500, maxBackoffMs: 30_000 },
  concurrency: 200,
  config: { schema: enrichmentConfigSchema, default: DEFAULT_ENRICHMENT_CONFIG },
  settings: enrichmentSettings,
  egress: (settings: EnrichmentSettings) => [settings.ENRICHMENT_BASE_URL],
  providers: [EnrichmentLookups],
} satisfies HandlerDeclaration;

type EnrichmentInput = InputOf<typeof enrichmentDeclaration>;
type EnrichmentConfig = ConfigOf<typeof enrichmentDeclaration>;
export type EnrichmentOutput = {
  enriched: boolean;
  industry: string;
  employee_count: number;
  employee_range: string;
  annual_revenue_range: string;
  country: string;
  enrichment_error: string;
};

export function enrichedOutputs(firmographics: Firmographics): EnrichmentOutput {
  return {
    enriched: true,
    industry: firmographics.industry ?? UNKNOWN,
    employee_count: firmographics.employeeCount ?? 0,
    employee_range: firmographics.employeeRange ?? UNKNOWN,
    annual_revenue_range: firmographics.revenueRange ?? UNKNOWN,
    country: firmographics.country ?? UNKNOWN,
    enrichment_error: '',
  };
}

export function notEnriched(reason: 'no_match' | 'rate_limited' | 'provider_unavailable'): EnrichmentOutput {
  return {
    enriched: false,
    industry: UNKNOWN,
    employee_count: 0,
    employee_range: UNKNOWN,
    annual_revenue_range: UNKNOWN,
    country: UNKNOWN,
    enrichment_error: reason,
  };
}

/** What to ask the provider: the company of the domain (with its name, if given), else of the name, else the person of the email. */
export function lookupFor(input: EnrichmentInput): Lookup {
  const name = input.name?.trim() || undefined;
  if (input.domain !== undefined) {
    try {
      return { kind: 'company', domain: normaliseDomain(input.domain), ...(name ? { name } : {}) };
    } catch (error) {
      if (error instanceof InvalidDomainError) throw new JobFailure('enrichment_invalid_input', `input.domain: ${error.message}`, { retryable: false });
      throw error;
    }
  }
  if (name) return { kind: 'company', name };
  if (input.email !== undefined) return { kind: 'person', email: input.email.trim() };
  throw new JobFailure('enrichment_invalid_input', 'The input needs a domain, a name or an email', { retryable: false });
}

@JobHandlerOf(enrichmentDeclaration)
export class EnrichmentHandler implements JobHandler<EnrichmentInput, EnrichmentOutput, EnrichmentConfig, EnrichmentSettings> {
  constructor(@Inject(EnrichmentLookups) private readonly lookups: Pick<EnrichmentLookups, 'lookup'>) {}

  async run({ input, job, config, settings, secrets, http, signal }: JobContext<EnrichmentInput, EnrichmentConfig, EnrichmentSettings>): Promise<EnrichmentOutput> {
    const lookup = lookupFor(input);
    const apiKey = await secrets.get(API_KEY_SECRET);
    if (!apiKey) {
      throw new JobFailure(
        'enrichment_not_configured',
        `The portal has no ${API_KEY_SECRET} secret: set it with PUT /v1/admin/portals/:id/secrets/${API_KEY_SECRET}`,
        { retryable: false },
      );
    }
    const outcome = await this.lookups.lookup({ portalId: job.portalId, config, settings, lookup, apiKey, http, signal });
    if (outcome.kind === 'match') return enrichedOutputs(outcome.firmographics);
    if (outcome.kind === 'no_match') return notEnriched('no_match');
    const { failure } = outcome;
    if (!failure.retryable) {
      throw new JobFailure(failure.reason === 'malformed' ? 'enrichment_malformed_answer' : 'enrichment_refused', failure.message, { retryable: false });
    }
    const rateLimited = failure.reason === 'rate_limited';
    // The last run reports the outage as a value, so the workflow can branch on it instead of failing.
    if (job.attempt >= job.maxAttempts) return notEnriched(rateLimited ? 'rate_limited' : 'provider_unavailable');
    throw new JobFailure(rateLimited ? 'enrichment_rate_limited' : 'enrichment_unavailable', failure.message, {
      retryable: true,
      retryAfterMs: failure.retryAfterMs,
    });
  }
}
