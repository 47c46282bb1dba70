import { NotFoundException, PayloadTooLargeException } from '@nestjs/common';
import { ApiError } from './api-error';
import { toApiError } from './error-mapping';

describe('toApiError', () => {
  it('keeps an ApiError as it is', () => {
    const error = new ApiError(409, 'idempotency_conflict', 'x');
    expect(toApiError(error)).toBe(error);
  });

  it.each([
    ['FST_ERR_CTP_INVALID_MEDIA_TYPE', 415, 'unsupported_media_type'],
    ['FST_ERR_CTP_BODY_TOO_LARGE', 413, 'payload_too_large'],
    ['FST_ERR_CTP_EMPTY_JSON_BODY', 400, 'malformed_json'],
    ['FST_ERR_CTP_INVALID_JSON_BODY', 400, 'malformed_json'],
  ])('maps Fastify %s to %i %s', (fastifyCode, status, code) => {
    expect(toApiError(Object.assign(new Error('x'), { code: fastifyCode }))).toMatchObject({ status, code });
  });

  it('maps a JSON syntax error from the body parser to malformed_json', () => {
    const error = Object.assign(new SyntaxError('Unexpected token'), { statusCode: 400 });
    expect(toApiError(error)).toMatchObject({ status: 400, code: 'malformed_json' });
  });

  it('maps Nest HTTP exceptions', () => {
    expect(toApiError(new NotFoundException())).toMatchObject({ status: 404, code: 'not_found' });
    expect(toApiError(new PayloadTooLargeException())).toMatchObject({ status: 413, code: 'payload_too_large' });
  });

  it('answers 503 when a backing service is unreachable', () => {
    expect(toApiError(new Error('connect ECONNREFUSED 127.0.0.1:5432'))).toMatchObject({ status: 503, code: 'unavailable' });
  });

  it('hides the detail of anything unexpected behind a 500', () => {
    expect(toApiError(new Error('secret detail'))).toMatchObject({ status: 500, code: 'internal_error', message: 'Internal error' });
  });
});
