import type { TSchema } from '@sinclair/typebox';
import { TERMINAL_STATUSES } from '../../src/jobs/job-record';
import type { HandlerDeclaration, HubSpotOutputType } from '../../src/registry/job-handler';

/** The outputs every Offload action gives besides the handler's: they name the job and what became of it. */
export const JOB_OUTPUTS = {
  job_id: { hubspotType: 'string', description: "The Offload job's id" },
  job_status: { hubspotType: 'enumeration', options: TERMINAL_STATUSES, description: 'How the job ended: succeeded, failed or cancelled' },
  offload_error: { hubspotType: 'string', description: 'Why the job failed, as "code: message"; absent when it succeeded' },
} as const;

/**
 * Offload's error codes, most specific first, with what a workflow user reads in the workflow's
 * history when a step fails with one. A failed step's completion carries the code as `errorCode`
 * (HubSpot's execution rules match output values) and the detail as `offload_error`.
 */
export const EXECUTION_RULES: ReadonlyArray<{ code: string; label: string; message: string }> = [
  { code: 'writeback_rejected', label: 'writebackRejected', message: 'HubSpot refused to save the result on this record: {{ offload_error }}' },
  { code: 'writeback_unconfirmed', label: 'writebackUnconfirmed', message: 'HubSpot did not confirm saving the result on this record: {{ offload_error }}' },
  { code: 'hubspot_record_not_found', label: 'recordNotFound', message: 'The record was not found in HubSpot: {{ offload_error }}' },
  { code: 'hubspot_not_connected', label: 'notConnected', message: 'Offload has no working connection to this HubSpot account; reconnect the app: {{ offload_error }}' },
  { code: 'hubspot_daily_limit', label: 'dailyLimit', message: "This HubSpot account's daily API limit was spent: {{ offload_error }}" },
  { code: 'hubspot_unavailable', label: 'hubspotUnavailable', message: 'HubSpot could not be reached, even after retries: {{ offload_error }}' },
  { code: 'hubspot_refused', label: 'hubspotRefused', message: 'HubSpot refused a request the job made: {{ offload_error }}' },
  { code: 'timeout', label: 'timedOut', message: 'The job took longer than it is allowed to: {{ offload_error }}' },
  { code: 'output_invalid', label: 'outputInvalid', message: 'The job produced results that do not match this action: {{ offload_error }}' },
  { code: 'cancelled', label: 'cancelled', message: 'The job was cancelled before it finished' },
  { code: 'handler_error', label: 'handlerError', message: 'The job failed: {{ offload_error }}' },
];

/** How a HubSpot output type is shown and entered in the workflow editor (HubSpot's type and fieldType pairs). */
const FIELD_TYPES: Record<HubSpotOutputType, string> = {
  string: 'text',
  number: 'number',
  bool: 'booleancheckbox',
  datetime: 'date',
  date: 'date',
  enumeration: 'select',
  phone_number: 'phonenumber',
};
const BOOLEAN_OPTIONS = [
  { label: 'Yes', value: 'true' },
  { label: 'No', value: 'false' },
];

interface FieldTypeDefinition {
  name: string;
  type: string;
  fieldType: string;
  options?: Array<{ label: string; value: string }>;
}

export interface InputField {
  typeDefinition: FieldTypeDefinition;
  supportedValueTypes: string[];
  isRequired: boolean;
}

export interface Labels {
  actionName: string;
  actionDescription: string;
  appDisplayName: string;
  actionCardContent: string;
  inputFieldLabels: Record<string, string>;
  inputFieldDescriptions: Record<string, string>;
  outputFieldLabels: Record<string, string>;
  executionRules: Record<string, string>;
}

/** The parts the hsmeta file and the API body share. */
interface DefinitionParts {
  actionUrl: string;
  inputFields: InputField[];
  outputFields: Array<{ typeDefinition: FieldTypeDefinition }>;
  objectTypes: string[];
  objectRequestOptions?: { properties: string[] };
  labels: { en: Labels };
  executionRules: Array<{ labelName: string; conditions: Record<string, string> }>;
}

/** A definition in the developer platform's project form: `src/app/workflow-actions/<name>-hsmeta.json`. */
export interface HsMetaDefinition {
  uid: string;
  type: 'workflow-action';
  config: DefinitionParts & { isPublished: boolean; supportedClients: Array<{ client: 'WORKFLOWS' }> };
}

/** A definition as the automation actions API creates it (`POST /automation/actions/{version}/{appId}`). */
export type ApiDefinition = DefinitionParts & { published: boolean; functions: [] };

export interface ActionDefinitions {
  hsmeta: HsMetaDefinition;
  api: ApiDefinition;
}

/**
 * A handler's custom workflow action, from its declaration: inputs from its input schema, outputs
 * from its output declaration plus job_id, job_status and offload_error, the objects it runs on,
 * labels, execution rules for Offload's error codes, and its action URL under `publicBaseUrl`.
 */
export function actionDefinitions(declaration: HandlerDeclaration, publicBaseUrl: string): ActionDefinitions {
  const objectTypes = [...(declaration.objectTypes ?? [])];
  if (objectTypes.length === 0) {
    throw new Error(`Handler ${declaration.type} declares no objectTypes: say which records (CONTACT, COMPANY, LEAD, 2-12345, ...) its action runs on`);
  }
  const base = publicBaseUrl.replace(/\/+$/, '');
  if (!/^https?:\/\//.test(base)) throw new Error(`PUBLIC_BASE_URL must be the http(s) URL HubSpot calls Offload at (got "${publicBaseUrl}")`);
  const inputs = inputFields(declaration.input);
  const outputs = { ...declaration.outputs, ...JOB_OUTPUTS };
  const recordProperties = [...(declaration.objectProperties ?? [])];
  const parts: DefinitionParts = {
    actionUrl: `${base}/v1/hubspot/actions/${declaration.type}`,
    inputFields: inputs,
    outputFields: Object.entries(outputs).map(([name, output]) => ({
      typeDefinition: fieldType(name, output.hubspotType, 'options' in output ? output.options : undefined),
    })),
    objectTypes,
    ...(recordProperties.length > 0 ? { objectRequestOptions: { properties: recordProperties } } : {}),
    labels: {
      en: {
        actionName: `Offload: ${humanised(declaration.type)}`,
        actionDescription: declaration.description,
        appDisplayName: 'Offload',
        actionCardContent: `Run the ${declaration.type} job (version ${declaration.version}) on the enrolled record`,
        inputFieldLabels: Object.fromEntries(inputs.map((input) => [input.typeDefinition.name, humanised(input.typeDefinition.name)])),
        inputFieldDescriptions: Object.fromEntries(
          Object.entries(schemaProperties(declaration.input)).flatMap(([name, schema]) => (schema.description ? [[name, String(schema.description)]] : [])),
        ),
        outputFieldLabels: Object.fromEntries(Object.keys(outputs).map((name) => [name, humanised(name)])),
        executionRules: Object.fromEntries(EXECUTION_RULES.map((rule) => [rule.label, rule.message])),
      },
    },
    executionRules: EXECUTION_RULES.map((rule) => ({ labelName: rule.label, conditions: { errorCode: rule.code } })),
  };
  return {
    hsmeta: {
      uid: `offload_${declaration.type.replace(/-/g, '_')}`,
      type: 'workflow-action',
      config: { actionUrl: parts.actionUrl, isPublished: false, supportedClients: [{ client: 'WORKFLOWS' }], ...withoutUrl(parts) },
    },
    api: { ...parts, published: false, functions: [] },
  };
}

function withoutUrl(parts: DefinitionParts): Omit<DefinitionParts, 'actionUrl'> {
  const { actionUrl: _url, ...rest } = parts;
  return rest;
}

function schemaProperties(schema: TSchema): Record<string, TSchema> {
  return (schema.properties ?? {}) as Record<string, TSchema>;
}

/**
 * The input fields of an input schema's properties: numbers and booleans as such, a string with an
 * enum as a choice, other strings as text. A value may be typed in or taken from a property of the
 * record. A schema without named properties (a map of any properties) has none.
 */
function inputFields(schema: TSchema): InputField[] {
  const required = new Set<string>((schema.required as string[] | undefined) ?? []);
  return Object.entries(schemaProperties(schema)).map(([name, property]) => ({
    typeDefinition: inputType(name, property),
    supportedValueTypes: ['STATIC_VALUE', 'OBJECT_PROPERTY'],
    isRequired: required.has(name),
  }));
}

function inputType(name: string, schema: TSchema): FieldTypeDefinition {
  const property = mostGeneral(schema);
  const choices = Array.isArray(property.enum) ? (property.enum as unknown[]).map(String) : undefined;
  if (choices) return fieldType(name, 'enumeration', choices);
  if (property.type === 'integer' || property.type === 'number') return fieldType(name, 'number');
  if (property.type === 'boolean') return fieldType(name, 'bool');
  const long = typeof property.maxLength !== 'number' || property.maxLength > 255;
  return { name, type: 'string', fieldType: long ? 'textarea' : 'text' };
}

/** A union's member that takes the most (text over a number, anything over null): what a workflow field can give it. */
function mostGeneral(schema: TSchema): TSchema {
  const members = ((schema.anyOf as TSchema[] | undefined) ?? [schema]).filter((member) => member.type !== 'null');
  return members.find((member) => member.type === 'string') ?? members[0] ?? schema;
}

function fieldType(name: string, type: HubSpotOutputType, options?: readonly string[]): FieldTypeDefinition {
  const definition: FieldTypeDefinition = { name, type, fieldType: FIELD_TYPES[type] };
  if (type === 'bool') definition.options = BOOLEAN_OPTIONS;
  if (type === 'enumeration') definition.options = (options ?? []).map((value) => ({ label: value, value }));
  return definition;
}

/** lead-assignment -> Lead assignment; icp_score -> Icp score. */
function humanised(name: string): string {
  const words = name.replace(/[-_]+/g, ' ').trim();
  return words.charAt(0).toUpperCase() + words.slice(1);
}
