import type { FastifyReply, FastifyRequest } from 'fastify';
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import { ApiError } from './api-error';

/** How long a refused request's connection stays open to take in the rest of what the client sends. */
export const LINGER_MS = 10_000;

const answered = new WeakSet<Socket>();

function clientProblem(code: string | undefined): ApiError {
  if (code === 'HPE_HEADER_OVERFLOW') return new ApiError(431, 'headers_too_large', 'The request headers are larger than 16 KB');
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') return new ApiError(408, 'request_timeout', 'The request did not arrive in time');
  return new ApiError(400, 'malformed_request', 'The request is not valid HTTP/1.1');
}

/**
 * Answers a request Node's HTTP parser refused before Fastify saw it (headers over 16 KB, a request
 * that did not arrive in time, bytes that are not HTTP) in the contract's shape. The connection is
 * closed from this side only once the answer is out, and what the client is still sending is read
 * and dropped for LINGER_MS: destroyed at once, the socket would meet those bytes with a reset,
 * which a client may see before the answer.
 */
export function answerClientError(error: NodeJS.ErrnoException, socket: Socket): void {
  if (error.code === 'ECONNRESET' || socket.destroyed || answered.has(socket)) return;
  // The parser reports every later chunk of the same connection too: one answer is enough.
  answered.add(socket);
  const problem = clientProblem(error.code);
  const body = JSON.stringify(problem.toBody());
  if (socket.writable) {
    socket.end(
      `HTTP/1.1 ${problem.status} ${STATUS_CODES[problem.status]}\r\nContent-Type: application/json; charset=utf-8\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.resume();
  setTimeout(() => socket.destroy(), LINGER_MS).unref();
}

/**
 * A request refused before its body was read (too large, say) gets an answer that would close the
 * connection with the body still arriving: the client, still sending, would get a reset and might
 * never read the answer. Instead the connection is kept: Node reads the rest of the body and drops
 * it, then the connection serves the client's next request. A body still arriving after LINGER_MS
 * ends the connection.
 */
export function drainUnreadBody(request: FastifyRequest, reply: FastifyReply): void {
  if (request.raw.complete) return;
  reply.removeHeader('connection');
  setTimeout(() => {
    if (!request.raw.complete) request.raw.socket.destroy();
  }, LINGER_MS).unref();
}
