import type { Mode } from './modes';

export type Endpoint = 'company.enrich' | 'company.bulk' | 'person.enrich' | 'unknown';

export interface RecordedCall {
  /** 1, 2, 3... since the last reset. */
  seq: number;
  time: string;
  method: string;
  path: string;
  endpoint: Endpoint;
  /** The HTTP status answered; 0 when the connection was dropped (hang). */
  status: number;
  /** How many lookups the call asked for: 1 for a single enrichment, the size of a bulk one. */
  lookups: number;
  /** The normalised domains (or emails, for people) the call asked about, in request order. */
  subjects: string[];
  /** The injected mode that decided the answer, if one did. */
  mode?: Mode;
  /** Credits PDL would bill: one per 200 (per 200 item in a bulk answer). */
  credits: number;
  durationMs: number;
}

export interface EnrichmentSimulatorStats {
  since: string;
  /** Every call to an API path, authenticated or not. */
  total: number;
  byStatus: Record<string, number>;
  /** Calls per endpoint: company.enrich (single), company.bulk, person.enrich. */
  byEndpoint: Record<string, number>;
  single: number;
  bulk: number;
  /** Lookups asked for across all calls (a bulk call of 40 counts 40). */
  lookups: number;
  credits: number;
  rateLimited: number;
  byMode: Record<string, number>;
  inFlight: number;
  maxInFlight: number;
}

/** The last `capacity` calls (at least), plus counters over every call since the last reset. */
export class CallRecorder {
  private ring: RecordedCall[] = [];
  private seq = 0;
  private counters!: Omit<EnrichmentSimulatorStats, 'since' | 'inFlight' | 'maxInFlight'>;
  private since = Date.now();
  inFlight = 0;
  maxInFlight = 0;

  constructor(private readonly capacity: number) {
    this.reset();
  }

  begin(): void {
    this.inFlight++;
    if (this.inFlight > this.maxInFlight) this.maxInFlight = this.inFlight;
  }

  record(call: Omit<RecordedCall, 'seq' | 'time'>, at: number): void {
    this.inFlight--;
    const stored: RecordedCall = { seq: ++this.seq, time: new Date(at).toISOString(), ...call };
    this.ring.push(stored);
    // Trimmed in halves rather than call by call, so recording stays O(1) amortised.
    if (this.ring.length >= this.capacity * 2) this.ring = this.ring.slice(-this.capacity);
    const c = this.counters;
    c.total++;
    c.byStatus[call.status] = (c.byStatus[call.status] ?? 0) + 1;
    c.byEndpoint[call.endpoint] = (c.byEndpoint[call.endpoint] ?? 0) + 1;
    if (call.endpoint === 'company.bulk') c.bulk++;
    else if (call.endpoint !== 'unknown') c.single++;
    c.lookups += call.lookups;
    c.credits += call.credits;
    if (call.status === 429) c.rateLimited++;
    if (call.mode) c.byMode[call.mode] = (c.byMode[call.mode] ?? 0) + 1;
  }

  list(filter: { endpoint?: string; subject?: string; limit?: number } = {}): RecordedCall[] {
    const calls = this.ring.slice(-this.capacity).filter(
      (call) => (filter.endpoint === undefined || call.endpoint === filter.endpoint) && (filter.subject === undefined || call.subjects.includes(filter.subject)),
    );
    return filter.limit !== undefined ? calls.slice(-filter.limit) : calls;
  }

  reset(): void {
    this.ring = [];
    this.seq = 0;
    this.since = Date.now();
    this.counters = { total: 0, byStatus: {}, byEndpoint: {}, single: 0, bulk: 0, lookups: 0, credits: 0, rateLimited: 0, byMode: {} };
    this.maxInFlight = this.inFlight;
  }

  stats(): EnrichmentSimulatorStats {
    const c = this.counters;
    return {
      since: new Date(this.since).toISOString(),
      ...c,
      byStatus: { ...c.byStatus },
      byEndpoint: { ...c.byEndpoint },
      byMode: { ...c.byMode },
      inFlight: this.inFlight,
      maxInFlight: this.maxInFlight,
    };
  }
}
