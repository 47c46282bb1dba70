import type { RateLimitPolicy } from './errors';

/**
 * A rolling window: at most `limit` calls in any `windowMs`. Holds the times of the calls still in
 * the window in a ring buffer, so a check is O(1) amortised whatever the load.
 */
export class RollingWindow {
  private times: Float64Array;
  private start = 0;
  private size = 0;

  constructor(
    private limitValue: number,
    private windowValue: number,
  ) {
    this.times = new Float64Array(Math.max(1, limitValue));
  }

  get limit(): number {
    return this.limitValue;
  }

  get windowMs(): number {
    return this.windowValue;
  }

  private prune(now: number): void {
    const edge = now - this.windowValue;
    while (this.size > 0 && this.times[this.start] <= edge) {
      this.start = (this.start + 1) % this.times.length;
      this.size--;
    }
  }

  used(now: number): number {
    this.prune(now);
    return this.size;
  }

  remaining(now: number): number {
    return Math.max(0, this.limitValue - this.used(now));
  }

  /** Takes one call from the window; false when the window is full. */
  take(now: number): boolean {
    this.prune(now);
    if (this.size >= this.limitValue) return false;
    this.times[(this.start + this.size) % this.times.length] = now;
    this.size++;
    return true;
  }

  /** Takes up to `count` calls (as another integration of the portal would); answers how many it took. */
  spend(now: number, count: number): number {
    let taken = 0;
    while (taken < count && this.take(now)) taken++;
    return taken;
  }

  reconfigure(limit: number, windowMs: number): void {
    const kept: number[] = [];
    for (let i = 0; i < this.size; i++) kept.push(this.times[(this.start + i) % this.times.length]);
    this.limitValue = limit;
    this.windowValue = windowMs;
    this.times = new Float64Array(Math.max(1, limit));
    const recent = kept.slice(Math.max(0, kept.length - limit));
    recent.forEach((time, i) => (this.times[i] = time));
    this.start = 0;
    this.size = recent.length;
  }
}

const DAY_MS = 86_400_000;

/** Calls per day; the day turns at midnight UTC of the simulated clock. */
export class DailyCounter {
  private day = -1;
  private count = 0;

  constructor(public limit: number) {}

  private roll(now: number): void {
    const day = Math.floor(now / DAY_MS);
    if (day !== this.day) {
      this.day = day;
      this.count = 0;
    }
  }

  used(now: number): number {
    this.roll(now);
    return this.count;
  }

  remaining(now: number): number {
    return Math.max(0, this.limit - this.used(now));
  }

  take(now: number): boolean {
    this.roll(now);
    if (this.count >= this.limit) return false;
    this.count++;
    return true;
  }

  spend(now: number, count: number): number {
    this.roll(now);
    const taken = Math.max(0, Math.min(count, this.limit - this.count));
    this.count += taken;
    return taken;
  }
}

export interface Admission {
  /** null when the call may go on; otherwise the policy that refused it. */
  refusedBy: RateLimitPolicy | null;
  headers: Record<string, string>;
}

/** The two budgets of one portal. Refused calls take nothing from either. */
export class PortalBudget {
  readonly window: RollingWindow;
  readonly daily: DailyCounter;

  constructor(limit: number, windowMs: number, dailyLimit: number) {
    this.window = new RollingWindow(limit, windowMs);
    this.daily = new DailyCounter(dailyLimit);
  }

  /** Answers whether the call may go on and takes it from both budgets if so. */
  admit(now: number, withDailyHeaders: boolean): Admission {
    let refusedBy: RateLimitPolicy | null = null;
    if (this.daily.remaining(now) <= 0) refusedBy = 'DAILY';
    else if (!this.window.take(now)) refusedBy = 'TEN_SECONDLY_ROLLING';
    else this.daily.take(now);
    return { refusedBy, headers: this.headers(now, withDailyHeaders) };
  }

  headers(now: number, withDailyHeaders: boolean, forceZero = false): Record<string, string> {
    const headers: Record<string, string> = {
      'X-HubSpot-RateLimit-Max': String(this.window.limit),
      'X-HubSpot-RateLimit-Remaining': String(forceZero ? 0 : this.window.remaining(now)),
      'X-HubSpot-RateLimit-Interval-Milliseconds': String(this.window.windowMs),
    };
    if (withDailyHeaders) {
      headers['X-HubSpot-RateLimit-Daily'] = String(this.daily.limit);
      headers['X-HubSpot-RateLimit-Daily-Remaining'] = String(this.daily.remaining(now));
    }
    return headers;
  }

  describe(now: number) {
    return {
      rateLimit: this.window.limit,
      windowMs: this.window.windowMs,
      used: this.window.used(now),
      remaining: this.window.remaining(now),
      dailyLimit: this.daily.limit,
      dailyUsed: this.daily.used(now),
      dailyRemaining: this.daily.remaining(now),
    };
  }
}
