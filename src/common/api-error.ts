export type ApiErrorCode =
  | 'unauthorized'
  | 'not_found'
  | 'validation_failed'
  | 'unknown_job_type'
  | 'malformed_json'
  | 'malformed_request'
  | 'idempotency_conflict'
  | 'invalid_job_state'
  | 'conflict'
  | 'payload_too_large'
  | 'request_timeout'
  | 'headers_too_large'
  | 'unsupported_media_type'
  | 'rate_limited'
  | 'unavailable'
  | 'internal_error';

export interface FieldProblem {
  path: string;
  message: string;
}

/** What a validation_failed answer says: the first problem, the others are in its details. */
export function validationMessage(problems: FieldProblem[]): string {
  const first = problems[0];
  return `Validation failed: ${first ? `${first.path || 'body'}: ${first.message}` : 'the request is invalid'}`;
}

export interface ApiErrorBody {
  error: { code: ApiErrorCode; message: string; details?: unknown };
}

/** Every error the API answers with: an HTTP status, a machine-readable code and, where useful, details. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: ApiErrorCode,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }

  static validation(details: FieldProblem[]): ApiError {
    return new ApiError(400, 'validation_failed', validationMessage(details), details);
  }

  static notFound(what: string): ApiError {
    return new ApiError(404, 'not_found', `${what} not found`);
  }

  static unauthorized(message = 'A valid bearer token is required'): ApiError {
    return new ApiError(401, 'unauthorized', message);
  }

  toBody(): ApiErrorBody {
    return {
      error: { code: this.code, message: this.message, ...(this.details === undefined ? {} : { details: this.details }) },
    };
  }
}
