import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Injectable } from '@nestjs/common';
import { MicroBatcher } from '../../common/micro-batcher';
import { RedisService } from '../../redis/redis.service';
import type { EgressHttp } from '../../registry/job-handler';
import { configFingerprint, DEFAULT_PROVIDER_TIMEOUT_MS, EnrichmentConfig, providerFor } from './enrichment-config';
import type { EnrichmentSettings } from './enrichment-settings';
import { PDL_MAX_BULK } from './pdl-provider';
import { EnrichmentProvider, Lookup, LookupOutcome, ProviderCall, ProviderFailure } from './provider';

/** How long lookups gather before they go out together: long enough for a burst of jobs to share one bulk call. */
export const BATCH_LINGER_MS = 25;
/** Provider calls one batcher (one portal's key) makes at once; while they run, newer lookups gather. */
const CALLS_IN_FLIGHT = 4;
/** How often a process that waits for another process's call looks for its answer in the cache. */
const WAIT_POLL_MS = 40;

export interface LookupRequest {
  portalId: string;
  config: EnrichmentConfig;
  settings: EnrichmentSettings;
  lookup: Lookup;
  apiKey: string;
  /** The job's HTTP client and stop signal: a shared call goes through the client of a job still waiting for it. */
  http: EgressHttp;
  signal: AbortSignal;
}

interface Participant {
  http: EgressHttp;
  signal: AbortSignal;
}

interface SharedLookup {
  lookup: Lookup;
  /** Every job waiting for this lookup in this process. */
  participants: Participant[];
  promise: Promise<LookupOutcome>;
}

type Cacheable = Extract<LookupOutcome, { kind: 'match' | 'no_match' }>;

function hash(text: string, length = 16): string {
  return createHash('sha256').update(text).digest('base64url').slice(0, length);
}

/** What a lookup is about, as a key: the domain when there is one (email addresses are hashed, being personal). */
export function subjectKey(lookup: Lookup): string {
  if (lookup.kind === 'person') return `person:${hash(lookup.email.toLowerCase(), 32)}`;
  return lookup.domain !== undefined ? `company:${lookup.domain}` : `name:${lookup.name!.trim().toLowerCase()}`;
}

function alive(participants: Participant[]): boolean {
  return participants.some((participant) => !participant.signal.aborted);
}

const STOPPED: LookupOutcome = { kind: 'failed', failure: new ProviderFailure('unavailable', 'every job waiting for this lookup stopped') };

/**
 * Keeps provider calls to what is needed. Per portal and provider settings, an answer is cached in
 * Redis (a no match for less long); jobs in one process asking the same thing at once share one
 * lookup; across processes, a short Redis lock lets one call while the others wait for the cache;
 * and lookups that go out within BATCH_LINGER_MS of each other share one bulk call of up to 100.
 */
@Injectable()
export class EnrichmentLookups {
  private readonly inFlight = new Map<string, SharedLookup>();
  private readonly batchers = new Map<string, MicroBatcher<{ lookup: Lookup; participants: Participant[] }, LookupOutcome>>();

  constructor(private readonly redis: RedisService) {}

  lookup(request: LookupRequest): Promise<LookupOutcome> {
    const fingerprint = configFingerprint(request.config);
    const subject = subjectKey(request.lookup);
    const cacheKey = this.redis.key('enrichment', request.portalId, fingerprint, subject);
    const participant = { http: request.http, signal: request.signal };
    const joined = this.inFlight.get(cacheKey);
    if (joined) {
      joined.participants.push(participant);
      return joined.promise;
    }
    const shared: SharedLookup = { lookup: request.lookup, participants: [participant], promise: Promise.resolve(STOPPED) };
    shared.promise = this.resolve(shared, request, cacheKey, `enrichment-lock:${request.portalId}:${fingerprint}:${subject}`).finally(() =>
      this.inFlight.delete(cacheKey),
    );
    this.inFlight.set(cacheKey, shared);
    return shared.promise;
  }

  private async resolve(shared: SharedLookup, request: LookupRequest, cacheKey: string, lockName: string): Promise<LookupOutcome> {
    const timeoutMs = request.config.timeoutMs ?? DEFAULT_PROVIDER_TIMEOUT_MS;
    // Outlives a call that waits its turn behind a full batch and then times out; a holder that died frees it then.
    const lockTtlMs = 2 * timeoutMs + 2 * BATCH_LINGER_MS + 1_000;
    for (;;) {
      const cached = await this.cached(cacheKey);
      if (cached) return cached;
      if (!alive(shared.participants)) return STOPPED;
      const outcome = await this.redis.exclusively(lockName, lockTtlMs, async () => {
        const again = await this.cached(cacheKey);
        if (again) return again;
        const fresh = await this.batcherFor(request).add({ lookup: shared.lookup, participants: shared.participants });
        await this.store(cacheKey, fresh, request.settings);
        return fresh;
      });
      if (outcome) return outcome;
      await sleep(WAIT_POLL_MS / 2 + Math.random() * WAIT_POLL_MS);
    }
  }

  private async cached(key: string): Promise<Cacheable | undefined> {
    const raw = await this.redis.client.get(key);
    if (raw === null) return undefined;
    try {
      const parsed = JSON.parse(raw) as Cacheable;
      if (parsed.kind === 'no_match' || (parsed.kind === 'match' && typeof parsed.firmographics === 'object' && parsed.firmographics !== null)) return parsed;
    } catch {
      // an unreadable entry is a miss; the fresh answer replaces it
    }
    return undefined;
  }

  private async store(key: string, outcome: LookupOutcome, settings: EnrichmentSettings): Promise<void> {
    if (outcome.kind === 'failed') return;
    const ttl = outcome.kind === 'match' ? settings.ENRICHMENT_CACHE_TTL_S : settings.ENRICHMENT_NO_MATCH_TTL_S;
    await this.redis.client.set(key, JSON.stringify(outcome), 'EX', ttl);
  }

  private batcherFor(request: LookupRequest): MicroBatcher<{ lookup: Lookup; participants: Participant[] }, LookupOutcome> {
    const timeoutMs = request.config.timeoutMs ?? DEFAULT_PROVIDER_TIMEOUT_MS;
    const key = `${request.portalId}:${configFingerprint(request.config)}:${timeoutMs}:${hash(request.apiKey)}`;
    let batcher = this.batchers.get(key);
    if (!batcher) {
      const provider = providerFor(request.config);
      const call = { baseUrl: request.settings.ENRICHMENT_BASE_URL, apiKey: request.apiKey, timeoutMs };
      batcher = new MicroBatcher({
        execute: (items) => this.execute(provider, call, items),
        maxBatchSize: PDL_MAX_BULK,
        maxInFlight: CALLS_IN_FLIGHT,
        lingerMs: BATCH_LINGER_MS,
      });
      this.batchers.set(key, batcher);
    }
    return batcher;
  }

  /**
   * One provider call for the batch (a single lookup when alone), made through the HTTP client of a
   * job still waiting. When that job stops mid-call and cuts it short, the lookups it failed go again
   * through another waiting job, so one cancellation does not fail everybody's lookup.
   */
  private async execute(
    provider: EnrichmentProvider,
    call: Omit<ProviderCall, 'http'>,
    items: Array<{ lookup: Lookup; participants: Participant[] }>,
  ): Promise<LookupOutcome[]> {
    const outcomes = new Array<LookupOutcome>(items.length).fill(STOPPED);
    let pending = items.map((_, index) => index);
    while (pending.length > 0) {
      const live = pending.filter((index) => alive(items[index].participants));
      if (live.length === 0) break;
      const carrier = live.flatMap((index) => items[index].participants).find((participant) => !participant.signal.aborted)!;
      const lookups = live.map((index) => items[index].lookup);
      const answers =
        lookups.length === 1 ? [await provider.enrichOne(lookups[0], { ...call, http: carrier.http })] : await provider.enrichMany(lookups, { ...call, http: carrier.http });
      const cutShort = carrier.signal.aborted;
      pending = [];
      live.forEach((index, i) => {
        if (cutShort && answers[i].kind === 'failed') pending.push(index);
        else outcomes[index] = answers[i];
      });
    }
    return outcomes;
  }
}
