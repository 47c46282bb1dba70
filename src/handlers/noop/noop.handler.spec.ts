import { testJobContext } from '../../registry/job-context.testing';
import { JobFailure } from '../../registry/job-handler';
import { NoopHandler } from './noop.handler';

function context(input: Record<string, unknown>, attempt = 1, signal = new AbortController().signal) {
  return testJobContext({ input, signal, job: { type: 'noop', attempt, maxAttempts: 11 } });
}

describe('NoopHandler', () => {
  const handler = new NoopHandler();

  it('succeeds with the run number', async () => {
    await expect(handler.run(context({}, 1))).resolves.toEqual({ ok: true, attempts: 1 });
  });

  it('fails retryably failTimes times, then succeeds', async () => {
    await expect(handler.run(context({ failTimes: 2 }, 1))).rejects.toMatchObject({ code: 'noop_failure', retryable: true });
    await expect(handler.run(context({ failTimes: 2 }, 2))).rejects.toBeInstanceOf(JobFailure);
    await expect(handler.run(context({ failTimes: 2 }, 3))).resolves.toEqual({ ok: true, attempts: 3 });
  });

  it('fails fatally on request', async () => {
    await expect(handler.run(context({ fatal: true }))).rejects.toMatchObject({ code: 'noop_fatal', retryable: false });
  });

  it('stops sleeping when its signal is aborted', async () => {
    const controller = new AbortController();
    const run = handler.run(context({ sleepMs: 10_000 }, 1, controller.signal));
    controller.abort('cancelled');
    await expect(run).rejects.toBeDefined();
  });
});
