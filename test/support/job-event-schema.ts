import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The published contract of the lifecycle events, as the repository keeps it. */
const schema = JSON.parse(readFileSync(join(__dirname, '..', '..', 'docs', 'events', 'job-event.v1.schema.json'), 'utf8'));
const ajv = new Ajv2020({ allErrors: true, strict: true });
addFormats(ajv);
const validate = ajv.compile(schema);

/** The problems of an event against docs/events/job-event.v1.schema.json; empty when it conforms. */
export function jobEventProblems(event: unknown): string[] {
  if (validate(event)) return [];
  return (validate.errors ?? []).map((error) => `${error.instancePath || '/'} ${error.message}`);
}
