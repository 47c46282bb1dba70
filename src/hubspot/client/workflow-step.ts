import type { JobRecord } from '../../jobs/job-record';
import { MAX_STRING_OUTPUT } from '../../registry/handler-registry';
import type { RetryPolicy } from '../../registry/job-handler';
import { propertyValue } from './writeback-inputs';

/** The output a failed, cancelled or refused step carries: the error code and message, for the workflow to branch on. */
export const ERROR_OUTPUT = 'offload_error';

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
/** HubSpot's own default for a blocked step, and the longest Offload asks for. */
const MAX_BLOCK_MS = 7 * DAY_MS;

/**
 * What completes the step of an ended job: SUCCESS with its outputs, or FAIL_CONTINUE with the
 * error; both with the job's id and status (job_id, job_status). A failure also carries its code
 * as `errorCode`, which the action definition's execution rules match to show the workflow user a
 * message. Values are strings, as the callbacks API declares them (HubSpot reads them by the output's type).
 */
export function stepCompletion(job: Pick<JobRecord, 'id' | 'status' | 'output' | 'error'>): Record<string, string> {
  const identity = { job_id: job.id, job_status: job.status };
  if (job.status === 'succeeded') {
    const outputs = Object.entries(job.output ?? {}).map(([name, value]) => [name, propertyValue(value)]);
    return { ...Object.fromEntries(outputs), ...identity, hs_execution_state: 'SUCCESS' };
  }
  const error = job.error ?? { code: job.status, message: `The job ${job.status}` };
  return {
    ...identity,
    hs_execution_state: 'FAIL_CONTINUE',
    errorCode: error.code,
    [ERROR_OUTPUT]: `${error.code}: ${error.message}`.slice(0, MAX_STRING_OUTPUT),
  };
}

/**
 * How long HubSpot should hold a step for the job: its longest possible series of runs (every
 * attempt timing out, every backoff at its cap) plus a day for queues and a spent daily budget,
 * in whole hours, at most a week.
 */
export function blockExpiration(timeoutMs: number, retry: RetryPolicy): string {
  const longestRuns = retry.attempts * timeoutMs + (retry.attempts - 1) * retry.maxBackoffMs;
  return isoDuration(Math.min(MAX_BLOCK_MS, Math.ceil((longestRuns + DAY_MS) / HOUR_MS) * HOUR_MS));
}

/** Whole hours as an ISO 8601 duration: P1D, PT5H, P2DT3H. */
export function isoDuration(ms: number): string {
  const hours = Math.ceil(ms / HOUR_MS);
  const days = Math.floor(hours / 24);
  const rest = hours % 24;
  return `P${days > 0 ? `${days}D` : ''}${rest > 0 || days === 0 ? `T${rest}H` : ''}`;
}
