import { HttpException, NotFoundException, PayloadTooLargeException } from '@nestjs/common';
import { ReplyError } from 'ioredis';
import MaxRetriesPerRequestError from 'ioredis/built/errors/MaxRetriesPerRequestError';
import { connect, createServer } from 'node:net';
import { DatabaseError, Pool } from 'pg';
import { QueryFailedError } from 'typeorm';
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

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

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

  describe('a backing service that cannot serve now answers 503 unavailable', () => {
    const unavailable = { status: 503, code: 'unavailable' };

    /** PostgreSQL's error message, as pg builds it from the server's ErrorResponse. */
    function postgresError(code: string, message: string): DatabaseError {
      const error = new DatabaseError(message, message.length, 'error');
      error.severity = 'FATAL';
      error.code = code;
      return error;
    }

    it.each([
      ['57P03', 'the database system is not yet accepting connections'],
      ['57P03', 'the database system is starting up'],
      ['57P01', 'terminating connection due to administrator command'],
      ['57P02', 'terminating connection because of crash of another server process'],
      ['53300', 'sorry, too many clients already'],
      ['53100', 'could not extend file: No space left on device'],
      ['08006', 'connection failure'],
      ['08001', 'could not connect to server'],
    ])('PostgreSQL %s (%s), bare or wrapped in TypeORM’s QueryFailedError', (code, message) => {
      const error = postgresError(code, message);
      expect(toApiError(error)).toMatchObject(unavailable);
      expect(toApiError(new QueryFailedError('SELECT 1', [], error))).toMatchObject(unavailable);
    });

    it('goes by the code, not the text: the same text with a code of a bad request is not 503', () => {
      expect(toApiError(postgresError('22P02', 'the database system is starting up'))).toMatchObject({ status: 500 });
      expect(toApiError(new QueryFailedError('SELECT 1', [], postgresError('42P01', 'relation "jobs" does not exist')))).toMatchObject({
        status: 500,
      });
    });

    it('a connection refused, as Node and pg report it', async () => {
      const port = await closedPort();
      const refused = await new Promise<Error>((resolve) => connect(port, '127.0.0.1').once('error', resolve));
      expect((refused as NodeJS.ErrnoException).code).toBe('ECONNREFUSED');
      expect(toApiError(refused)).toMatchObject(unavailable);

      const pool = new Pool({ host: '127.0.0.1', port, user: 'x', connectionTimeoutMillis: 2_000 });
      const viaPool = await pool.query('SELECT 1').catch((error: Error) => error);
      await pool.end();
      expect(toApiError(viaPool)).toMatchObject(unavailable);
    });

    it.each([
      ['ECONNRESET', 'read ECONNRESET'],
      ['ETIMEDOUT', 'connect ETIMEDOUT 10.0.0.1:5432'],
      ['EPIPE', 'write EPIPE'],
      ['EHOSTUNREACH', 'connect EHOSTUNREACH 10.0.0.1:5432'],
    ])('Node’s %s', (code, message) => {
      expect(toApiError(Object.assign(new Error(message), { code }))).toMatchObject(unavailable);
    });

    it('a connection tried on every address of a host (AggregateError), and an error whose cause is one', () => {
      const refused = Object.assign(new Error('connect ECONNREFUSED ::1:5432'), { code: 'ECONNREFUSED' });
      expect(toApiError(new AggregateError([refused]))).toMatchObject(unavailable);
      expect(toApiError(new Error('Connection terminated due to connection timeout', { cause: new Error('timeout') }))).toMatchObject(unavailable);
      expect(toApiError(new Error('query failed', { cause: refused }))).toMatchObject(unavailable);
    });

    it('pg’s and pg-pool’s connection errors, which carry no code', () => {
      for (const message of [
        'Connection terminated unexpectedly',
        'Connection terminated',
        'timeout exceeded when trying to connect',
        'Client has encountered a connection error and is not queryable',
      ]) {
        expect({ message, answer: toApiError(new Error(message)) }).toMatchObject({ message, answer: unavailable });
      }
    });

    it('Redis unreachable, or unable to take a command now', () => {
      expect(toApiError(new MaxRetriesPerRequestError(2))).toMatchObject(unavailable);
      expect(toApiError(new Error('Connection is closed.'))).toMatchObject(unavailable);
      for (const reply of [
        'LOADING Redis is loading the dataset in memory',
        "OOM command not allowed when used memory > 'maxmemory'.",
        "READONLY You can't write against a read only replica.",
      ]) {
        expect({ reply, answer: toApiError(new ReplyError(reply)) }).toMatchObject({ reply, answer: unavailable });
      }
    });
  });

  it('hides the detail of anything unexpected behind a 500', () => {
    expect(toApiError(new Error('secret detail'))).toMatchObject({ status: 500, code: 'internal_error', message: 'Internal error' });
  });
});
