import { createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';

/** How long an install may take from Offload's redirect to HubSpot's callback. */
export const STATE_TTL_MS = 10 * 60_000;

export interface InstallState {
  /** Sent to HubSpot as `state`; comes back on the callback. */
  state: string;
  /** Kept by the browser that started the install (a cookie): a callback from another browser is refused. */
  nonce: string;
}

/**
 * The `state` of an OAuth install, proof against forgery: a random nonce and its time, signed with a
 * key derived from ENCRYPTION_KEY. A callback is taken only with a state this deployment signed,
 * younger than STATE_TTL_MS, whose nonce the calling browser holds; the caller also takes each
 * state once.
 */
export class OAuthStates {
  private readonly key: Buffer;

  constructor(encryptionKey: Buffer) {
    this.key = Buffer.from(hkdfSync('sha256', encryptionKey, Buffer.alloc(0), 'offload hubspot oauth state', 32));
  }

  issue(now = Date.now()): InstallState {
    const nonce = randomBytes(16).toString('base64url');
    const payload = `${nonce}.${now.toString(36)}`;
    return { state: `${payload}.${this.sign(payload)}`, nonce };
  }

  /** Why the state is refused, or undefined when it is good for this browser's nonce. */
  problem(state: string | undefined, browserNonce: string | undefined, now = Date.now()): string | undefined {
    const [nonce, issuedAt, signature, ...rest] = (state ?? '').split('.');
    if (!nonce || !issuedAt || !signature || rest.length > 0) return 'is missing or malformed';
    const expected = Buffer.from(this.sign(`${nonce}.${issuedAt}`));
    const given = Buffer.from(signature);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return 'was not issued by this Offload';
    const age = now - parseInt(issuedAt, 36);
    if (!(age >= 0 && age <= STATE_TTL_MS)) return 'has expired; start the install again';
    if (browserNonce !== nonce) return 'belongs to an install started in another browser';
    return undefined;
  }

  private sign(payload: string): string {
    return createHmac('sha256', this.key).update(payload).digest('base64url');
  }
}
