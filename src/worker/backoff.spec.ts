import { retryDelayMs, MAX_RETRY_AFTER_MS } from './backoff';

const policy = { attempts: 10, backoffMs: 1000, maxBackoffMs: 30_000 };

describe('retryDelayMs', () => {
  it('doubles per attempt, within [half, full] of the ceiling', () => {
    expect(retryDelayMs(1, policy, undefined, () => 0)).toBe(500);
    expect(retryDelayMs(1, policy, undefined, () => 1)).toBe(1000);
    expect(retryDelayMs(3, policy, undefined, () => 0)).toBe(2000);
    expect(retryDelayMs(3, policy, undefined, () => 1)).toBe(4000);
  });

  it('never exceeds the cap', () => {
    expect(retryDelayMs(20, policy, undefined, () => 1)).toBe(30_000);
    expect(retryDelayMs(20, policy, undefined, () => 0)).toBe(15_000);
  });

  it('spreads a burst of retries', () => {
    const delays = new Set(Array.from({ length: 50 }, () => retryDelayMs(4, policy)));
    expect(delays.size).toBeGreaterThan(10);
  });

  it('honours a Retry-After from the remote side, within reason', () => {
    expect(retryDelayMs(1, policy, 7000)).toBe(7000);
    expect(retryDelayMs(1, policy, 0)).toBe(0);
    expect(retryDelayMs(1, policy, 10 * MAX_RETRY_AFTER_MS)).toBe(MAX_RETRY_AFTER_MS);
  });
});
