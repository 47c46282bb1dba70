import { FieldProblem } from './api-error';

const NUL = '\u0000';
/** What a validation problem says of such text. */
export const UNSTORABLE_TEXT_MESSAGE =
  'must not contain U+0000 or an unpaired surrogate (\\ud800 to \\udfff alone): PostgreSQL cannot store them';

/** Whether PostgreSQL's text and jsonb can hold this string. */
export function isStorableText(text: string): boolean {
  return !text.includes(NUL) && text.isWellFormed();
}

/** The string with what PostgreSQL cannot hold replaced by U+FFFD. */
function toStorable(text: string): string {
  return text.replaceAll(NUL, '\uFFFD').toWellFormed();
}

/**
 * Whether a JSON text may hold a string PostgreSQL refuses: U+0000 and unpaired surrogates reach
 * a parsed value only through \u escapes, so a text without any is storable as it is.
 */
export function mayHoldUnstorableText(json: string): boolean {
  return json.includes('\\u');
}

/**
 * Where a parsed JSON body holds a string (or a key) PostgreSQL cannot store, with paths as
 * validation errors spell them. Let through, such a string would fail the whole statement, and
 * with it every request batched into the same INSERT.
 */
export function unstorableTextProblems(value: unknown, path = ''): FieldProblem[] {
  if (typeof value === 'string') return isStorableText(value) ? [] : [{ path, message: UNSTORABLE_TEXT_MESSAGE }];
  if (value === null || typeof value !== 'object') return [];
  if (Array.isArray(value)) return value.flatMap((item, index) => unstorableTextProblems(item, `${path}[${index}]`));
  return Object.entries(value).flatMap(([key, item]) => {
    const keyStorable = isStorableText(key);
    const shown = keyStorable ? key : JSON.stringify(key).slice(1, -1);
    const itemPath = path ? `${path}.${shown}` : shown;
    return [...(keyStorable ? [] : [{ path: itemPath, message: UNSTORABLE_TEXT_MESSAGE }]), ...unstorableTextProblems(item, itemPath)];
  });
}

function storableReplacer(_key: string, value: unknown): unknown {
  if (typeof value === 'string') return isStorableText(value) ? value : toStorable(value);
  if (value === null || typeof value !== 'object' || Array.isArray(value) || Object.keys(value).every(isStorableText)) return value;
  return Object.fromEntries(Object.entries(value).map(([key, item]) => [toStorable(key), item]));
}

/**
 * JSON.stringify for a statement parameter built from text the server did not check at the door (a
 * handler's error message that quotes a provider's bytes, say): what PostgreSQL would refuse becomes
 * U+FFFD instead of failing the statement and every other job batched into it.
 */
export function storableJson(value: unknown): string {
  const json = JSON.stringify(value);
  return mayHoldUnstorableText(json) ? JSON.stringify(value, storableReplacer) : json;
}
