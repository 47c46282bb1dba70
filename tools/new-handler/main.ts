import { join, relative } from 'node:path';
import { NewHandlerError, scaffoldHandler } from './new-handler';

/** `npm run new:handler -- <type>`: a new handler folder under src/handlers/ of the project this runs in. */
function main(argv: string[]): number {
  const [type, ...rest] = argv;
  if (!type || type === '--help' || rest.length > 0) {
    process.stderr.write('usage: npm run new:handler -- <type>   (e.g. npm run new:handler -- domain-check)\n');
    return type === '--help' ? 0 : 2;
  }
  try {
    const files = scaffoldHandler(type, join(process.cwd(), 'src', 'handlers'));
    process.stdout.write(
      [
        `Created the ${type} handler:`,
        ...files.map((file) => `  ${relative(process.cwd(), file)}`),
        '',
        'Next:',
        `  1. Write its input, outputs and run() in ${relative(process.cwd(), files[0])} (docs/handlers.md walks through it).`,
        `  2. npx jest ${relative(process.cwd(), files[1])}`,
        '  3. npm run outputs:check -- --update   (records its outputs in the lock; commit the lock)',
        `  4. npm run stub -- ${type}              (the custom code action a workflow pastes)`,
        '',
      ].join('\n'),
    );
    return 0;
  } catch (error) {
    if (!(error instanceof NewHandlerError)) throw error;
    process.stderr.write(`${error.message}\n`);
    return 2;
  }
}

process.exitCode = main(process.argv.slice(2));
