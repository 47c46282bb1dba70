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

const UNAVAILABLE_PATTERNS = [
  /ECONNREFUSED/,
  /ECONNRESET/,
  /Connection terminated/i,
  /Connection is closed/i,
  /timeout exceeded when trying to connect/i,
  /MaxRetriesPerRequest/i,
  /the database system is (starting up|shutting down)/i,
];

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

  const err = error as { code?: string; statusCode?: number; message?: string; name?: string } | undefined;
  if (error instanceof HttpException) {
    const status = error.getStatus();
    const code = HTTP_CODES[status] ?? (status < 500 ? 'validation_failed' : 'internal_error');
    const message = status === HttpStatus.NOT_FOUND ? 'No such route' : error.message;
    return new ApiError(status, code, message);
  }
  if (typeof err?.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500) {
    return new ApiError(err.statusCode, HTTP_CODES[err.statusCode] ?? 'validation_failed', err.message ?? 'Bad request');
  }
  const text = `${err?.code ?? ''} ${err?.name ?? ''} ${err?.message ?? ''}`;
  if (UNAVAILABLE_PATTERNS.some((pattern) => pattern.test(text))) {
    return new ApiError(503, 'unavailable', 'A backing service is unreachable; try again shortly');
  }
  return new ApiError(500, 'internal_error', 'Internal error');
}
