import { Logger } from '@nestjs/common';
import type { HandlerSettings } from './handler-settings';
import { EgressHttp, JobContext, JobHubSpot, JobRef } from './job-handler';

/** What a handler's unit test sets; everything else gets a value that fails loudly if the handler uses it. */
export interface TestContextOptions<I, C, S> {
  input: I;
  job?: Partial<JobRef>;
  config?: C;
  settings?: S;
  secrets?: Record<string, string>;
  http?: EgressHttp;
  hubspot?: Partial<JobHubSpot>;
  signal?: AbortSignal;
}

/** A JobContext for a handler's unit tests, without a worker around it. */
export function testJobContext<I, C = undefined, S = HandlerSettings>(options: TestContextOptions<I, C, S>): JobContext<I, C, S> {
  const unavailable = (what: string) => () => {
    throw new Error(`${what} is not available in this test: pass it to testJobContext`);
  };
  return {
    input: options.input,
    job: { id: 'job-1', type: 'test', portalId: 'portal-1', attempt: 1, maxAttempts: 3, object: null, callbackId: null, traceId: 'trace-1', ...options.job },
    signal: options.signal ?? new AbortController().signal,
    logger: new Logger('test'),
    config: options.config as C,
    settings:
      options.settings ??
      (new Proxy({}, { get: (_, name) => unavailable(`context.settings.${String(name)}`)() }) as S),
    secrets: { get: async (name) => options.secrets?.[name] },
    http: options.http ?? { fetch: unavailable('context.http') },
    hubspot: {
      readProperties: unavailable('context.hubspot.readProperties'),
      owners: unavailable('context.hubspot.owners'),
      call: unavailable('context.hubspot.call'),
      ...options.hubspot,
    },
  };
}
