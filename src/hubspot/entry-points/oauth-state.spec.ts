import { randomBytes } from 'node:crypto';
import { OAuthStates, STATE_TTL_MS } from './oauth-state';

describe('OAuthStates', () => {
  const states = new OAuthStates(randomBytes(32));

  it('takes a state it issued, back from the browser that holds its nonce', () => {
    const { state, nonce } = states.issue();
    expect(states.problem(state, nonce)).toBeUndefined();
  });

  it('refuses a state another key signed, or one altered', () => {
    const other = new OAuthStates(randomBytes(32)).issue();
    expect(states.problem(other.state, other.nonce)).toMatch(/not issued/);
    const { state, nonce } = states.issue();
    const [, issuedAt, signature] = state.split('.');
    expect(states.problem(`${nonce}x.${issuedAt}.${signature}`, `${nonce}x`)).toMatch(/not issued/);
  });

  it('refuses a state from another browser, an expired one, and none at all', () => {
    const { state, nonce } = states.issue(Date.now() - STATE_TTL_MS - 1);
    expect(states.problem(state, nonce)).toMatch(/expired/);
    const fresh = states.issue();
    expect(states.problem(fresh.state, 'someone-else')).toMatch(/another browser/);
    expect(states.problem(fresh.state, undefined)).toMatch(/another browser/);
    expect(states.problem(undefined, fresh.nonce)).toMatch(/missing/);
  });
});
