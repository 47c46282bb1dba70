/**
 * Faults the simulator can inject. Every field is optional; setting some leaves the others as they
 * are (POST /__sim/faults merges), and clear() removes all of them.
 */
export interface FaultSettings {
  /** Added to every API call before it is handled. */
  latencyMs?: number;
  /** A further 0..latencyJitterMs, drawn from the seeded generator. */
  latencyJitterMs?: number;
  /** Fraction (0..1) of calls answered with a 5xx. */
  errorRate?: number;
  /** The next N calls are answered with a 5xx, whatever errorRate says. */
  errorNext?: number;
  /**
   * The statuses to use, in turn for errorNext and at random for errorRate. Default [502, 503]. Besides
   * 5xx: 423 (Locked: HubSpot asks for a wait of at least 2 s) and 477 (Migration in Progress).
   */
  errorStatuses?: number[];
  /** Retry-After (seconds) sent with an injected error; 477s carry 1 unless set. */
  errorRetryAfterSec?: number;
  /** `json` (HubSpot-like body, the default) or `html` (an edge proxy's page). */
  errorBody?: 'json' | 'html';
  /** When true, an injected 5xx is answered after the call has taken effect (the write is applied). */
  errorsApplyWrites?: boolean;
  /** The next N rate-limited calls are answered 429 TEN_SECONDLY_ROLLING, whatever the budget. */
  stormCalls?: number;
  /** For the next T ms, rate-limited calls are answered 429 TEN_SECONDLY_ROLLING, whatever the budget. */
  stormMs?: number;
  /** Fraction (0..1) of calls that hang for timeoutMs and then lose their connection without an answer. */
  timeoutRate?: number;
  /** The next N calls hang for timeoutMs and then lose their connection. */
  timeoutNext?: number;
  /** How long a timed-out call hangs. Default 30000. */
  timeoutMs?: number;
  /**
   * Batch updates answer without these record ids in `results` and with no error for them (HubSpot
   * has been seen doing so); their writes are not applied.
   */
  omitIds?: string[];
  /** How many answers leave each of omitIds out; after that the record is written. Default: every answer. */
  omitTimes?: number;
  /** The status of an answer that leaves records out: 200 (the default) or 207 (with an empty `errors`). */
  omitStatus?: 200 | 207;
  /** Limit every fault above to the calls of one portal. */
  portalId?: number;
  /** Limit every fault above to calls whose path contains this text (e.g. "/batch/update"). */
  pathIncludes?: string;
}

export interface FaultState extends FaultSettings {
  /** Epoch ms (simulated clock) until which the storm lasts. */
  stormUntil?: number;
}

export type InjectedError = { status: number; body: 'json' | 'html'; applyWrites: boolean; retryAfterSec?: number };

/** Statuses errorStatuses may hold besides 5xx. */
const TRANSIENT_4XX = [423, 477];

/** mulberry32: small, fast and the same for the same seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const NUMBER_FIELDS = [
  'latencyMs',
  'latencyJitterMs',
  'errorRate',
  'errorNext',
  'errorRetryAfterSec',
  'stormCalls',
  'stormMs',
  'timeoutRate',
  'timeoutNext',
  'timeoutMs',
  'omitTimes',
  'portalId',
] as const;

/** Validates settings given as JSON or CLI text; throws with the field's name on a bad value. */
export function parseFaultSettings(input: unknown): FaultSettings {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) throw new Error('fault settings must be a JSON object');
  const raw = input as Record<string, unknown>;
  const settings: FaultSettings = {};
  for (const key of Object.keys(raw)) {
    const value = raw[key];
    if ((NUMBER_FIELDS as readonly string[]).includes(key)) {
      const n = typeof value === 'string' ? Number(value) : value;
      if (typeof n !== 'number' || !Number.isFinite(n) || n < 0) throw new Error(`${key} must be a number >= 0`);
      if ((key === 'errorRate' || key === 'timeoutRate') && n > 1) throw new Error(`${key} must be between 0 and 1`);
      (settings as Record<string, number>)[key] = n;
    } else if (key === 'errorStatuses') {
      const list = typeof value === 'string' ? value.split(',').map(Number) : value;
      if (!Array.isArray(list) || list.length === 0 || list.some((s) => !Number.isInteger(s) || ((s < 500 || s > 599) && !TRANSIENT_4XX.includes(s))))
        throw new Error('errorStatuses must be a non-empty list of 5xx, 423 or 477 statuses');
      settings.errorStatuses = list as number[];
    } else if (key === 'errorBody') {
      if (value !== 'json' && value !== 'html') throw new Error('errorBody must be "json" or "html"');
      settings.errorBody = value;
    } else if (key === 'errorsApplyWrites') {
      settings.errorsApplyWrites = value === true || value === 'true';
    } else if (key === 'omitIds') {
      const list = typeof value === 'string' ? value.split(',') : value;
      if (!Array.isArray(list) || list.some((id) => typeof id !== 'string' && typeof id !== 'number')) throw new Error('omitIds must be a list of record ids');
      settings.omitIds = list.map(String);
    } else if (key === 'omitStatus') {
      const status = Number(value);
      if (status !== 200 && status !== 207) throw new Error('omitStatus must be 200 or 207');
      settings.omitStatus = status;
    } else if (key === 'pathIncludes') {
      if (typeof value !== 'string') throw new Error('pathIncludes must be a string');
      settings.pathIncludes = value;
    } else {
      throw new Error(`unknown fault setting "${key}"`);
    }
  }
  return settings;
}

export interface FaultScope {
  portalId: number | null;
  path: string;
}

export class FaultInjector {
  private state: FaultState = {};
  private nextErrorIndex = 0;
  private readonly omittedTimes = new Map<string, number>();

  constructor(
    private readonly random: () => number,
    private readonly now: () => number,
  ) {}

  configure(settings: FaultSettings): void {
    const { stormMs, ...rest } = settings;
    this.state = { ...this.state, ...rest };
    // errorNext walks errorStatuses from the start each time it is set, so the statuses are predictable.
    if (rest.errorNext !== undefined || rest.errorStatuses !== undefined) this.nextErrorIndex = 0;
    if (rest.omitIds !== undefined || rest.omitTimes !== undefined) this.omittedTimes.clear();
    if (stormMs !== undefined) this.state.stormUntil = stormMs > 0 ? this.now() + stormMs : undefined;
  }

  clear(): void {
    this.state = {};
    this.omittedTimes.clear();
  }

  describe(): FaultState & { stormRemainingMs?: number } {
    const { stormUntil, ...rest } = this.state;
    const remaining = stormUntil !== undefined ? Math.max(0, stormUntil - this.now()) : 0;
    return remaining > 0 ? { ...rest, stormUntil, stormRemainingMs: remaining } : rest;
  }

  get active(): boolean {
    return Object.keys(this.state).length > 0;
  }

  private applies(scope: FaultScope): boolean {
    const { portalId, pathIncludes } = this.state;
    if (portalId !== undefined && scope.portalId !== portalId) return false;
    if (pathIncludes !== undefined && !scope.path.includes(pathIncludes)) return false;
    return true;
  }

  latency(scope: FaultScope): number {
    const { latencyMs = 0, latencyJitterMs = 0 } = this.state;
    if ((latencyMs <= 0 && latencyJitterMs <= 0) || !this.applies(scope)) return 0;
    return latencyMs + (latencyJitterMs > 0 ? Math.floor(this.random() * (latencyJitterMs + 1)) : 0);
  }

  /** Whether this rate-limited call falls in a 429 storm (and spends one of its calls if so). */
  storm(scope: FaultScope): boolean {
    if (!this.applies(scope)) return false;
    if ((this.state.stormCalls ?? 0) > 0) {
      this.state.stormCalls = this.state.stormCalls! - 1;
      return true;
    }
    return this.state.stormUntil !== undefined && this.now() < this.state.stormUntil;
  }

  /** How long this call should hang before losing its connection; 0 for no timeout. */
  timeout(scope: FaultScope): number {
    if (!this.applies(scope)) return 0;
    const hang = this.state.timeoutMs ?? 30_000;
    if ((this.state.timeoutNext ?? 0) > 0) {
      this.state.timeoutNext = this.state.timeoutNext! - 1;
      return hang;
    }
    const rate = this.state.timeoutRate ?? 0;
    return rate > 0 && this.random() < rate ? hang : 0;
  }

  error(scope: FaultScope): InjectedError | null {
    if (!this.applies(scope)) return null;
    const statuses = this.state.errorStatuses ?? [502, 503];
    let status: number | undefined;
    if ((this.state.errorNext ?? 0) > 0) {
      this.state.errorNext = this.state.errorNext! - 1;
      status = statuses[this.nextErrorIndex++ % statuses.length];
    } else {
      const rate = this.state.errorRate ?? 0;
      if (rate > 0 && this.random() < rate) status = statuses[Math.floor(this.random() * statuses.length)];
    }
    if (status === undefined) return null;
    const retryAfterSec = this.state.errorRetryAfterSec ?? (status === 477 ? 1 : undefined);
    return {
      status,
      body: this.state.errorBody ?? 'json',
      applyWrites: this.state.errorsApplyWrites ?? false,
      ...(retryAfterSec !== undefined ? { retryAfterSec } : {}),
    };
  }

  /** Which of a batch update's records its answer leaves out, and with which status; null when none. */
  omissions(scope: FaultScope, ids: string[]): { ids: Set<string>; status: 200 | 207 } | null {
    const { omitIds, omitTimes = Infinity, omitStatus = 200 } = this.state;
    if (!omitIds?.length || !this.applies(scope)) return null;
    const omitted = new Set<string>();
    for (const id of ids) {
      const times = this.omittedTimes.get(id) ?? 0;
      if (!omitIds.includes(id) || times >= omitTimes) continue;
      this.omittedTimes.set(id, times + 1);
      omitted.add(id);
    }
    return omitted.size > 0 ? { ids: omitted, status: omitStatus } : null;
  }
}
