import { HttpException, NotFoundException, PayloadTooLargeException } from '@nestjs/common';
import { ApiError } from './api-error';
import {
  ConflictError,
  IdempotencyConflictError,
  InvalidInputError,
  InvalidJobStateError,
  NotFoundError,
  UnavailableError,
  UnknownJobTypeError,
} from './domain-errors';
import { toApiError } from './error-mapping';

describe('toApiError', () => {
  it('keeps an ApiError as it is', () => {
    const error = new ApiError(409, 'idempotency_conflict', 'x');
    expect(toApiError(error)).toBe(error);
  });

  it('maps Nest HTTP exceptions', () => {
    expect(toApiError(new NotFoundException())).toMatchObject({ status: 404, code: 'not_found' });
    expect(toApiError(new PayloadTooLargeException())).toMatchObject({ status: 413, code: 'payload_too_large' });
    expect(toApiError(new HttpException('Unsupported Media Type: text/plain', 415))).toMatchObject({
      status: 415,
      code: 'unsupported_media_type',
    });
  });

  it("answers the domain's refusals with the contract's status and code", () => {
    expect(toApiError(new NotFoundError('Portal'))).toMatchObject({ status: 404, code: 'not_found', message: 'Portal not found' });
    const problems = [{ path: 'hubspotPortalId', message: 'is already registered' }];
    expect(toApiError(new ConflictError('Portal 1 is already registered', problems))).toMatchObject({
      status: 409,
      code: 'conflict',
      details: problems,
    });
    expect(toApiError(new InvalidJobStateError('The job is already succeeded'))).toMatchObject({ status: 409, code: 'invalid_job_state' });
    expect(toApiError(new IdempotencyConflictError('key-1', 'job-1'))).toMatchObject({
      status: 409,
      code: 'idempotency_conflict',
      details: { jobId: 'job-1', idempotencyKey: 'key-1' },
    });
    expect(toApiError(new UnknownJobTypeError('nope'))).toMatchObject({ status: 400, code: 'unknown_job_type', details: [{ path: 'type' }] });
    expect(toApiError(new UnavailableError('try again'))).toMatchObject({ status: 503, code: 'unavailable' });
    expect(toApiError(new InvalidInputError([{ path: 'name', message: 'is too long' }]))).toMatchObject({
      status: 400,
      code: 'validation_failed',
      message: 'Validation failed: name: is too long',
      details: [{ path: 'name', message: 'is too long' }],
    });
  });

  it('answers 503 when a backing service is unreachable', () => {
    expect(toApiError(new Error('connect ECONNREFUSED 127.0.0.1:5432'))).toMatchObject({ status: 503, code: 'unavailable' });
  });

  it('hides the detail of anything unexpected behind a 500', () => {
    expect(toApiError(new Error('secret detail'))).toMatchObject({ status: 500, code: 'internal_error', message: 'Internal error' });
  });
});
