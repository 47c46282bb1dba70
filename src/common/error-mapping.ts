import { HttpException, HttpStatus } from '@nestjs/common';
import { ApiError, ApiErrorCode } from './api-error';
import {
  ConflictError,
  DomainError,
  IdempotencyConflictError,
  InvalidInputError,
  InvalidJobStateError,
  NotFoundError,
  UnavailableError,
  UnknownJobTypeError,
} from './domain-errors';

const HTTP_CODES: Partial<Record<number, ApiErrorCode>> = {
  [HttpStatus.UNAUTHORIZED]: 'unauthorized',
  [HttpStatus.FORBIDDEN]: 'unauthorized',
  [HttpStatus.NOT_FOUND]: 'not_found',
  [HttpStatus.METHOD_NOT_ALLOWED]: 'not_found',
  [HttpStatus.PAYLOAD_TOO_LARGE]: 'payload_too_large',
  [HttpStatus.UNSUPPORTED_MEDIA_TYPE]: 'unsupported_media_type',
  [HttpStatus.TOO_MANY_REQUESTS]: 'rate_limited',
  [HttpStatus.SERVICE_UNAVAILABLE]: 'unavailable',
  [HttpStatus.BAD_REQUEST]: 'validation_failed',
};

/**
 * PostgreSQL's SQLSTATEs of a server that cannot serve now, whatever the request: class 08
 * (connection exceptions), class 53 (insufficient resources: too many connections, out of memory,
 * disk full), and an administrator's or a crash's shutdown, or a start-up still under way (57P0x).
 */
const POSTGRES_UNAVAILABLE_CLASSES = ['08', '53'];
const POSTGRES_UNAVAILABLE_CODES = new Set(['57P01', '57P02', '57P03']);

/** Node's codes for a connection that could not be made, or broke. */
const CONNECTION_ERROR_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']);

/** ioredis' errors for a connection given up on, which carry no code. */
const REDIS_CONNECTION_ERRORS = new Set(['MaxRetriesPerRequestError', 'ClusterAllFailedError']);

/**
 * Errors that carry neither a code nor a class of their own, told apart by the text their library
 * gives them: pg's and pg-pool's for a connection that broke or could not be had in time, ioredis'
 * for a command sent on a closed connection, and Redis' replies of a server that cannot take a
 * command now (loading, busy, failing over, read-only replica, out of memory under noeviction).
 */
const CODELESS_CONNECTION_MESSAGES = [
  /^Connection terminated/,
  /^timeout exceeded when trying to connect/,
  /^Client (has encountered a connection error|was closed) and is not queryable/,
  /^Connection is closed/,
  /^(LOADING|BUSY|MASTERDOWN|TRYAGAIN|CLUSTERDOWN|READONLY|OOM) /,
];

interface ErrorFields {
  code?: unknown;
  name?: unknown;
  message?: unknown;
  cause?: unknown;
  driverError?: unknown;
  errors?: unknown;
}

function isConnectionFailure(error: ErrorFields): boolean {
  const code = typeof error.code === 'string' ? error.code : '';
  if (CONNECTION_ERROR_CODES.has(code) || POSTGRES_UNAVAILABLE_CODES.has(code)) return true;
  if (/^[0-9A-Z]{5}$/.test(code) && POSTGRES_UNAVAILABLE_CLASSES.includes(code.slice(0, 2))) return true;
  if (typeof error.name === 'string' && REDIS_CONNECTION_ERRORS.has(error.name)) return true;
  return typeof error.message === 'string' && CODELESS_CONNECTION_MESSAGES.some((pattern) => pattern.test(error.message as string));
}

/**
 * Whether the error says a backing service (PostgreSQL, Redis) cannot be reached or cannot serve
 * now, rather than that the request is wrong. Looks through what wraps the first error: TypeORM's
 * QueryFailedError (driverError), an error's cause, and the AggregateError of a connection tried
 * on every address of a host.
 */
export function isBackingServiceUnavailable(error: unknown, depth = 0): boolean {
  if (typeof error !== 'object' || error === null || depth > 4) return false;
  const fields = error as ErrorFields;
  if (isConnectionFailure(fields)) return true;
  const wrapped = [fields.driverError, fields.cause, ...(Array.isArray(fields.errors) ? fields.errors : [])];
  return wrapped.some((inner) => inner !== error && isBackingServiceUnavailable(inner, depth + 1));
}

function domainApiError(error: DomainError): ApiError {
  if (error instanceof NotFoundError) return new ApiError(404, 'not_found', error.message);
  if (error instanceof ConflictError) return new ApiError(409, 'conflict', error.message, error.problems);
  if (error instanceof InvalidJobStateError) return new ApiError(409, 'invalid_job_state', error.message);
  if (error instanceof InvalidInputError) return new ApiError(400, 'validation_failed', error.message, error.problems);
  if (error instanceof IdempotencyConflictError) {
    return new ApiError(409, 'idempotency_conflict', error.message, { jobId: error.jobId, idempotencyKey: error.idempotencyKey });
  }
  if (error instanceof UnknownJobTypeError) {
    return new ApiError(400, 'unknown_job_type', error.message, [{ path: 'type', message: 'is not a registered job type' }]);
  }
  if (error instanceof UnavailableError) return new ApiError(503, 'unavailable', error.message);
  return new ApiError(500, 'internal_error', 'Internal error');
}

/**
 * Turns anything thrown while serving a request into the contract's error shape. Fastify's own
 * errors (media type, body size) reach here as Nest HttpExceptions carrying their status.
 */
export function toApiError(error: unknown): ApiError {
  if (error instanceof ApiError) return error;
  if (error instanceof DomainError) return domainApiError(error);

  const err = error as { statusCode?: number; message?: string } | undefined;
  if (error instanceof HttpException) {
    const status = error.getStatus();
    const code = HTTP_CODES[status] ?? (status < 500 ? 'validation_failed' : 'internal_error');
    const message = status === HttpStatus.NOT_FOUND ? 'No such route' : error.message;
    return new ApiError(status, code, message);
  }
  if (typeof err?.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500) {
    return new ApiError(err.statusCode, HTTP_CODES[err.statusCode] ?? 'validation_failed', err.message ?? 'Bad request');
  }
  if (isBackingServiceUnavailable(error)) {
    return new ApiError(503, 'unavailable', 'A backing service is unreachable; try again shortly');
  }
  return new ApiError(500, 'internal_error', 'Internal error');
}
