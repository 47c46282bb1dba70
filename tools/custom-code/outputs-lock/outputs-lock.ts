import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { HandlerDeclaration, HubSpotOutputType } from '../../../src/registry/job-handler';
import { projectRoot } from '../../project-root';
import { stubCommand } from '../stubs/generate-stub';
import { STUB_LANGUAGES, STUB_MODES } from '../stubs/stub-spec';

/**
 * The outputs every handler promised when the lock was last written. Workflows read outputs by name
 * and type, so a rename, removal or retype breaks them: the lock makes such a change visible, and
 * refuses it unless the handler's MAJOR version says so.
 */
export type OutputsLock = Record<string, { version: string; outputs: Record<string, HubSpotOutputType> }>;

export const LOCK_FILE = join('src', 'handlers', 'outputs.lock.json');
export const UPDATE_COMMAND = 'npm run outputs:check -- --update';

export function lockPath(): string {
  return join(projectRoot(), LOCK_FILE);
}

/** The lock as written, or an empty one before the first is. */
export function readLock(path = lockPath()): OutputsLock {
  return existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as OutputsLock) : {};
}

export function writeLock(lock: OutputsLock, path = lockPath()): void {
  writeFileSync(path, `${JSON.stringify(lock, null, 2)}\n`);
}

/** The lock that records these handlers, in a stable order. */
export function lockOf(declarations: HandlerDeclaration[]): OutputsLock {
  const lock: OutputsLock = {};
  for (const declaration of [...declarations].sort((a, b) => a.type.localeCompare(b.type))) {
    const outputs = Object.keys(declaration.outputs)
      .sort()
      .map((name) => [name, declaration.outputs[name].hubspotType] as const);
    lock[declaration.type] = { version: declaration.version, outputs: Object.fromEntries(outputs) };
  }
  return lock;
}

export interface OutputChange {
  type: string;
  lockedVersion?: string;
  version?: string;
  /** The handler is new, or no longer exists. */
  handler?: 'added' | 'removed';
  added: string[];
  removed: string[];
  /** A removed and an added output of the same type: most likely one output renamed. */
  renamed: Array<{ from: string; to: string }>;
  retyped: Array<{ name: string; from: HubSpotOutputType; to: HubSpotOutputType }>;
  /** Workflows that read the locked outputs break. */
  breaking: boolean;
  /** Breaking, without a new MAJOR version: refused. */
  refused: boolean;
}

function major(version: string): number {
  return Number(version.split('.')[0]);
}

/** How the handlers' outputs differ from the lock, per handler; empty when the lock is current. */
export function compareOutputs(locked: OutputsLock, current: OutputsLock): OutputChange[] {
  const types = [...new Set([...Object.keys(locked), ...Object.keys(current)])].sort();
  const changes: OutputChange[] = [];
  for (const type of types) {
    const before = locked[type];
    const after = current[type];
    const none = { added: [], removed: [], renamed: [], retyped: [] };
    if (!before) {
      changes.push({ type, version: after.version, handler: 'added', ...none, added: Object.keys(after.outputs), breaking: false, refused: false });
      continue;
    }
    if (!after) {
      const removed = Object.keys(before.outputs);
      changes.push({ type, lockedVersion: before.version, handler: 'removed', ...none, removed, breaking: true, refused: false });
      continue;
    }
    let added = Object.keys(after.outputs).filter((name) => !(name in before.outputs));
    let removed = Object.keys(before.outputs).filter((name) => !(name in after.outputs));
    const renamed: OutputChange['renamed'] = [];
    for (const from of removed) {
      const sameType = added.filter((name) => after.outputs[name] === before.outputs[from]);
      const removedOfType = removed.filter((name) => before.outputs[name] === before.outputs[from]);
      if (sameType.length === 1 && removedOfType.length === 1) renamed.push({ from, to: sameType[0] });
    }
    added = added.filter((name) => !renamed.some((rename) => rename.to === name));
    removed = removed.filter((name) => !renamed.some((rename) => rename.from === name));
    const retyped = Object.keys(after.outputs)
      .filter((name) => name in before.outputs && before.outputs[name] !== after.outputs[name])
      .map((name) => ({ name, from: before.outputs[name], to: after.outputs[name] }));
    const breaking = removed.length + renamed.length + retyped.length > 0;
    if (!breaking && added.length === 0 && before.version === after.version) continue;
    const refused = breaking && !(major(after.version) > major(before.version));
    changes.push({ type, lockedVersion: before.version, version: after.version, added, removed, renamed, retyped, breaking, refused });
  }
  return changes;
}

/** Every stub of a handler: each language, each mode. */
export function stubCommands(type: string): string[] {
  return STUB_LANGUAGES.flatMap((language) => STUB_MODES.map((mode) => stubCommand(type, language, mode)));
}

/** What changed, handler by handler, what it breaks, and which stubs to generate again. */
export function explainChanges(changes: OutputChange[], current: OutputsLock, locked: OutputsLock): string {
  const lines: string[] = [];
  for (const change of changes) {
    const typeOf = (name: string, lock: OutputsLock) => lock[change.type]?.outputs[name];
    if (change.handler === 'added') {
      const outputs = change.added.map((name) => `${name} (${typeOf(name, current)})`);
      lines.push(`${change.type} ${change.version}: new handler, outputs ${outputs.join(', ') || 'none'}`);
      continue;
    }
    if (change.handler === 'removed') {
      lines.push(`${change.type} ${change.lockedVersion}: handler removed; every workflow step that runs it stops working`);
      continue;
    }
    lines.push(`${change.type} ${change.lockedVersion}${change.version === change.lockedVersion ? '' : ` -> ${change.version}`}:`);
    for (const name of change.added) lines.push(`  added output ${name} (${typeOf(name, current)})`);
    for (const { from, to } of change.renamed) {
      lines.push(`  renamed output ${from} -> ${to} (${typeOf(to, current)}); workflows reading ${from} break`);
    }
    for (const name of change.removed) lines.push(`  removed output ${name} (${typeOf(name, locked)}); workflows reading it break`);
    for (const { name, from, to } of change.retyped) lines.push(`  retyped output ${name}: ${from} -> ${to}; workflows reading it break`);
    if (change.refused) {
      const nextMajor = `${major(change.lockedVersion!) + 1}.0.0`;
      lines.push(
        `  REFUSED: a renamed, removed or retyped output needs a new MAJOR version (${change.lockedVersion} -> ${nextMajor});`,
        '  better still, keep the old output and add a new one beside it',
      );
    }
  }
  const regenerate = changes.filter((change) => !change.handler && (change.breaking || change.added.length > 0));
  if (regenerate.length > 0) {
    lines.push('', 'Stubs to generate again (those in use), then update the outputs declared in the workflow editor:');
    for (const change of regenerate) lines.push(...stubCommands(change.type).map((command) => `  ${command}`));
  }
  return lines.join('\n');
}

/** The lock for the current handlers, or an error that explains what it refuses. */
export function updatedLock(locked: OutputsLock, current: OutputsLock): OutputsLock {
  const changes = compareOutputs(locked, current);
  if (changes.some((change) => change.refused)) {
    throw new Error(`The output lock was not updated:\n${explainChanges(changes, current, locked)}`);
  }
  return current;
}
