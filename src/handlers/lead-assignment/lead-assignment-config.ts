import { Static, Type } from '@sinclair/typebox';
import type { FieldProblem } from '../../common/api-error';

/** HubSpot's internal property names: lower-case letters, digits and "_". */
export const PROPERTY_NAME_PATTERN = '^[a-z][a-z0-9_]{0,99}$';
const POOL_NAME_PATTERN = '^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$';
/** An owner as HubSpot's owners API names it: its id (what hubspot_owner_id holds) or its email. */
const ownerReference = (description: string) =>
  Type.String({ pattern: '^(\\d{1,20}|[^@\\s]{1,64}@[^@\\s]{1,255})$', description });

export const STRATEGIES = ['round_robin', 'weighted', 'capacity'] as const;
export type Strategy = (typeof STRATEGIES)[number];

const valueList = (description: string) =>
  Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 200 }), { minItems: 1, maxItems: 500, description }));

const condition = Type.Object(
  {
    property: Type.String({ pattern: PROPERTY_NAME_PATTERN, description: 'The property: from the job input, else read from the job’s CRM record' }),
    in: valueList('Holds when the value is one of these (case and surrounding spaces ignored)'),
    notIn: valueList('Holds when the value is known and none of these'),
    min: Type.Optional(Type.Number({ description: 'Holds when the value is a number at least this' })),
    max: Type.Optional(Type.Number({ description: 'Holds when the value is a number at most this' })),
    known: Type.Optional(Type.Boolean({ description: 'true: holds when the value is set; false: when it is unset or empty' })),
  },
  { additionalProperties: false },
);

const territory = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 100, description: 'Given as the `territory` output' }),
    when: Type.Array(condition, { maxItems: 20, description: 'Every condition must hold; none: the territory takes every lead' }),
    pool: Type.String({ pattern: POOL_NAME_PATTERN, description: 'The pool whose owners the territory’s leads go to' }),
  },
  { additionalProperties: false },
);

const member = Type.Object(
  {
    owner: ownerReference('The owner’s id or email'),
    weight: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, description: 'weighted pools: the owner’s share (default 1)' })),
    capacity: Type.Optional(Type.Integer({ minimum: 1, maximum: 100_000, description: 'capacity pools: most open leads the owner takes' })),
  },
  { additionalProperties: false },
);

const pool = Type.Object(
  {
    // A string enum rather than a union of literals: one clear error for a wrong strategy, not one per literal.
    strategy: Type.Unsafe<Strategy>({
      type: 'string',
      enum: [...STRATEGIES],
      description:
        'round_robin: each available owner in turn; weighted: in turn, each as often as its weight; capacity: the owner with the fewest open leads, below its capacity',
    }),
    owners: Type.Optional(Type.Array(member, { minItems: 1, maxItems: 100, description: 'The pool’s owners, in turn order' })),
    team: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'Or: the active owners of this HubSpot team (name or id)' })),
    capacity: Type.Optional(
      Type.Integer({ minimum: 1, maximum: 100_000, description: 'capacity pools: the capacity of every owner that sets none' }),
    ),
  },
  { additionalProperties: false, description: 'Without owners or team, the pool is every active owner of the portal' },
);

export const leadAssignmentConfigSchema = Type.Object(
  {
    territories: Type.Array(territory, { maxItems: 200, description: 'Tried in order; the first whose conditions hold takes the lead' }),
    pools: Type.Record(Type.String({ pattern: POOL_NAME_PATTERN }), pool, { additionalProperties: false, maxProperties: 100 }),
    fallback: Type.Object(
      {
        pool: Type.Optional(Type.String({ pattern: POOL_NAME_PATTERN, description: 'Tried first' })),
        owner: Type.Optional(ownerReference('The last resort: an owner id or email')),
      },
      { additionalProperties: false, description: 'When no territory matches, or its pool has no available owner' },
    ),
    unavailable: Type.Optional(
      Type.Array(ownerReference('An owner id or email'), {
        maxItems: 1_000,
        description: 'Owners who get no leads for now (out of office), whichever pool lists them',
      }),
    ),
    openLeadDays: Type.Optional(
      Type.Integer({ minimum: 1, maximum: 365, description: 'capacity pools: an assignment counts as an open lead for this many days (default 7)' }),
    ),
  },
  { additionalProperties: false },
);

export type LeadAssignmentConfig = Static<typeof leadAssignmentConfigSchema>;
export type PoolConfig = Static<typeof pool>;
export type TerritoryConfig = Static<typeof territory>;
export type Condition = Static<typeof condition>;

export const DEFAULT_OPEN_LEAD_DAYS = 7;

/** Without settings, every lead goes round-robin to every active owner of the portal. */
export const DEFAULT_LEAD_ASSIGNMENT_CONFIG: LeadAssignmentConfig = {
  territories: [],
  pools: { everyone: { strategy: 'round_robin' } },
  fallback: { pool: 'everyone' },
};

/**
 * What the schema cannot say: that territories and the fallback name pools that exist, that a pool's
 * owners fit its strategy, and that each condition tests something.
 */
export function checkLeadAssignmentConfig(config: LeadAssignmentConfig): FieldProblem[] {
  const problems: FieldProblem[] = [];
  const poolNames = Object.keys(config.pools);
  const knownPool = (name: string, path: string) => {
    if (!Object.hasOwn(config.pools, name)) {
      problems.push({ path, message: `names no pool: "${name}" (the pools are: ${poolNames.join(', ') || 'none'})` });
    }
  };

  const territoryNames = new Set<string>();
  config.territories.forEach((territory, index) => {
    const path = `territories[${index}]`;
    if (territoryNames.has(territory.name)) problems.push({ path: `${path}.name`, message: `"${territory.name}" is used by an earlier territory` });
    territoryNames.add(territory.name);
    knownPool(territory.pool, `${path}.pool`);
    territory.when.forEach((condition, conditionIndex) => problems.push(...checkCondition(condition, `${path}.when[${conditionIndex}]`)));
  });

  for (const [name, pool] of Object.entries(config.pools)) problems.push(...checkPool(pool, `pools.${name}`));

  if (config.fallback.pool === undefined && config.fallback.owner === undefined) {
    problems.push({ path: 'fallback', message: 'needs a pool or an owner (or both) for leads no territory takes' });
  }
  if (config.fallback.pool !== undefined) knownPool(config.fallback.pool, 'fallback.pool');
  return problems;
}

function checkCondition(condition: Condition, path: string): FieldProblem[] {
  const problems: FieldProblem[] = [];
  const tests = ['in', 'notIn', 'min', 'max', 'known'] as const;
  if (!tests.some((test) => condition[test] !== undefined)) {
    problems.push({ path, message: `tests nothing: give ${tests.join(', ')}` });
  }
  if (condition.min !== undefined && condition.max !== undefined && condition.min > condition.max) {
    problems.push({ path: `${path}.max`, message: `is below min (${condition.min}): nothing could match` });
  }
  return problems;
}

function checkPool(pool: PoolConfig, path: string): FieldProblem[] {
  const problems: FieldProblem[] = [];
  if (pool.owners && pool.team !== undefined) problems.push({ path: `${path}.team`, message: 'give owners or team, not both' });
  if (pool.capacity !== undefined && pool.strategy !== 'capacity') {
    problems.push({ path: `${path}.capacity`, message: 'applies only to the capacity strategy' });
  }
  const seen = new Set<string>();
  pool.owners?.forEach((member, index) => {
    const memberPath = `${path}.owners[${index}]`;
    const owner = member.owner.toLowerCase();
    if (seen.has(owner)) problems.push({ path: `${memberPath}.owner`, message: `"${member.owner}" is listed twice` });
    seen.add(owner);
    if (member.weight !== undefined && pool.strategy !== 'weighted') {
      problems.push({ path: `${memberPath}.weight`, message: 'applies only to the weighted strategy' });
    }
    if (member.capacity !== undefined && pool.strategy !== 'capacity') {
      problems.push({ path: `${memberPath}.capacity`, message: 'applies only to the capacity strategy' });
    }
    if (pool.strategy === 'capacity' && member.capacity === undefined && pool.capacity === undefined) {
      problems.push({ path: `${memberPath}.capacity`, message: `is required: the pool sets no capacity for every owner` });
    }
  });
  if (pool.strategy === 'capacity' && !pool.owners && pool.capacity === undefined) {
    problems.push({ path: `${path}.capacity`, message: 'is required for a capacity pool of a team or of every owner' });
  }
  return problems;
}
