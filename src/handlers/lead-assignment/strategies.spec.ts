import { Candidate, leastLoaded, OpenLeads, pickerFor, PoolState, weightedSchedule } from './strategies';

const owner = (id: string, settings: Partial<Candidate> = {}): Candidate => ({ id, label: `owner ${id}`, weight: 1, ...settings });
const at = (position: number, openLeads = new Map<string, OpenLeads>()): PoolState => ({ position, openLeads });

function deal(picker: ReturnType<typeof pickerFor>, turns: number): Record<string, number> {
  const counts: Record<string, number> = {};
  for (let position = 0; position < turns; position++) {
    const id = picker(at(position))!.candidate.id;
    counts[id] = (counts[id] ?? 0) + 1;
  }
  return counts;
}

describe('round-robin', () => {
  it('gives each owner the next turn in the pool’s order, so every owner gets the same share', () => {
    const picker = pickerFor('round_robin', [owner('a'), owner('b'), owner('c')]);
    expect([0, 1, 2, 3, 4].map((position) => picker(at(position))!.candidate.id)).toEqual(['a', 'b', 'c', 'a', 'b']);
    expect(deal(picker, 999)).toEqual({ a: 333, b: 333, c: 333 });
    expect(picker(at(4))!.why).toBe('next in turn of 3 available owners');
  });

  it('picks nobody from an empty pool', () => {
    expect(pickerFor('round_robin', [])(at(0))).toBeUndefined();
  });
});

describe('weighted', () => {
  it('gives each owner as many turns per cycle as its weight, spread out rather than in runs', () => {
    expect(weightedSchedule([3, 1])).toEqual([0, 0, 1, 0]);
    expect(weightedSchedule([5, 1, 1])).toEqual([0, 0, 1, 0, 2, 0, 0]);
    const schedule = weightedSchedule([4, 2, 1]);
    expect(schedule.filter((index) => index === 0)).toHaveLength(4);
    expect(schedule.filter((index) => index === 1)).toHaveLength(2);
    expect(schedule.filter((index) => index === 2)).toHaveLength(1);
  });

  it('shares leads in proportion to the weights', () => {
    const picker = pickerFor('weighted', [owner('a', { weight: 3 }), owner('b', { weight: 2 }), owner('c')]);
    expect(deal(picker, 600)).toEqual({ a: 300, b: 200, c: 100 });
    expect(picker(at(0))!.why).toBe('next in turn, weight 3 of 6 among 3 available owners');
  });
});

describe('capacity', () => {
  const open = (entries: Array<[string, number, string | null]>) =>
    new Map(entries.map(([id, count, last]) => [id, { count, lastAssignedAt: last === null ? null : new Date(last) }]));

  it('gives the lead to the owner with the fewest open leads', () => {
    const candidates = [owner('a', { capacity: 10 }), owner('b', { capacity: 10 }), owner('c', { capacity: 10 })];
    const choice = leastLoaded(candidates, open([['a', 4, '2026-01-01'], ['b', 2, '2026-01-02'], ['c', 3, '2026-01-03']]));
    expect(choice).toEqual({ candidate: candidates[1], why: 'fewest open leads (2 of 10)' });
  });

  it('counts an owner with no recent assignment as having none, and breaks ties by who waited longest', () => {
    const candidates = [owner('a', { capacity: 5 }), owner('b', { capacity: 5 }), owner('c', { capacity: 5 })];
    expect(leastLoaded(candidates, open([['a', 1, '2026-01-02'], ['b', 1, '2026-01-01']]))!.candidate.id).toBe('c');
    expect(leastLoaded(candidates, open([['a', 1, '2026-01-02'], ['b', 1, '2026-01-01'], ['c', 1, '2026-01-03']]))!.candidate.id).toBe('b');
    expect(leastLoaded(candidates, new Map())!.candidate.id).toBe('a');
  });

  it('passes over owners at their capacity, and picks nobody when all are', () => {
    const candidates = [owner('a', { capacity: 2 }), owner('b', { capacity: 5 })];
    expect(leastLoaded(candidates, open([['a', 1, null], ['b', 4, null]]))!.candidate.id).toBe('a');
    expect(leastLoaded(candidates, open([['a', 2, null], ['b', 4, null]]))!.candidate.id).toBe('b');
    expect(pickerFor('capacity', candidates)(at(0, open([['a', 2, null], ['b', 5, null]])))).toBeUndefined();
  });
});
