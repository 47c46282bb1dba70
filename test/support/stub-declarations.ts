import { Type } from '@sinclair/typebox';
import type { HandlerDeclaration } from '../../src/registry/job-handler';

/** A handler with an input and an output of every kind a stub handles, for the generator's tests. */
export const scoringDeclaration: HandlerDeclaration = {
  type: 'scoring',
  version: '2.1.0',
  owner: 'tests',
  description: 'scores a record',
  input: Type.Object(
    {
      count: Type.Integer({ description: 'how many' }),
      ratio: Type.Optional(Type.Number()),
      active: Type.Optional(Type.Boolean()),
      tags: Type.Optional(Type.Array(Type.String())),
      label: Type.Optional(Type.String()),
      tier: Type.Optional(Type.Union([Type.Literal('gold'), Type.Literal('silver')])),
      anything: Type.Optional(Type.Unknown()),
    },
    { additionalProperties: false },
  ),
  outputs: {
    score: { hubspotType: 'number', description: 'the score' },
    qualified: { hubspotType: 'bool', description: 'qualified or not' },
    summary: { hubspotType: 'string', description: 'why' },
    grade: { hubspotType: 'enumeration', description: 'the grade', options: ['A', 'B'] },
    scored_at: { hubspotType: 'datetime', description: 'when' },
    review_on: { hubspotType: 'date', description: 'review day', optional: true },
    phone: { hubspotType: 'phone_number', description: 'who to call', optional: true },
  },
};

/** A handler that takes record properties by name, as lead-assignment does. */
export const routingDeclaration: HandlerDeclaration = {
  type: 'routing',
  version: '1.0.0',
  owner: 'tests',
  description: 'routes a record by its properties',
  input: Type.Record(Type.String({ pattern: '^[a-z][a-z0-9_]*$' }), Type.Union([Type.String(), Type.Number(), Type.Null()]), {
    additionalProperties: false,
  }),
  outputs: { owner_id: { hubspotType: 'string', description: 'the owner' } },
};
