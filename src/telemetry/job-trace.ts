import { context, Link, Span, SpanContext, SpanKind, SpanStatus, SpanStatusCode, trace, TraceFlags } from '@opentelemetry/api';
import { randomBytes } from 'node:crypto';

const tracer = trace.getTracer('offload');

/** Random bytes drawn in blocks: minting ids for thousands of jobs a second should not cost a syscall each. */
let pool = Buffer.alloc(0);
function randomHex(bytes: number): string {
  if (pool.length < bytes) pool = randomBytes(4096);
  const hex = pool.subarray(0, bytes).toString('hex');
  pool = pool.subarray(bytes);
  return hex;
}

export interface TraceIds {
  traceId: string;
  spanId: string;
}

/**
 * Opens the trace that a job keeps for life: the enqueue is its root span, and every run, retry and
 * write-back is a child of it, in whichever process it happens. A caller that sent a `traceparent`
 * has its trace continued (the enqueue span is a child of the caller's span). Without an SDK the
 * ids are still minted, so the job's traceId ties its log lines together. Attributes name only
 * what Offload decided (type, portal): never text a client supplied.
 */
export function startJobTrace(type: string, attributes: Record<string, string>): TraceIds {
  const span = tracer.startSpan(`job ${type}`, { kind: SpanKind.PRODUCER, attributes: { 'offload.job.type': type, ...attributes } });
  const spanContext = span.spanContext();
  span.end();
  if (trace.isSpanContextValid(spanContext)) return { traceId: spanContext.traceId, spanId: spanContext.spanId };
  return { traceId: randomHex(16), spanId: randomHex(8) };
}

/** The job's root span (its enqueue), as a span context to be a child of, or to link to. */
export function jobSpanContext(ids: TraceIds): SpanContext {
  return { traceId: ids.traceId, spanId: ids.spanId, traceFlags: TraceFlags.SAMPLED, isRemote: true };
}

function jobContext(ids: TraceIds) {
  return trace.setSpanContext(context.active(), jobSpanContext(ids));
}

/**
 * Records a span of the job's trace that has already happened: from `start` to `end` (ms since the
 * epoch), with the links and status given.
 */
export function recordJobSpan(
  ids: TraceIds,
  name: string,
  attributes: Record<string, string | number>,
  start: number,
  end: number,
  { links, status }: { links?: Link[]; status?: SpanStatus } = {},
): void {
  const span = tracer.startSpan(name, { kind: SpanKind.INTERNAL, attributes, startTime: start, links }, jobContext(ids));
  if (status) span.setStatus(status);
  span.end(end);
}

/** Marks a span failed with a job's error: ERROR status, the error as an exception, and its code. */
export function markFailed(span: Span, error: { code: string; message: string; retryable: boolean }): void {
  span.setAttributes({ 'error.type': error.code, 'offload.error.code': error.code, 'offload.error.retryable': error.retryable });
  span.recordException({ name: error.code, message: error.message });
  span.setStatus({ code: SpanStatusCode.ERROR, message: error.code });
}

/** Runs fn in a span that belongs to the job's trace. */
export async function inJobSpan<T>(
  ids: TraceIds,
  name: string,
  attributes: Record<string, string | number>,
  fn: (span: Span) => Promise<T>,
): Promise<T> {
  return tracer.startActiveSpan(name, { kind: SpanKind.CONSUMER, attributes }, jobContext(ids), async (span) => {
    try {
      return await fn(span);
    } catch (error) {
      span.recordException(error as Error);
      span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error).message });
      throw error;
    } finally {
      span.end();
    }
  });
}
