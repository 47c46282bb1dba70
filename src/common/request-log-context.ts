import { trace } from '@opentelemetry/api';
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { FastifyInstance } from 'fastify';

const requestIds = new AsyncLocalStorage<string>();

/** A caller's own request id is kept when it is a plain token; anything else gets a fresh one. */
const CALLER_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** Fastify's genReqId: the caller's `x-request-id` when it is a plain token, else a new UUID. */
export function requestIdOf(request: IncomingMessage): string {
  const given = request.headers['x-request-id'];
  return typeof given === 'string' && CALLER_REQUEST_ID.test(given) ? given : randomUUID();
}

/** Where request lines go: a structured logger's info. */
export type RequestLineWriter = (fields: Record<string, unknown>, message: string) => void;

/** Probes and scrapes come every few seconds from machines: their lines would bury the requests people make. */
const QUIET_ROUTES = /^\/(health|metrics)(\/|$)/;

/**
 * Ties every log line written while a request is served to that request, as `reqId`, and answers
 * that id as `x-request-id`. A Fastify hook puts the request's id in async context and the logger's
 * mixin reads it back when a line is written, so a request costs no child logger: pino-http's
 * middleware, which builds two for every request, took a tenth of the API's CPU under load. With
 * `writeLine`, each request ends with one line: method, route, status and duration.
 */
export function bindRequestLogContext(fastify: FastifyInstance, writeLine?: RequestLineWriter): void {
  fastify.addHook('onRequest', (request, reply, done) => {
    void reply.header('x-request-id', request.id);
    requestIds.run(request.id, done);
  });
  if (!writeLine) return;
  fastify.addHook('onResponse', (request, reply, done) => {
    const route = request.routeOptions.url ?? 'unmatched';
    if (!QUIET_ROUTES.test(route)) {
      writeLine(
        { reqId: request.id, method: request.method, route, status: reply.statusCode, durationMs: Math.round(reply.elapsedTime * 10) / 10 },
        'request',
      );
    }
    done();
  });
}

/** The pino mixin: the fields of the request being served, if any, and the trace of the span in progress. */
export function requestLogFields(): { reqId?: string; traceId?: string; spanId?: string } {
  const reqId = requestIds.getStore();
  const span = trace.getActiveSpan()?.spanContext();
  const traced = span && trace.isSpanContextValid(span) ? { traceId: span.traceId, spanId: span.spanId } : {};
  return reqId === undefined ? traced : { reqId, ...traced };
}
