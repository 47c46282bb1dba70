import type { JobOutputs, OutputDeclaration, OutputValue } from '../../registry/job-handler';

/** One job's write to one record. */
export interface RecordWrite {
  recordId: string;
  properties: Record<string, string>;
}

/** An input of HubSpot's batch update. */
export interface BatchUpdateInput {
  id: string;
  properties: Record<string, string>;
}

/** The part of a batch update answer that tells which records HubSpot refused (a 207 carries errors). */
export interface BatchUpdateAnswer {
  results?: Array<{ id: string }>;
  errors?: Array<{ message?: string; context?: { ids?: string[] } }>;
}

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
 * One input per record, as HubSpot requires in a batch: writes to the same record are merged in
 * order, so where two set the same property the later one wins.
 */
export function mergeWrites(writes: RecordWrite[]): BatchUpdateInput[] {
  const merged = new Map<string, Record<string, string>>();
  for (const write of writes) merged.set(write.recordId, { ...merged.get(write.recordId), ...write.properties });
  return [...merged].map(([id, properties]) => ({ id, properties }));
}

/**
 * The records of a batch update HubSpot refused, with its message for each. An error names its
 * records in context.ids; one that names none applies to every record missing from the results.
 */
export function refusedRecords(ids: string[], answer: BatchUpdateAnswer): Map<string, string> {
  const refused = new Map<string, string>();
  const errors = answer.errors ?? [];
  for (const error of errors) {
    for (const id of error.context?.ids ?? []) refused.set(String(id), error.message ?? 'HubSpot refused the update');
  }
  const unattributed = errors.find((error) => !error.context?.ids?.length);
  if (unattributed) {
    const updated = new Set((answer.results ?? []).map((result) => String(result.id)));
    for (const id of ids) {
      if (!updated.has(id) && !refused.has(id)) refused.set(id, unattributed.message ?? 'HubSpot refused the update');
    }
  }
  return refused;
}
