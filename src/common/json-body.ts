import secureJsonParse from 'secure-json-parse';
import { ApiError } from './api-error';
import { mayHoldUnstorableText, unstorableTextProblems } from './storable-text';

/** The largest request body any entry point takes: an HTTP body, a Kafka message's value. */
export const MAX_BODY_BYTES = 1024 * 1024;

/** Keys that would poison a prototype once the value is merged or copied: refused, as Fastify's own JSON parser refuses them. */
const PROTOTYPE_KEYS = { protoAction: 'error', constructorAction: 'error' } as const;

/** Why a text was refused: the parser also refuses valid JSON that would poison prototypes, and says so only vaguely. */
function malformedJsonMessage(text: string, error: Error): string {
  try {
    JSON.parse(text);
  } catch {
    return `The body is not valid JSON: ${error.message}`;
  }
  return 'The body has a "__proto__" or "constructor.prototype" key; such keys are refused';
}

/**
 * A request body's JSON text as every entry point takes it (an HTTP body, a Kafka message): parsed
 * without prototype keys, and holding no string PostgreSQL cannot store. Throws the ApiError the
 * API answers: malformed_json, or validation_failed naming each unstorable string.
 */
export function parseJsonBody(text: string): unknown {
  let value: unknown;
  try {
    value = secureJsonParse(text, undefined, PROTOTYPE_KEYS);
  } catch (error) {
    throw new ApiError(400, 'malformed_json', malformedJsonMessage(text, error as Error));
  }
  const problems = mayHoldUnstorableText(text) ? unstorableTextProblems(value) : [];
  if (problems.length > 0) throw ApiError.validation(problems);
  return value;
}
