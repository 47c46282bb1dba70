import { HttpException, NotFoundException, PayloadTooLargeException } from '@nestjs/common';
import { ApiError } from './api-error';
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

  it('answers 503 when a backing service is unreachable', () => {
    expect(toApiError(new Error('connect ECONNREFUSED 127.0.0.1:5432'))).toMatchObject({ status: 503, code: 'unavailable' });
  });

  it('hides the detail of anything unexpected behind a 500', () => {
    expect(toApiError(new Error('secret detail'))).toMatchObject({ status: 500, code: 'internal_error', message: 'Internal error' });
  });
});
