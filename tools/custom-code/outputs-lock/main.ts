import { parseArgs } from 'node:util';
import { loadHandlerDeclarations } from '../handler-declarations';
import { compareOutputs, explainChanges, LOCK_FILE, lockOf, readLock, UPDATE_COMMAND, updatedLock, writeLock } from './outputs-lock';

const USAGE = `Usage: npm run outputs:check [-- --update]

Compares every handler's outputs with ${LOCK_FILE}: names what was added, renamed, removed or
retyped, and which stubs to generate again. --update records the handlers' outputs in the lock,
and refuses a renamed, removed or retyped output unless the handler's MAJOR version went up.`;

function main(argv: string[]): number {
  const { values } = parseArgs({ args: argv, options: { update: { type: 'boolean' }, help: { type: 'boolean' } } });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const locked = readLock();
  const current = lockOf(loadHandlerDeclarations());
  const changes = compareOutputs(locked, current);
  if (changes.length === 0) {
    console.log(`${LOCK_FILE} is up to date: ${Object.keys(current).length} handlers.`);
    return 0;
  }
  const explanation = explainChanges(changes, current, locked);
  if (values.update) {
    writeLock(updatedLock(locked, current));
    console.log(`${explanation}\n\nUpdated ${LOCK_FILE}.`);
    return 0;
  }
  const refused = changes.some((change) => change.refused);
  console.log(
    `The handlers' outputs differ from ${LOCK_FILE}:\n${explanation}\n\n` +
      (refused ? 'Fix what is refused, then run' : 'If this is intended, run') +
      ` \`${UPDATE_COMMAND}\` and commit the lock.`,
  );
  return 1;
}

try {
  process.exitCode = main(process.argv.slice(2));
} catch (error) {
  console.error((error as Error).message);
  process.exitCode = 1;
}
