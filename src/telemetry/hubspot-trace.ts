import { context, Span, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { AsyncLocalStorage } from 'node:async_hooks';
import { subscribe } from 'node:diagnostics_channel';
import type { ClientRequest, IncomingMessage } from 'node:http';

const tracer = trace.getTracer('offload');
const calls = new AsyncLocalStorage<Span>();

/** A path as a span name may carry it: record ids and other numbers are placeholders, the query is dropped. */
export function endpointOf(path: string): string {
  return path.split('?')[0].replace(/\/\d+(?=\/|$)/g, '/{id}');
}

// The client offers no hook per request: what it sends is read as node:http starts it.
subscribe('http.client.request.start', (message) => {
  const span = calls.getStore();
  if (!span) return;
  const request = (message as { request: ClientRequest }).request;
  const endpoint = endpointOf(request.path);
  span.updateName(`HubSpot ${request.method} ${endpoint}`);
  span.setAttributes({ 'http.request.method': request.method, 'url.template': endpoint, 'server.address': request.host });
});
subscribe('http.client.response.finish', (message) => {
  const span = calls.getStore();
  const response = (message as { response: IncomingMessage }).response;
  if (span && response.statusCode) span.setAttribute('http.response.status_code', response.statusCode);
});

/** What a HubSpot call's failure was, as its span records it. */
export interface CallFailure {
  status?: number;
  message: string;
  transient: boolean;
}

/**
 * One try of a HubSpot call as a span (a child of the job run or write-back batch that made it):
 * the endpoint, HubSpot's status, whether it was a 429, and the failure. The request's own HTTP
 * span, when the HTTP instrumentation is on, is its child.
 */
export async function tracedHubSpotCall<T>(portalId: string, tryNumber: number, call: () => Promise<T>, failureOf: (error: unknown) => CallFailure): Promise<T> {
  const span = tracer.startSpan('HubSpot call', {
    kind: SpanKind.CLIENT,
    attributes: { 'offload.portal.id': portalId, 'offload.hubspot.try': tryNumber },
  });
  try {
    const result = await context.with(trace.setSpan(context.active(), span), () => calls.run(span, call));
    span.setAttribute('offload.hubspot.rate_limited', false);
    return result;
  } catch (error) {
    const failure = failureOf(error);
    span.setAttributes({
      'offload.hubspot.rate_limited': failure.status === 429,
      'offload.hubspot.transient': failure.transient,
      'error.type': failure.status === undefined ? 'no_answer' : String(failure.status),
      ...(failure.status === undefined ? {} : { 'http.response.status_code': failure.status }),
    });
    span.recordException({ name: 'HubSpotFailure', message: failure.message });
    span.setStatus({ code: SpanStatusCode.ERROR, message: failure.status === undefined ? 'no answer' : `HTTP ${failure.status}` });
    throw error;
  } finally {
    span.end();
  }
}
