import { readFileSync } from 'node:fs';
import { parseArgs, parseEnv } from 'node:util';
import { reportText } from './report-text';
import { runStub } from './stub-runtime';

const USAGE = `Usage: npm run stub:test -- <stub.js|stub.py> --event <payload.json> [--secret NAME=value ...] [--env-file <file>]

Runs a custom code action's code as HubSpot does: main(event) in its own process (Node.js 24 for
.js, python3 for .py), within 20 seconds and 128 MB, with the given secrets as its only environment
variables and a fresh working folder, and reports its outputs or the error it threw (and whether
HubSpot would retry it), how long it ran and its peak memory. Exits 0 when it returned outputs
HubSpot would take.`;

function secretsFrom(envFiles: string[], pairs: string[]): Record<string, string> {
  const secrets: Record<string, string> = {};
  for (const file of envFiles) Object.assign(secrets, parseEnv(readFileSync(file, 'utf8')));
  for (const pair of pairs) {
    const separator = pair.indexOf('=');
    if (separator < 1) throw new Error(`--secret takes NAME=value, not "${pair}"`);
    secrets[pair.slice(0, separator)] = pair.slice(separator + 1);
  }
  return secrets;
}

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      event: { type: 'string' },
      secret: { type: 'string', multiple: true, default: [] },
      'env-file': { type: 'string', multiple: true, default: [] },
      help: { type: 'boolean' },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (positionals.length !== 1) throw new Error(`expected one stub file, got ${positionals.length}`);
  if (!values.event) throw new Error('--event <payload.json> is required');
  const event: unknown = JSON.parse(readFileSync(values.event, 'utf8'));
  const report = await runStub({ file: positionals[0], event, secrets: secretsFrom(values['env-file'], values.secret) });
  console.log(reportText(report));
  return report.ok ? 0 : 1;
}

main(process.argv.slice(2)).then(
  (code) => (process.exitCode = code),
  (error: Error) => {
    console.error(`${error.message}\n\n${USAGE}`);
    process.exitCode = 2;
  },
);
