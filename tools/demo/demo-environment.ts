import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { randomInt } from 'node:crypto';
import { createApp } from '../../src/bootstrap';
import { AppConfig, loadConfig } from '../../src/config/app-config';
import { applyLocalSecrets } from '../local/local-secrets';
import { migrate } from '../../src/database/migrate';
import { createEnrichmentSimulator, EnrichmentSimulator } from '../simulators/enrichment';
import { createHubSpotSimulator, HubSpotSimulator, Owner } from '../simulators/hubspot';
import type { DemoOptions } from './demo-options';

/**
 * The demo's own database and Redis namespace, unless the environment names others: its Offload
 * talks to simulators, so it must never share jobs and queues with an Offload that talks to HubSpot.
 */
export const DEMO_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/offload_demo';
export const DEMO_REDIS_PREFIX = 'offload-demo';

/** Owners of the demo portal: the territories' pools are made of them. */
const DEMO_OWNERS = 8;

/** Outputs written back to properties of the demo portal's own, instead of HubSpot's built-in ones of the same name. */
export const PROPERTY_MAPPINGS = {
  industry: 'enrichment_industry',
  country: 'enrichment_country',
  territory: 'lead_territory',
  assignment_reason: 'lead_assignment_reason',
} as const;

/** The custom contact properties a portal admin creates for the workflow's outputs. */
const CUSTOM_PROPERTIES = [
  'enriched',
  'employee_count',
  'employee_range',
  'annual_revenue_range',
  'enrichment_error',
  'icp_score',
  'icp_tier',
  'icp_imputed_fields',
  'icp_reasons',
  ...Object.values(PROPERTY_MAPPINGS),
];

export interface DemoPortal {
  /** Offload's id of the portal. */
  id: string;
  hubspotPortalId: number;
  apiKey: string;
}

export interface DemoEnvironment {
  config: AppConfig;
  offloadUrl: string;
  app: NestFastifyApplication;
  hubspot: HubSpotSimulator;
  enrichment: EnrichmentSimulator;
  portal: DemoPortal;
  owners: Owner[];
  /** The company domains the contacts work at, and the fate each was given at the provider. */
  companies: { failing: string[]; unknown: string[]; all: string[] };
  close(): Promise<void>;
}

/** Calls Offload's admin API; any answer but the expected one is an error that says what Offload said. */
async function admin<T>(config: AppConfig, baseUrl: string, method: string, path: string, body: unknown, expected: number): Promise<T> {
  const response = await fetch(`${baseUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${config.adminToken}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  if (response.status !== expected) throw new Error(`${method} ${path} answered ${response.status}: ${text}`);
  return (text ? JSON.parse(text) : undefined) as T;
}

/** Lead routing over the simulator's owners: strategic accounts first, then by region, the rest to everyone in turn. */
export function territoriesFor(owners: Owner[]) {
  const ids = owners.map((owner) => owner.id);
  return {
    territories: [
      { name: 'Strategic', when: [{ property: 'icp_tier', in: ['A'] }], pool: 'strategic' },
      { name: 'North America', when: [{ property: 'country', in: ['United States', 'Canada'] }], pool: 'americas' },
      { name: 'EMEA', when: [{ property: 'country', in: ['Ireland', 'Germany', 'France'] }], pool: 'emea' },
      { name: 'APAC', when: [{ property: 'country', in: ['Australia', 'Japan', 'Singapore'] }], pool: 'apac' },
    ],
    pools: {
      strategic: { strategy: 'weighted', owners: [{ owner: ids[0], weight: 2 }, { owner: ids[1] }] },
      americas: { strategy: 'round_robin', owners: [{ owner: ids[2] }, { owner: ids[3] }] },
      emea: { strategy: 'round_robin', owners: [{ owner: ids[4] }, { owner: ids[5] }] },
      apac: { strategy: 'round_robin', owners: [{ owner: ids[6] }, { owner: ids[7] }] },
      everyone: { strategy: 'round_robin' },
    },
    fallback: { pool: 'everyone' },
  };
}

/** Picks `share` of the items at random, and `otherShare` of the rest; each list is rounded to whole items. */
export function pickShares<T>(items: T[], share: number, otherShare: number): [T[], T[]] {
  const shuffled = [...items];
  for (let i = shuffled.length - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    [shuffled[i], shuffled[j]] = [shuffled[j], shuffled[i]];
  }
  const first = Math.round(share * items.length);
  const second = Math.min(items.length - first, Math.round(otherShare * items.length));
  return [shuffled.slice(0, first), shuffled.slice(first, first + second)];
}

/** A portal id no earlier run used, so that runs on the same database never meet each other's portal. */
function freshPortalId(): number {
  return Number(`${Date.now() % 1e9}${randomInt(10)}`);
}

/**
 * Everything the workflow needs, on this machine: the database migrated, a HubSpot simulator with a
 * portal of contacts and owners, an enrichment provider simulator, Offload (API and workers in this
 * process) pointed at both, and the portal registered in Offload with its token, rate limit,
 * provider key, handler settings and property mappings.
 */
export async function startDemoEnvironment(options: DemoOptions): Promise<DemoEnvironment> {
  applyLocalSecrets();
  Object.assign(process.env, { ROLE: 'all', PORT: String(options.port) });
  process.env.DATABASE_URL ??= DEMO_DATABASE_URL;
  process.env.REDIS_PREFIX ??= DEMO_REDIS_PREFIX;
  process.env.LOG_LEVEL ??= 'error';

  const hubspotPortalId = freshPortalId();
  const hubspot = await createHubSpotSimulator({
    port: options.hubspotPort,
    portals: [{ portalId: hubspotPortalId, rateLimit: options.rateLimit }],
    rateLimit: options.rateLimit,
    seedContacts: options.contacts,
  });
  const enrichment = await createEnrichmentSimulator({ port: options.enrichmentPort, rateLimit: 100_000 });
  const closeSimulators = () => Promise.all([hubspot.close(), enrichment.close()]);
  let app: NestFastifyApplication | undefined;
  try {
    const owners = hubspot.seedOwners(DEMO_OWNERS);
    hubspot.defineProperties('contacts', CUSTOM_PROPERTIES);
    const companies = companyDomains(hubspot, options.contacts);
    const [failing, unknown] = pickShares(companies, options.enrichmentErrorRate, options.enrichmentNoMatchRate);
    // A failing company's first two lookups meet an outage: the handler's retries get through it.
    for (const domain of failing) enrichment.modes.set({ mode: 'server_error', domain, times: 2 });
    for (const domain of unknown) enrichment.modes.set({ mode: 'no_match', domain });
    if (options.hubspotErrorRate > 0) hubspot.inject.errors({ rate: options.hubspotErrorRate });
    if (options.hubspotLatencyMs > 0) hubspot.inject.latency(options.hubspotLatencyMs);

    process.env.HUBSPOT_BASE_URL = hubspot.url;
    process.env.ENRICHMENT_BASE_URL = enrichment.url;
    const config = loadConfig();
    await migrate(config.databaseUrl);
    app = await createApp(config);
    await app.listen({ port: config.port, host: '0.0.0.0' }).catch((error: NodeJS.ErrnoException) => {
      throw error.code === 'EADDRINUSE' ? new Error(`port ${config.port} is in use: pass another with --port`) : error;
    });
    const offloadUrl = `http://127.0.0.1:${(app.getHttpServer().address() as { port: number }).port}`;

    const created = await admin<{ id: string; apiKey: string }>(config, offloadUrl, 'POST', '/v1/admin/portals', {
      hubspotPortalId,
      name: `Demo portal ${hubspotPortalId}`,
      hubspotAccessToken: hubspot.token,
      rateLimit: { requestsPer10s: options.rateLimit },
    }, 201);
    const portalPath = `/v1/admin/portals/${created.id}`;
    await admin(config, offloadUrl, 'PUT', `${portalPath}/secrets/ENRICHMENT_API_KEY`, { value: enrichment.apiKey }, 204);
    const handlers = await admin<Array<{ type: string; configDefault?: unknown }>>(config, offloadUrl, 'GET', '/v1/handlers', undefined, 200);
    const icpDefault = handlers.find((handler) => handler.type === 'icp-score')?.configDefault;
    await admin(config, offloadUrl, 'PUT', `${portalPath}/handlers/icp-score/config`, icpDefault, 200);
    await admin(config, offloadUrl, 'PUT', `${portalPath}/handlers/lead-assignment/config`, territoriesFor(owners), 200);
    await admin(config, offloadUrl, 'PUT', `${portalPath}/property-mappings`, { contacts: PROPERTY_MAPPINGS }, 200);

    const running = app;
    return {
      config,
      offloadUrl,
      app: running,
      hubspot,
      enrichment,
      portal: { id: created.id, hubspotPortalId, apiKey: created.apiKey },
      owners,
      companies: { failing, unknown, all: companies },
      close: async () => {
        await running.close();
        await closeSimulators();
      },
    };
  } catch (error) {
    await app?.close();
    await closeSimulators();
    throw error;
  }
}

/** The distinct company domains of the seeded contacts (their website's host). */
function companyDomains(hubspot: HubSpotSimulator, contacts: number): string[] {
  const domains = new Set<string>();
  for (let id = 1; id <= contacts; id++) {
    const website = hubspot.getObject('contacts', id)?.properties.website;
    if (website) domains.add(new URL(website).hostname);
  }
  return [...domains].sort();
}
