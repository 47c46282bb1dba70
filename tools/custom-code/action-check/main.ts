import { readFileSync } from 'node:fs';
import { checkSources, collectFiles, readSources, UsageError } from './check';
import { DeclaredOutput, parseDeclaration, parseOutputsOption } from './outputs';
import { formatJson, formatText, ReportFormat } from './report';

const USAGE = `Usage: npm run action:check -- <file or folder>... [options]

Checks HubSpot custom code actions (JavaScript .js/.mjs/.cjs, Python .py) for what breaks on
the Node.js 24 runtime or in production: callback-style handlers, libraries the runtime does
not offer, hard-coded secrets, random identifiers, unchecked inputs, network calls without
error handling or timeout, work that passes the 20-second limit, outputs that differ from their
declaration, and URLs built from inputs.

Options:
  --outputs NAME:TYPE,...   the action's declared outputs, e.g. enriched:bool,industry:string
  --declaration FILE        the declared outputs as a JSON list of {"name", "type"}
  --format text|json        report format (default text)
  --help                    show this help

Output types: string, number, bool, datetime, date, enumeration, phone_number.
Exit code: 1 when any finding is an error, 0 otherwise, 2 on bad usage or unreadable files.`;

export interface CliArguments {
  paths: string[];
  declaration?: DeclaredOutput[];
  format: ReportFormat;
  help: boolean;
}

export function parseArguments(argv: string[]): CliArguments {
  const parsed: CliArguments = { paths: [], format: 'text', help: false };
  let declarationSource: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].startsWith('--') && argv[i].includes('=') ? [argv[i].slice(0, argv[i].indexOf('=')), argv[i].slice(argv[i].indexOf('=') + 1)] : [argv[i], undefined];
    const value = (): string => {
      const given = inline ?? argv[++i];
      if (given === undefined || given === '') throw new UsageError(`${flag} needs a value`);
      return given;
    };
    const declare = (outputs: DeclaredOutput[]): void => {
      if (declarationSource) throw new UsageError(`${flag} and ${declarationSource} both declare the outputs: give one`);
      declarationSource = flag;
      parsed.declaration = outputs;
    };
    try {
      switch (flag) {
        case '--help':
          parsed.help = true;
          break;
        case '--format': {
          const format = value();
          if (format !== 'text' && format !== 'json') throw new UsageError(`--format must be text or json, not "${format}"`);
          parsed.format = format;
          break;
        }
        case '--outputs':
          declare(parseOutputsOption(value()));
          break;
        case '--declaration': {
          const file = value();
          let json: string;
          try {
            json = readFileSync(file, 'utf8');
          } catch (error) {
            throw new UsageError(`--declaration ${file}: cannot be read (${(error as Error).message})`);
          }
          declare(parseDeclaration(json, file));
          break;
        }
        default:
          if (flag.startsWith('--')) throw new UsageError(`unknown option ${flag}`);
          parsed.paths.push(flag);
      }
    } catch (error) {
      throw error instanceof UsageError ? error : new UsageError((error as Error).message);
    }
  }
  if (!parsed.help && parsed.paths.length === 0) throw new UsageError('name a file or folder to check');
  return parsed;
}

async function main(): Promise<number> {
  try {
    const args = parseArguments(process.argv.slice(2));
    if (args.help) {
      process.stdout.write(`${USAGE}\n`);
      return 0;
    }
    const sources = await readSources(await collectFiles(args.paths));
    const result = await checkSources(sources, { declaration: args.declaration });
    process.stdout.write(args.format === 'json' ? formatJson(result, process.cwd()) : formatText(result, process.cwd()));
    return result.findings.some((finding) => finding.severity === 'error') ? 1 : 0;
  } catch (error) {
    const hint = error instanceof UsageError ? ' (see --help)' : '';
    process.stderr.write(`action:check: ${(error as Error).message}${hint}\n`);
    return 2;
  }
}

if (require.main === module) {
  void main().then((code) => {
    process.exitCode = code;
  });
}
