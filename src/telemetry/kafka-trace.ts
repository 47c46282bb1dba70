import { Context, propagation, ROOT_CONTEXT, Span, trace } from '@opentelemetry/api';
import type { IHeaders, Message } from 'kafkajs';

/** Where a message to Kafka keeps the W3C trace context of the job it reports. */
const JOB_CONTEXT = Symbol.for('offload.jobTraceparent');

export type TracedMessage = Message & { [JOB_CONTEXT]?: string };

/** The W3C `traceparent` of a job's trace: its enqueue span, sampled. */
export function jobTraceparent(traceId: string, spanId: string): string {
  return `00-${traceId}-${spanId}-01`;
}

/** Marks a message as reporting on the job whose trace context its headers carry. */
export function tracedMessage(message: Message): TracedMessage {
  const traceparent = message.headers?.traceparent;
  return typeof traceparent === 'string' ? { ...message, [JOB_CONTEXT]: traceparent } : message;
}

/**
 * The kafkajs instrumentation writes the context of its own send span into every message; a
 * consumer of job events needs the job's. The send span keeps a link to the job, and the header
 * goes back to the job's context.
 */
export function keepJobTraceContext(span: Span, message: Message): void {
  const traceparent = (message as TracedMessage)[JOB_CONTEXT];
  if (traceparent === undefined) return;
  const job = trace.getSpanContext(propagation.extract(ROOT_CONTEXT, { traceparent }));
  if (job) span.addLink({ context: job });
  message.headers = { ...message.headers, traceparent };
}

/**
 * The W3C trace context a consumed message's headers carry (`traceparent`, `tracestate`), on the
 * root context: work done for one message joins its producer's trace, or starts a trace of its
 * own, never the trace of the batch it arrived in.
 */
export function messageTraceContext(headers: IHeaders | undefined): Context {
  const carrier: Record<string, string> = {};
  for (const name of ['traceparent', 'tracestate']) {
    const value = headers?.[name];
    const first = Array.isArray(value) ? value[0] : value;
    if (first !== undefined) carrier[name] = first.toString();
  }
  return propagation.extract(ROOT_CONTEXT, carrier);
}
