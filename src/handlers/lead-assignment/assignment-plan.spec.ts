import type { HubSpotOwner } from '../../registry/job-handler';
import { OwnerDirectory, ownerLabel, passedReason, pickedReason, planAssignment } from './assignment-plan';
import type { LeadAssignmentConfig } from './lead-assignment-config';

const owner = (id: string, email: string, teams: string[] = []): HubSpotOwner => ({
  id,
  email,
  firstName: email.split('@')[0].replace(/^./, (c) => c.toUpperCase()),
  lastName: 'Smith',
  userId: Number(id) + 1000,
  teams: teams.map((name, i) => ({ id: String(900 + i), name, primary: i === 0 })),
});

// What HubSpot lists: active owners only (archived ones are not returned); carol@ is archived.
const active = [owner('104', 'dan@example.com', ['Inbound']), owner('101', 'ada@example.com', ['Inbound']), owner('102', 'bob@example.com'), owner('99', 'eve@example.com')];

const config: LeadAssignmentConfig = {
  territories: [{ name: 'DACH', when: [{ property: 'country', in: ['Germany'] }], pool: 'dach' }],
  pools: {
    dach: { strategy: 'round_robin', owners: [{ owner: 'ada@example.com' }, { owner: 'carol@example.com' }, { owner: '102' }, { owner: '104' }] },
    inbound: { strategy: 'round_robin', team: 'inbound' },
    everyone: { strategy: 'round_robin' },
  },
  fallback: { pool: 'inbound', owner: '99' },
  unavailable: ['DAN@example.com'],
};

describe('the owners a pool can give a lead to', () => {
  const directory = new OwnerDirectory(active, config.unavailable);

  it('finds owners by id or by email, whatever its case', () => {
    expect(directory.find('102')?.email).toBe('bob@example.com');
    expect(directory.find('Ada@Example.com')?.id).toBe('101');
    expect(directory.find('carol@example.com')).toBeUndefined();
  });

  it('skips owners HubSpot does not list as active and owners marked unavailable, keeping the pool’s order', () => {
    const { candidates, inactive, unavailable } = directory.members(config.pools.dach);
    expect(candidates.map((candidate) => candidate.id)).toEqual(['101', '102']);
    expect(inactive).toEqual(['carol@example.com']);
    expect(unavailable).toEqual(['Dan Smith <dan@example.com>']);
  });

  it('takes a team’s active owners by name, or every active owner, in id order', () => {
    expect(directory.members(config.pools.inbound).candidates.map((candidate) => candidate.id)).toEqual(['101']);
    expect(directory.members(config.pools.everyone).candidates.map((candidate) => candidate.id)).toEqual(['99', '101', '102']);
  });

  it('gives capacity pools each owner’s own capacity, else the pool’s', () => {
    const { candidates } = directory.members({ strategy: 'capacity', owners: [{ owner: '101', capacity: 3 }, { owner: '102' }], capacity: 10 });
    expect(candidates.map((candidate) => candidate.capacity)).toEqual([3, 10]);
  });
});

describe('the assignment plan', () => {
  it('tries the territory’s pool, then the fallback pool, then the fallback owner', () => {
    const plan = planAssignment(config, { country: 'germany' }, new OwnerDirectory(active, config.unavailable));
    expect(plan.territory).toBe('DACH');
    expect(plan.matched).toBe('Territory "DACH" matched (country = germany).');
    expect(plan.pools.map((step) => step.title)).toEqual(['Pool "dach"', 'Fallback pool "inbound"']);
    expect(plan.fallbackOwner).toEqual({ candidate: { id: '99', label: 'Eve Smith <eve@example.com>', weight: 1 } });

    const [dach] = plan.pools;
    const choice = dach.picker({ position: 1, openLeads: new Map() })!;
    expect(pickedReason(dach, choice.candidate, choice.why)).toBe(
      'Pool "dach", round-robin: Bob Smith <bob@example.com>, next in turn of 2 available owners; ' +
        'skipped 1 not active in HubSpot: carol@example.com; skipped 1 marked unavailable: Dan Smith <dan@example.com>.',
    );
  });

  it('goes to the fallback when no territory matches, saying on which values', () => {
    const plan = planAssignment(config, { country: 'Brazil' }, new OwnerDirectory(active));
    expect(plan.territory).toBe('');
    expect(plan.matched).toBe('No territory matched (country = Brazil).');
    expect(plan.pools.map((step) => step.pool)).toEqual(['inbound']);
    expect(planAssignment({ ...config, territories: [] }, {}, new OwnerDirectory(active)).matched).toBe('No territories are set.');
  });

  it('tries a pool once when the territory’s pool is also the fallback pool', () => {
    const plan = planAssignment({ ...config, fallback: { pool: 'dach' } }, { country: 'Germany' }, new OwnerDirectory(active));
    expect(plan.pools.map((step) => step.pool)).toEqual(['dach']);
    expect(plan.fallbackOwner).toBeUndefined();
  });

  it('says why a pool gave nobody, and why the fallback owner cannot take the lead', () => {
    const everyoneAway = new OwnerDirectory(active, ['ada@example.com', '102', '104', '99']);
    const plan = planAssignment(config, { country: 'Germany' }, everyoneAway);
    expect(plan.pools.map((step) => step.candidates.length)).toEqual([0, 0]);
    expect(passedReason(plan.pools[1])).toBe('Fallback pool "inbound" had no available owner (skipped 2 marked unavailable: Ada Smith <ada@example.com>, Dan Smith <dan@example.com>).');
    expect(plan.fallbackOwner).toEqual({ problem: 'the fallback owner Eve Smith <eve@example.com> is marked unavailable' });
    expect(planAssignment({ ...config, fallback: { owner: 'gone@example.com' } }, {}, everyoneAway).fallbackOwner).toEqual({
      problem: 'the fallback owner gone@example.com is not active in HubSpot',
    });
  });

  it('names an owner by name and email, or by what HubSpot has', () => {
    expect(ownerLabel({ ...owner('7', 'x@example.com'), firstName: '', lastName: '' })).toBe('x@example.com');
    expect(ownerLabel({ ...owner('7', ''), firstName: '', lastName: '' })).toBe('owner 7');
  });
});
