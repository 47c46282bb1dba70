import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadHandlerDeclarations } from '../handler-declarations';
import {
  compareOutputs,
  explainChanges,
  LOCK_FILE,
  lockOf,
  OutputsLock,
  readLock,
  UPDATE_COMMAND,
  updatedLock,
  writeLock,
} from './outputs-lock';

const locked: OutputsLock = {
  scoring: { version: '1.2.0', outputs: { score: 'number', tier: 'enumeration', scored_at: 'datetime' } },
};

function withScoring(version: string, outputs: OutputsLock[string]['outputs']): OutputsLock {
  return { scoring: { version, outputs } };
}

describe('the output lock', () => {
  it(`matches the outputs of every handler this build ships (${LOCK_FILE})`, () => {
    const current = lockOf(loadHandlerDeclarations());
    const lock = readLock();
    const changes = compareOutputs(lock, current);
    if (changes.length > 0) {
      throw new Error(
        `The handlers' outputs differ from ${LOCK_FILE}:\n${explainChanges(changes, current, lock)}\n\n` +
          `When the change is intended, run \`${UPDATE_COMMAND}\` and commit the lock.`,
      );
    }
  });

  it('accepts an added output and a minor version, and names the stubs to generate again', () => {
    const current = withScoring('1.3.0', { score: 'number', tier: 'enumeration', scored_at: 'datetime', reason: 'string' });
    const [change] = compareOutputs(locked, current);
    expect(change).toMatchObject({ type: 'scoring', added: ['reason'], removed: [], retyped: [], breaking: false, refused: false });
    const text = explainChanges([change], current, locked);
    expect(text).toContain('scoring 1.2.0 -> 1.3.0:\n  added output reason (string)');
    expect(text).toContain('npm run stub -- scoring --lang js --mode enqueue-and-wait');
    expect(text).toContain('npm run stub -- scoring --lang python --mode poll');
    expect(updatedLock(locked, current)).toBe(current);
  });

  it('records a version change alone, with no stubs to generate', () => {
    const current = withScoring('1.2.1', locked.scoring.outputs);
    const changes = compareOutputs(locked, current);
    expect(changes).toMatchObject([{ type: 'scoring', lockedVersion: '1.2.0', version: '1.2.1', breaking: false }]);
    expect(explainChanges(changes, current, locked)).not.toContain('npm run stub');
  });

  it.each([
    ['a removed output', { score: 'number', tier: 'enumeration' }, /removed output scored_at \(datetime\); workflows reading it break/],
    ['a retyped output', { score: 'string', tier: 'enumeration', scored_at: 'datetime' }, /retyped output score: number -> string/],
    ['a renamed output', { points: 'number', tier: 'enumeration', scored_at: 'datetime' }, /renamed output score -> points \(number\)/],
  ] as const)('refuses %s without a new major version, and says how to proceed', (_, outputs, explanation) => {
    const current = withScoring('1.3.0', { ...outputs });
    const [change] = compareOutputs(locked, current);
    expect(change).toMatchObject({ breaking: true, refused: true });
    const text = explainChanges([change], current, locked);
    expect(text).toMatch(explanation);
    expect(text).toContain('REFUSED: a renamed, removed or retyped output needs a new MAJOR version (1.2.0 -> 2.0.0)');
    expect(() => updatedLock(locked, current)).toThrow(/The output lock was not updated:[\s\S]*REFUSED/);
  });

  it('accepts a breaking change that comes with a new major version', () => {
    const current = withScoring('2.0.0', { points: 'number', tier: 'enumeration' });
    const [change] = compareOutputs(locked, current);
    expect(change).toMatchObject({ removed: ['scored_at'], renamed: [{ from: 'score', to: 'points' }], breaking: true, refused: false });
    expect(updatedLock(locked, current)).toBe(current);
  });

  it('tells two removed outputs of one type from a rename', () => {
    const lock = withScoring('1.0.0', { a: 'string', b: 'string' });
    const [change] = compareOutputs(lock, withScoring('1.1.0', { c: 'string' }));
    expect(change).toMatchObject({ removed: ['a', 'b'], added: ['c'], renamed: [] });
  });

  it('reports a new handler and a removed one', () => {
    const current: OutputsLock = { routing: { version: '1.0.0', outputs: { owner_id: 'string' } } };
    const changes = compareOutputs(locked, current);
    expect(changes).toMatchObject([
      { type: 'routing', handler: 'added', added: ['owner_id'], refused: false },
      { type: 'scoring', handler: 'removed', breaking: true },
    ]);
    const text = explainChanges(changes, current, locked);
    expect(text).toContain('routing 1.0.0: new handler, outputs owner_id (string)');
    expect(text).toContain('scoring 1.2.0: handler removed');
  });

  it('writes and reads back the lock, and reads a missing one as empty', () => {
    const folder = mkdtempSync(join(tmpdir(), 'outputs-lock-'));
    try {
      const path = join(folder, 'outputs.lock.json');
      expect(readLock(path)).toEqual({});
      writeLock(locked, path);
      expect(readLock(path)).toEqual(locked);
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  });
});
