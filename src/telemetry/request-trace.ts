import { context, propagation, trace } from '@opentelemetry/api';
import type { FastifyInstance } from 'fastify';

/**
 * Continues a caller's trace: with the HTTP instrumentation on, the server span already carries the
 * caller's `traceparent`; without it (instrumentation off, or a test), the context is taken from the
 * headers here, so a job enqueued by a traced caller joins the caller's trace either way.
 */
export function continueCallerTraces(fastify: FastifyInstance): void {
  fastify.addHook('onRequest', (request, _reply, done) => {
    if (request.headers.traceparent === undefined || trace.getSpan(context.active()) !== undefined) return done();
    context.with(propagation.extract(context.active(), request.headers), done);
  });
}
