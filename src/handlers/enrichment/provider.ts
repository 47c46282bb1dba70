import { rateLimitPause } from '../../hubspot/client/rate-budget';
import { EgressHttp, JobFailure } from '../../registry/job-handler';

/** What a lookup is about: a company (by domain, and/or name), or a person (by email) whose employer is described. */
export type Lookup = { kind: 'company'; domain?: string; name?: string } | { kind: 'person'; email: string };

/** What is known of a company; null where the provider does not know. */
export interface Firmographics {
  industry: string | null;
  employeeCount: number | null;
  /** The provider's headcount bracket, e.g. "51-200". */
  employeeRange: string | null;
  /** The provider's revenue bracket, e.g. "$10M-$25M". */
  revenueRange: string | null;
  country: string | null;
}

export type FailureReason = 'rate_limited' | 'unavailable' | 'refused' | 'malformed';

/** Why a provider gave no usable answer. Only rate_limited and unavailable can go away by waiting. */
export class ProviderFailure extends Error {
  constructor(
    readonly reason: FailureReason,
    message: string,
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }

  get retryable(): boolean {
    return this.reason === 'rate_limited' || this.reason === 'unavailable';
  }
}

export type LookupOutcome =
  | { kind: 'match'; firmographics: Firmographics }
  | { kind: 'no_match' }
  | { kind: 'failed'; failure: ProviderFailure };

/** What one provider call needs: the HTTP client bound to a job, where the provider is, and the portal's key. */
export interface ProviderCall {
  http: EgressHttp;
  baseUrl: string;
  apiKey: string;
  timeoutMs: number;
}

/**
 * An enrichment source. Neither method throws for what the provider answered: every lookup gets an
 * outcome, so that one bad item of a bulk answer does not sink the others.
 */
export interface EnrichmentProvider {
  enrichOne(lookup: Lookup, call: ProviderCall): Promise<LookupOutcome>;
  enrichMany(lookups: Lookup[], call: ProviderCall): Promise<LookupOutcome[]>;
}

/** A PDL minute window, the wait when a 429 says nothing about how long. */
const RATE_LIMIT_FALLBACK_MS = 60_000;

export type Answered = { status: number; headers: Headers; body: string };

/** Sends one request; answers what came back, or the failure of getting nothing back. */
export async function send(call: ProviderCall, url: URL, init: RequestInit): Promise<Answered | ProviderFailure> {
  try {
    const response = await call.http.fetch(url, { ...init, timeoutMs: call.timeoutMs });
    return { status: response.status, headers: response.headers, body: await response.text() };
  } catch (error) {
    if (error instanceof JobFailure && !error.retryable) return new ProviderFailure('refused', `${error.code}: ${error.message}`);
    return new ProviderFailure('unavailable', `no answer from the enrichment provider: ${(error as Error).message}`);
  }
}

/** How long a 429 asks to wait: Retry-After, else the rate-limit window's reset time, else a minute. */
export function retryAfterMs(headers: Headers, now = Date.now()): number {
  const reset = headers.get('x-ratelimit-reset')?.trim();
  let untilReset: number | undefined;
  if (reset) {
    const at = /^\d+$/.test(reset) ? Number(reset) * 1000 : Date.parse(reset);
    if (!Number.isNaN(at)) untilReset = Math.max(0, at - now);
  }
  const pause = rateLimitPause(headers as unknown as Record<string, unknown>, undefined, untilReset ?? RATE_LIMIT_FALLBACK_MS, now);
  return pause.daily ? RATE_LIMIT_FALLBACK_MS : pause.ms;
}

/**
 * The failure a non-2xx answer other than 404 means: 429 waits as told, 5xx and 408 are outages,
 * any other 4xx is a refusal that retrying will not change (a bad key, no credits, a bad request).
 */
export function failureOf(answer: Answered, describe: (body: string) => string): ProviderFailure {
  const detail = describe(answer.body);
  if (answer.status === 429) return new ProviderFailure('rate_limited', `the enrichment provider is rate limiting: ${detail}`, retryAfterMs(answer.headers));
  if (answer.status >= 500 || answer.status === 408) return new ProviderFailure('unavailable', `the enrichment provider answered ${answer.status}: ${detail}`);
  return new ProviderFailure('refused', `the enrichment provider refused the request (${answer.status}): ${detail}`);
}

/** Runs `work` over the items, at most `limit` at a time, answering in order. */
export async function mapLimited<T, R>(items: T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
