import type { JobError } from '../../jobs/job-record';
import { hubSpotFailure, HubSpotNotConnectedError, PAUSED_RECHECK_MS, PortalPausedError } from './hubspot-gateway';
import { DailyBudgetExhaustedError } from './rate-budget';

export interface HubSpotJobError {
  error: JobError;
  retryAfterMs?: number;
}

/**
 * How a failed HubSpot call ends a job's run: the daily limit waits for its reset, an outage is
 * retried, a portal without credentials and a request HubSpot refuses are not.
 */
export function hubSpotJobError(error: unknown, refused: { code: string; what: string }): HubSpotJobError {
  if (error instanceof DailyBudgetExhaustedError) {
    return {
      error: { code: 'hubspot_daily_limit', message: error.message, retryable: true },
      retryAfterMs: Math.max(0, error.resetsAt.getTime() - Date.now()),
    };
  }
  if (error instanceof HubSpotNotConnectedError) {
    return { error: { code: 'hubspot_not_connected', message: error.message, retryable: false } };
  }
  if (error instanceof PortalPausedError) {
    return { error: { code: 'portal_paused', message: error.message, retryable: true }, retryAfterMs: PAUSED_RECHECK_MS };
  }
  const failure = hubSpotFailure(error);
  if (failure.transient) {
    return { error: { code: 'hubspot_unavailable', message: `HubSpot did not serve ${refused.what}: ${failure.message}`, retryable: true } };
  }
  return { error: { code: refused.code, message: `HubSpot refused ${refused.what}: ${failure.message}`, retryable: false } };
}
