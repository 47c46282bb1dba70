import { hubSpotFailure, HubSpotNotConnectedError } from './hubspot-gateway';
import { DailyBudgetExhaustedError } from './rate-budget';

/** The shape of the client's ApiException (each API area of the client has its own class of it). */
function apiException(code: number, body: unknown) {
  return Object.assign(new Error(`HTTP-Code: ${code}`), { code, body, headers: {} });
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

  it('takes a spent daily budget as transient and a portal without credentials as permanent', () => {
    expect(hubSpotFailure(new DailyBudgetExhaustedError('123', new Date())).transient).toBe(true);
    expect(hubSpotFailure(new HubSpotNotConnectedError('p-1')).transient).toBe(false);
  });
});
