import { allowanceOf, driftOf, dueForRelease, failureRateOf, gate, ReleaseGate, WrittenValues } from './writeback-guards';

const open: ReleaseGate = { dryRunOnly: false, stages: null, stage: 0, admitted: 0, paused: false, reverted: false };
const writes = (count: number, extra: { dryRun?: boolean; admitted?: boolean } = {}) =>
  Array.from({ length: count }, (_, i) => ({ id: String(i + 1), dryRun: false, admitted: false, ...extra }));

/** `writes` writes setting `property`, with values in the given shares. */
function values(writes: number, shares: Record<string, number>, property = 'tier'): WrittenValues {
  return { writes, values: { [property]: Object.fromEntries(Object.entries(shares).map(([value, share]) => [value, Math.round(writes * share)])) } };
}

describe('gate', () => {
  it('lets everything through a version with no rollout, pause or revert', () => {
    expect(gate(open, writes(3), false)).toEqual({ send: ['1', '2', '3'], preview: [], hold: [], withdraw: [], admit: [] });
  });

  it('lets a rollout stage have its count of writes, oldest first, and holds the rest', () => {
    const decision = gate({ ...open, stages: [1, 10, 100], stage: 1, admitted: 7 }, writes(5), false);
    expect(decision).toEqual({ send: ['1', '2', '3'], preview: [], hold: ['4', '5'], withdraw: [], admit: ['1', '2', '3'] });
  });

  it('does not count twice a write the rollout let through before (sent again after a failure)', () => {
    const decision = gate({ ...open, stages: [1], stage: 0, admitted: 1 }, [...writes(1, { admitted: true }), { id: '9', dryRun: false, admitted: false }], false);
    expect(decision.send).toEqual(['1']);
    expect(decision.hold).toEqual(['9']);
    expect(decision.admit).toEqual([]);
  });

  it('lets every write through past the last stage', () => {
    expect(gate({ ...open, stages: [1, 10], stage: 2, admitted: 10 }, writes(4), false).send).toHaveLength(4);
  });

  it('holds a paused version’s writes, and a version tripped now, but previews dry runs whatever the state', () => {
    const mixed = [...writes(2), { id: 'dry', dryRun: true, admitted: false }];
    expect(gate({ ...open, paused: true }, mixed, false)).toMatchObject({ send: [], preview: ['dry'], hold: ['1', '2'] });
    expect(gate(open, mixed, true)).toMatchObject({ send: [], preview: ['dry'], hold: ['1', '2'] });
  });

  it('withdraws a reverted version’s writes', () => {
    expect(gate({ ...open, reverted: true, paused: true }, writes(2), false)).toMatchObject({ withdraw: ['1', '2'], hold: [] });
  });

  it('previews every write of a version the portal keeps to dry runs', () => {
    expect(gate({ ...open, dryRunOnly: true, stages: [1], admitted: 1 }, writes(2), false)).toMatchObject({ preview: ['1', '2'], hold: [], send: [] });
  });
});

describe('rollout stages', () => {
  it('allows each stage’s count in all, then everything', () => {
    expect([0, 1, 2, 3].map((stage) => allowanceOf([1, 10, 100], stage))).toEqual([1, 10, 100, Infinity]);
    expect(allowanceOf(null, 0)).toBe(Infinity);
  });

  it('releases a stage by itself after N clean writes, or all of a smaller stage', () => {
    const rollout = { stages: [1, 10, 100], autoReleaseAfter: 50 };
    expect(dueForRelease({ ...rollout, stage: 0, clean: 1 })).toBe(true);
    expect(dueForRelease({ ...rollout, stage: 1, clean: 8 })).toBe(false);
    expect(dueForRelease({ ...rollout, stage: 1, clean: 9 })).toBe(true);
    expect(dueForRelease({ ...rollout, stage: 2, clean: 49 })).toBe(false);
    expect(dueForRelease({ ...rollout, stage: 2, clean: 50 })).toBe(true);
    expect(dueForRelease({ ...rollout, stage: 3, clean: 500 })).toBe(false);
    expect(dueForRelease({ ...rollout, autoReleaseAfter: null, stage: 0, clean: 10 })).toBe(false);
  });
});

describe('drift from the previous version', () => {
  const before = values(100, { A: 0.25, B: 0.25, C: 0.25, D: 0.25 });

  it('is one value suddenly in 90% of writes', () => {
    expect(driftOf(values(100, { D: 0.95, A: 0.05 }), before, '1.0.0')).toMatchObject({ code: 'drift', property: 'tier', value: 'D', share: 0.95, previousShare: 0.25 });
  });

  it('is most writes clearing a property the previous version seldom cleared', () => {
    expect(driftOf(values(100, { '': 0.6, A: 0.4 }), before, '1.0.0')).toMatchObject({ code: 'clearing', property: 'tier', share: 0.6 });
  });

  it('is not a value the previous version wrote mostly too, nor a spread that moved, nor too few writes to tell', () => {
    expect(driftOf(values(100, { true: 1 }, 'ok'), values(100, { true: 1 }, 'ok'), '1.0.0')).toBeUndefined();
    expect(driftOf(values(100, { A: 0.5, B: 0.5 }), before, '1.0.0')).toBeUndefined();
    expect(driftOf(values(10, { D: 1 }), before, '1.0.0')).toBeUndefined();
    expect(driftOf(values(100, { D: 1 }, 'score'), before, '1.0.0')).toBeUndefined();
  });
});

describe('failure rate', () => {
  it('pauses once HubSpot refuses half of enough settled writes', () => {
    expect(failureRateOf({ settled: 40, refused: 20 })).toMatchObject({ code: 'failure_rate', share: 0.5 });
    expect(failureRateOf({ settled: 40, refused: 19 })).toBeUndefined();
    expect(failureRateOf({ settled: 10, refused: 10 })).toBeUndefined();
  });
});
