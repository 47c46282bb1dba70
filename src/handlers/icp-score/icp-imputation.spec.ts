import { DEFAULT_ICP_CONFIG, IcpConfig } from './icp-config';
import { Histograms, impute, observationKey, observationsOf, typicalValue } from './icp-imputation';
import { icpOutputs } from './icp-score.handler';

function withImputation(imputation: IcpConfig['imputation']): IcpConfig {
  return { ...structuredClone(DEFAULT_ICP_CONFIG), imputation };
}

describe('observationKey', () => {
  it('counts texts by their comparable form, levels by name, and numbers to two significant figures', () => {
    expect(observationKey('industry', 'Computer Software')).toBe('computer software');
    expect(observationKey('country', 'UNITED-STATES')).toBe('united states');
    expect(observationKey('jobtitle', 'vp')).toBe('vp');
    expect(observationKey('numberofemployees', 1234)).toBe('1200');
    expect(observationKey('numberofemployees', 7)).toBe('7');
    expect(observationKey('annualrevenue', 12_550_000)).toBe('13000000');
    expect(observationKey('annualrevenue', 0)).toBe('0');
  });

  it('keys every fact of a record', () => {
    expect(observationsOf({ industry: 'BANKING', numberofemployees: 48, jobtitle: 'manager' })).toEqual({
      industry: 'banking',
      numberofemployees: '48',
      jobtitle: 'manager',
    });
  });
});

describe('typicalValue', () => {
  it('is the most common text, the first in code-point order among equals', () => {
    expect(typicalValue('industry', { banking: 3, 'computer software': 5, internet: 5 })).toEqual({ observations: 13, value: 'computer software' });
    expect(typicalValue('industry', { internet: 5, 'computer software': 5 })).toEqual({ observations: 10, value: 'computer software' });
  });

  it('is the median of numbers, the lower of the middle two', () => {
    expect(typicalValue('numberofemployees', { '10': 1, '50': 1, '200': 1 })).toEqual({ observations: 3, value: 50 });
    expect(typicalValue('numberofemployees', { '10': 2, '1000': 2 })).toEqual({ observations: 4, value: 10 });
    expect(typicalValue('annualrevenue', { '5000000': 10, '100': 3, '90000000': 6 })).toEqual({ observations: 19, value: 5_000_000 });
  });

  it('counts only values it could impute', () => {
    expect(typicalValue('jobtitle', { vp: 2, emperor: 9 })).toEqual({ observations: 2, value: 'vp' });
    expect(typicalValue('numberofemployees', { abc: 4, '-3': 4, '20': 1 })).toEqual({ observations: 1, value: 20 });
    expect(typicalValue('industry', {})).toEqual({ observations: 0 });
  });
});

describe('impute', () => {
  const histograms: Histograms = {
    industry: { internet: 40, banking: 20 },
    numberofemployees: { '100': 30, '300': 31 },
    jobtitle: { director: 3 },
  };

  it("takes the portal's typical value once it has minObservations, else the default, else leaves the value unknown", () => {
    const config = withImputation({ minObservations: 50, defaults: { jobtitle: 'manager', country: 'US' } });
    expect(impute({ annualrevenue: 2_000_000 }, config, histograms)).toEqual({
      facts: { annualrevenue: 2_000_000, industry: 'internet', numberofemployees: 300, country: 'US', jobtitle: 'manager' },
      imputed: ['industry', 'numberofemployees', 'country', 'jobtitle'],
    });
  });

  it('keeps the values the record has', () => {
    const config = withImputation({ minObservations: 1, defaults: { lifecyclestage: 'lead' } });
    expect(impute({ industry: 'BANKING', lifecyclestage: 'customer' }, config, histograms).facts).toMatchObject({ industry: 'BANKING', lifecyclestage: 'customer' });
  });

  it('uses only the defaults when the portal turns observed values off', () => {
    const config = withImputation({ fromObserved: false, minObservations: 1, defaults: { industry: 'RETAIL' } });
    expect(impute({}, config, histograms)).toEqual({ facts: { industry: 'RETAIL' }, imputed: ['industry'] });
  });

  it('imputes only what the rules weigh', () => {
    const config = withImputation({ minObservations: 1, defaults: { industry: 'RETAIL', country: 'US' } });
    delete config.criteria.country;
    expect(impute({}, config, {}).imputed).toEqual(['industry']);
  });
});

describe('icpOutputs', () => {
  const config = withImputation({ minObservations: 10, defaults: { jobtitle: 'individual_contributor' } });
  const facts = { numberofemployees: 400, country: 'Canada' };
  const histograms: Histograms = { industry: { 'computer software': 12, banking: 11 }, lifecyclestage: { opportunity: 9 } };

  it('is deterministic for a fixed distribution: the same record scores the same every time', () => {
    const first = icpOutputs(facts, config, histograms);
    expect(first).toEqual({
      icp_score: 63,
      icp_tier: 'B',
      icp_imputed_fields: 'industry,jobtitle',
      icp_reasons:
        'Industry computer software (imputed) matches "Software and internet" (+30); Employees 400 in 200-999 (+20); ' +
        'Country Canada matches "North America" (+10); Seniority Individual contributor (imputed) (+3 of 15); ' +
        'Annual revenue unknown (+0 of 15); Lifecycle stage unknown (+0 of 10)',
    });
    for (let i = 0; i < 5; i++) expect(icpOutputs({ ...facts }, structuredClone(config), structuredClone(histograms))).toEqual(first);
  });

  it('changes only as the distribution does: the one input that moves over time', () => {
    const moved: Histograms = { ...histograms, industry: { 'computer software': 12, banking: 30 }, lifecyclestage: { opportunity: 10 } };
    expect(icpOutputs(facts, config, moved)).toMatchObject({
      icp_score: 64,
      icp_imputed_fields: 'industry,jobtitle,lifecyclestage',
      icp_reasons: expect.stringContaining('Industry banking (imputed) matches "Financial services" (+21 of 30)'),
    });
  });
});
