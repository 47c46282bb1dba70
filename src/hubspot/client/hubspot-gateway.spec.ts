import { hubSpotJobError } from './hubspot-job-error';
import { hubSpotFailure, HubSpotNotConnectedError, PAUSED_RECHECK_MS, PortalPausedError, transientWaitMs } from './hubspot-gateway';
import { DailyBudgetExhaustedError } from './rate-budget';

/** The shape of the client's ApiException (each API area of the client has its own class of it). */
function apiException(code: number, body: unknown, headers: Record<string, string> = {}) {
  return Object.assign(new Error(`HTTP-Code: ${code}`), { code, body, headers });
}

describe('hubSpotFailure', () => {
  it("reads HubSpot's status and message from the client's ApiException", () => {
    expect(hubSpotFailure(apiException(400, { status: 'error', message: 'Property values were not valid' }))).toEqual({
      status: 400,
      message: 'Property values were not valid',
      transient: false,
    });
    expect(hubSpotFailure(apiException(502, '<html>Bad Gateway</html>'))).toEqual({ status: 502, message: 'HTTP 502', transient: true });
    expect(hubSpotFailure(apiException(429, { policyName: 'TEN_SECONDLY_ROLLING', message: 'slow down' })).transient).toBe(true);
  });

  it('takes no answer at all (a dropped connection, a timeout) as transient', () => {
    expect(hubSpotFailure(new TypeError('fetch failed'))).toEqual({ message: 'HubSpot did not answer: fetch failed', transient: true });
  });

  it('takes a paused portal as a wait, never a failure: calls wait for it to resume, and a run is retried', () => {
    const paused = new PortalPausedError('p1');
    expect(hubSpotFailure(paused)).toMatchObject({ transient: true, retryAfterMs: PAUSED_RECHECK_MS });
    expect(hubSpotJobError(paused, { code: 'hubspot_refused', what: 'the call' })).toEqual({
      error: { code: 'portal_paused', message: paused.message, retryable: true },
      retryAfterMs: PAUSED_RECHECK_MS,
    });
  });

  it('takes a spent daily budget as transient and a portal without credentials as permanent', () => {
    expect(hubSpotFailure(new DailyBudgetExhaustedError('123', new Date())).transient).toBe(true);
    expect(hubSpotFailure(new HubSpotNotConnectedError('p-1')).transient).toBe(false);
  });

  it('takes 423 Locked as transient, waiting at least the 2 s HubSpot asks for', () => {
    expect(hubSpotFailure(apiException(423, { message: 'Locked' }))).toEqual({ status: 423, message: 'Locked', transient: true, retryAfterMs: 2_000 });
    expect(hubSpotFailure(apiException(423, {}, { 'retry-after': '5' })).retryAfterMs).toBe(5_000);
  });

  it("takes 477 Migration in Progress as transient, waiting as its Retry-After says", () => {
    expect(hubSpotFailure(apiException(477, { message: 'Migrating' }, { 'retry-after': '3' }))).toEqual({
      status: 477,
      message: 'Migrating',
      transient: true,
      retryAfterMs: 3_000,
    });
    const at = new Date(Date.now() + 60_000).toUTCString();
    expect(hubSpotFailure(apiException(477, {}, { 'Retry-After': at })).retryAfterMs).toBeGreaterThan(50_000);
    expect(hubSpotFailure(apiException(477, {})).retryAfterMs).toBeUndefined();
  });
});

describe('transientWaitMs', () => {
  it('waits the backoff, or longer when HubSpot asks for longer', () => {
    expect(transientWaitMs({ message: 'HTTP 502', transient: true }, 1)).toBeLessThanOrEqual(500);
    expect(transientWaitMs({ status: 423, message: 'Locked', transient: true, retryAfterMs: 2_000 }, 1)).toBe(2_000);
    expect(transientWaitMs({ status: 477, message: 'Migrating', transient: true, retryAfterMs: 10 }, 1)).toBeGreaterThanOrEqual(250);
  });
});
