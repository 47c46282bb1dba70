import type { SettingDeclarations, SettingValues } from '../../registry/handler-settings';

/** The deployment's settings for the handler, from the environment; the same for every portal. */
export const enrichmentSettings = {
  ENRICHMENT_BASE_URL: {
    type: 'url',
    default: 'https://api.peopledatalabs.com',
    description: "Where the provider is (People Data Labs unless overridden): the handler's only egress",
  },
  ENRICHMENT_CACHE_TTL_S: {
    type: 'integer',
    default: 86_400,
    min: 1,
    max: 30 * 86_400,
    description: 'How long, in seconds, an answer is cached per portal, provider settings and subject',
  },
  ENRICHMENT_NO_MATCH_TTL_S: {
    type: 'integer',
    default: 3_600,
    min: 1,
    max: 30 * 86_400,
    description: 'How long, in seconds, a no match is cached',
  },
} satisfies SettingDeclarations;

export type EnrichmentSettings = SettingValues<typeof enrichmentSettings>;
