import { checkHandlerClasses } from '../../registry/handler-registry';
import { compileValidator } from '../../common/schema-validator';
import { checkLeadAssignmentConfig, DEFAULT_LEAD_ASSIGNMENT_CONFIG, LeadAssignmentConfig, leadAssignmentConfigSchema } from './lead-assignment-config';
import { LeadAssignmentHandler } from './lead-assignment.handler';

const validate = compileValidator(leadAssignmentConfigSchema);

const sound: LeadAssignmentConfig = {
  territories: [
    { name: 'DACH', when: [{ property: 'country', in: ['Germany', 'Austria'] }], pool: 'dach' },
    { name: 'Enterprise', when: [{ property: 'numberofemployees', min: 1000 }], pool: 'enterprise' },
  ],
  pools: {
    dach: { strategy: 'round_robin', owners: [{ owner: '101' }, { owner: 'ada@example.com' }] },
    enterprise: { strategy: 'weighted', owners: [{ owner: '201', weight: 3 }, { owner: '202' }] },
    inbound: { strategy: 'capacity', team: 'Inbound', capacity: 20 },
  },
  fallback: { pool: 'inbound', owner: 'lead-desk@example.com' },
  unavailable: ['202'],
  openLeadDays: 14,
};

const problemsOf = (config: unknown) => [...validate(config), ...(validate(config).length ? [] : checkLeadAssignmentConfig(config as LeadAssignmentConfig))];

describe('lead-assignment settings', () => {
  it('accepts a sound configuration, and the default, which deals to every active owner', () => {
    expect(problemsOf(sound)).toEqual([]);
    expect(problemsOf(DEFAULT_LEAD_ASSIGNMENT_CONFIG)).toEqual([]);
    expect(checkHandlerClasses([LeadAssignmentHandler])[0].type).toBe('lead-assignment');
  });

  it('names the field of every shape problem', () => {
    const problems = validate({
      ...sound,
      pools: { ...sound.pools, 'bad name!': { strategy: 'round_robin' }, dach: { strategy: 'random', owners: [{ owner: 'not an owner' }] } },
      territories: [{ name: 'X', when: [{ property: 'Country', in: [] }], pool: 'dach' }],
      colour: 'red',
    });
    expect(problems.map((problem) => problem.path).sort()).toEqual([
      'colour',
      'pools.bad name!',
      'pools.dach.owners[0].owner',
      'pools.dach.strategy',
      'territories[0].when[0].in',
      'territories[0].when[0].property',
    ]);
  });

  it('refuses references to pools that do not exist, naming the field and the pools there are', () => {
    const problems = checkLeadAssignmentConfig({
      ...sound,
      territories: [...sound.territories, { name: 'Nordics', when: [], pool: 'nordics' }],
      fallback: { pool: 'everyone' },
    });
    expect(problems).toEqual([
      { path: 'territories[2].pool', message: 'names no pool: "nordics" (the pools are: dach, enterprise, inbound)' },
      { path: 'fallback.pool', message: 'names no pool: "everyone" (the pools are: dach, enterprise, inbound)' },
    ]);
  });

  it('refuses settings that do not fit the strategy, a fallback of nothing, and conditions that test nothing', () => {
    const problems = checkLeadAssignmentConfig({
      territories: [
        { name: 'A', when: [{ property: 'country' }], pool: 'rr' },
        { name: 'A', when: [{ property: 'numberofemployees', min: 500, max: 100 }], pool: 'rr' },
      ],
      pools: {
        rr: { strategy: 'round_robin', owners: [{ owner: '1', weight: 2 }, { owner: '1' }], capacity: 3 },
        cap: { strategy: 'capacity', owners: [{ owner: '2', capacity: 5 }, { owner: '3' }] },
        team: { strategy: 'capacity', team: 'Sales' },
        both: { strategy: 'round_robin', owners: [{ owner: '4' }], team: 'Sales' },
      },
      fallback: {},
    });
    expect(problems.map((problem) => problem.path)).toEqual([
      'territories[0].when[0]',
      'territories[1].name',
      'territories[1].when[0].max',
      'pools.rr.capacity',
      'pools.rr.owners[0].weight',
      'pools.rr.owners[1].owner',
      'pools.cap.owners[1].capacity',
      'pools.team.capacity',
      'pools.both.team',
      'fallback',
    ]);
  });
});
