import type { TSchema } from '@sinclair/typebox';

/**
 * A job's input from what a workflow sent: record properties are always text, and an unset one is
 * "" or null, so a value the handler's input schema declares as a number, integer or boolean is
 * read as one, and an empty one is left out. With `declaredOnly`, values the schema does not declare
 * are dropped (a webhook sends every property it was given, not only the handler's).
 */
export function workflowInput(
  values: Record<string, unknown>,
  schema: TSchema,
  options: { declaredOnly: boolean },
): Record<string, unknown> {
  const declared = (schema.properties ?? {}) as Record<string, { type?: unknown }>;
  const input: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(values)) {
    const property = Object.hasOwn(declared, name) ? declared[name] : undefined;
    if (!property) {
      if (!options.declaredOnly) input[name] = value;
      continue;
    }
    const type = property.type;
    const typed = type === 'number' || type === 'integer' || type === 'boolean';
    if (typed && (value === null || value === '')) continue;
    input[name] = typeof value === 'string' && typed ? fromText(value, type) : value;
  }
  return input;
}

/** The text as the declared type when it reads as one; otherwise the text, for validation to name. */
function fromText(text: string, type: 'number' | 'integer' | 'boolean'): unknown {
  const trimmed = text.trim();
  if (type === 'boolean') {
    const lower = trimmed.toLowerCase();
    return lower === 'true' ? true : lower === 'false' ? false : text;
  }
  return trimmed !== '' && Number.isFinite(Number(trimmed)) ? Number(trimmed) : text;
}
