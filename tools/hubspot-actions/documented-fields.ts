import {
  FieldTypeDefinition,
  FieldTypeDefinitionFieldTypeEnum,
  FieldTypeDefinitionTypeEnum,
  InputFieldDefinition,
  InputFieldDefinitionSupportedValueTypesEnum,
  OutputFieldDefinition,
  PublicActionDefinitionEgg,
  PublicActionLabels,
  PublicExecutionTranslationRule,
  PublicObjectRequestOptions,
} from '@hubspot/api-client/lib/codegen/automation/actions';
import { workflowObjectType } from '../../src/hubspot/client/object-types';
import type { ActionDefinitions } from './action-definition';

/**
 * The fields HubSpot documents for a custom workflow action definition, as the official client's
 * models (generated from HubSpot's OpenAPI specification) name them, by part of the definition.
 */
export const DOCUMENTED_API_FIELDS = {
  definition: fieldsOf(PublicActionDefinitionEgg),
  inputField: fieldsOf(InputFieldDefinition),
  outputField: fieldsOf(OutputFieldDefinition),
  typeDefinition: fieldsOf(FieldTypeDefinition),
  labels: fieldsOf(PublicActionLabels),
  executionRule: fieldsOf(PublicExecutionTranslationRule),
  objectRequestOptions: fieldsOf(PublicObjectRequestOptions),
};

/** Required of a definition the API creates (PublicActionDefinitionEgg). */
export const REQUIRED_API_FIELDS = ['actionUrl', 'functions', 'inputFields', 'labels', 'objectTypes', 'published'];

/**
 * The developer platform's `*-hsmeta.json` fields (HubSpot's "custom workflow actions" page of the
 * developer platform documentation): `uid`, `type` and `config`, whose fields are the API's with
 * `isPublished` for `published` and the required `supportedClients`.
 */
export const DOCUMENTED_HSMETA_FIELDS = {
  file: ['uid', 'type', 'config'],
  config: ['actionUrl', 'isPublished', 'supportedClients', 'inputFields', 'outputFields', 'objectTypes', 'objectRequestOptions', 'inputFieldDependencies', 'labels', 'executionRules'],
  required: ['actionUrl', 'supportedClients', 'labels'],
};

/** HubSpot's value types and field types of a typeDefinition, and the value types an input supports. */
export const FIELD_VALUE_TYPES: string[] = Object.values(FieldTypeDefinitionTypeEnum);
export const FIELD_TYPES: string[] = Object.values(FieldTypeDefinitionFieldTypeEnum);
export const SUPPORTED_VALUE_TYPES: string[] = Object.values(InputFieldDefinitionSupportedValueTypesEnum);

/** Every key of `value` that HubSpot does not document for that part of a definition. */
function undocumented(value: object, documented: string[]): string[] {
  return Object.keys(value).filter((key) => !documented.includes(key));
}

/** What of a generated definition breaks HubSpot's documented definition: unknown or missing fields, values out of its enums. */
export function definitionProblems({ hsmeta, api }: ActionDefinitions): string[] {
  const problems: string[] = [];
  const check = (where: string, value: object, documented: string[]) => problems.push(...undocumented(value, documented).map((key) => `${where}.${key} is not documented`));
  check('hsmeta', hsmeta, DOCUMENTED_HSMETA_FIELDS.file);
  check('hsmeta.config', hsmeta.config, DOCUMENTED_HSMETA_FIELDS.config);
  if (hsmeta.type !== 'workflow-action') problems.push('hsmeta.type must be workflow-action');
  for (const field of DOCUMENTED_HSMETA_FIELDS.required) if ((hsmeta.config as unknown as Record<string, unknown>)[field] === undefined) problems.push(`hsmeta.config.${field} is required`);
  check('api', api, DOCUMENTED_API_FIELDS.definition);
  for (const field of REQUIRED_API_FIELDS) if ((api as unknown as Record<string, unknown>)[field] === undefined) problems.push(`api.${field} is required`);
  for (const [index, input] of api.inputFields.entries()) {
    check(`inputFields[${index}]`, input, DOCUMENTED_API_FIELDS.inputField);
    check(`inputFields[${index}].typeDefinition`, input.typeDefinition, DOCUMENTED_API_FIELDS.typeDefinition);
    for (const valueType of input.supportedValueTypes) if (!SUPPORTED_VALUE_TYPES.includes(valueType)) problems.push(`inputFields[${index}] supports ${valueType}`);
  }
  for (const [index, output] of api.outputFields.entries()) {
    check(`outputFields[${index}]`, output, DOCUMENTED_API_FIELDS.outputField);
    check(`outputFields[${index}].typeDefinition`, output.typeDefinition, DOCUMENTED_API_FIELDS.typeDefinition);
  }
  for (const { typeDefinition } of [...api.inputFields, ...api.outputFields]) {
    if (!FIELD_VALUE_TYPES.includes(typeDefinition.type)) problems.push(`${typeDefinition.name} has type ${typeDefinition.type}`);
    if (!FIELD_TYPES.includes(typeDefinition.fieldType)) problems.push(`${typeDefinition.name} has fieldType ${typeDefinition.fieldType}`);
    if (typeDefinition.type === 'enumeration' && !typeDefinition.options?.length) problems.push(`${typeDefinition.name} is an enumeration without options`);
  }
  check('labels.en', api.labels.en, DOCUMENTED_API_FIELDS.labels);
  for (const rule of api.executionRules) {
    check(`executionRules.${rule.labelName}`, rule, DOCUMENTED_API_FIELDS.executionRule);
    if (!api.labels.en.executionRules[rule.labelName]) problems.push(`execution rule ${rule.labelName} has no message in labels.en.executionRules`);
  }
  if (api.objectRequestOptions) check('objectRequestOptions', api.objectRequestOptions, DOCUMENTED_API_FIELDS.objectRequestOptions);
  for (const objectType of api.objectTypes) if (workflowObjectType(objectType) !== objectType) problems.push(`object type ${objectType} is not as HubSpot names it`);
  return problems;
}

function fieldsOf(model: { getAttributeTypeMap(): Array<{ baseName: string }> }): string[] {
  return model.getAttributeTypeMap().map((attribute) => attribute.baseName);
}
