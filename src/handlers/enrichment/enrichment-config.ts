import { Static, Type } from '@sinclair/typebox';
import { createHash } from 'node:crypto';
import { canonicalJson } from '../../common/canonical-json';
import { GenericProvider, HEADER_NAME_PATTERN, JSON_PATH_PATTERN, URL_TEMPLATE_PATTERN } from './generic-provider';
import { PdlProvider } from './pdl-provider';
import { EnrichmentProvider } from './provider';

const jsonPath = (description: string) => Type.Optional(Type.String({ pattern: JSON_PATH_PATTERN, maxLength: 200, description }));

const genericSettings = Type.Object(
  {
    urlTemplate: Type.String({
      pattern: URL_TEMPLATE_PATTERN,
      maxLength: 500,
      description: 'Path and query on ENRICHMENT_BASE_URL, e.g. "/v1/companies?domain={domain}"; {domain}, {name} and {email} are filled in URL-encoded (a lookup whose value would be ".." or "." in the path is refused)',
    }),
    keyHeader: Type.String({ pattern: HEADER_NAME_PATTERN, maxLength: 100, description: 'The header that carries ENRICHMENT_API_KEY' }),
    keyPrefix: Type.Optional(Type.String({ maxLength: 50, pattern: '^[^\\r\\n]*$', description: 'Put before the key, e.g. "Bearer "' })),
    fields: Type.Object(
      {
        industry: jsonPath('Where the industry is'),
        employee_count: jsonPath('Where the number of employees is (a number or digits)'),
        employee_range: jsonPath('Where the headcount bracket is'),
        annual_revenue_range: jsonPath('Where the revenue bracket is'),
        country: jsonPath('Where the country is'),
      },
      { additionalProperties: false, minProperties: 1 },
    ),
  },
  { additionalProperties: false },
);

export const enrichmentConfigSchema = Type.Object(
  {
    provider: Type.Union([Type.Literal('pdl'), Type.Literal('generic')], { description: 'People Data Labs, or any JSON-over-HTTP API mapped by `generic`' }),
    minLikelihood: Type.Optional(Type.Integer({ minimum: 1, maximum: 10, description: "PDL's min_likelihood: weaker matches count as no match" })),
    timeoutMs: Type.Optional(Type.Integer({ minimum: 100, maximum: 20_000, description: 'How long one provider call may take (default 8000)' })),
    generic: Type.Optional(genericSettings),
  },
  {
    additionalProperties: false,
    if: { properties: { provider: { const: 'generic' } } },
    then: { required: ['generic'] },
  },
);

export type EnrichmentConfig = Static<typeof enrichmentConfigSchema>;

export const DEFAULT_ENRICHMENT_CONFIG: EnrichmentConfig = { provider: 'pdl' };

/** How long one provider call may take unless the portal says: well inside the run's timeout, so a slow answer still leaves time to report. */
export const DEFAULT_PROVIDER_TIMEOUT_MS = 8_000;

export function providerFor(config: EnrichmentConfig): EnrichmentProvider {
  if (config.provider === 'generic') {
    if (!config.generic) throw new Error('the generic provider needs its settings');
    return new GenericProvider(config.generic);
  }
  return new PdlProvider({ minLikelihood: config.minLikelihood });
}

/**
 * Names the settings that decide what an answer means (provider and mapping): cached results and
 * shared calls are kept apart per fingerprint, so a portal that changes its mapping starts afresh.
 */
export function configFingerprint(config: EnrichmentConfig): string {
  return createHash('sha256')
    .update(canonicalJson({ ...config, timeoutMs: undefined }))
    .digest('base64url')
    .slice(0, 12);
}
