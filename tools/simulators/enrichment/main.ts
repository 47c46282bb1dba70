import { CliOption, readFlags, runSimulatorCli, StartedSimulator, usageText } from '../common';
import { parseModeRule } from './modes';
import type { ModeRule } from './modes';
import { createEnrichmentSimulator, DEFAULT_API_KEY, EnrichmentSimulatorOptions } from './simulator';

const OPTIONS: CliOption[] = [
  { flag: '--port', value: 'N', help: 'port to listen on (default 4020; 0 picks a free one)' },
  { flag: '--host', value: 'HOST', help: 'address to listen on (default 127.0.0.1)' },
  { flag: '--api-key', value: 'KEY', help: `a key accepted in X-Api-Key; repeat for more (default ${DEFAULT_API_KEY})` },
  { flag: '--rate-limit', value: 'N', help: 'calls per window per key (default 1000)' },
  { flag: '--window-ms', value: 'N', help: 'length of the fixed rate-limit window (default 60000)' },
  { flag: '--latency-ms', value: 'N', help: 'latency added to every API call (default 0)' },
  { flag: '--mode', value: 'MODE[:DOMAIN]', help: 'no_match, rate_limit, server_error, hang or malformed, for every call or one domain; repeatable' },
  { flag: '--max-calls', value: 'N', help: 'size of the call record (default 100000)' },
  { flag: '--help', help: 'show this help' },
];

export function usage(): string {
  return usageText({
    script: 'sim:enrichment',
    about: [
      "A local simulator of People Data Labs' company and person enrichment APIs, with PDL's answers,",
      'rate-limit headers, a deterministic company for every domain and injectable modes.',
    ],
    options: OPTIONS,
    footer: [
      'Control endpoints: GET /__sim/stats, GET|DELETE /__sim/calls, GET|POST|DELETE /__sim/modes,',
      'GET|PUT /__sim/companies, GET|PUT /__sim/limits, POST /__sim/keys (see README.md).',
    ],
  });
}

function count(flag: string, value: string): number {
  const n = Number(value);
  if (value === '' || !Number.isInteger(n) || n < 0) throw new Error(`${flag} needs a whole number >= 0, got "${value}"`);
  return n;
}

export function parseArgs(argv: string[]): { options: EnrichmentSimulatorOptions; help: boolean } {
  const options: EnrichmentSimulatorOptions = { port: 4020 };
  const keys: string[] = [];
  const modes: ModeRule[] = [];
  let help = false;
  readFlags(OPTIONS, argv, (flag, value) => {
    switch (flag) {
      case '--port': options.port = count(flag, value); break;
      case '--host': options.host = value; break;
      case '--api-key': keys.push(value); break;
      case '--rate-limit': options.rateLimit = count(flag, value); break;
      case '--window-ms': options.windowMs = count(flag, value); break;
      case '--latency-ms': options.latencyMs = count(flag, value); break;
      case '--max-calls': options.maxRecordedCalls = count(flag, value); break;
      case '--mode': {
        const [mode, domain] = value.split(':');
        modes.push(parseModeRule(domain ? { mode, domain } : { mode }));
        break;
      }
      case '--help': help = true; break;
    }
  });
  if (keys.length > 0) options.apiKeys = keys;
  if (modes.length > 0) options.modes = modes;
  return { options, help };
}

async function start(config: ReturnType<typeof parseArgs>): Promise<StartedSimulator> {
  const sim = await createEnrichmentSimulator(config.options);
  const limits = sim.limits();
  const banner = [
    `Enrichment (PDL) simulator listening on ${sim.url}`,
    `  API key(s): ${(config.options.apiKeys ?? [DEFAULT_API_KEY]).join(', ')}`,
    `  limits: ${limits.rateLimit} calls per ${limits.windowMs} ms per key${limits.latencyMs ? `, ${limits.latencyMs} ms latency` : ''}`,
  ];
  if (sim.modes.list().length > 0) banner.push(`  modes: ${JSON.stringify(sim.modes.list())}`);
  banner.push(`  try: curl -H 'X-Api-Key: ${sim.apiKey}' '${sim.url}/v5/company/enrich?website=acme.com'`, `  stats: ${sim.url}/__sim/stats`);
  return { banner, close: () => sim.close() };
}

if (require.main === module) {
  void runSimulatorCli({ parseArgs, usage, start });
}
