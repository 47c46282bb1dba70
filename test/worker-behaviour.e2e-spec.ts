import { Type } from '@sinclair/typebox';
import { NoopHandler } from '../src/handlers/noop/noop.handler';
import { JobHandlerOf } from '../src/registry/job-handler';
import { configFor, eventually, HttpClient, isolate, Isolation, newPortal, RunningOffload, startOffload } from './support/offload-harness';
import { CrashyHandler, GarbledHandler, LiarHandler, StuckHandler, ThrottledHandler } from './support/test-handlers';

describe('worker behaviour', () => {
  let isolation: Isolation;
  let offload: RunningOffload;
  let client: HttpClient;

  beforeAll(async () => {
    isolation = await isolate();
    offload = await startOffload(configFor(isolation), [NoopHandler, LiarHandler, StuckHandler, CrashyHandler, ThrottledHandler, GarbledHandler]);
    ({ client } = await newPortal(offload.url));
  });

  afterAll(async () => {
    await offload?.close();
    await isolation?.cleanup();
  });

  const finished = (id: string) =>
    eventually(
      () => client.get(`/v1/jobs/${id}?wait=2`),
      (answer) => ['succeeded', 'failed', 'cancelled'].includes(answer.body.status),
    );

  it('fails loudly, without retrying or keeping them, when a handler returns outputs that break its declaration', async () => {
    const created = await client.post('/v1/jobs', { type: 'liar' });
    const done = await finished(created.body.id);
    expect(done.body).toMatchObject({
      status: 'failed',
      attempts: 1,
      error: { code: 'output_invalid', retryable: false },
    });
    expect(done.body.output).toBeUndefined();
  });

  it('times a run out even when the handler ignores its signal, and retries within the policy', async () => {
    const created = await client.post('/v1/jobs', { type: 'stuck' });
    const done = await finished(created.body.id);
    expect(done.body).toMatchObject({ status: 'failed', attempts: 2, error: { code: 'timeout', retryable: true } });
  });

  it('treats an unexpected exception as retryable, then fails when the attempts run out', async () => {
    const created = await client.post('/v1/jobs', { type: 'crashy' });
    const done = await finished(created.body.id);
    expect(done.body).toMatchObject({ status: 'failed', attempts: 3, error: { code: 'handler_error', message: 'kaboom' } });
  });

  it('records an error message PostgreSQL could not store with U+FFFD in place, and the runs that end beside it as they were', async () => {
    const batch = await client.post('/v1/jobs/batch', { jobs: [{ type: 'garbled' }, ...Array.from({ length: 5 }, () => ({ type: 'noop' }))] });
    const [garbled, ...noops] = await Promise.all(batch.body.results.map((result: { job: { id: string } }) => finished(result.job.id)));
    expect(garbled.body).toMatchObject({ status: 'failed', attempts: 1, error: { code: 'provider_garbage', message: 'the provider sent \uFFFD and \uFFFD' } });
    for (const noop of noops) expect(noop.body.status).toBe('succeeded');
  });

  it('waits as long as the remote side asked before the retry', async () => {
    const created = await client.post('/v1/jobs', { type: 'throttled' });
    const done = await finished(created.body.id);
    expect(done.body).toMatchObject({ status: 'succeeded', attempts: 2, output: { done: true } });
    const elapsed = Date.parse(done.body.finishedAt) - Date.parse(done.body.startedAt);
    expect(elapsed).toBeGreaterThanOrEqual(650);
  });

  it('refuses to start when a handler declaration is malformed or a type is declared twice', async () => {
    @JobHandlerOf({
      type: 'noop',
      version: '2.0.0',
      owner: 'someone',
      description: 'a second noop',
      input: Type.Object({}),
      outputs: {},
    })
    class SecondNoop {
      async run() {
        return {};
      }
    }
    await expect(startOffload(configFor(isolation), [NoopHandler, SecondNoop])).rejects.toThrow(/"noop" is declared twice/);
  });
});
