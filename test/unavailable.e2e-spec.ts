import { randomUUID } from 'node:crypto';
import { AddressInfo, connect, Socket } from 'node:net';
import { Client } from 'pg';
import { configFor, envFor, eventually, HttpClient, isolate, Isolation, loggingErrors, newPortal, startOffload } from './support/offload-harness';
import { createPgCluster, PgCluster } from './support/pg-cluster';
import { firstAnswer, freePort, spawnOffload, START_WITHIN_MS, stopAll } from './support/spawned-offload';

/** How long each phase keeps asking: a few dozen requests of each kind, whatever the machine's speed. */
const ASKING_MS = 2_000;

describe('while PostgreSQL is down or starting, the API answers 503 unavailable, never 500', () => {
  let cluster: PgCluster;
  let isolation: Isolation;
  let client: HttpClient;
  let jobId: string;

  beforeAll(async () => {
    cluster = await createPgCluster();
    isolation = await isolate({ postgres: cluster.url });
    const port = await freePort();
    const api = spawnOffload(envFor(isolation, { ROLE: 'api', PORT: String(port), LOG_LEVEL: 'fatal' }));
    if ((await firstAnswer(api, '/health/ready', START_WITHIN_MS))?.status !== 200) throw new Error(`the API did not start:\n${api.stderr()}`);
    ({ client } = await newPortal(`http://127.0.0.1:${port}`));
    jobId = (await client.post('/v1/jobs', { type: 'noop' })).body.id;
  });

  afterAll(async () => {
    await stopAll();
    await cluster?.start().catch(() => undefined);
    await isolation?.cleanup().catch(() => undefined);
    await cluster?.drop();
  });

  /** POST /v1/jobs, GET /v1/jobs/:id and GET /health/ready, over and over for ASKING_MS: each distinct answer, counted. */
  async function answersFor(ms: number): Promise<Record<string, number>> {
    const seen: Record<string, number> = {};
    const count = (what: string, answer: { status: number; body: any }) => {
      const key = `${what} ${answer.status} ${answer.body?.error?.code ?? ''}`.trim();
      seen[key] = (seen[key] ?? 0) + 1;
    };
    const until = Date.now() + ms;
    while (Date.now() < until) {
      const [enqueued, read, ready] = await Promise.all([
        client.post('/v1/jobs', { type: 'noop', idempotencyKey: randomUUID() }),
        client.get(`/v1/jobs/${jobId}`),
        client.get('/health/ready'),
      ]);
      count('POST /v1/jobs', enqueued);
      count('GET /v1/jobs/:id', read);
      count('GET /health/ready', ready);
    }
    return seen;
  }

  const UNAVAILABLE = ['POST /v1/jobs 503 unavailable', 'GET /v1/jobs/:id 503 unavailable', 'GET /health/ready 503 unavailable'];

  it('while it is down (stopped with -m immediate)', async () => {
    await cluster.crash();
    const seen = await answersFor(ASKING_MS);
    expect(Object.keys(seen).sort()).toEqual([...UNAVAILABLE].sort());
  });

  it('while it is starting and refuses connections with 57P03', async () => {
    await cluster.startRecovering();
    const refusal = await new Client({ connectionString: isolation.databaseUrl }).connect().then(
      () => undefined,
      (error: { code?: string }) => error.code,
    );
    expect(refusal).toBe('57P03');
    const seen = await answersFor(ASKING_MS);
    expect(Object.keys(seen).sort()).toEqual([...UNAVAILABLE].sort());
  });

  it('and serves again once it is up, with nothing written while it was not', async () => {
    await cluster.start();
    await eventually(() => client.get('/health/ready'), (answer) => answer.status === 200, 30_000);
    expect((await client.get(`/v1/jobs/${jobId}`)).status).toBe(200);
    expect((await client.post('/v1/jobs', { type: 'noop', idempotencyKey: 'after' })).status).toBe(202);
    const pg = loggingErrors(new Client({ connectionString: isolation.databaseUrl }), 'PostgreSQL');
    await pg.connect();
    const { rows } = await pg.query('SELECT idempotency_key FROM jobs ORDER BY created_at');
    await pg.end();
    expect(rows.map((row) => row.idempotency_key)).toEqual([expect.any(String), 'after']);
  });
});

describe('a request that arrives while the server is closing', () => {
  let isolation: Isolation;

  beforeAll(async () => {
    isolation = await isolate();
  });

  afterAll(async () => {
    await isolation?.cleanup();
  });

  it("is answered 503 unavailable in the contract's shape, and its connection closed", async () => {
    const api = await startOffload(configFor(isolation, { ROLE: 'api' }));
    const { client } = await newPortal(api.url);
    const server = api.app.getHttpServer();
    // A connection in the middle of sending its request: not idle, so closing waits for it.
    const socket: Socket = connect((server.address() as AddressInfo).port, '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.write(`GET /v1/handlers HTTP/1.1\r\nHost: offload\r\nAuthorization: Bearer ${client.token}\r\n`);
    let received = '';
    socket.on('data', (chunk: Buffer) => (received += chunk.toString()));
    const ended = new Promise((resolve) => socket.once('close', resolve));

    const closed = api.close();
    await eventually(async () => server.listening, (listening) => !listening, 30_000);
    socket.write('\r\n');
    await ended;
    await closed;

    const [head, body] = received.split('\r\n\r\n');
    expect(head).toMatch(/^HTTP\/1\.1 503 /);
    expect(head.toLowerCase()).toContain('connection: close');
    expect(JSON.parse(body)).toEqual({ error: { code: 'unavailable', message: expect.any(String) } });
  });
});
