import type { RetryPolicy } from '../registry/job-handler';

/** The most a remote Retry-After is honoured for; a longer one is treated as this. */
export const MAX_RETRY_AFTER_MS = 60 * 60 * 1000;

/**
 * The wait before run `attempt + 1`: what the remote side asked for when it said, otherwise
 * exponential from backoffMs, capped, with equal jitter so a burst of failures does not retry in step.
 */
export function retryDelayMs(attempt: number, policy: RetryPolicy, retryAfterMs?: number, random = Math.random): number {
  if (retryAfterMs !== undefined && retryAfterMs >= 0) return Math.min(retryAfterMs, MAX_RETRY_AFTER_MS);
  const ceiling = Math.min(policy.maxBackoffMs, policy.backoffMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}
