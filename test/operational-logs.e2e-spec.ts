import { KafkaMock, startKafkaMock } from './support/kafka-mock';
import { eventually, HttpClient, isolate, Isolation, newPortal } from './support/offload-harness';
import { firstAnswer, freePort, SpawnedOffload, spawnOffload, START_WITHIN_MS, stop, stopAll, validEnv } from './support/spawned-offload';

/** Every stdout line, parsed: a line that is not JSON fails the test. */
function logLines(spawned: SpawnedOffload): Array<Record<string, any>> {
  return spawned
    .stdout()
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => {
      try {
        return JSON.parse(line);
      } catch {
        throw new Error(`stdout holds a line that is not JSON: ${line}`);
      }
    });
}

describe('operational logs, as the compiled service writes them', () => {
  let isolation: Isolation;
  let kafka: KafkaMock;
  let offload: SpawnedOffload;
  let url: string;

  beforeAll(async () => {
    isolation = await isolate();
    kafka = await startKafkaMock(1);
    const port = await freePort();
    offload = spawnOffload({ ...validEnv(isolation, port), ROLE: 'all', LOG_LEVEL: 'info', KAFKA_BROKERS: kafka.brokers.join(',') });
    expect((await firstAnswer(offload, '/health/ready', START_WITHIN_MS))?.status).toBe(200);
    url = `http://127.0.0.1:${port}`;
  });

  afterAll(async () => {
    await stopAll();
    await kafka?.stop();
    await isolation?.cleanup();
  });

  it('writes one line per failed attempt and per final failure, with the job, its attempt, the error code and the trace', async () => {
    const { portal, client } = await newPortal(url);
    const retried = await client.post('/v1/jobs', { type: 'noop', input: { failTimes: 1 } });
    const fatal = await client.post('/v1/jobs', { type: 'noop', input: { fatal: true } });
    await eventually(
      async () => Promise.all([client.get(`/v1/jobs/${retried.body.id}`), client.get(`/v1/jobs/${fatal.body.id}`)]),
      ([a, b]) => a.body.status === 'succeeded' && b.body.status === 'failed',
    );
    const lines = await eventually(
      async () => logLines(offload),
      (all) => all.some((line) => line.event === 'job.failed' && line.jobId === fatal.body.id),
    );
    const about = (jobId: string, event: string) => lines.filter((line) => line.jobId === jobId && line.event === event);

    expect(about(retried.body.id, 'job.attempt_failed')).toEqual([
      expect.objectContaining({ type: 'noop', portalId: portal.id, attempt: 1, errorCode: expect.any(String), retryable: true, traceId: retried.body.traceId }),
    ]);
    expect(about(retried.body.id, 'job.failed')).toEqual([]);

    const attempt = about(fatal.body.id, 'job.attempt_failed');
    const final = about(fatal.body.id, 'job.failed');
    expect(attempt).toEqual([expect.objectContaining({ type: 'noop', portalId: portal.id, attempt: 1, retryable: false, traceId: fatal.body.traceId })]);
    expect(final).toEqual([expect.objectContaining({ type: 'noop', portalId: portal.id, attempt: 1, errorCode: attempt[0].errorCode, traceId: fatal.body.traceId })]);
    expect(final[0].level).toBeGreaterThanOrEqual(50);
  });

  it('logs each request with its reqId, answered as x-request-id, keeping a caller id that is a plain token', async () => {
    const { client } = await newPortal(url);
    const own = await client.request('GET', '/v1/handlers', undefined, { 'x-request-id': 'caller-req-42' });
    const odd = await client.request('GET', '/v1/handlers', undefined, { 'x-request-id': 'not a token\u00e9' });
    expect(own.headers.get('x-request-id')).toBe('caller-req-42');
    const minted = odd.headers.get('x-request-id')!;
    expect(minted).toMatch(/^[0-9a-f-]{36}$/);
    const lines = await eventually(
      async () => logLines(offload).filter((line) => line.msg === 'request'),
      (requests) => requests.some((line) => line.reqId === minted),
    );
    expect(lines.find((line) => line.reqId === 'caller-req-42')).toMatchObject({ method: 'GET', route: '/v1/handlers', status: 200, durationMs: expect.any(Number) });
  });

  it('writes only JSON lines on stdout and nothing on stderr, kafkajs included, through a stop', async () => {
    // The relay has connected to Kafka and published.
    await eventually(async () => new HttpClient(url).get('/metrics'), (answer) => /offload_outbox_events_published_total\{[^}]*\} [1-9]/.test(answer.body));
    expect(await stop(offload, 30_000)).toEqual({ code: 0, signal: null });
    expect(offload.stderr()).toBe('');
    const lines = logLines(offload);
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines) expect(line).toMatchObject({ level: expect.any(Number), time: expect.any(Number) });
  });
});
