import Ajv, { ErrorObject, ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import { FieldProblem } from './api-error';

const ajv = addFormats(new Ajv({ allErrors: true, strict: false }));

export type Validator = (value: unknown, pathPrefix?: string) => FieldProblem[];

/** Compiles a JSON Schema once; the returned function lists every problem with a dotted path to the field. */
export function compileValidator(schema: object): Validator {
  const validate: ValidateFunction = ajv.compile(schema);
  return (value, pathPrefix = '') => (validate(value) ? [] : (validate.errors ?? []).map((e) => toProblem(e, pathPrefix)));
}

/** Throws when the schema itself is not a valid JSON Schema (used to refuse a malformed handler at boot). */
export function assertValidSchema(schema: object): void {
  if (!ajv.validateSchema(schema)) {
    throw new Error(ajv.errorsText(ajv.errors));
  }
}

function toProblem(error: ErrorObject, prefix: string): FieldProblem {
  const segments = error.instancePath
    .split('/')
    .slice(1)
    .map((segment) => segment.replace(/~1/g, '/').replace(/~0/g, '~'));
  if (error.keyword === 'required') segments.push(String(error.params.missingProperty));
  if (error.keyword === 'additionalProperties') segments.push(String(error.params.additionalProperty));
  let path = prefix;
  for (const segment of segments) {
    path = /^\d+$/.test(segment) ? `${path}[${segment}]` : path ? `${path}.${segment}` : segment;
  }
  const message =
    error.keyword === 'additionalProperties'
      ? 'is not an allowed property'
      : error.keyword === 'required'
        ? 'is required'
        : (error.message ?? 'is invalid');
  return { path, message };
}
