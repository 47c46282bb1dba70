import type { KafkaMessage } from 'kafkajs';
import { ApiError } from '../common/api-error';
import { IdempotencyConflictError, InvalidInputError, UnknownJobTypeError } from '../common/domain-errors';
import { DEAD_LETTER_HEADERS, deadLetter, readJobRequestMessage, refusalOf } from './job-request-message';

const PORTAL = '6f1c1d4e-3b0a-4c8e-9a53-2f5b8d0e7a11';

function refusalOfReading(value: string | Buffer | null) {
  try {
    readJobRequestMessage(typeof value === 'string' ? Buffer.from(value) : value);
  } catch (error) {
    return refusalOf(error as ApiError);
  }
  throw new Error('the message was read');
}

describe('readJobRequestMessage', () => {
  it('reads the portal id and the job request, leaving the job to the jobs service', () => {
    const job = { type: 'noop', input: { anything: true } };
    expect(readJobRequestMessage(Buffer.from(JSON.stringify({ portalId: PORTAL, job })))).toEqual({ portalId: PORTAL, job });
  });

  it.each([
    ['no value (a tombstone)', null, 'malformed_json', undefined],
    ['text that is not JSON', '{"portalId": ', 'malformed_json', undefined],
    ['a __proto__ key, as the HTTP API refuses it', `{"portalId": "${PORTAL}", "job": {"__proto__": {}}}`, 'malformed_json', undefined],
    ['a string PostgreSQL cannot store', `{"portalId": "${PORTAL}", "job": {"type": "noop\\u0000"}}`, 'validation_failed', 'job.type'],
    ['a value over 1 MiB, as the API refuses such a body', `{"portalId": "${PORTAL}", "job": {"type": "${'a'.repeat(1024 * 1024)}"}}`, 'payload_too_large', undefined],
    ['no portal id', '{"job": {"type": "noop"}}', 'validation_failed', 'portalId'],
    ['a portal id that is no UUID', '{"portalId": "42", "job": {"type": "noop"}}', 'validation_failed', 'portalId'],
    ['no job', `{"portalId": "${PORTAL}"}`, 'validation_failed', 'job'],
    ['a property of its own', `{"portalId": "${PORTAL}", "job": {}, "priority": "bulk"}`, 'validation_failed', 'priority'],
  ])('refuses %s', (_label, value, code, field) => {
    const refusal = refusalOfReading(value);
    expect({ code: refusal.code, field: refusal.field }).toEqual({ code, field });
  });
});

describe('refusalOf', () => {
  it("names the job's fields as paths into the message", () => {
    const refusal = refusalOf(ApiError.validation([{ path: 'input.sleepMs', message: 'must be integer' }, { path: '', message: 'odd' }]), 'job');
    expect(refusal).toMatchObject({ code: 'validation_failed', field: 'job.input.sleepMs' });
    expect(refusal.details).toEqual([
      { path: 'job.input.sleepMs', message: 'must be integer' },
      { path: 'job', message: 'odd' },
    ]);
    expect(refusalOf(new InvalidInputError([{ path: 'object', message: 'is required when writeback is true' }]), 'job').field).toBe('job.object');
  });

  it('gives the codes the API answers, with the field at fault', () => {
    expect(refusalOf(new UnknownJobTypeError('nope'), 'job')).toMatchObject({ code: 'unknown_job_type', field: 'job.type' });
    expect(refusalOf(new IdempotencyConflictError('k', 'job-1'), 'job')).toMatchObject({
      code: 'idempotency_conflict',
      field: 'job.idempotencyKey',
      details: { jobId: 'job-1', idempotencyKey: 'k' },
    });
  });
});

describe('deadLetter', () => {
  const message: KafkaMessage = {
    key: Buffer.from('k1'),
    value: Buffer.from('{"portalId": '),
    offset: '17',
    timestamp: '1700000000000',
    attributes: 0,
    headers: { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' },
  };

  it('keeps the key and headers, adds the reason and the source as headers, and carries the original value with the error', () => {
    const letter = deadLetter({ topic: 'requests', partition: 2, message }, { code: 'validation_failed', message: 'bad', field: 'job.type' });
    expect(letter.key).toEqual(Buffer.from('k1'));
    expect(letter.headers).toEqual({
      traceparent: message.headers!.traceparent,
      [DEAD_LETTER_HEADERS.code]: 'validation_failed',
      [DEAD_LETTER_HEADERS.field]: 'job.type',
      [DEAD_LETTER_HEADERS.message]: 'bad',
      [DEAD_LETTER_HEADERS.topic]: 'requests',
      [DEAD_LETTER_HEADERS.partition]: '2',
      [DEAD_LETTER_HEADERS.offset]: '17',
    });
    expect(JSON.parse(letter.value as string)).toEqual({
      error: { code: 'validation_failed', message: 'bad', field: 'job.type' },
      source: { topic: 'requests', partition: 2, offset: '17', timestamp: '1700000000000' },
      value: '{"portalId": ',
    });
  });

  it('carries a value that is not UTF-8 as base64, and omits the field header when no field is at fault', () => {
    const binary = { ...message, value: Buffer.from([0xff, 0xfe, 0x00]) };
    const letter = deadLetter({ topic: 'requests', partition: 0, message: binary }, { code: 'malformed_json', message: 'not JSON' });
    expect(letter.headers).not.toHaveProperty(DEAD_LETTER_HEADERS.field);
    expect(JSON.parse(letter.value as string)).toMatchObject({ valueBase64: '//4A' });
  });
});
