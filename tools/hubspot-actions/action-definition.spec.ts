import { loadHandlerDeclarations } from '../custom-code/handler-declarations';
import { actionDefinitions, EXECUTION_RULES, JOB_OUTPUTS } from './action-definition';
import { COMMITTED_DIR, freshDefinition, readCommittedDefinition } from './committed-definitions';
import { definitionProblems } from './documented-fields';

const declarations = loadHandlerDeclarations();

describe('custom workflow action definitions', () => {
  it.each(declarations.map((declaration) => [declaration.type, declaration] as const))(
    'generates one for %s that keeps to the fields HubSpot documents, with every output and execution rule',
    (_, declaration) => {
      const definitions = actionDefinitions(declaration, 'https://offload.example.com/');
      expect(definitionProblems(definitions)).toEqual([]);
      const outputs = definitions.api.outputFields.map((output) => output.typeDefinition.name);
      expect(outputs).toEqual([...Object.keys(declaration.outputs), ...Object.keys(JOB_OUTPUTS)]);
      expect(definitions.api.executionRules.map((rule) => rule.conditions.errorCode)).toEqual(EXECUTION_RULES.map((rule) => rule.code));
      expect(definitions.api.actionUrl).toBe(`https://offload.example.com/v1/hubspot/actions/${declaration.type}`);
      expect(definitions.hsmeta.config.inputFields).toEqual(definitions.api.inputFields);
      expect(definitions.hsmeta.config).toMatchObject({ isPublished: false, supportedClients: [{ client: 'WORKFLOWS' }] });
    },
  );

  it(`matches the definitions committed in ${COMMITTED_DIR} (npm run action:definition -- --update-committed makes them again)`, () => {
    for (const declaration of declarations) expect({ [declaration.type]: readCommittedDefinition(declaration.type) }).toEqual({ [declaration.type]: freshDefinition(declaration) });
  });

  it('takes inputs from the schema: numbers, booleans with their options, required ones, and no fields for a map of properties', () => {
    const noop = actionDefinitions(declarations.find((d) => d.type === 'noop')!, 'https://o.example').api;
    expect(noop.inputFields.map((input) => [input.typeDefinition.name, input.typeDefinition.type, input.isRequired])).toEqual([
      ['sleepMs', 'number', false],
      ['failTimes', 'number', false],
      ['fatal', 'bool', false],
    ]);
    expect(noop.inputFields[2].typeDefinition.options).toEqual([
      { label: 'Yes', value: 'true' },
      { label: 'No', value: 'false' },
    ]);
    expect(actionDefinitions(declarations.find((d) => d.type === 'lead-assignment')!, 'https://o.example').api.inputFields).toEqual([]);
    expect(actionDefinitions(declarations.find((d) => d.type === 'icp-score')!, 'https://o.example').api.objectRequestOptions).toEqual({
      properties: ['industry', 'numberofemployees', 'annualrevenue', 'country', 'jobtitle', 'lifecyclestage'],
    });
  });

  it('refuses a handler without object types, and a base URL HubSpot cannot call', () => {
    const noop = declarations.find((d) => d.type === 'noop')!;
    expect(() => actionDefinitions({ ...noop, objectTypes: [] }, 'https://o.example')).toThrow(/objectTypes/);
    expect(() => actionDefinitions(noop, 'offload.example.com')).toThrow(/PUBLIC_BASE_URL/);
  });
});
