import type { SchemaObject } from '@nestjs/swagger/dist/interfaces/open-api-spec.interface';
import type { Static, TSchema } from '@sinclair/typebox';
import { ApiError } from './api-error';
import { compileValidator } from './schema-validator';

export interface RequestSchema<T extends TSchema> {
  schema: T;
  /** The same schema, typed for @ApiBody. */
  openApi: SchemaObject;
  /** The body as its static type, or an ApiError naming every offending field. */
  parse(body: unknown): Static<T>;
}

/** One definition serves validation and the OpenAPI document. */
export function requestSchema<T extends TSchema>(schema: T): RequestSchema<T> {
  const validate = compileValidator(schema);
  return {
    schema,
    openApi: schema as unknown as SchemaObject,
    parse(body) {
      const problems = validate(body);
      if (problems.length > 0) throw ApiError.validation(problems);
      return body as Static<T>;
    },
  };
}
