import { pickShares } from './demo-environment';

describe('pickShares', () => {
  const items = Array.from({ length: 10 }, (_, i) => `company-${i}.com`);

  it('picks the rounded share, then a share of the rest, never the same item twice', () => {
    const [failing, unknown] = pickShares(items, 0.2, 0.3);
    expect(failing).toHaveLength(2);
    expect(unknown).toHaveLength(3);
    expect(new Set([...failing, ...unknown]).size).toBe(5);
    for (const item of [...failing, ...unknown]) expect(items).toContain(item);
  });

  it('picks nothing at 0 and everything at 1', () => {
    expect(pickShares(items, 0, 0)).toEqual([[], []]);
    const [all, none] = pickShares(items, 1, 0.5);
    expect([...all].sort()).toEqual(items);
    expect(none).toEqual([]);
  });
});
