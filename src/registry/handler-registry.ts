import type { TSchema } from '@sinclair/typebox';
import { FieldProblem } from '../common/api-error';
import { assertValidSchema, compileValidator, Validator } from '../common/schema-validator';
import { isStorableText, UNSTORABLE_TEXT_MESSAGE } from '../common/storable-text';
import { checkSettingDeclarations, HandlerSettings, readSettings } from './handler-settings';
import {
  HandlerDeclaration,
  HUBSPOT_OUTPUT_TYPES,
  JobHandler,
  OutputDeclaration,
  RetryPolicy,
  declarationOf,
} from './job-handler';

export const DEFAULT_TIMEOUT_MS = 60_000;
export const DEFAULT_RETRY: RetryPolicy = { attempts: 3, backoffMs: 1_000, maxBackoffMs: 60_000 };
export const DEFAULT_CONCURRENCY = 16;
/** HubSpot fails a step whose string output is longer than this (OUTPUT_VALUES_TOO_LARGE). */
export const MAX_STRING_OUTPUT = 65_000;

export const TYPE_PATTERN = /^[a-z][a-z0-9-]{0,62}$/;
const OUTPUT_NAME_PATTERN = /^[a-z][a-z0-9_]{0,99}$/;
const PROPERTY_NAME_PATTERN = /^[A-Za-z0-9_]{1,100}$/;
const VERSION_PATTERN = /^\d+\.\d+\.\d+$/;

export interface RegisteredHandler {
  type: string;
  version: string;
  owner: string;
  description: string;
  inputSchema: TSchema;
  outputs: Record<string, OutputDeclaration>;
  timeoutMs: number;
  retry: RetryPolicy;
  concurrency: number;
  instance: JobHandler;
  validateInput: Validator;
  /** Checks a portal's settings for the handler; absent when the handler takes none. */
  config?: { schema: TSchema; default: unknown; validate: Validator };
  settings: HandlerSettings;
  /** The origins context.http may reach. */
  egress: string[];
  scopes: readonly string[];
  objectTypes: readonly string[];
}

export class HandlerDeclarationError extends Error {}

/** The handlers this build knows, checked once at boot: a malformed or duplicate declaration stops start-up. */
export class HandlerRegistry {
  private readonly handlers = new Map<string, RegisteredHandler>();

  /** `settings` by job type, as readHandlerSettings read them at start-up; a handler missing from it gets its defaults. */
  constructor(instances: JobHandler[], settings: ReadonlyMap<string, HandlerSettings> = new Map()) {
    const declarations = checkHandlerClasses(instances.map((instance) => instance.constructor));
    instances.forEach((instance, index) => {
      const declaration = declarations[index];
      this.handlers.set(declaration.type, register(declaration, instance, settings.get(declaration.type) ?? readSettings(declaration.settings, {})));
    });
  }

  get(type: string): RegisteredHandler | undefined {
    return this.handlers.get(type);
  }

  list(): RegisteredHandler[] {
    return [...this.handlers.values()].sort((a, b) => a.type.localeCompare(b.type));
  }

  /** Problems with outputs a handler returned, against its own declaration (empty when they are sound). */
  checkOutputs(type: string, outputs: unknown): FieldProblem[] {
    const handler = this.handlers.get(type);
    if (!handler) return [{ path: 'output', message: `no handler for type ${type}` }];
    return checkOutputs(handler.outputs, outputs);
  }
}

/**
 * Checks handler classes before anything is built from them: every problem is listed at once, and
 * start-up stops on any. Answers the declarations, in order.
 */
export function checkHandlerClasses(classes: Function[]): HandlerDeclaration[] {
  const problems: string[] = [];
  const types = new Set<string>();
  const variables = new Map<string, string>();
  const declarations = classes.map((handlerClass) => {
    const declaration = declarationOf(handlerClass);
    const name = handlerClass.name;
    if (!declaration) {
      problems.push(`${name} has no @JobHandlerOf declaration`);
      return undefined;
    }
    problems.push(...checkDeclaration(declaration).map((problem) => `${name} (${declaration.type}): ${problem}`));
    if (types.has(declaration.type)) problems.push(`${name}: job type "${declaration.type}" is declared twice`);
    if (typeof handlerClass.prototype?.run !== 'function') problems.push(`${name}: has no run(context) method`);
    for (const variable of Object.keys(declaration.settings ?? {})) {
      const owner = variables.get(variable);
      if (owner !== undefined && owner !== declaration.type) problems.push(`${name}: setting ${variable} is declared by ${owner} too`);
      variables.set(variable, declaration.type);
    }
    types.add(declaration.type);
    return declaration;
  });
  if (problems.length > 0) {
    throw new HandlerDeclarationError(`Refusing to start; fix these job handlers:\n- ${problems.join('\n- ')}`);
  }
  return declarations as HandlerDeclaration[];
}

function register(declaration: HandlerDeclaration, instance: JobHandler, settings: HandlerSettings): RegisteredHandler {
  return {
    type: declaration.type,
    version: declaration.version,
    owner: declaration.owner,
    description: declaration.description,
    inputSchema: declaration.input,
    outputs: declaration.outputs,
    timeoutMs: declaration.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    retry: { ...DEFAULT_RETRY, ...declaration.retry },
    concurrency: declaration.concurrency ?? DEFAULT_CONCURRENCY,
    instance,
    validateInput: compileValidator(declaration.input),
    config: declaration.config && { schema: declaration.config.schema, default: declaration.config.default, validate: configValidator(declaration.config) },
    settings,
    egress: declaration.egress?.(settings) ?? [],
    scopes: declaration.scopes ?? [],
    objectTypes: declaration.objectTypes ?? [],
  };
}

const SCOPE_PATTERN = /^[a-z][a-z0-9._-]*$/;
const PROPERTY_PATTERN = /^[a-z][a-z0-9_]{0,99}$/;
/** A standard object's singular name in capitals, or a custom object's type id or qualified name. */
const OBJECT_TYPE_PATTERN = /^([A-Z][A-Z_]*|2-\d{1,12}|p\d*_[a-z][a-z0-9_]*)$/;

function checkDeclaration(d: HandlerDeclaration): string[] {
  const problems: string[] = [];
  if (typeof d.type !== 'string' || !TYPE_PATTERN.test(d.type)) {
    problems.push('type must be lower-case letters, digits and "-", starting with a letter');
  }
  if (typeof d.version !== 'string' || !VERSION_PATTERN.test(d.version)) problems.push('version must be MAJOR.MINOR.PATCH');
  if (!d.owner?.trim()) problems.push('owner is required');
  if (!d.description?.trim()) problems.push('description is required');
  if (!d.input || typeof d.input !== 'object' || d.input.type !== 'object') {
    problems.push('input must be a JSON Schema of type object');
  } else {
    try {
      assertValidSchema(d.input);
    } catch (error) {
      problems.push(`input is not a valid JSON Schema: ${(error as Error).message}`);
    }
  }
  if (!d.outputs || typeof d.outputs !== 'object') {
    problems.push('outputs must map output names to their declarations');
  } else {
    for (const [name, output] of Object.entries(d.outputs)) {
      if (!OUTPUT_NAME_PATTERN.test(name)) problems.push(`output "${name}" must be snake_case`);
      if (!HUBSPOT_OUTPUT_TYPES.includes(output?.hubspotType)) {
        problems.push(`output "${name}" has hubspotType "${output?.hubspotType}", not one of ${HUBSPOT_OUTPUT_TYPES.join(', ')}`);
      }
      if (!output?.description?.trim()) problems.push(`output "${name}" needs a description`);
      if (output?.hubspotType === 'enumeration' && !(output.options && output.options.length > 0)) {
        problems.push(`enumeration output "${name}" needs its options`);
      }
      if (output?.property !== undefined && output.property !== null && !PROPERTY_NAME_PATTERN.test(output.property)) {
        problems.push(`output "${name}" has property "${output.property}", not a HubSpot property name (letters, digits, "_")`);
      }
    }
  }
  if (d.config !== undefined) problems.push(...checkConfigDeclaration(d.config));
  if (d.settings !== undefined) problems.push(...checkSettingDeclarations(d.type, d.settings));
  if (d.egress !== undefined && typeof d.egress !== 'function') problems.push('egress must be a function of the settings');
  if (d.providers !== undefined && !Array.isArray(d.providers)) problems.push('providers must be a list of injectable helpers');
  for (const scope of d.scopes ?? []) if (!SCOPE_PATTERN.test(scope)) problems.push(`scope "${scope}" is not a HubSpot scope name`);
  for (const property of d.objectProperties ?? []) if (!PROPERTY_PATTERN.test(property)) problems.push(`object property "${property}" is not a HubSpot property name`);
  for (const objectType of d.objectTypes ?? []) {
    if (!OBJECT_TYPE_PATTERN.test(objectType)) problems.push(`object type "${objectType}" is not as HubSpot names objects (CONTACT, LEAD, 2-12345)`);
  }
  const positive = (value: number | undefined, label: string, max: number) => {
    if (value !== undefined && (!Number.isInteger(value) || value < 1 || value > max)) {
      problems.push(`${label} must be an integer from 1 to ${max}`);
    }
  };
  positive(d.timeoutMs, 'timeoutMs', 24 * 3600 * 1000);
  positive(d.concurrency, 'concurrency', 1000);
  positive(d.retry?.attempts, 'retry.attempts', 100);
  positive(d.retry?.backoffMs, 'retry.backoffMs', 24 * 3600 * 1000);
  positive(d.retry?.maxBackoffMs, 'retry.maxBackoffMs', 7 * 24 * 3600 * 1000);
  return problems;
}

/** A config schema must be sound and its default must pass it (and its check): a portal that set nothing still runs. */
function checkConfigDeclaration(config: NonNullable<HandlerDeclaration['config']>): string[] {
  if (!config?.schema || config.schema.type !== 'object') return ['config.schema must be a JSON Schema of type object'];
  try {
    assertValidSchema(config.schema);
  } catch (error) {
    return [`config.schema is not a valid JSON Schema: ${(error as Error).message}`];
  }
  if (config.check !== undefined && typeof config.check !== 'function') return ['config.check must be a function of the settings'];
  const problems = configValidator(config)(config.default);
  return problems.length > 0 ? [`config.default is refused by its own declaration: ${problems.map((p) => `${p.path} ${p.message}`).join('; ')}`] : [];
}

/** The schema first; the declaration's own check then sees only settings of the shape it expects. */
function configValidator(config: NonNullable<HandlerDeclaration['config']>): Validator {
  const validateSchema = compileValidator(config.schema);
  return (value, pathPrefix = '') => {
    const problems = validateSchema(value, pathPrefix);
    if (problems.length > 0 || !config.check) return problems;
    return config.check(value).map(({ path, message }) => ({ path: pathPrefix && path ? `${pathPrefix}.${path}` : pathPrefix || path, message }));
  };
}

const DAY_MS = 86_400_000;

function checkOutputs(declared: Record<string, OutputDeclaration>, outputs: unknown): FieldProblem[] {
  if (outputs === null || typeof outputs !== 'object' || Array.isArray(outputs)) {
    return [{ path: 'output', message: 'must be an object of output fields' }];
  }
  const problems: FieldProblem[] = [];
  const values = outputs as Record<string, unknown>;
  for (const name of Object.keys(values)) {
    if (!(name in declared)) problems.push({ path: `output.${name}`, message: 'is not a declared output' });
  }
  for (const [name, output] of Object.entries(declared)) {
    const value = values[name];
    const path = `output.${name}`;
    if (value === undefined) {
      if (!output.optional) problems.push({ path, message: 'is declared but missing' });
      continue;
    }
    const problem = checkValue(output, value);
    if (problem) problems.push({ path, message: problem });
  }
  return problems;
}

function checkValue(output: OutputDeclaration, value: unknown): string | undefined {
  switch (output.hubspotType) {
    case 'string':
    case 'phone_number':
      if (typeof value !== 'string') return `must be a string (${output.hubspotType})`;
      if (!isStorableText(value)) return UNSTORABLE_TEXT_MESSAGE;
      return value.length > MAX_STRING_OUTPUT ? `is longer than ${MAX_STRING_OUTPUT} characters` : undefined;
    case 'number':
      return typeof value === 'number' && Number.isFinite(value) ? undefined : 'must be a finite number';
    case 'bool':
      return typeof value === 'boolean' ? undefined : 'must be a boolean';
    case 'datetime':
      return Number.isInteger(value) ? undefined : 'must be a Unix time in milliseconds';
    case 'date':
      return Number.isInteger(value) && (value as number) % DAY_MS === 0 ? undefined : 'must be milliseconds at midnight UTC';
    case 'enumeration':
      return typeof value === 'string' && output.options?.includes(value) ? undefined : `must be one of ${output.options?.join(', ')}`;
  }
}
