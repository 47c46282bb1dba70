import { CliOption, readFlags, runSimulatorCli, StartedSimulator, usageText } from '../common';
import { parseFaultSettings } from './faults';
import type { FaultSettings } from './faults';
import { createHubSpotSimulator, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_PORTAL_ID, HubSpotSimulatorOptions } from './simulator';

const OPTIONS: CliOption[] = [
  { flag: '--port', value: 'N', help: 'port to listen on (default 4010; 0 picks a free one)' },
  { flag: '--host', value: 'HOST', help: 'address to listen on (default 127.0.0.1)' },
  { flag: '--portal-id', value: 'N', help: `portal of the tokens (default ${DEFAULT_PORTAL_ID})` },
  { flag: '--token', value: 'TOKEN', help: 'private app token of the portal; repeat for more (default pat-sim-<portal-id>)' },
  { flag: '--rate-limit', value: 'N', help: 'calls per rolling window per portal (default 100)' },
  { flag: '--window-ms', value: 'N', help: 'length of the rolling window (default 10000)' },
  { flag: '--daily-limit', value: 'N', help: 'calls per day per portal (default 250000)' },
  { flag: '--latency-ms', value: 'N', help: 'latency added to every API call' },
  { flag: '--latency-jitter-ms', value: 'N', help: 'a further random 0..N ms per call' },
  { flag: '--error-rate', value: 'F', help: 'fraction (0..1) of calls answered with a 5xx' },
  { flag: '--error-statuses', value: 'LIST', help: '5xx statuses to use, e.g. 502,503 (default)' },
  { flag: '--error-body', value: 'json|html', help: 'shape of injected 5xx bodies (default json)' },
  { flag: '--storm-calls', value: 'N', help: 'answer the first N rate-limited calls 429 TEN_SECONDLY_ROLLING' },
  { flag: '--storm-ms', value: 'N', help: 'answer rate-limited calls 429 TEN_SECONDLY_ROLLING for N ms after start' },
  { flag: '--timeout-rate', value: 'F', help: 'fraction (0..1) of calls that hang, then lose their connection' },
  { flag: '--timeout-ms', value: 'N', help: 'how long a timed-out call hangs (default 30000)' },
  { flag: '--seed', value: 'N', help: 'seed of fault sampling, correlation ids and demo data (default 1)' },
  { flag: '--seed-contacts', value: 'N', help: 'create contacts 1..N with plausible properties' },
  { flag: '--seed-companies', value: 'N', help: 'create N companies' },
  { flag: '--seed-deals', value: 'N', help: 'create N deals' },
  { flag: '--seed-owners', value: 'N', help: 'create N owners' },
  { flag: '--max-calls', value: 'N', help: 'size of the call record (default 100000)' },
  { flag: '--client-id', value: 'ID', help: `OAuth client id (default ${DEFAULT_CLIENT_ID})` },
  { flag: '--client-secret', value: 'SECRET', help: `OAuth client secret (default ${DEFAULT_CLIENT_SECRET})` },
  { flag: '--access-token-ttl', value: 'SECONDS', help: 'lifetime of OAuth access tokens (default 1800)' },
  { flag: '--issue-oauth', help: 'issue an OAuth access and refresh token for the portal and print them' },
  { flag: '--lenient-properties', help: 'accept writes to properties the portal does not define' },
  { flag: '--reject-unknown-callbacks', help: 'answer 404 to completions of callbackIds never registered' },
  { flag: '--help', help: 'show this help' },
];

export function usage(): string {
  return usageText({
    script: 'sim:hubspot',
    about: [
      'A local simulator of the HubSpot APIs Offload uses (CRM objects, owners, workflow action',
      'callbacks, OAuth refresh) with HubSpot rate limits and injectable faults.',
    ],
    options: OPTIONS,
    footer: [
      'Control endpoints: GET /__sim/stats, GET|DELETE /__sim/calls, GET|POST|DELETE /__sim/faults,',
      'GET|PUT /__sim/limits, POST /__sim/clock, POST /__sim/tokens, POST /__sim/objects/{type} (see README.md).',
    ],
  });
}

function number(flag: string, value: string): number {
  const n = Number(value);
  if (value === '' || !Number.isFinite(n) || n < 0) throw new Error(`${flag} needs a number >= 0, got "${value}"`);
  return n;
}

export interface CliConfig {
  options: HubSpotSimulatorOptions;
  issueOAuth: boolean;
  help: boolean;
}

export function parseArgs(argv: string[]): CliConfig {
  const options: HubSpotSimulatorOptions = { port: 4010 };
  const faults: Record<string, unknown> = {};
  const tokens: string[] = [];
  let portalId = DEFAULT_PORTAL_ID;
  let clientId = DEFAULT_CLIENT_ID;
  let clientSecret = DEFAULT_CLIENT_SECRET;
  let issueOAuth = false;
  let help = false;
  readFlags(OPTIONS, argv, (flag, value) => {
    switch (flag) {
      case '--port': options.port = number(flag, value); break;
      case '--host': options.host = value; break;
      case '--portal-id': portalId = number(flag, value); break;
      case '--token': tokens.push(value); break;
      case '--rate-limit': options.rateLimit = number(flag, value); break;
      case '--window-ms': options.rateLimitWindowMs = number(flag, value); break;
      case '--daily-limit': options.dailyLimit = number(flag, value); break;
      case '--latency-ms': faults.latencyMs = value; break;
      case '--latency-jitter-ms': faults.latencyJitterMs = value; break;
      case '--error-rate': faults.errorRate = value; break;
      case '--error-statuses': faults.errorStatuses = value; break;
      case '--error-body': faults.errorBody = value; break;
      case '--storm-calls': faults.stormCalls = value; break;
      case '--storm-ms': faults.stormMs = value; break;
      case '--timeout-rate': faults.timeoutRate = value; break;
      case '--timeout-ms': faults.timeoutMs = value; break;
      case '--seed': options.seed = number(flag, value); break;
      case '--seed-contacts': options.seedContacts = number(flag, value); break;
      case '--seed-companies': options.seedCompanies = number(flag, value); break;
      case '--seed-deals': options.seedDeals = number(flag, value); break;
      case '--seed-owners': options.seedOwners = number(flag, value); break;
      case '--max-calls': options.maxRecordedCalls = number(flag, value); break;
      case '--client-id': clientId = value; break;
      case '--client-secret': clientSecret = value; break;
      case '--access-token-ttl': options.accessTokenTtlSeconds = number(flag, value); break;
      case '--issue-oauth': issueOAuth = true; break;
      case '--lenient-properties': options.strictProperties = false; break;
      case '--reject-unknown-callbacks': options.unknownCallbacks = 'reject'; break;
      case '--help': help = true; break;
    }
  });
  options.portals = [{ portalId, ...(tokens.length > 0 ? { privateAppTokens: tokens } : {}) }];
  options.oauthClients = [{ clientId, clientSecret }];
  if (Object.keys(faults).length > 0) options.faults = parseFaultSettings(faults) as FaultSettings;
  return { options, issueOAuth, help };
}

async function start(config: CliConfig): Promise<StartedSimulator> {
  const sim = await createHubSpotSimulator(config.options);
  const limits = sim.limits();
  const banner = [
    `HubSpot simulator listening on ${sim.url}`,
    `  portal ${sim.portalId}, private app token(s): ${[...sim.state.tokens.values()].map((t) => t.token).join(', ')}`,
    `  OAuth client: ${config.options.oauthClients![0].clientId} / ${config.options.oauthClients![0].clientSecret}`,
    `  limits: ${limits.rateLimit} calls per ${limits.windowMs} ms, ${limits.dailyLimit} per day, per portal`,
  ];
  if (config.issueOAuth) {
    const issued = sim.issueOAuthTokens();
    banner.push(`  OAuth access token: ${issued.accessToken} (expires in ${issued.expiresIn} s)`, `  OAuth refresh token: ${issued.refreshToken}`);
  }
  const faults = sim.inject.current();
  if (Object.keys(faults).length > 0) banner.push(`  faults: ${JSON.stringify(faults)}`);
  banner.push(`  stats: ${sim.url}/__sim/stats   calls: ${sim.url}/__sim/calls`);
  return { banner, close: () => sim.close() };
}

if (require.main === module) {
  void runSimulatorCli({ parseArgs, usage, start });
}
