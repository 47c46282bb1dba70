import { parseModeRule } from './modes';
import type { ModeRule } from './modes';
import { createEnrichmentSimulator, DEFAULT_API_KEY, EnrichmentSimulatorOptions } from './simulator';

interface Option {
  flag: string;
  value?: string;
  help: string;
}

const OPTIONS: Option[] = [
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
  const width = Math.max(...OPTIONS.map((o) => o.flag.length + (o.value ? o.value.length + 1 : 0)));
  return [
    'Usage: npm run sim:enrichment -- [options]',
    '',
    "A local simulator of People Data Labs' company and person enrichment APIs, with PDL's answers,",
    'rate-limit headers, a deterministic company for every domain and injectable modes.',
    '',
    'Options:',
    ...OPTIONS.map((o) => `  ${(o.value ? `${o.flag} ${o.value}` : o.flag).padEnd(width)}  ${o.help}`),
    '',
    'Control endpoints: GET /__sim/stats, GET|DELETE /__sim/calls, GET|POST|DELETE /__sim/modes,',
    'GET|PUT /__sim/companies, GET|PUT /__sim/limits, POST /__sim/keys (see README.md).',
  ].join('\n');
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
  for (let i = 0; i < argv.length; i++) {
    let arg = argv[i];
    let inline: string | undefined;
    const eq = arg.indexOf('=');
    if (arg.startsWith('--') && eq > 0) {
      inline = arg.slice(eq + 1);
      arg = arg.slice(0, eq);
    }
    const option = OPTIONS.find((o) => o.flag === arg);
    if (!option) throw new Error(`unknown option ${arg} (see --help)`);
    let value = '';
    if (option.value) {
      value = inline ?? argv[++i];
      if (value === undefined) throw new Error(`${arg} needs a value`);
    }
    switch (arg) {
      case '--port': options.port = count(arg, value); break;
      case '--host': options.host = value; break;
      case '--api-key': keys.push(value); break;
      case '--rate-limit': options.rateLimit = count(arg, value); break;
      case '--window-ms': options.windowMs = count(arg, value); break;
      case '--latency-ms': options.latencyMs = count(arg, value); break;
      case '--max-calls': options.maxRecordedCalls = count(arg, value); break;
      case '--mode': {
        const [mode, domain] = value.split(':');
        modes.push(parseModeRule(domain ? { mode, domain } : { mode }));
        break;
      }
      case '--help': help = true; break;
    }
  }
  if (keys.length > 0) options.apiKeys = keys;
  if (modes.length > 0) options.modes = modes;
  return { options, help };
}

async function main(): Promise<void> {
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n`);
    process.exit(2);
  }
  if (parsed.help) {
    process.stdout.write(`${usage()}\n`);
    return;
  }
  const sim = await createEnrichmentSimulator(parsed.options);
  const limits = sim.limits();
  const lines = [
    `Enrichment (PDL) simulator listening on ${sim.url}`,
    `  API key(s): ${(parsed.options.apiKeys ?? [DEFAULT_API_KEY]).join(', ')}`,
    `  limits: ${limits.rateLimit} calls per ${limits.windowMs} ms per key${limits.latencyMs ? `, ${limits.latencyMs} ms latency` : ''}`,
  ];
  if (sim.modes.list().length > 0) lines.push(`  modes: ${JSON.stringify(sim.modes.list())}`);
  lines.push(`  try: curl -H 'X-Api-Key: ${sim.apiKey}' '${sim.url}/v5/company/enrich?website=acme.com'`, `  stats: ${sim.url}/__sim/stats`);
  process.stdout.write(`${lines.join('\n')}\n`);
  const stop = () => void sim.close().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

if (require.main === module) {
  void main();
}
