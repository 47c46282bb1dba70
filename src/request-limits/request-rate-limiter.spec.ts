import { RATE_WINDOW_MS, rateWindow } from './request-rate-limiter';

describe('rateWindow', () => {
  it('puts every process on the same 10-second windows of the clock', () => {
    expect(rateWindow(0).index).toBe(0);
    expect(rateWindow(RATE_WINDOW_MS - 1).index).toBe(0);
    expect(rateWindow(RATE_WINDOW_MS).index).toBe(1);
  });

  it('asks a refused client to wait out the window, in whole seconds, at least one', () => {
    expect(rateWindow(0).retryAfterSeconds).toBe(10);
    expect(rateWindow(2_500).retryAfterSeconds).toBe(8);
    expect(rateWindow(9_001).retryAfterSeconds).toBe(1);
    expect(rateWindow(9_999).retryAfterSeconds).toBe(1);
  });
});
