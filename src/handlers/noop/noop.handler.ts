import { Type } from '@sinclair/typebox';
import { setTimeout as sleep } from 'node:timers/promises';
import { HandlerDeclaration, InputOf, JobContext, JobFailure, JobHandler, JobHandlerOf } from '../../registry/job-handler';

export const noopDeclaration = {
  type: 'noop',
  version: '1.0.0',
  owner: 'platform',
  objectTypes: ['CONTACT', 'COMPANY', 'DEAL'],
  description: 'Diagnostic job for canaries, benchmarks and pipeline tests: sleeps, fails on request, then succeeds.',
  input: Type.Object(
    {
      sleepMs: Type.Optional(Type.Integer({ minimum: 0, maximum: 10_000, description: 'How long each run sleeps' })),
      failTimes: Type.Optional(
        Type.Integer({ minimum: 0, maximum: 10, description: 'How many runs fail (retryably) before one succeeds' }),
      ),
      fatal: Type.Optional(Type.Boolean({ description: 'Fail the first run with a non-retryable error' })),
    },
    { additionalProperties: false },
  ),
  outputs: {
    ok: { hubspotType: 'bool', description: 'Always true on success' },
    attempts: { hubspotType: 'number', description: 'The run that succeeded, counting from 1' },
  },
  timeoutMs: 30_000,
  // failTimes goes up to 10, so up to 11 runs must be allowed.
  retry: { attempts: 11, backoffMs: 100, maxBackoffMs: 2_000 },
  concurrency: 200,
} satisfies HandlerDeclaration;

type NoopInput = InputOf<typeof noopDeclaration>;
type NoopOutput = { ok: boolean; attempts: number };

@JobHandlerOf(noopDeclaration)
export class NoopHandler implements JobHandler<NoopInput, NoopOutput> {
  async run({ input, job, signal }: JobContext<NoopInput>): Promise<NoopOutput> {
    if (input.sleepMs) await sleep(input.sleepMs, undefined, { signal });
    if (input.fatal) {
      throw new JobFailure('noop_fatal', 'noop was asked to fail fatally', { retryable: false });
    }
    if (job.attempt <= (input.failTimes ?? 0)) {
      throw new JobFailure('noop_failure', `noop was asked to fail ${input.failTimes} times (run ${job.attempt})`, {
        retryable: true,
      });
    }
    return { ok: true, attempts: job.attempt };
  }
}
