import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { handlerDeclaration } from '../handler-declarations';
import { fieldGuide, generateStub } from './generate-stub';
import { STUB_LANGUAGES, STUB_MODES, StubLanguage, StubMode } from './stub-spec';

const USAGE = `Usage: npm run stub -- <job type> [--lang ${STUB_LANGUAGES.join('|')}] [--mode ${STUB_MODES.join('|')}] [--writeback] [--out <file>]

Prints the code of a HubSpot custom code action that hands the job type's work to Offload
(default: --lang js --mode enqueue-and-wait), and what to declare in the workflow editor.
With --writeback, the job writes its outputs to the enrolled record before it succeeds.
With --out, the code goes to the file and the declarations to standard output; without it,
the code goes to standard output and the declarations to standard error.`;

function choice<T extends string>(flag: string, value: string, allowed: readonly T[]): T {
  if (!allowed.includes(value as T)) throw new Error(`--${flag} must be one of ${allowed.join(', ')}, not "${value}"`);
  return value as T;
}

function main(argv: string[]): number {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      lang: { type: 'string', default: 'js' },
      mode: { type: 'string', default: 'enqueue-and-wait' },
      out: { type: 'string' },
      writeback: { type: 'boolean' },
      help: { type: 'boolean' },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (positionals.length !== 1) throw new Error(`expected one job type, got ${positionals.length}`);
  const language = choice<StubLanguage>('lang', values.lang, STUB_LANGUAGES);
  const mode = choice<StubMode>('mode', values.mode, STUB_MODES);
  const stub = generateStub(handlerDeclaration(positionals[0]), language, mode, { writeback: values.writeback });
  if (values.out) {
    writeFileSync(values.out, stub.code);
    console.log(`Wrote ${values.out}\n\n${fieldGuide(stub)}`);
  } else {
    process.stdout.write(stub.code);
    console.error(`\n${fieldGuide(stub)}`);
  }
  return 0;
}

try {
  process.exitCode = main(process.argv.slice(2));
} catch (error) {
  console.error(`${(error as Error).message}\n\n${USAGE}`);
  process.exitCode = 2;
}
