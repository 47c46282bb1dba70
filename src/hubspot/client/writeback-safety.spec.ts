import { changedAfter, changesOf, restorePlan } from './writeback-safety';

const basis = new Date('2026-12-01T10:00:00.000Z');
const at = (offsetMs: number) => new Date(basis.getTime() + offsetMs);

describe('changedAfter', () => {
  it('sees a change after the basis by anything but Offload', () => {
    expect(changedAfter([{ value: 'Hand-picked', timestamp: at(5) }, { value: 'B', timestamp: at(-1000) }], basis, ['A'])).toBe(true);
  });

  it('ignores changes up to the basis, and Offload’s own values (as HubSpot gives them back)', () => {
    expect(changedAfter([{ value: 'B', timestamp: at(0) }, { value: 'C', timestamp: at(-5) }], basis, [])).toBe(false);
    expect(changedAfter([{ value: '42.0', timestamp: at(5).toISOString() }], basis, ['42'])).toBe(false);
    expect(changedAfter(undefined, basis, [])).toBe(false);
  });
});

describe('changesOf', () => {
  it('lists each property the write would change, old to new, and leaves out the unchanged', () => {
    expect(changesOf({ tier: 'A', score: '80', note: '' }, { tier: 'B', score: '80.0', note: null })).toEqual([{ property: 'tier', old: 'B', new: 'A' }]);
    expect(changesOf({ owner: '7' }, {})).toEqual([{ property: 'owner', old: null, new: '7' }]);
  });
});

describe('restorePlan', () => {
  const write = (properties: Record<string, string>, previous: Record<string, string | null> | null) => ({ properties, previous });

  it('puts back the value before the write where the record still holds it', () => {
    expect(restorePlan([write({ tier: 'D', score: '1' }, { tier: 'A', score: null })], { tier: 'D', score: '1' }, false)).toEqual({
      action: 'restore',
      properties: { tier: 'A', score: '' },
    });
  });

  it('goes back over several writes of the revert to the value before the first', () => {
    const writes = [write({ tier: 'D' }, { tier: 'C' }), write({ tier: 'C' }, { tier: 'A' })];
    expect(restorePlan(writes, { tier: 'D' }, false)).toEqual({ action: 'restore', properties: { tier: 'A' } });
  });

  it('stops where someone changed the record between two of the writes', () => {
    const writes = [write({ tier: 'D' }, { tier: 'Hand-picked' }), write({ tier: 'C' }, { tier: 'A' })];
    expect(restorePlan(writes, { tier: 'D' }, false)).toEqual({ action: 'restore', properties: { tier: 'Hand-picked' } });
  });

  it('skips a record changed since, or written by a later write; counts one already back as restored', () => {
    expect(restorePlan([write({ tier: 'D', score: '1' }, { tier: 'A', score: '5' })], { tier: 'Hand-picked', score: '1' }, false)).toEqual({ action: 'skipped' });
    expect(restorePlan([write({ tier: 'D' }, { tier: 'A' })], { tier: 'D' }, true)).toEqual({ action: 'skipped' });
    expect(restorePlan([write({ tier: 'D' }, { tier: 'A' })], { tier: 'A' }, false)).toEqual({ action: 'restored' });
  });

  it('cannot restore a write made blind', () => {
    expect(restorePlan([write({ tier: 'D' }, null)], { tier: 'D' }, false)).toEqual({ action: 'unrestorable' });
  });
});
