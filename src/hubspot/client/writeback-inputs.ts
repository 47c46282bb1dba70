import type { JobOutputs, OutputDeclaration, OutputValue } from '../../registry/job-handler';

/** One job's write to one record. */
export interface RecordWrite {
  recordId: string;
  properties: Record<string, string>;
  /** The job's place among writes to the same record (its creation time): where two set a property, the later one's value is kept. */
  order: number;
}

/** An input of HubSpot's batch update; its trace id (the record id) lets an error name the input it is about. */
export interface BatchUpdateInput {
  id: string;
  objectWriteTraceId: string;
  properties: Record<string, string>;
}

/** An error of a batch update answer (a 207 carries them), or the body of a 400 refusing the whole batch. */
export interface BatchUpdateError {
  message?: string;
  context?: { ids?: string[]; objectWriteTraceId?: string[]; propertyName?: string[] };
}

/** The part of a batch update answer that tells what became of each record. */
export interface BatchUpdateAnswer {
  results?: Array<{ id: string }>;
  errors?: BatchUpdateError[];
}

/** What a batch update answer says of one record: written, refused (naming the properties at fault when it does), or nothing. */
export type RecordVerdict = { written: true } | { refused: string; properties: string[] } | { unconfirmed: true };

/**
 * An output as a HubSpot property value, which is always a string: booleans as "true"/"false",
 * numbers (datetime and date outputs are Unix milliseconds) in plain decimal, never in exponent form.
 */
export function propertyValue(value: OutputValue): string {
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'number') {
    const plain = String(value);
    return /e/i.test(plain) ? value.toLocaleString('en-US', { useGrouping: false, maximumSignificantDigits: 21 }) : plain;
  }
  return value;
}

/**
 * The properties a job's outputs write: each output to the property the portal maps it to for the
 * object type, else to the one its declaration names, else to the property of the same name (null,
 * in either place: not written).
 */
export function outputProperties(
  outputs: JobOutputs,
  mapping: Record<string, string | null> = {},
  declared: Record<string, Pick<OutputDeclaration, 'property'>> = {},
): Record<string, string> {
  const properties: Record<string, string> = {};
  for (const [name, value] of Object.entries(outputs)) {
    const declaredProperty = declared[name]?.property;
    const property = Object.hasOwn(mapping, name) ? mapping[name] : declaredProperty === undefined ? name : declaredProperty;
    if (property !== null) properties[property] = propertyValue(value);
  }
  return properties;
}

/**
 * One input per record, as HubSpot requires in a batch: writes to the same record are merged in job
 * order (the order they came in where jobs tie), so where two set the same property the later job wins.
 */
export function mergeWrites(writes: RecordWrite[]): BatchUpdateInput[] {
  const merged = new Map<string, Record<string, string>>();
  for (const write of inJobOrder(writes)) merged.set(write.recordId, { ...merged.get(write.recordId), ...write.properties });
  return [...merged].map(([id, properties]) => ({ id, objectWriteTraceId: id, properties }));
}

export function inJobOrder(writes: RecordWrite[]): RecordWrite[] {
  return [...writes].sort((a, b) => a.order - b.order);
}

/**
 * What the answer says of each record sent. An error names its records in context.ids (or by trace
 * id); one that names none applies to every record missing from the results. A record neither in the
 * results nor refused is unconfirmed: HubSpot has been seen leaving records out without an error, so
 * it is never taken as written.
 */
export function recordVerdicts(ids: string[], answer: BatchUpdateAnswer): Map<string, RecordVerdict> {
  const verdicts = new Map<string, RecordVerdict>();
  const errors = answer.errors ?? [];
  for (const result of answer.results ?? []) verdicts.set(String(result.id), { written: true });
  for (const error of errors) {
    for (const id of [...(error.context?.ids ?? []), ...(error.context?.objectWriteTraceId ?? [])]) verdicts.set(String(id), refusal(error));
  }
  const unattributed = errors.find((error) => !error.context?.ids?.length && !error.context?.objectWriteTraceId?.length);
  for (const id of ids) {
    if (!verdicts.has(id)) verdicts.set(id, unattributed ? refusal(unattributed) : { unconfirmed: true });
  }
  return verdicts;
}

/** A refusal with the properties it names: in context.propertyName, or in its message (`Property "x" does not exist`, or HubSpot's list of invalid values with their `name`). */
export function refusal(error: BatchUpdateError): { refused: string; properties: string[] } {
  const message = error.message ?? 'HubSpot refused the update';
  const properties = new Set(error.context?.propertyName ?? []);
  for (const match of message.matchAll(/"name":"([^"]+)"|Property \\?"([^"\\]+)\\?"/g)) properties.add(match[1] ?? match[2]);
  return { refused: message, properties: [...properties] };
}

/**
 * Whether a record's property, as HubSpot reads it back, holds a value that was written to it.
 * HubSpot keeps values in its own form: numbers without trailing zeros, datetimes (written as Unix
 * milliseconds) as ISO text. A value it holds in a form not recognised here is taken as not
 * written, which costs one more write of the same value, never a lost one.
 */
export function sameValue(written: string, read: string | null | undefined): boolean {
  if (read === null || read === undefined) return written === '';
  if (read === written) return true;
  const number = Number(written);
  if (written.trim() === '' || !Number.isFinite(number)) return false;
  if (Number(read) === number && read.trim() !== '') return true;
  return /^\d{4}-\d{2}-\d{2}/.test(read) && Date.parse(read) === number;
}
