import type { RateLimitPolicy } from './errors';

export type Fault = 'storm' | 'error' | 'timeout';

export interface RecordedCall {
  /** 1, 2, 3... since the last reset. */
  seq: number;
  /** ISO time of arrival (simulated clock). */
  time: string;
  method: string;
  /** As requested, without the query string. */
  path: string;
  /** Endpoint name, e.g. crm.objects.batch.update, automation.callbacks.complete. */
  endpoint: string;
  /** The portal of the token, when it was valid. */
  portalId: number | null;
  /** The HTTP status answered; 0 when the connection was dropped (an injected timeout). */
  status: number;
  durationMs: number;
  /** Set on 429s. */
  policyName?: RateLimitPolicy;
  /** Set when an injected fault decided the answer. */
  fault?: Fault;
  /** Set when the client closed the connection of a hanging call before the simulator dropped it. */
  clientClosed?: true;
  /** A short description of the request (ids, counts, callback states). */
  summary?: Record<string, unknown>;
}

interface StoredCall extends Omit<RecordedCall, 'time'> {
  at: number;
}

interface Counts {
  total: number;
  byStatus: Record<string, number>;
}

export interface SimulatorStats {
  since: string;
  total: number;
  byStatus: Record<string, number>;
  byEndpoint: Record<string, Counts>;
  byPortal: Record<string, Counts>;
  rateLimited: { total: number; TEN_SECONDLY_ROLLING: number; DAILY: number };
  faults: { storm: number; error: number; timeout: number };
  callbacks: { completed: number; repeated: number; unknown: number };
  propertyValuesNotStrings: number;
  inFlight: number;
  maxInFlight: number;
  recordedCalls: number;
  droppedCalls: number;
}

function count(counts: Counts, status: number): void {
  counts.total++;
  const key = String(status);
  counts.byStatus[key] = (counts.byStatus[key] ?? 0) + 1;
}

/** The last `capacity` calls in a ring, plus counters over every call since the last reset. */
export class CallRecorder {
  private ring: (StoredCall | undefined)[];
  private next = 0;
  private seq = 0;
  private since: number;
  private totals!: Counts;
  private byEndpoint!: Map<string, Counts>;
  private byPortal!: Map<string, Counts>;
  private rateLimited!: SimulatorStats['rateLimited'];
  private faults!: SimulatorStats['faults'];
  readonly callbacks = { completed: 0, repeated: 0, unknown: 0 };
  propertyValuesNotStrings = 0;
  inFlight = 0;
  maxInFlight = 0;

  constructor(
    readonly capacity: number,
    private readonly now: () => number,
  ) {
    this.ring = new Array(Math.max(1, capacity));
    this.since = now();
    this.resetCounters();
  }

  private resetCounters(): void {
    this.totals = { total: 0, byStatus: {} };
    this.byEndpoint = new Map();
    this.byPortal = new Map();
    this.rateLimited = { total: 0, TEN_SECONDLY_ROLLING: 0, DAILY: 0 };
    this.faults = { storm: 0, error: 0, timeout: 0 };
    this.callbacks.completed = this.callbacks.repeated = this.callbacks.unknown = 0;
    this.propertyValuesNotStrings = 0;
    this.maxInFlight = this.inFlight;
  }

  record(call: Omit<StoredCall, 'seq'>): void {
    const stored = call as StoredCall;
    stored.seq = ++this.seq;
    this.ring[this.next] = stored;
    this.next = (this.next + 1) % this.ring.length;
    count(this.totals, call.status);
    let endpoint = this.byEndpoint.get(call.endpoint);
    if (!endpoint) this.byEndpoint.set(call.endpoint, (endpoint = { total: 0, byStatus: {} }));
    count(endpoint, call.status);
    if (call.portalId !== null) {
      const key = String(call.portalId);
      let portal = this.byPortal.get(key);
      if (!portal) this.byPortal.set(key, (portal = { total: 0, byStatus: {} }));
      count(portal, call.status);
    }
    if (call.policyName) {
      this.rateLimited.total++;
      this.rateLimited[call.policyName]++;
    }
    if (call.fault) this.faults[call.fault]++;
  }

  /** The recorded calls, oldest first; `limit` keeps the most recent ones. */
  list(filter: { limit?: number; portalId?: number; endpoint?: string; status?: number } = {}): RecordedCall[] {
    const out: RecordedCall[] = [];
    const size = this.ring.length;
    for (let i = 0; i < size; i++) {
      const call = this.ring[(this.next + i) % size];
      if (!call) continue;
      if (filter.portalId !== undefined && call.portalId !== filter.portalId) continue;
      if (filter.endpoint !== undefined && call.endpoint !== filter.endpoint) continue;
      if (filter.status !== undefined && call.status !== filter.status) continue;
      const { at, ...rest } = call;
      out.push({ ...rest, time: new Date(at).toISOString() });
    }
    return filter.limit !== undefined && out.length > filter.limit ? out.slice(out.length - filter.limit) : out;
  }

  get recorded(): number {
    return Math.min(this.seq, this.ring.length);
  }

  get dropped(): number {
    return Math.max(0, this.seq - this.ring.length);
  }

  reset(): void {
    this.ring = new Array(this.ring.length);
    this.next = 0;
    this.seq = 0;
    this.since = this.now();
    this.resetCounters();
  }

  stats(): SimulatorStats {
    const plain = (map: Map<string, Counts>) => Object.fromEntries([...map].map(([k, v]) => [k, { total: v.total, byStatus: { ...v.byStatus } }]));
    return {
      since: new Date(this.since).toISOString(),
      total: this.totals.total,
      byStatus: { ...this.totals.byStatus },
      byEndpoint: plain(this.byEndpoint),
      byPortal: plain(this.byPortal),
      rateLimited: { ...this.rateLimited },
      faults: { ...this.faults },
      callbacks: { ...this.callbacks },
      propertyValuesNotStrings: this.propertyValuesNotStrings,
      inFlight: this.inFlight,
      maxInFlight: this.maxInFlight,
      recordedCalls: this.recorded,
      droppedCalls: this.dropped,
    };
  }
}
