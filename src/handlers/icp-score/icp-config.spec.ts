import { HandlerRegistry } from '../../registry/handler-registry';
import { checkIcpConfig, DEFAULT_ICP_CONFIG, IcpConfig } from './icp-config';
import { IcpScoreHandler } from './icp-score.handler';

const changed = (change: (config: IcpConfig) => void): IcpConfig => {
  const config = structuredClone(DEFAULT_ICP_CONFIG);
  change(config);
  return config;
};

describe('checkIcpConfig', () => {
  it('accepts the default ruleset', () => {
    expect(checkIcpConfig(DEFAULT_ICP_CONFIG)).toEqual([]);
  });

  it('refuses weights that add up to 0', () => {
    const config = changed((c) => {
      for (const criterion of Object.values(c.criteria)) criterion!.weight = 0;
    });
    expect(checkIcpConfig(config)).toEqual([{ path: 'criteria', message: 'the weights add up to 0: give at least one criterion a weight above 0' }]);
  });

  it('refuses a band whose max is not above its min', () => {
    const config = changed((c) => {
      c.criteria.annualrevenue!.bands = [{ min: 10, max: 10, fit: 1 }];
    });
    expect(checkIcpConfig(config)).toEqual([{ path: 'criteria.annualrevenue.bands[0].max', message: 'must be above min (10)' }]);
  });

  it('refuses overlapping bands, in any order, naming the later one; touching bands are fine', () => {
    const overlapping = changed((c) => {
      c.criteria.numberofemployees!.bands = [
        { min: 200, max: 1000, fit: 1 },
        { min: 0, max: 50, fit: 0.1 },
        { min: 50, max: 201, fit: 0.5 },
      ];
    });
    expect(checkIcpConfig(overlapping)).toEqual([{ path: 'criteria.numberofemployees.bands[2]', message: 'overlaps bands[0] (200 to under 1000)' }]);
    const openEnded = changed((c) => {
      c.criteria.numberofemployees!.bands = [
        { min: 100, fit: 1 },
        { min: 5000, max: 10_000, fit: 0.5 },
      ];
    });
    expect(checkIcpConfig(openEnded)).toEqual([{ path: 'criteria.numberofemployees.bands[1]', message: 'overlaps bands[0] (100 to no upper bound)' }]);
    const touching = changed((c) => {
      c.criteria.numberofemployees!.bands = [
        { min: 50, max: 100, fit: 1 },
        { min: 0, max: 50, fit: 0.5 },
      ];
    });
    expect(checkIcpConfig(touching)).toEqual([]);
  });

  it('refuses a value in two groups, as values compare', () => {
    const config = changed((c) => {
      c.criteria.industry!.groups[2].values.push('Computer Software');
      c.criteria.lifecyclestage!.groups[1].values.push('LEAD');
    });
    expect(checkIcpConfig(config)).toEqual([
      { path: 'criteria.industry.groups[2].values[6]', message: '"Computer Software" is already in criteria.industry.groups[0]' },
      { path: 'criteria.lifecyclestage.groups[2].values[0]', message: '"lead" is already in criteria.lifecyclestage.groups[1]' },
    ]);
  });

  it('refuses a value with nothing to compare', () => {
    const config = changed((c) => {
      c.criteria.industry!.groups[0].values.push('--');
    });
    expect(checkIcpConfig(config)).toEqual([{ path: 'criteria.industry.groups[0].values[6]', message: '"--" has no letters or digits to compare' }]);
  });

  it('refuses a group naming a region that does not exist, and a country in two groups through a region', () => {
    const config = changed((c) => {
      c.criteria.country!.groups[0].regions!.push('LATAM');
      c.criteria.country!.groups[2].values!.push('germany');
    });
    expect(checkIcpConfig(config)).toEqual([
      { path: 'criteria.country.groups[0].regions[1]', message: 'names no region of criteria.country.regions' },
      { path: 'criteria.country.groups[2].values[6]', message: '"germany" is already in criteria.country.groups[1]' },
    ]);
    const viaRegion = changed((c) => {
      c.criteria.country!.regions!.Nordics.push('Canada');
    });
    expect(checkIcpConfig(viaRegion)).toEqual([
      { path: 'criteria.country.groups[2].regions[0]', message: '"Canada" (region Nordics) is already in criteria.country.groups[0]' },
    ]);
  });

  it('refuses a keyword of two seniority levels', () => {
    const config = changed((c) => {
      c.criteria.jobtitle!.levels.manager.keywords.push('Head of');
    });
    expect(checkIcpConfig(config)).toEqual([{ path: 'criteria.jobtitle.levels.manager.keywords[4]', message: '"Head of" is already a keyword of director' }]);
  });

  it('refuses tier floors that do not fall from A to C', () => {
    expect(checkIcpConfig(changed((c) => (c.tiers = { A: 60, B: 60, C: 20 })))).toEqual([{ path: 'tiers.B', message: 'must be below tiers.A (60)' }]);
    expect(checkIcpConfig(changed((c) => (c.tiers = { A: 90, B: 50, C: 70 })))).toEqual([{ path: 'tiers.C', message: 'must be below tiers.B (50)' }]);
  });
});

describe('the icp-score settings as the admin API checks them', () => {
  // The registry reads the declaration off the class; no instance (and no Redis) is needed.
  const { validate } = new HandlerRegistry([IcpScoreHandler.prototype]).get('icp-score')!.config!;

  it('names schema problems first, and the ruleset problems of a well-formed config', () => {
    expect(validate(changed((c) => (c.tiers.A = 150)))).toEqual([{ path: 'tiers.A', message: 'must be <= 100' }]);
    expect(validate({ criteria: {}, tiers: { A: 3, B: 2, C: 1 } })).toEqual([{ path: 'criteria', message: 'must NOT have fewer than 1 properties' }]);
    expect(validate(changed((c) => (c.tiers.C = 99)))).toEqual([{ path: 'tiers.C', message: 'must be below tiers.B (55)' }]);
    expect(validate(changed((c) => (c.tiers.C = 99)), 'config')).toEqual([{ path: 'config.tiers.C', message: 'must be below tiers.B (55)' }]);
    expect(validate(changed((c) => delete c.imputation))).toEqual([]);
  });

  it('needs each country group to list countries or regions', () => {
    const problems = validate(changed((c) => (c.criteria.country!.groups[0] = { fit: 1 })));
    expect(problems.map((p) => p.path)).toContain('criteria.country.groups[0].values');
  });
});
