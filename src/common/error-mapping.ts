import { HttpException, HttpStatus } from '@nestjs/common';
import { ApiError, ApiErrorCode } from './api-error';

const FASTIFY_CODES: Record<string, [number, ApiErrorCode, string]> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: [415, 'unsupported_media_type', 'Send the body as application/json'],
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: [400, 'malformed_json', 'The Content-Length does not match the body'],
  FST_ERR_CTP_BODY_TOO_LARGE: [413, 'payload_too_large', 'The body is larger than 1 MiB'],
  FST_ERR_CTP_EMPTY_JSON_BODY: [400, 'malformed_json', 'The body is empty; send a JSON object'],
  FST_ERR_CTP_INVALID_JSON_BODY: [400, 'malformed_json', 'The body is not valid JSON'],
};

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

/** Turns anything thrown while serving a request into the contract's error shape. */
export function toApiError(error: unknown): ApiError {
  if (error instanceof ApiError) return error;

  const err = error as { code?: string; statusCode?: number; message?: string; name?: string } | undefined;
  if (err?.code && FASTIFY_CODES[err.code]) {
    const [status, code, message] = FASTIFY_CODES[err.code];
    return new ApiError(status, code, message);
  }
  if (error instanceof SyntaxError && err?.statusCode === 400) {
    return new ApiError(400, 'malformed_json', 'The body is not valid JSON');
  }
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
