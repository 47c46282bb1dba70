import { timeOrderedUuid } from './time-ordered-uuid';

describe('timeOrderedUuid', () => {
  it('is a version 7 UUID of the RFC 9562 variant carrying the time in milliseconds', () => {
    const at = Date.UTC(2026, 11, 4, 20, 15, 30, 123);
    const id = timeOrderedUuid(at);
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(parseInt(id.replace(/-/g, '').slice(0, 12), 16)).toBe(at);
  });

  it('sorts ids of later milliseconds after earlier ones, and differs within one millisecond', () => {
    const earlier = Array.from({ length: 100 }, () => timeOrderedUuid(1_000));
    const later = timeOrderedUuid(1_001);
    expect(new Set(earlier).size).toBe(100);
    for (const id of earlier) expect(id < later).toBe(true);
  });
});
