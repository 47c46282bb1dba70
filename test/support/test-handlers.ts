import { Type } from '@sinclair/typebox';
import { JobFailure, JobHandlerOf } from '../../src/registry/job-handler';

const base = { version: '1.0.0', owner: 'tests', input: Type.Object({}) };

/** Returns outputs that break its own declaration. */
@JobHandlerOf({
  ...base,
  type: 'liar',
  description: 'returns a number where it declared a string',
  outputs: { label: { hubspotType: 'string', description: 'a label' } },
})
export class LiarHandler {
  async run() {
    return { label: 42 } as never;
  }
}

/** Ignores its stop signal and never finishes. */
@JobHandlerOf({
  ...base,
  type: 'stuck',
  description: 'hangs past its timeout',
  outputs: {},
  timeoutMs: 200,
  retry: { attempts: 2, backoffMs: 10, maxBackoffMs: 10 },
})
export class StuckHandler {
  run() {
    return new Promise<never>(() => undefined);
  }
}

/** Throws an unexpected error every time. */
@JobHandlerOf({
  ...base,
  type: 'crashy',
  description: 'throws a plain Error',
  outputs: {},
  retry: { attempts: 3, backoffMs: 10, maxBackoffMs: 20 },
})
export class CrashyHandler {
  async run(): Promise<never> {
    throw new Error('kaboom');
  }
}

/** Asks for a retry after a given delay, as a rate-limited remote would. */
@JobHandlerOf({
  ...base,
  type: 'throttled',
  description: 'fails once with a Retry-After of 700 ms',
  outputs: { done: { hubspotType: 'bool', description: 'true' } },
  retry: { attempts: 2, backoffMs: 10, maxBackoffMs: 10 },
})
export class ThrottledHandler {
  async run({ job }: { job: { attempt: number } }) {
    if (job.attempt === 1) throw new JobFailure('rate_limited', 'slow down', { retryable: true, retryAfterMs: 700 });
    return { done: true };
  }
}

/** Fails with a message that quotes bytes PostgreSQL cannot store, as a careless provider's error would. */
@JobHandlerOf({
  ...base,
  type: 'garbled',
  description: 'fails with U+0000 and an unpaired surrogate in its error message',
  outputs: {},
})
export class GarbledHandler {
  async run(): Promise<never> {
    throw new JobFailure('provider_garbage', 'the provider sent \u0000 and \ud800', { retryable: false });
  }
}
