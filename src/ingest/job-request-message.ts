import { Type } from '@sinclair/typebox';
import type { IHeaders, KafkaMessage, Message } from 'kafkajs';
import { ApiError, ApiErrorCode, FieldProblem } from '../common/api-error';
import { DomainError, IdempotencyConflictError } from '../common/domain-errors';
import { toApiError } from '../common/error-mapping';
import { MAX_BODY_BYTES, parseJsonBody } from '../common/json-body';
import { requestSchema } from '../common/request-schema';

/** A message's value: the Offload portal it names and a job request as POST /v1/jobs takes it. */
export interface JobRequestMessage {
  portalId: string;
  job: unknown;
}

/** Only the envelope is checked here; the job is checked by the jobs service, as an HTTP body is. */
const envelope = requestSchema(
  Type.Object(
    {
      portalId: Type.String({ format: 'uuid', description: "Offload's portal id (not HubSpot's account id)" }),
      job: Type.Unknown({ description: 'A POST /v1/jobs body' }),
    },
    { additionalProperties: false },
  ),
);

/** Why a message makes no job: the API's error code, or `unknown_portal` (`internal_error` for a failure that kept recurring). */
export type RefusalCode = ApiErrorCode | 'unknown_portal';

export interface Refusal {
  code: RefusalCode;
  message: string;
  /** The offending field, as a path into the message's value (`job.input.sleepMs`, `portalId`); absent for a value that is not JSON. */
  field?: string;
  details?: unknown;
}

/** A producer may name any portal (the cluster's ACLs vouch for it), but only one that exists. */
export const UNKNOWN_PORTAL: Refusal = { code: 'unknown_portal', message: 'No Offload portal has this id', field: 'portalId' };

/** The message's value as a job request message; throws the ApiError an HTTP body of that text would get (with `job.` paths), or a missing-job one. */
export function readJobRequestMessage(value: Buffer | null): JobRequestMessage {
  if (value === null || value.length === 0) throw new ApiError(400, 'malformed_json', 'The message has no value; a job request message is JSON');
  if (value.length > MAX_BODY_BYTES) throw new ApiError(413, 'payload_too_large', `The message's value is over ${MAX_BODY_BYTES} bytes, the API's limit`);
  const message = envelope.parse(parseJsonBody(value.toString('utf8')));
  if (message.job === undefined) throw ApiError.validation([{ path: 'job', message: 'is required' }]);
  return message as JobRequestMessage;
}

function prefixed(prefix: string, path: string): string {
  if (!prefix) return path;
  return path === '' ? prefix : path.startsWith('[') ? `${prefix}${path}` : `${prefix}.${path}`;
}

function isFieldProblems(details: unknown): details is FieldProblem[] {
  return Array.isArray(details) && details.every((problem) => typeof (problem as FieldProblem)?.path === 'string');
}

/**
 * What a refused message is told, from the error the API would have answered: its code and message,
 * and the offending fields as paths into the message (`prefix` is where the error's paths start:
 * `job` for the job request, nothing for the envelope).
 */
export function refusalOf(error: ApiError | DomainError, prefix = ''): Refusal {
  const answer = toApiError(error);
  if (error instanceof IdempotencyConflictError) {
    return { code: answer.code, message: answer.message, field: prefixed(prefix, 'idempotencyKey'), details: answer.details };
  }
  if (!isFieldProblems(answer.details)) return { code: answer.code, message: answer.message, details: answer.details };
  const details = answer.details.map((problem) => ({ ...problem, path: prefixed(prefix, problem.path) }));
  return { code: answer.code, message: answer.message, field: details[0]?.path, details };
}

/** Where a message was read from. */
export interface MessageSource {
  topic: string;
  partition: number;
  message: KafkaMessage;
}

export const DEAD_LETTER_HEADERS = {
  code: 'offload-error-code',
  field: 'offload-error-field',
  message: 'offload-error-message',
  topic: 'offload-source-topic',
  partition: 'offload-source-partition',
  offset: 'offload-source-offset',
} as const;

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** The original value as text when it is UTF-8, else as base64: the dead letter must carry it whole. */
function originalValue(value: Buffer | null): { value: string | null } | { valueBase64: string } {
  if (value === null) return { value: null };
  try {
    return { value: utf8.decode(value) };
  } catch {
    return { valueBase64: value.toString('base64') };
  }
}

/**
 * The dead letter of a refused message: its key and headers kept, the reason added as headers (code,
 * field, message, and where it came from), and a JSON value holding the error, the source and the
 * original value, from which the request can be mended and produced again.
 */
export function deadLetter({ topic, partition, message }: MessageSource, refusal: Refusal): Message {
  const headers: IHeaders = {
    ...message.headers,
    [DEAD_LETTER_HEADERS.code]: refusal.code,
    [DEAD_LETTER_HEADERS.message]: refusal.message,
    [DEAD_LETTER_HEADERS.topic]: topic,
    [DEAD_LETTER_HEADERS.partition]: String(partition),
    [DEAD_LETTER_HEADERS.offset]: message.offset,
  };
  if (refusal.field !== undefined) headers[DEAD_LETTER_HEADERS.field] = refusal.field;
  const body = {
    error: refusal,
    source: { topic, partition, offset: message.offset, timestamp: message.timestamp },
    ...originalValue(message.value),
  };
  return { key: message.key, headers, value: JSON.stringify(body) };
}
