import { createHash, createHmac } from 'node:crypto';
import { secretsEqual } from '../../common/bearer-token';

/**
 * Verification of the requests HubSpot signs with the app's client secret: custom workflow action
 * calls and the workflow "send a webhook" action.
 *
 * - v3 (`X-HubSpot-Signature-v3` + `X-HubSpot-Request-Timestamp`): base64 HMAC-SHA256 keyed with the
 *   client secret over method + URI + body + timestamp, where the URI has a fixed set of
 *   percent-encoded characters decoded first. Preferred whenever present.
 * - v2 (`X-HubSpot-Signature` with `X-HubSpot-Signature-Version: v2`): hex SHA-256 of
 *   client secret + method + URI + body, the URI exactly as called. HubSpot documents it for custom
 *   workflow actions, and still sends it beside v3.
 *
 * v1 (SHA-256 of secret + body) is deliberately refused: HubSpot documents it only for webhooks-API
 * subscriptions to CRM object events, which Offload does not receive, and it binds neither the method
 * nor the URI.
 *
 * v2 carries no timestamp, so it cannot stop a replay; Offload's idempotency keys are what make a
 * replayed action call harmless.
 */

export type HubSpotSignatureVersion = 'v2' | 'v3';

export type SignatureFailure =
  | 'missing_signature'
  | 'unsupported_version'
  | 'missing_timestamp'
  | 'invalid_timestamp'
  | 'stale_timestamp'
  | 'future_timestamp'
  | 'bad_signature';

export type SignatureCheck =
  | { ok: true; version: HubSpotSignatureVersion }
  | { ok: false; reason: SignatureFailure; version?: HubSpotSignatureVersion };

/** Request headers as Node gives them (lower-case names) or in any other case. */
export type HeaderBag = Record<string, string | string[] | undefined>;

export interface SignedRequest {
  method: string;
  /** The full URI HubSpot called (see {@link hubSpotRequestUri}), path and query exactly as received. */
  uri: string;
  /** The body exactly as received, before any parsing; absent or empty for a request without one. */
  rawBody?: string | Buffer;
  headers: HeaderBag;
  clientSecret: string;
  /** Milliseconds since the epoch; defaults to the current time. */
  now?: number;
  /** How old a v3 timestamp may be. HubSpot's rule is 5 minutes. */
  maxAgeMs?: number;
  /** How far ahead of this host's clock a v3 timestamp may be (clock skew). */
  maxFutureSkewMs?: number;
}

export const SIGNATURE_MAX_AGE_MS = 5 * 60_000;
export const SIGNATURE_MAX_FUTURE_SKEW_MS = 60_000;

const V3_SIGNATURE = 'x-hubspot-signature-v3';
const V3_TIMESTAMP = 'x-hubspot-request-timestamp';
const LEGACY_SIGNATURE = 'x-hubspot-signature';
const LEGACY_VERSION = 'x-hubspot-signature-version';

/** The percent-encodings HubSpot's v3 instructions say to decode in the URI before signing; nothing else is decoded. */
const V3_DECODED: Record<string, string> = {
  '3A': ':',
  '2F': '/',
  '3F': '?',
  '40': '@',
  '21': '!',
  '24': '$',
  '27': "'",
  '28': '(',
  '29': ')',
  '2A': '*',
  '2C': ',',
  '3B': ';',
};
const V3_ENCODED = /%(3A|2F|3F|40|21|24|27|28|29|2A|2C|3B)/gi;

export function verifyHubSpotSignature(request: SignedRequest): SignatureCheck {
  if (!request.clientSecret) {
    throw new TypeError('verifying a HubSpot signature needs the app client secret (HUBSPOT_CLIENT_SECRET)');
  }
  const v3 = header(request.headers, V3_SIGNATURE);
  if (v3 !== undefined) return verifyV3(request, v3);

  const legacy = header(request.headers, LEGACY_SIGNATURE);
  if (legacy === undefined) return { ok: false, reason: 'missing_signature' };
  const version = header(request.headers, LEGACY_VERSION);
  if (typeof version !== 'string' || version.trim().toLowerCase() !== 'v2') {
    return { ok: false, reason: 'unsupported_version' };
  }
  if (typeof legacy !== 'string') return { ok: false, reason: 'bad_signature', version: 'v2' };
  const expected = signatureV2(request.clientSecret, request.method, request.uri, request.rawBody);
  return secretsEqual(expected, legacy.trim().toLowerCase())
    ? { ok: true, version: 'v2' }
    : { ok: false, reason: 'bad_signature', version: 'v2' };
}

function verifyV3(request: SignedRequest, signature: string | string[]): SignatureCheck {
  const timestamp = header(request.headers, V3_TIMESTAMP);
  if (timestamp === undefined) return { ok: false, reason: 'missing_timestamp', version: 'v3' };
  if (typeof timestamp !== 'string' || !/^\d{1,16}$/.test(timestamp.trim())) {
    return { ok: false, reason: 'invalid_timestamp', version: 'v3' };
  }
  const sentAt = Number(timestamp.trim());
  const now = request.now ?? Date.now();
  if (now - sentAt > (request.maxAgeMs ?? SIGNATURE_MAX_AGE_MS)) {
    return { ok: false, reason: 'stale_timestamp', version: 'v3' };
  }
  if (sentAt - now > (request.maxFutureSkewMs ?? SIGNATURE_MAX_FUTURE_SKEW_MS)) {
    return { ok: false, reason: 'future_timestamp', version: 'v3' };
  }
  if (typeof signature !== 'string') return { ok: false, reason: 'bad_signature', version: 'v3' };
  const expected = signatureV3(request.clientSecret, request.method, request.uri, request.rawBody, timestamp.trim());
  return secretsEqual(expected, signature.trim())
    ? { ok: true, version: 'v3' }
    : { ok: false, reason: 'bad_signature', version: 'v3' };
}

/** The v2 signature: hex SHA-256 of client secret + method + URI (as called) + body. */
export function signatureV2(clientSecret: string, method: string, uri: string, rawBody?: string | Buffer): string {
  return createHash('sha256')
    .update(`${clientSecret}${method.toUpperCase()}${uri}`, 'utf8')
    .update(body(rawBody))
    .digest('hex');
}

/** The v3 signature: base64 HMAC-SHA256, keyed with the client secret, of method + decoded URI + body + timestamp. */
export function signatureV3(
  clientSecret: string,
  method: string,
  uri: string,
  rawBody: string | Buffer | undefined,
  timestamp: string,
): string {
  return createHmac('sha256', clientSecret)
    .update(`${method.toUpperCase()}${decodeV3Uri(uri)}`, 'utf8')
    .update(body(rawBody))
    .update(timestamp, 'utf8')
    .digest('base64');
}

/** The URI as HubSpot signs it in v3: only the characters its instructions list are decoded, each once. */
export function decodeV3Uri(uri: string): string {
  return uri.replace(V3_ENCODED, (_match, hex: string) => V3_DECODED[hex.toUpperCase()]);
}

/** The parts of an incoming request that locate it; a FastifyRequest or Node IncomingMessage fits. */
export interface InboundRequest {
  /** Path and query as received (Node's `request.url`). */
  url: string;
  headers: HeaderBag;
  /** The protocol of the connection that reached this process, used when no proxy header says otherwise. */
  protocol?: string;
}

/**
 * The full URI HubSpot called, as it signed it: `publicBaseUrl` (PUBLIC_BASE_URL: the public origin plus
 * any path prefix a proxy strips) followed by the path and query when it is set; otherwise rebuilt from
 * X-Forwarded-Proto and X-Forwarded-Host (the first, client-facing, value of each) or the Host header.
 * Rebuilding trusts those headers, so deployments behind a proxy should set PUBLIC_BASE_URL.
 */
export function hubSpotRequestUri(request: InboundRequest, publicBaseUrl?: string): string {
  const path = pathAndQuery(request.url);
  if (publicBaseUrl) return `${publicBaseUrl.replace(/\/+$/, '')}${path}`;
  const proto = firstListValue(header(request.headers, 'x-forwarded-proto')) ?? request.protocol ?? 'http';
  const host =
    firstListValue(header(request.headers, 'x-forwarded-host')) ??
    firstListValue(header(request.headers, 'host')) ??
    firstListValue(header(request.headers, ':authority'));
  if (!host) throw new Error('cannot rebuild the URI HubSpot called: the request has no Host header and PUBLIC_BASE_URL is unset');
  return `${proto.toLowerCase().replace(/:$/, '')}://${host}${path}`;
}

function pathAndQuery(url: string): string {
  const absolute = /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*/i.exec(url);
  const path = absolute ? url.slice(absolute[0].length) : url;
  return path.startsWith('/') ? path : `/${path}`;
}

function firstListValue(value: string | string[] | undefined): string | undefined {
  const raw = Array.isArray(value) ? value[0] : value;
  const first = raw?.split(',')[0]?.trim();
  return first ? first : undefined;
}

/** A header by name in any case; a repeated header comes back as its list of values. */
function header(headers: HeaderBag, name: string): string | string[] | undefined {
  const exact = headers[name];
  if (exact !== undefined) return single(exact);
  for (const key of Object.keys(headers)) {
    if (key.toLowerCase() === name && headers[key] !== undefined) return single(headers[key]);
  }
  return undefined;
}

function single(value: string | string[] | undefined): string | string[] | undefined {
  return Array.isArray(value) && value.length === 1 ? value[0] : value;
}

function body(rawBody: string | Buffer | undefined): Buffer {
  if (rawBody === undefined) return Buffer.alloc(0);
  return typeof rawBody === 'string' ? Buffer.from(rawBody, 'utf8') : rawBody;
}
