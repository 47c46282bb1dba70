import { createHash, createHmac } from 'node:crypto';
import { HeaderBag, decodeV3Uri, hubSpotRequestUri, verifyHubSpotSignature } from './request-signature';

// The example secret and URI of HubSpot's own v2 documentation.
const SECRET = 'yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy';
const DOC_URI = 'https://www.example.com/webhook_uri';
const DOC_BODY = '{"example_field":"example_value"}';
const NOW = 1_700_000_100_000;

function v2(secret: string, method: string, uri: string, body: string): string {
  return createHash('sha256').update(secret + method + uri + body).digest('hex');
}

function v3(secret: string, method: string, signedUri: string, body: string, timestamp: string): string {
  return createHmac('sha256', secret).update(method + signedUri + body + timestamp).digest('base64');
}

function v2Headers(signature: string): HeaderBag {
  return { 'x-hubspot-signature': signature, 'x-hubspot-signature-version': 'v2' };
}

function v3Headers(signature: string, timestamp: number | string): HeaderBag {
  return { 'x-hubspot-signature-v3': signature, 'x-hubspot-request-timestamp': String(timestamp) };
}

describe('verifyHubSpotSignature', () => {
  describe('v2', () => {
    it("accepts the examples of HubSpot's documentation", () => {
      expect(
        verifyHubSpotSignature({
          method: 'GET',
          uri: DOC_URI,
          headers: v2Headers('eee2dddcc73c94d699f5e395f4b9d454a069a6855fbfa152e91e88823087200e'),
          clientSecret: SECRET,
        }),
      ).toEqual({ ok: true, version: 'v2' });
      expect(
        verifyHubSpotSignature({
          method: 'POST',
          uri: DOC_URI,
          rawBody: DOC_BODY,
          headers: v2Headers('9569219f8ba981ffa6f6f16aa0f48637d35d728c7e4d93d0d52efaa512af7900'),
          clientSecret: SECRET,
        }),
      ).toEqual({ ok: true, version: 'v2' });
    });

    it('accepts a signature computed independently, over a body given as bytes, in either hex case', () => {
      const uri = 'https://offload.example.com/v1/hubspot/actions/enrich?portal=42';
      const body = '{"callbackId":"ap-1-2-3","name":"Zoë"}';
      const signature = v2('s3cret', 'POST', uri, body);
      const request = { method: 'POST', uri, rawBody: Buffer.from(body, 'utf8'), clientSecret: 's3cret' };
      expect(verifyHubSpotSignature({ ...request, headers: v2Headers(signature) }).ok).toBe(true);
      expect(verifyHubSpotSignature({ ...request, headers: v2Headers(signature.toUpperCase()) }).ok).toBe(true);
    });

    it('signs the URI exactly as called: no percent-decoding', () => {
      const uri = 'https://offload.example.com/v1/hubspot/actions/x?email=a%40b.co';
      const headers = v2Headers(v2('s3cret', 'POST', uri, ''));
      expect(verifyHubSpotSignature({ method: 'POST', uri, headers, clientSecret: 's3cret' }).ok).toBe(true);
      expect(
        verifyHubSpotSignature({ method: 'POST', uri: decodeURIComponent(uri), headers, clientSecret: 's3cret' }),
      ).toEqual({ ok: false, reason: 'bad_signature', version: 'v2' });
    });

    it('rejects a tampered body, method, URI or secret', () => {
      const headers = v2Headers('9569219f8ba981ffa6f6f16aa0f48637d35d728c7e4d93d0d52efaa512af7900');
      const genuine = { method: 'POST', uri: DOC_URI, rawBody: DOC_BODY, headers, clientSecret: SECRET };
      const bad = { ok: false, reason: 'bad_signature', version: 'v2' };
      expect(verifyHubSpotSignature({ ...genuine, rawBody: DOC_BODY.replace('value', 'valuE') })).toEqual(bad);
      expect(verifyHubSpotSignature({ ...genuine, method: 'PUT' })).toEqual(bad);
      expect(verifyHubSpotSignature({ ...genuine, uri: `${DOC_URI}?x=1` })).toEqual(bad);
      expect(verifyHubSpotSignature({ ...genuine, uri: DOC_URI.replace('https', 'http') })).toEqual(bad);
      expect(verifyHubSpotSignature({ ...genuine, clientSecret: 'another-secret' })).toEqual(bad);
    });

    it('refuses v1 and an unversioned legacy signature', () => {
      const v1 = createHash('sha256').update(SECRET + DOC_BODY).digest('hex');
      const request = { method: 'POST', uri: DOC_URI, rawBody: DOC_BODY, clientSecret: SECRET };
      expect(
        verifyHubSpotSignature({ ...request, headers: { 'x-hubspot-signature': v1, 'x-hubspot-signature-version': 'v1' } }),
      ).toEqual({ ok: false, reason: 'unsupported_version' });
      expect(verifyHubSpotSignature({ ...request, headers: { 'x-hubspot-signature': v1 } })).toEqual({
        ok: false,
        reason: 'unsupported_version',
      });
    });
  });

  describe('v3', () => {
    const uri = 'https://www.example.com/webhook_uri?email=a%40b.co&tags=x%2Cy';
    const timestamp = 1_700_000_000_000;
    const signature = 'AqTJYLO/l+xqj0l56wHMaOth03Xo5C09Yh+kPcbvff4='; // openssl dgst -sha256 -hmac, over the decoded URI
    const genuine = { method: 'POST', uri, rawBody: DOC_BODY, clientSecret: SECRET, now: NOW };

    it('accepts a known vector whose URI needs decoding', () => {
      expect(verifyHubSpotSignature({ ...genuine, headers: v3Headers(signature, timestamp) })).toEqual({ ok: true, version: 'v3' });
    });

    it('accepts a signature computed independently, for a request without a body', () => {
      const headers = v3Headers('r3KKZGKCAis7hc/eM/k4wr0D0ZRQhbee2UGU0SAPfxM=', timestamp);
      expect(verifyHubSpotSignature({ method: 'GET', uri: DOC_URI, headers, clientSecret: SECRET, now: NOW }).ok).toBe(true);
      const fresh = v3Headers(v3('s3cret', 'GET', DOC_URI, '', String(NOW)), NOW);
      expect(verifyHubSpotSignature({ method: 'GET', uri: DOC_URI, headers: fresh, clientSecret: 's3cret', now: NOW }).ok).toBe(true);
    });

    it('decodes exactly the characters HubSpot lists, in either hex case, and no others', () => {
      const encoded = '/p?a=%3A%2F%3F%40%21%24%27%28%29%2A%2C%3B&b=%3a%2f&c=%20%25%2B%26%3D&d=%253A';
      expect(decodeV3Uri(encoded)).toBe("/p?a=:/?@!$'()*,;&b=:/&c=%20%25%2B%26%3D&d=%253A");
      const raw = `https://h.example${encoded}`;
      const signedOver = (uri: string) => v3Headers(v3('s3cret', 'POST', uri, '', String(NOW)), NOW);
      const check = (headers: HeaderBag) =>
        verifyHubSpotSignature({ method: 'POST', uri: raw, headers, clientSecret: 's3cret', now: NOW });
      expect(check(signedOver(`https://h.example${decodeV3Uri(encoded)}`)).ok).toBe(true);
      expect(check(signedOver(`https://h.example${decodeURIComponent(encoded)}`)).ok).toBe(false);
    });

    it('rejects a tampered body, method, URI or timestamp', () => {
      const headers = v3Headers(signature, timestamp);
      const bad = { ok: false, reason: 'bad_signature', version: 'v3' };
      expect(verifyHubSpotSignature({ ...genuine, headers, rawBody: `${DOC_BODY} ` })).toEqual(bad);
      expect(verifyHubSpotSignature({ ...genuine, headers, method: 'GET' })).toEqual(bad);
      expect(verifyHubSpotSignature({ ...genuine, headers, uri: uri.replace('a%40b', 'c%40b') })).toEqual(bad);
      expect(verifyHubSpotSignature({ ...genuine, headers: v3Headers(signature, timestamp + 1) })).toEqual(bad);
      expect(verifyHubSpotSignature({ ...genuine, headers: v3Headers(signature.toLowerCase(), timestamp) })).toEqual(bad);
    });

    it('rejects a timestamp older than 5 minutes and one too far ahead of this clock', () => {
      const at = (now: number) => verifyHubSpotSignature({ ...genuine, now, headers: v3Headers(signature, timestamp) });
      expect(at(timestamp + 5 * 60_000).ok).toBe(true);
      expect(at(timestamp + 5 * 60_000 + 1)).toEqual({ ok: false, reason: 'stale_timestamp', version: 'v3' });
      expect(at(timestamp - 60_000).ok).toBe(true);
      expect(at(timestamp - 60_001)).toEqual({ ok: false, reason: 'future_timestamp', version: 'v3' });
    });

    it('rejects a missing or malformed timestamp', () => {
      expect(verifyHubSpotSignature({ ...genuine, headers: { 'x-hubspot-signature-v3': signature } })).toEqual({
        ok: false,
        reason: 'missing_timestamp',
        version: 'v3',
      });
      for (const malformed of ['', 'abc', '1700000000000.5', '-1700000000000', '1e12']) {
        expect(verifyHubSpotSignature({ ...genuine, headers: v3Headers(signature, malformed) })).toEqual({
          ok: false,
          reason: 'invalid_timestamp',
          version: 'v3',
        });
      }
    });

    it('never falls back to v2 when a v3 signature is present', () => {
      const headers = {
        ...v3Headers(signature, timestamp),
        ...v2Headers(v2(SECRET, 'POST', uri, DOC_BODY)),
      };
      expect(verifyHubSpotSignature({ ...genuine, headers }).ok).toBe(true);
      expect(verifyHubSpotSignature({ ...genuine, headers, now: timestamp + 10 * 60_000 })).toEqual({
        ok: false,
        reason: 'stale_timestamp',
        version: 'v3',
      });
      expect(verifyHubSpotSignature({ ...genuine, headers: { ...headers, 'x-hubspot-signature-v3': 'forged=' } })).toEqual({
        ok: false,
        reason: 'bad_signature',
        version: 'v3',
      });
    });
  });

  it('reads headers whatever the case of their names', () => {
    const timestamp = String(NOW);
    const signature = v3('s3cret', 'POST', DOC_URI, DOC_BODY, timestamp);
    const request = { uri: DOC_URI, rawBody: DOC_BODY, clientSecret: 's3cret', now: NOW };
    const headers = { 'X-HubSpot-Signature-V3': signature, 'X-HUBSPOT-REQUEST-TIMESTAMP': timestamp };
    expect(verifyHubSpotSignature({ ...request, method: 'post', headers })).toEqual({ ok: true, version: 'v3' });
    const legacy = { 'X-HubSpot-Signature': v2('s3cret', 'POST', DOC_URI, DOC_BODY), 'X-HubSpot-Signature-Version': 'V2' };
    expect(verifyHubSpotSignature({ ...request, method: 'POST', headers: legacy })).toEqual({ ok: true, version: 'v2' });
  });

  it('answers missing_signature when the request is unsigned', () => {
    const headers = { 'content-type': 'application/json' };
    expect(verifyHubSpotSignature({ method: 'POST', uri: DOC_URI, headers, clientSecret: 's' })).toEqual({
      ok: false,
      reason: 'missing_signature',
    });
  });

  it('rejects a repeated signature header', () => {
    const signature = v2('s3cret', 'POST', DOC_URI, '');
    const headers = { 'x-hubspot-signature': [signature, signature], 'x-hubspot-signature-version': 'v2' };
    expect(verifyHubSpotSignature({ method: 'POST', uri: DOC_URI, headers, clientSecret: 's3cret' })).toEqual({
      ok: false,
      reason: 'bad_signature',
      version: 'v2',
    });
  });

  it('refuses to verify without a client secret', () => {
    expect(() => verifyHubSpotSignature({ method: 'POST', uri: DOC_URI, headers: {}, clientSecret: '' })).toThrow(/client secret/);
  });
});

describe('hubSpotRequestUri', () => {
  it('puts the path and query as received after PUBLIC_BASE_URL', () => {
    const path = '/v1/hubspot/actions/enrich?b=2&a=%40';
    const request = { url: path, headers: { host: 'internal:3000' }, protocol: 'http' };
    expect(hubSpotRequestUri(request, 'https://offload.example.com/')).toBe(`https://offload.example.com${path}`);
    expect(hubSpotRequestUri(request, 'https://example.com/offload')).toBe(`https://example.com/offload${path}`);
  });

  it('otherwise rebuilds it from the client-facing proxy headers', () => {
    const headers = { 'X-Forwarded-Proto': 'https, http', 'x-forwarded-host': 'hooks.example.com, lb.internal', host: 'pod:3000' };
    expect(hubSpotRequestUri({ url: '/v1/hubspot/webhooks/t', headers, protocol: 'http' })).toBe(
      'https://hooks.example.com/v1/hubspot/webhooks/t',
    );
  });

  it('falls back to the Host header and the connection protocol', () => {
    const headers = { host: 'offload.local:8080' };
    expect(hubSpotRequestUri({ url: '/x?y=1', headers, protocol: 'https' })).toBe('https://offload.local:8080/x?y=1');
    expect(hubSpotRequestUri({ url: '/x', headers: { host: 'offload.local' } })).toBe('http://offload.local/x');
  });

  it('keeps only the path and query of an absolute-form request target', () => {
    const request = { url: 'http://proxy.example:80/x?y=1', headers: {} };
    expect(hubSpotRequestUri(request, 'https://o.example')).toBe('https://o.example/x?y=1');
  });

  it('fails loudly when there is nothing to rebuild the URI from', () => {
    expect(() => hubSpotRequestUri({ url: '/x', headers: {} })).toThrow(/PUBLIC_BASE_URL/);
  });
});
