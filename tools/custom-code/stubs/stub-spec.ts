import { TERMINAL_STATUSES } from '../../../src/jobs/job-record';
import { MAX_WAIT_SECONDS } from '../../../src/jobs/jobs.service';
import type { HandlerDeclaration, HubSpotOutputType, OutputValue } from '../../../src/registry/job-handler';

export const STUB_LANGUAGES = ['js', 'python'] as const;
export type StubLanguage = (typeof STUB_LANGUAGES)[number];

/**
 * enqueue: starts the job and answers at once. poll: reads a job_id input and waits for that job.
 * enqueue-and-wait: starts the job, then waits for it as long as the step's time allows.
 */
export const STUB_MODES = ['enqueue', 'poll', 'enqueue-and-wait'] as const;
export type StubMode = (typeof STUB_MODES)[number];

/** How a stub reads one input from HubSpot, which often sends numbers and booleans as text. */
export type InputKind = 'string' | 'number' | 'integer' | 'boolean' | 'json' | 'any';

export interface StubInput {
  name: string;
  kind: InputKind;
  required: boolean;
  description: string;
}

/** An output to declare in the workflow editor. */
export interface OutputField {
  name: string;
  hubspotType: HubSpotOutputType;
  description: string;
  options?: readonly string[];
}

export interface HandlerOutput extends OutputField {
  /** What the output holds when the job gave no value: on a failure, or before the job ended. */
  safeDefault: OutputValue;
}

/** HubSpot's limits for a custom code action (20 s per run; at most 50 inputs). */
export const HUBSPOT_STEP_LIMIT_MS = 20_000;
export const HUBSPOT_MAX_INPUTS = 50;

/** A stub stops talking to Offload this long before HubSpot's limit, for start-up and the answer. */
export const STEP_MARGIN_MS = 3_000;
export const STUB_DEADLINE_MS = HUBSPOT_STEP_LIMIT_MS - STEP_MARGIN_MS;
/** The longest an enqueue (or any call that is not a long-poll) may take before it counts as transient. */
export const REQUEST_TIMEOUT_MS = 5_000;
export const LONG_POLL_MAX_SECONDS = MAX_WAIT_SECONDS;

export const SECRETS = [
  { name: 'OFFLOAD_URL', description: "Offload's base URL, e.g. https://offload.example.com (no path)" },
  { name: 'OFFLOAD_API_KEY', description: "the portal's Offload API key (shown once when the portal or key is created)" },
] as const;

/** job_status: the job's state, "pending" until it ends, or "error" when the stub could not get a job. */
export const STUB_JOB_STATUSES = ['pending', ...TERMINAL_STATUSES, 'error'] as const;

export const CONTROL_OUTPUTS: OutputField[] = [
  { name: 'job_id', hubspotType: 'string', description: "Offload's job id; a later poll step takes it as its job_id input" },
  {
    name: 'job_status',
    hubspotType: 'enumeration',
    description: 'pending until the job ends; error when no job could be started or read',
    options: STUB_JOB_STATUSES,
  },
  { name: 'offload_error', hubspotType: 'string', description: 'Why the step has no outputs; empty on success' },
];

export const POLL_INPUT: StubInput = {
  name: 'job_id',
  kind: 'string',
  required: true,
  description: 'the job_id output of the step that enqueued the job',
};

export interface StubSpec {
  type: string;
  version: string;
  mode: StubMode;
  /** The enqueue asks Offload to write the job's outputs to the event's record before the job succeeds. */
  writeback: boolean;
  /** The inputs to declare in the editor: the handler's, or job_id when polling. */
  inputs: StubInput[];
  /**
   * The handler takes record properties by name (its input is a map, like lead-assignment's): the
   * stub passes on every other input the action declares, as HubSpot gives it.
   */
  propertyInputs: boolean;
  /** The handler's outputs, with the value each holds when the job gave none. */
  handlerOutputs: HandlerOutput[];
  /** Everything to declare as outputs: the handler's, then job_id, job_status and offload_error. */
  outputs: OutputField[];
}

const SAFE_DEFAULTS: Record<HubSpotOutputType, OutputValue> = {
  string: '',
  phone_number: '',
  enumeration: '',
  datetime: '',
  date: '',
  number: 0,
  bool: false,
};

/** What a stub of this handler in this mode reads, sends and returns. */
export function stubSpec(declaration: HandlerDeclaration, mode: StubMode, writeback = false): StubSpec {
  if (writeback && mode === 'poll') throw new Error('writeback belongs to the stubs that enqueue, not to poll');
  const handlerOutputs = Object.entries(declaration.outputs).map(([name, output]): HandlerOutput => ({
    name,
    hubspotType: output.hubspotType,
    description: output.description,
    ...(output.options ? { options: output.options } : {}),
    safeDefault: SAFE_DEFAULTS[output.hubspotType],
  }));
  const clash = handlerOutputs.find((output) => CONTROL_OUTPUTS.some((control) => control.name === output.name));
  if (clash) throw new Error(`${declaration.type}: output "${clash.name}" clashes with the stub's own output of that name`);

  const inputs = mode === 'poll' ? [POLL_INPUT] : handlerInputs(declaration);
  if (inputs.length > HUBSPOT_MAX_INPUTS) {
    throw new Error(`${declaration.type}: ${inputs.length} inputs; a HubSpot custom code action takes at most ${HUBSPOT_MAX_INPUTS}`);
  }
  return {
    type: declaration.type,
    version: declaration.version,
    mode,
    writeback,
    inputs,
    propertyInputs: mode !== 'poll' && takesPropertyMap(declaration),
    handlerOutputs,
    outputs: [...handlerOutputs, ...CONTROL_OUTPUTS],
  };
}

interface PropertySchema {
  type?: string | string[];
  description?: string;
  enum?: unknown[];
  const?: unknown;
  anyOf?: PropertySchema[];
  oneOf?: PropertySchema[];
}

function takesPropertyMap(declaration: HandlerDeclaration): boolean {
  const { patternProperties, additionalProperties } = declaration.input as { patternProperties?: object; additionalProperties?: unknown };
  return (patternProperties !== undefined && Object.keys(patternProperties).length > 0) || (typeof additionalProperties === 'object' && additionalProperties !== null);
}

function handlerInputs(declaration: HandlerDeclaration): StubInput[] {
  const properties = (declaration.input.properties ?? {}) as Record<string, PropertySchema>;
  const required = new Set<string>(declaration.input.required ?? []);
  return Object.entries(properties).map(([name, schema]) => ({
    name,
    kind: inputKind(schema),
    required: required.has(name),
    description: schema.description ?? '',
  }));
}

/** The kind of value a property's JSON Schema takes; "any" when it cannot be told, and the value is sent as given. */
export function inputKind(schema: PropertySchema): InputKind {
  const types = (Array.isArray(schema.type) ? schema.type : schema.type ? [schema.type] : []).filter((type) => type !== 'null');
  if (types.length === 1) {
    const [type] = types;
    if (type === 'string' || type === 'number' || type === 'integer' || type === 'boolean') return type;
    if (type === 'object' || type === 'array') return 'json';
  }
  const values = schema.enum ?? (schema.const !== undefined ? [schema.const] : undefined);
  if (values?.length) {
    if (values.every((value) => typeof value === 'string')) return 'string';
    if (values.every((value) => typeof value === 'number')) return 'number';
  }
  const alternatives = (schema.anyOf ?? schema.oneOf)?.filter((alternative) => alternative.type !== 'null');
  if (alternatives?.length) {
    const kinds = new Set(alternatives.map(inputKind));
    if (kinds.size === 1) return [...kinds][0];
    if ([...kinds].every((kind) => kind === 'number' || kind === 'integer')) return 'number';
  }
  return 'any';
}
