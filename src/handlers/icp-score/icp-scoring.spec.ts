import { compileValidator } from '../../common/schema-validator';
import { IcpConfig } from './icp-config';
import { icpScoreDeclaration } from './icp-score.handler';
import { factsOf, IcpFacts, parseQuantity, scoreIcp, seniorityOf, tierOf } from './icp-scoring';

/** Weights that add up to 100, so each criterion's points are its weight. */
const rules: IcpConfig = {
  criteria: {
    industry: {
      weight: 30,
      groups: [
        { label: 'Software', values: ['COMPUTER_SOFTWARE', 'Internet'], fit: 1 },
        { values: ['BANKING'], fit: 0.5 },
      ],
    },
    numberofemployees: {
      weight: 20,
      bands: [
        { min: 0, max: 50, fit: 0.25 },
        { min: 50, max: 1000, fit: 1 },
        { min: 1000, fit: 0.5, label: 'enterprise' },
      ],
    },
    annualrevenue: { weight: 10, bands: [{ min: 1_000_000, max: 10_000_000, fit: 1 }] },
    country: {
      weight: 20,
      regions: { DACH: ['Germany', 'AT', 'Switzerland'] },
      groups: [
        { label: 'Home', values: ['United States', 'US'], fit: 1 },
        { regions: ['DACH'], fit: 0.5 },
      ],
    },
    jobtitle: {
      weight: 10,
      levels: {
        c_level: { keywords: ['cto', 'chief', 'president'], fit: 1 },
        vp: { keywords: ['vp', 'vice president'], fit: 0.8 },
        director: { keywords: ['director', 'head of', 'head'], fit: 0.6 },
        manager: { keywords: ['manager', 'lead'], fit: 0.4 },
        individual_contributor: { keywords: ['assistant'], fit: 0.1 },
      },
    },
    lifecyclestage: {
      weight: 10,
      groups: [
        { values: ['opportunity', 'customer'], fit: 1 },
        { values: ['lead'], fit: 0.3 },
      ],
    },
  },
  tiers: { A: 80, B: 60, C: 40 },
};

/** The rules with one criterion changed (a copy: compiled rules are cached per settings object). */
function withCriteria(criteria: Partial<IcpConfig['criteria']>): IcpConfig {
  return { ...structuredClone(rules), criteria: { ...structuredClone(rules.criteria), ...criteria } };
}

const ideal: IcpFacts = {
  industry: 'COMPUTER_SOFTWARE',
  numberofemployees: 200,
  annualrevenue: 5_000_000,
  country: 'United States',
  jobtitle: 'c_level',
  lifecyclestage: 'opportunity',
};

const pointsOf = (facts: IcpFacts, config = rules) =>
  Object.fromEntries(scoreIcp(facts, config).contributions.map((c) => [c.property, Number(c.points.toFixed(6))]));

describe('parseQuantity', () => {
  it.each([
    ['250', 250],
    [' 1,200 ', 1200],
    ['$12.5M', 12_500_000],
    ['€800k', 800_000],
    ['£ 2B', 2_000_000_000],
    ['0.5', 0.5],
  ])('reads %j as %d', (text, amount) => {
    expect(parseQuantity(text)).toBe(amount);
  });

  it.each(['', 'lots', '-5', '1.000.000', '12 million', '$', '1e6'])('reads no amount in %j', (text) => {
    expect(parseQuantity(text)).toBeUndefined();
  });

  it('agrees with the input schema: what it reads is accepted, what it cannot read is refused', () => {
    const validate = compileValidator(icpScoreDeclaration.input);
    for (const text of ['250', ' 1,200 ', '$12.5M', '€800k', '']) expect(validate({ annualrevenue: text })).toEqual([]);
    for (const text of ['lots', '-5', '1.000.000']) expect(validate({ annualrevenue: text })).toContainEqual(expect.objectContaining({ path: 'annualrevenue' }));
  });
});

describe('factsOf', () => {
  it('takes usable values of the weighed properties: amounts read, titles turned into levels, texts trimmed', () => {
    expect(
      factsOf(
        { industry: '  Computer Software ', numberofemployees: '1,200', annualrevenue: 2_500_000, country: 'US', jobtitle: 'VP Sales', lifecyclestage: 'lead' },
        rules,
      ),
    ).toEqual({ industry: 'Computer Software', numberofemployees: 1200, annualrevenue: 2_500_000, country: 'US', jobtitle: 'vp', lifecyclestage: 'lead' });
  });

  it('leaves out blank, null, punctuation-only and unreadable values', () => {
    expect(factsOf({ industry: '', numberofemployees: 'about forty', annualrevenue: null, country: ' - ', jobtitle: '   ', lifecyclestage: undefined }, rules)).toEqual(
      {},
    );
  });

  it('ignores properties the rules do not weigh (no criterion, or weight 0)', () => {
    const config = withCriteria({ country: undefined, lifecyclestage: { weight: 0, groups: [] } });
    expect(factsOf({ country: 'US', lifecyclestage: 'lead', industry: 'BANKING' }, config)).toEqual({ industry: 'BANKING' });
  });
});

describe('seniorityOf', () => {
  it.each([
    ['Chief Executive Officer', 'c_level'],
    ['CTO & Founder', 'c_level'],
    ['Vice President, Sales', 'vp'],
    ['SVP-Marketing', 'individual_contributor'],
    ['Head of Growth', 'director'],
    ['Director of Engineering', 'director'],
    ['Engineering Manager', 'manager'],
    ['Executive Assistant to the CTO', 'individual_contributor'],
    ['Software Engineer', 'individual_contributor'],
    ['Managing Partner', 'individual_contributor'],
  ])('%j is %s', (title, level) => {
    expect(seniorityOf(title, rules)).toBe(level);
  });

  it('matches whole words only, and the longest keyword decides', () => {
    expect(seniorityOf('Leadership coach', rules)).toBe('individual_contributor');
    expect(seniorityOf('Vice President', rules)).toBe('vp');
    expect(seniorityOf('President', rules)).toBe('c_level');
  });

  it('gives keywords of equal length to the more senior level', () => {
    expect(seniorityOf('Head Lead', rules)).toBe('director');
    expect(seniorityOf('Lead Head', rules)).toBe('director');
  });
});

describe('tierOf', () => {
  it.each([
    [100, 'A'],
    [80, 'A'],
    [79, 'B'],
    [60, 'B'],
    [59, 'C'],
    [40, 'C'],
    [39, 'D'],
    [0, 'D'],
  ])('scores %d as tier %s (floors 80, 60, 40)', (score, tier) => {
    expect(tierOf(score, rules.tiers)).toBe(tier);
  });
});

describe('scoreIcp', () => {
  it('gives a record that fits every criterion 100 points and tier A, with its reasons largest first', () => {
    expect(scoreIcp(ideal, rules)).toEqual({
      score: 100,
      tier: 'A',
      contributions: expect.any(Array),
      reasons:
        'Industry COMPUTER_SOFTWARE matches "Software" (+30); Employees 200 in 50-999 (+20); Country United States matches "Home" (+20); ' +
        'Annual revenue 5M in 1M-10M (+10); Seniority C-level (+10); Lifecycle stage opportunity matches (+10)',
    });
  });

  it('gives nothing for unknown values, and says so', () => {
    const result = scoreIcp({}, rules);
    expect(result).toMatchObject({ score: 0, tier: 'D' });
    expect(result.reasons).toBe(
      'Industry unknown (+0 of 30); Employees unknown (+0 of 20); Country unknown (+0 of 20); Annual revenue unknown (+0 of 10); ' +
        'Seniority unknown (+0 of 10); Lifecycle stage unknown (+0 of 10)',
    );
  });

  describe('value groups (industry, lifecycle stage)', () => {
    it('earns the fit of the group the value is in, compared without case or punctuation', () => {
      expect(pointsOf({ industry: 'computer software' }).industry).toBe(30);
      expect(pointsOf({ industry: 'INTERNET' }).industry).toBe(30);
      expect(pointsOf({ industry: 'Banking' }).industry).toBe(15);
      expect(pointsOf({ industry: 'RETAIL' }).industry).toBe(0);
      expect(pointsOf({ lifecyclestage: 'lead' }).lifecyclestage).toBe(3);
      expect(pointsOf({ lifecyclestage: 'subscriber' }).lifecyclestage).toBe(0);
    });

    it('names the group when it has a label, and says when nothing matches', () => {
      const reasons = (facts: IcpFacts) => scoreIcp(facts, rules).contributions.find((c) => c.property === 'industry')!.reason;
      expect(reasons({ industry: 'Internet' })).toBe('Industry Internet matches "Software" (+30)');
      expect(reasons({ industry: 'BANKING' })).toBe('Industry BANKING matches (+15 of 30)');
      expect(reasons({ industry: 'RETAIL' })).toBe('Industry RETAIL does not match (+0 of 30)');
    });
  });

  describe('bands (employees, revenue)', () => {
    it.each([
      [0, 5],
      [49, 5],
      [49.99, 5],
      [50, 20],
      [999, 20],
      [1000, 10],
      [250_000, 10],
    ])('puts %d employees in the band whose min it reaches and whose max it stays under (%d points)', (employees, points) => {
      expect(pointsOf({ numberofemployees: employees }).numberofemployees).toBe(points);
    });

    it.each([
      [999_999, 0],
      [1_000_000, 10],
      [9_999_999, 10],
      [10_000_000, 0],
    ])('scores revenue %d outside every band as 0 (%d points)', (revenue, points) => {
      expect(pointsOf({ annualrevenue: revenue }).annualrevenue).toBe(points);
    });

    it('labels bands as people read them, or by their own label', () => {
      const reasonOf = (facts: IcpFacts, property: string) => scoreIcp(facts, rules).contributions.find((c) => c.property === property)!.reason;
      expect(reasonOf({ numberofemployees: 12 }, 'numberofemployees')).toBe('Employees 12 in 0-49 (+5 of 20)');
      expect(reasonOf({ numberofemployees: 12_500 }, 'numberofemployees')).toBe('Employees 12,500 in enterprise (+10 of 20)');
      expect(reasonOf({ annualrevenue: 12_500_000 }, 'annualrevenue')).toBe('Annual revenue 12.5M in no band (+0 of 10)');
      expect(reasonOf({ annualrevenue: 999_999 }, 'annualrevenue')).toBe('Annual revenue 1M in no band (+0 of 10)');
      const open = withCriteria({ annualrevenue: { weight: 10, bands: [{ min: 250_000, fit: 1 }] } });
      expect(scoreIcp({ annualrevenue: 300_000 }, open).contributions.find((c) => c.property === 'annualrevenue')!.reason).toBe(
        'Annual revenue 300K in 250K+ (+10)',
      );
    });
  });

  describe('country', () => {
    it('matches a country listed by name or code, or through a region', () => {
      expect(pointsOf({ country: 'us' }).country).toBe(20);
      expect(pointsOf({ country: 'Germany' }).country).toBe(10);
      expect(pointsOf({ country: 'at' }).country).toBe(10);
      expect(pointsOf({ country: 'France' }).country).toBe(0);
    });

    it('names a match by the group label, else by the region that brought it in', () => {
      const reasons = scoreIcp({ country: 'Switzerland' }, rules).reasons;
      expect(reasons).toContain('Country Switzerland matches "DACH" (+10 of 20)');
    });
  });

  it('scores seniority by the fit of its level', () => {
    expect(pointsOf({ jobtitle: 'vp' }).jobtitle).toBe(8);
    expect(pointsOf({ jobtitle: 'individual_contributor' }).jobtitle).toBe(1);
  });

  describe('weights', () => {
    it('are normalised to 100 points: scaling every weight changes nothing', () => {
      const scaled = structuredClone(rules);
      for (const criterion of Object.values(scaled.criteria)) criterion!.weight *= 7;
      const facts: IcpFacts = { industry: 'BANKING', numberofemployees: 20, country: 'Germany', jobtitle: 'manager' };
      expect(scoreIcp(facts, scaled)).toEqual(scoreIcp(facts, rules));
    });

    it('share 100 points in proportion, and a criterion of weight 0 counts nothing and is not reported', () => {
      const config = withCriteria({
        industry: { ...rules.criteria.industry!, weight: 1 },
        numberofemployees: { ...rules.criteria.numberofemployees!, weight: 3 },
        annualrevenue: undefined,
        country: { ...rules.criteria.country!, weight: 0 },
        jobtitle: undefined,
        lifecyclestage: undefined,
      });
      const result = scoreIcp({ industry: 'COMPUTER_SOFTWARE', numberofemployees: 5, country: 'US' }, config);
      expect(result.contributions.map((c) => [c.property, c.maxPoints, c.points])).toEqual([
        ['industry', 25, 25],
        ['numberofemployees', 75, 18.75],
      ]);
      expect(result.score).toBe(44);
      expect(result.reasons).toBe('Industry COMPUTER_SOFTWARE matches "Software" (+25); Employees 5 in 0-49 (+18.8 of 75)');
    });
  });

  it('rounds the total to a whole score', () => {
    const thirds = withCriteria({
      industry: { ...rules.criteria.industry!, weight: 1 },
      numberofemployees: { ...rules.criteria.numberofemployees!, weight: 1 },
      annualrevenue: { ...rules.criteria.annualrevenue!, weight: 1 },
      country: undefined,
      jobtitle: undefined,
      lifecyclestage: undefined,
    });
    const down = scoreIcp({ industry: 'Internet' }, thirds);
    expect(down.score).toBe(33);
    expect(down.reasons).toMatch(/^Industry Internet matches "Software" \(\+33\.3\);/);
    // 33.33 + 8.33 (a quarter of the employees' third)
    expect(scoreIcp({ industry: 'Internet', numberofemployees: 3 }, thirds).score).toBe(42);
  });

  it('orders reasons by points earned, then by points possible, then in criteria order', () => {
    const result = scoreIcp({ industry: 'RETAIL', numberofemployees: 75, country: 'Germany', jobtitle: 'c_level', lifecyclestage: 'customer' }, rules);
    expect(result.contributions.map((c) => `${c.property}:${c.points}`)).toEqual([
      'numberofemployees:20',
      'country:10',
      'jobtitle:10',
      'lifecyclestage:10',
      'industry:0',
      'annualrevenue:0',
    ]);
  });

  it('marks imputed values in the reasons', () => {
    const reasons = scoreIcp({ industry: 'internet', jobtitle: 'manager' }, rules, new Set(['industry', 'jobtitle'] as const)).reasons;
    expect(reasons).toContain('Industry internet (imputed) matches "Software" (+30)');
    expect(reasons).toContain('Seniority Manager (imputed) (+4 of 10)');
  });

  it('keeps reasons short whatever the record holds', () => {
    const long = 'x'.repeat(60_000);
    const result = scoreIcp({ industry: long, country: long, lifecyclestage: long }, rules);
    expect(result.reasons.length).toBeLessThan(1_000);
    expect(result.reasons).toContain(`Industry ${'x'.repeat(59)}… does not match`);
  });

  it('is pure: the same facts and rules give the same result, whatever was scored before', () => {
    const facts: IcpFacts = { industry: 'BANKING', numberofemployees: 1234, annualrevenue: 2_000_000, country: 'AT', jobtitle: 'director', lifecyclestage: 'lead' };
    const first = scoreIcp(facts, rules);
    scoreIcp(ideal, withCriteria({}));
    expect(scoreIcp({ ...facts }, structuredClone(rules))).toEqual(first);
  });
});
