import { setTimeout as sleep } from 'node:timers/promises';
import { gzipSync } from 'node:zlib';
import { Client } from 'pg';
import { RATE_WINDOW_MS } from '../src/request-limits/request-rate-limiter';
import { configFor, envFor, HttpClient, isolate, Isolation, loggingErrors, newPortal, RunningOffload, startOffload } from './support/offload-harness';
import { firstAnswer, freePort, spawnOffload, START_WITHIN_MS, stopAll } from './support/spawned-offload';

/** Waits, if need be, for a rate window with at least half of it left, so a burst of requests falls in one window. */
async function freshWindow(): Promise<void> {
  const into = Date.now() % RATE_WINDOW_MS;
  if (into > RATE_WINDOW_MS / 2) await sleep(RATE_WINDOW_MS - into + 20);
}

describe('request rate limits, shared by every API process', () => {
  const KEY_LIMIT = 6;
  const IP_LIMIT = 10;
  let isolation: Isolation;
  let first: RunningOffload;
  let second: RunningOffload;

  beforeAll(async () => {
    isolation = await isolate();
    const env = { ROLE: 'api', RATE_LIMIT_KEY_PER_10S: String(KEY_LIMIT), RATE_LIMIT_IP_PER_10S: String(IP_LIMIT) };
    first = await startOffload(configFor(isolation, env));
    second = await startOffload(configFor(isolation, env));
  });

  afterAll(async () => {
    await Promise.all([first?.close(), second?.close()]);
    await isolation?.cleanup();
  });

  /** A request from a client address of the test's choosing (the API trusts X-Forwarded-For, as behind a load balancer). */
  const from = (ip: string, client: HttpClient, path: string) => client.request('GET', path, undefined, { 'x-forwarded-for': ip });

  it('answers 429 rate_limited with Retry-After once a key has made its requests of the window, on any process', async () => {
    const { client, portal, admin } = await newPortal(first.url);
    const other = (await admin.post(`/v1/admin/portals/${portal.id}/api-keys`)).body.apiKey as string;
    const onSecond = new HttpClient(second.url, client.token);
    await freshWindow();
    for (let i = 0; i < KEY_LIMIT; i++) {
      const answer = await from(`198.51.100.${i}`, i % 2 ? onSecond : client, '/v1/handlers');
      expect({ i, status: answer.status }).toEqual({ i, status: 200 });
    }
    const refused = await from('198.51.100.99', onSecond, '/v1/handlers');
    expect(refused.status).toBe(429);
    expect(refused.body.error).toMatchObject({ code: 'rate_limited', message: expect.stringContaining('API key') });
    const retryAfter = Number(refused.headers.get('retry-after'));
    expect(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= RATE_WINDOW_MS / 1000).toBe(true);

    // Another key of the same portal has its own count; probes are never limited.
    expect((await from('198.51.100.98', new HttpClient(first.url, other), '/v1/handlers')).status).toBe(200);
    for (const path of ['/health/ready', '/health/live', '/metrics']) expect((await from('198.51.100.97', client, path)).status).toBe(200);
  });

  it('limits a client address however many keys it tries, with or without one', async () => {
    const anonymous = new HttpClient(first.url);
    await freshWindow();
    const answers = [];
    for (let i = 0; i <= IP_LIMIT; i++) answers.push(await from('203.0.113.7', i % 2 ? anonymous.withToken(`ofk_guess_${i}`) : anonymous, '/v1/jobs/x'));
    expect(answers.slice(0, IP_LIMIT).map((answer) => answer.status)).toEqual(Array(IP_LIMIT).fill(401));
    expect(answers[IP_LIMIT].status).toBe(429);
    expect(answers[IP_LIMIT].body.error).toMatchObject({ code: 'rate_limited', message: expect.stringContaining('client address') });
    expect(answers[IP_LIMIT].headers.get('retry-after')).toMatch(/^\d+$/);
    // Another address is counted on its own.
    expect((await from('203.0.113.8', anonymous, '/v1/jobs/x')).status).toBe(401);
  });
});

describe('requests too large, or in a form the API does not read', () => {
  // A process of its own: in the test's process, client and server would share one event loop,
  // and the server could not answer while the client is still writing.
  let isolation: Isolation;
  let offload: { url: string };
  let client: HttpClient;
  let pg: Client;

  beforeAll(async () => {
    isolation = await isolate();
    const port = await freePort();
    const api = spawnOffload(envFor(isolation, { ROLE: 'api', PORT: String(port) }));
    if ((await firstAnswer(api, '/health/ready', START_WITHIN_MS))?.status !== 200) throw new Error(`the API did not start:\n${api.stderr()}`);
    offload = { url: `http://127.0.0.1:${port}` };
    ({ client } = await newPortal(offload.url));
    pg = loggingErrors(new Client({ connectionString: isolation.databaseUrl }), 'PostgreSQL');
    await pg.connect();
  });

  afterAll(async () => {
    await pg?.end();
    await stopAll();
    await isolation?.cleanup();
  });

  const jobCount = async () => Number((await pg.query('SELECT count(*) FROM jobs')).rows[0].count);

  it('lets clients sending 2 MiB (or 4) read the 413 rather than a reset, and keeps their connections usable', async () => {
    // Answered before the body is read: closed at once, the connection would meet the rest of the
    // body with a reset, and a client still writing it would fail with EPIPE instead of reading 413.
    const outcomes = new Map<string, number>();
    await Promise.all(
      Array.from({ length: 6 }, async () => {
        for (const mebibytes of [2, 4, 2, 4, 2]) {
          const body = JSON.stringify({ type: 'noop', input: { pad: 'x'.repeat(mebibytes * 1024 * 1024) } });
          const outcome = await fetch(`${offload.url}/v1/jobs`, {
            method: 'POST',
            headers: { authorization: `Bearer ${client.token}`, 'content-type': 'application/json' },
            body,
          }).then(
            async (response) => `${response.status} ${((await response.json()) as { error?: { code?: string } }).error?.code}`,
            (error: Error & { cause?: { code?: string } }) => error.cause?.code ?? error.message,
          );
          outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
        }
      }),
    );
    expect(Object.fromEntries(outcomes)).toEqual({ '413 payload_too_large': 30 });
    expect((await client.post('/v1/jobs', { type: 'noop' })).status).toBe(202);
    expect(await jobCount()).toBe(1);
  });

  it('answers headers over 16 KB with 431 in the contract shape', async () => {
    const answer = await client.request('GET', '/v1/handlers', undefined, { 'x-padding': 'a'.repeat(20_000) });
    expect(answer.status).toBe(431);
    expect(answer.body.error).toMatchObject({ code: 'headers_too_large', message: expect.any(String) });
    expect((await client.get('/v1/handlers')).status).toBe(200);
  });

  it('refuses a body in any Content-Encoding but identity with 415, and reads none of it', async () => {
    const json = JSON.stringify({ type: 'noop', idempotencyKey: 'encoded' });
    const before = await jobCount();
    for (const [encoding, body] of [
      ['gzip', gzipSync(json)],
      ['br', json],
      ['deflate, gzip', json],
    ] as const) {
      const response = await fetch(`${offload.url}/v1/jobs`, {
        method: 'POST',
        headers: { authorization: `Bearer ${client.token}`, 'content-type': 'application/json', 'content-encoding': encoding },
        body,
      });
      const answer = { status: response.status, code: ((await response.json()) as { error?: { code?: string } }).error?.code };
      expect({ encoding, ...answer }).toEqual({ encoding, status: 415, code: 'unsupported_media_type' });
    }
    expect(await jobCount()).toBe(before);
    const plain = await client.post('/v1/jobs', json, { 'content-type': 'application/json', 'content-encoding': 'identity' });
    expect(plain.status).toBe(202);
  });
});
