import type { TerritoryConfig } from './lead-assignment-config';
import { conditionHolds, describeValues, matchTerritory, propertiesTested } from './territories';

const territories: TerritoryConfig[] = [
  { name: 'Enterprise', when: [{ property: 'numberofemployees', min: 1000 }], pool: 'enterprise' },
  { name: 'DACH', when: [{ property: 'country', in: ['Germany', 'Austria', 'Switzerland'] }], pool: 'dach' },
  {
    name: 'North America SMB',
    when: [
      { property: 'country', in: ['United States', 'Canada'] },
      { property: 'numberofemployees', max: 199 },
    ],
    pool: 'na-smb',
  },
  { name: 'Rest of world', when: [{ property: 'country', known: true }], pool: 'row' },
];

describe('territory matching', () => {
  it('takes the first territory whose conditions all hold, in order', () => {
    expect(matchTerritory(territories, { country: 'Germany', numberofemployees: 5000 })?.name).toBe('Enterprise');
    expect(matchTerritory(territories, { country: 'Germany', numberofemployees: 50 })?.name).toBe('DACH');
    expect(matchTerritory(territories, { country: 'Canada', numberofemployees: '120' })?.name).toBe('North America SMB');
    expect(matchTerritory(territories, { country: 'Canada', numberofemployees: 500 })?.name).toBe('Rest of world');
  });

  it('matches no territory for a lead whose tested values are unknown', () => {
    expect(matchTerritory(territories, {})).toBeUndefined();
    expect(matchTerritory(territories, { country: '  ', numberofemployees: null })).toBeUndefined();
  });

  it('lets a territory without conditions take every lead', () => {
    expect(matchTerritory([{ name: 'All', when: [], pool: 'p' }], {})?.name).toBe('All');
  });

  it('lists the properties the territories test, each once', () => {
    expect(propertiesTested(territories)).toEqual(['numberofemployees', 'country']);
  });
});

describe('a condition', () => {
  it('compares values as text, ignoring case and surrounding spaces', () => {
    expect(conditionHolds({ property: 'country', in: ['germany'] }, ' GERMANY ')).toBe(true);
    expect(conditionHolds({ property: 'country', in: ['Germany'] }, 'Deutschland')).toBe(false);
    expect(conditionHolds({ property: 'segment', notIn: ['Partner'] }, 'partner')).toBe(false);
    expect(conditionHolds({ property: 'segment', notIn: ['Partner'] }, 'Direct')).toBe(true);
    expect(conditionHolds({ property: 'is_partner', in: ['true'] }, true)).toBe(true);
  });

  it('compares numbers within min and max, both included, and holds for no text that is not a number', () => {
    const midMarket = { property: 'numberofemployees', min: 200, max: 999 };
    expect(conditionHolds(midMarket, 200)).toBe(true);
    expect(conditionHolds(midMarket, '999')).toBe(true);
    expect(conditionHolds(midMarket, 1000)).toBe(false);
    expect(conditionHolds(midMarket, 199.5)).toBe(false);
    expect(conditionHolds(midMarket, '51-200')).toBe(false);
  });

  it('treats an unset or empty value as unknown: only `known: false` holds for it, never notIn', () => {
    for (const unknown of [undefined, null, '', '   ']) {
      expect(conditionHolds({ property: 'country', notIn: ['Germany'] }, unknown)).toBe(false);
      expect(conditionHolds({ property: 'numberofemployees', max: 10 }, unknown)).toBe(false);
      expect(conditionHolds({ property: 'country', known: true }, unknown)).toBe(false);
      expect(conditionHolds({ property: 'country', known: false }, unknown)).toBe(true);
    }
    expect(conditionHolds({ property: 'country', known: false }, 'France')).toBe(false);
  });
});

describe('describeValues', () => {
  it('spells out the values a decision rested on, unknown ones included', () => {
    expect(describeValues(['country', 'numberofemployees', 'state'], { country: 'Germany', numberofemployees: 40, state: '' })).toBe(
      'country = Germany, numberofemployees = 40, state unknown',
    );
  });
});
