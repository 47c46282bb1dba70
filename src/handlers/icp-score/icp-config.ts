import { Static, Type } from '@sinclair/typebox';
import { FieldProblem } from '../../common/api-error';

/** The record properties a score can weigh, by their HubSpot internal names, in the order reasons break ties. */
export const ICP_PROPERTIES = ['industry', 'numberofemployees', 'annualrevenue', 'country', 'jobtitle', 'lifecyclestage'] as const;
export type IcpProperty = (typeof ICP_PROPERTIES)[number];

/** Most senior first: of two levels whose keywords match a title equally well, the earlier wins. */
export const SENIORITY_LEVELS = ['c_level', 'vp', 'director', 'manager', 'individual_contributor'] as const;
export type SeniorityLevel = (typeof SENIORITY_LEVELS)[number];

export const TIERS = ['A', 'B', 'C', 'D'] as const;
export type Tier = (typeof TIERS)[number];

const weight = Type.Number({
  minimum: 0,
  maximum: 1000,
  description: 'How much the criterion counts: weights are scaled so that together they make 100 points; 0 leaves it out',
});
const fit = Type.Number({ minimum: 0, maximum: 1, description: "The share of the criterion's points a value here earns: 1 all, 0 none" });
const label = Type.String({ minLength: 1, maxLength: 60, description: 'How reasons name it' });
const valueList = (description: string) =>
  Type.Array(Type.String({ minLength: 1, maxLength: 200 }), {
    minItems: 1,
    maxItems: 1000,
    description: `${description}; compared without case, spacing or punctuation ("Computer Software" is COMPUTER_SOFTWARE)`,
  });

const valueGroups = Type.Array(
  Type.Object({ label: Type.Optional(label), values: valueList('The values of this group'), fit }, { additionalProperties: false }),
  { maxItems: 50, description: 'A value in no group earns nothing; a value may be in one group only' },
);

const valueCriterion = (description: string) => Type.Object({ weight, groups: valueGroups }, { additionalProperties: false, description });

const bandCriterion = (description: string) =>
  Type.Object(
    {
      weight,
      bands: Type.Array(
        Type.Object(
          {
            min: Type.Number({ minimum: 0, description: 'Included' }),
            max: Type.Optional(Type.Number({ exclusiveMinimum: 0, description: 'Excluded; leave it out for no upper bound' })),
            fit,
            label: Type.Optional(label),
          },
          { additionalProperties: false },
        ),
        { minItems: 1, maxItems: 50, description: 'Ranges that must not overlap; a value in none earns nothing' },
      ),
    },
    { additionalProperties: false, description },
  );

const regionName = Type.String({ minLength: 1, maxLength: 60 });

const countryCriterion = Type.Object(
  {
    weight,
    regions: Type.Optional(
      Type.Record(regionName, valueList('The countries of the region (names or codes, as the records hold them)'), {
        maxProperties: 100,
        description: 'Named regions that groups can list instead of their countries',
      }),
    ),
    groups: Type.Array(
      Type.Object(
        {
          label: Type.Optional(label),
          values: Type.Optional(valueList('Countries of this group')),
          regions: Type.Optional(Type.Array(regionName, { minItems: 1, maxItems: 100, description: 'Regions whose countries are in this group' })),
          fit,
        },
        { additionalProperties: false, anyOf: [{ required: ['values'] }, { required: ['regions'] }] },
      ),
      { maxItems: 50, description: 'A country in no group earns nothing; a country may be in one group only' },
    ),
  },
  { additionalProperties: false, description: 'Country or region of the record (property country)' },
);

const seniorityLevel = (description: string) =>
  Type.Object(
    {
      keywords: Type.Array(Type.String({ minLength: 1, maxLength: 60 }), { maxItems: 200, description: 'Whole words or phrases of a job title' }),
      fit,
    },
    { additionalProperties: false, description },
  );

const seniorityCriterion = Type.Object(
  {
    weight,
    levels: Type.Object(
      {
        c_level: seniorityLevel('Chief officers, founders, owners, presidents'),
        vp: seniorityLevel('Vice presidents'),
        director: seniorityLevel('Directors and heads of a function'),
        manager: seniorityLevel('Managers and team leads'),
        individual_contributor: seniorityLevel('Everyone else: a title that matches no keyword is an individual contributor'),
      },
      { additionalProperties: false },
    ),
  },
  {
    additionalProperties: false,
    description: 'Seniority of the job title (property jobtitle): the longest keyword found in the title decides its level',
  },
);

const tierFloor = (tier: string) => Type.Integer({ minimum: 0, maximum: 100, description: `The least score of tier ${tier}` });

export const icpConfigSchema = Type.Object(
  {
    criteria: Type.Object(
      {
        industry: Type.Optional(valueCriterion('Industry of the record (property industry)')),
        numberofemployees: Type.Optional(bandCriterion('Number of employees (property numberofemployees)')),
        annualrevenue: Type.Optional(bandCriterion('Annual revenue, in the portal currency (property annualrevenue)')),
        country: Type.Optional(countryCriterion),
        jobtitle: Type.Optional(seniorityCriterion),
        lifecyclestage: Type.Optional(valueCriterion('HubSpot lifecycle stage (property lifecyclestage, internal values)')),
      },
      { additionalProperties: false, minProperties: 1, description: 'The criteria scored; a criterion left out counts nothing' },
    ),
    tiers: Type.Object({ A: tierFloor('A'), B: tierFloor('B'), C: tierFloor('C') }, { additionalProperties: false, description: 'Below C is D' }),
    imputation: Type.Optional(
      Type.Object(
        {
          fromObserved: Type.Optional(
            Type.Boolean({
              description: "Impute the portal's most common value (median for numbers) once enough records were scored (default true)",
            }),
          ),
          minObservations: Type.Optional(
            Type.Integer({ minimum: 1, maximum: 1_000_000, description: 'Scored records a property needs before its observed value is imputed (default 50)' }),
          ),
          defaults: Type.Optional(
            Type.Object(
              {
                industry: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
                numberofemployees: Type.Optional(Type.Number({ minimum: 0 })),
                annualrevenue: Type.Optional(Type.Number({ minimum: 0 })),
                country: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
                jobtitle: Type.Optional(Type.Union(SENIORITY_LEVELS.map((level) => Type.Literal(level)), { description: 'A seniority level' })),
                lifecyclestage: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
              },
              {
                additionalProperties: false,
                description: 'What a missing value is taken to be until enough were observed; without one, a missing value earns nothing',
              },
            ),
          ),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);

export type IcpConfig = Static<typeof icpConfigSchema>;
export type ValueCriterion = NonNullable<IcpConfig['criteria']['industry']>;
export type BandCriterion = NonNullable<IcpConfig['criteria']['numberofemployees']>;
export type CountryCriterion = NonNullable<IcpConfig['criteria']['country']>;
export type SeniorityCriterion = NonNullable<IcpConfig['criteria']['jobtitle']>;
export type IcpDefaults = NonNullable<NonNullable<IcpConfig['imputation']>['defaults']>;

export const DEFAULT_MIN_OBSERVATIONS = 50;

/** The imputation settings with their defaults filled in. */
export function imputationSettings(config: IcpConfig): { fromObserved: boolean; minObservations: number; defaults: IcpDefaults } {
  return {
    fromObserved: config.imputation?.fromObserved ?? true,
    minObservations: config.imputation?.minObservations ?? DEFAULT_MIN_OBSERVATIONS,
    defaults: config.imputation?.defaults ?? {},
  };
}

/** The properties the score weighs: those with a criterion of weight above 0. */
export function scoredProperties(config: IcpConfig): IcpProperty[] {
  return ICP_PROPERTIES.filter((property) => (config.criteria[property]?.weight ?? 0) > 0);
}

/**
 * The key a text is compared by: lower case, letters and digits only, words separated by one space,
 * so "Computer Software", "COMPUTER_SOFTWARE" and "computer-software" are one value.
 */
export function comparable(text: string): string {
  return text
    .toLowerCase()
    .replace(/[^\p{L}\p{N}]+/gu, ' ')
    .trim();
}

/** A sound default for a B2B software company selling to mid-market firms in North America and Western Europe. */
export const DEFAULT_ICP_CONFIG: IcpConfig = {
  criteria: {
    industry: {
      weight: 30,
      groups: [
        {
          label: 'Software and internet',
          values: ['COMPUTER_SOFTWARE', 'INTERNET', 'INFORMATION_TECHNOLOGY_AND_SERVICES', 'COMPUTER_NETWORK_SECURITY', 'SOFTWARE', 'SAAS'],
          fit: 1,
        },
        {
          label: 'Financial services',
          values: ['FINANCIAL_SERVICES', 'BANKING', 'INSURANCE', 'ACCOUNTING', 'VENTURE_CAPITAL_PRIVATE_EQUITY', 'INVESTMENT_MANAGEMENT'],
          fit: 0.7,
        },
        {
          label: 'Services and media',
          values: ['MANAGEMENT_CONSULTING', 'MARKETING_AND_ADVERTISING', 'STAFFING_AND_RECRUITING', 'TELECOMMUNICATIONS', 'E_LEARNING', 'ONLINE_MEDIA'],
          fit: 0.4,
        },
      ],
    },
    numberofemployees: {
      weight: 20,
      bands: [
        { min: 0, max: 10, fit: 0.1 },
        { min: 10, max: 50, fit: 0.4 },
        { min: 50, max: 200, fit: 0.8 },
        { min: 200, max: 1000, fit: 1 },
        { min: 1000, max: 5000, fit: 0.7 },
        { min: 5000, fit: 0.4 },
      ],
    },
    annualrevenue: {
      weight: 15,
      bands: [
        { min: 0, max: 1_000_000, fit: 0.1 },
        { min: 1_000_000, max: 10_000_000, fit: 0.5 },
        { min: 10_000_000, max: 100_000_000, fit: 1 },
        { min: 100_000_000, max: 1_000_000_000, fit: 0.8 },
        { min: 1_000_000_000, fit: 0.5 },
      ],
    },
    country: {
      weight: 10,
      regions: {
        'North America': ['United States', 'United States of America', 'USA', 'US', 'Canada', 'CA'],
        'UK and Ireland': ['United Kingdom', 'UK', 'GB', 'Great Britain', 'England', 'Scotland', 'Wales', 'Ireland', 'IE'],
        DACH: ['Germany', 'Deutschland', 'DE', 'Austria', 'AT', 'Switzerland', 'CH'],
        Nordics: ['Sweden', 'SE', 'Norway', 'NO', 'Denmark', 'DK', 'Finland', 'FI', 'Iceland', 'IS'],
        Benelux: ['Netherlands', 'NL', 'Belgium', 'BE', 'Luxembourg', 'LU'],
      },
      groups: [
        { label: 'North America', regions: ['North America'], fit: 1 },
        { label: 'UK, Ireland and DACH', regions: ['UK and Ireland', 'DACH'], fit: 0.8 },
        { label: 'Rest of Western Europe and ANZ', regions: ['Nordics', 'Benelux'], values: ['France', 'FR', 'Australia', 'AU', 'New Zealand', 'NZ'], fit: 0.6 },
      ],
    },
    jobtitle: {
      weight: 15,
      levels: {
        c_level: {
          keywords: ['chief', 'cto', 'cfo', 'coo', 'cmo', 'cio', 'ciso', 'cro', 'cpo', 'founder', 'co founder', 'cofounder', 'president', 'managing director'],
          fit: 1,
        },
        vp: { keywords: ['vp', 'svp', 'evp', 'avp', 'vice president'], fit: 0.9 },
        director: { keywords: ['director', 'head of', 'head'], fit: 0.75 },
        manager: { keywords: ['manager', 'mgr', 'team lead', 'supervisor'], fit: 0.5 },
        individual_contributor: { keywords: ['assistant', 'intern', 'trainee', 'student'], fit: 0.2 },
      },
    },
    lifecyclestage: {
      weight: 10,
      groups: [
        { label: 'Sales-ready or won', values: ['salesqualifiedlead', 'opportunity', 'customer', 'evangelist'], fit: 1 },
        { label: 'Marketing qualified', values: ['marketingqualifiedlead'], fit: 0.7 },
        { label: 'Lead', values: ['lead'], fit: 0.4 },
        { label: 'Subscriber', values: ['subscriber'], fit: 0.2 },
      ],
    },
  },
  tiers: { A: 75, B: 55, C: 35 },
  imputation: { fromObserved: true, minObservations: DEFAULT_MIN_OBSERVATIONS, defaults: { jobtitle: 'individual_contributor', lifecyclestage: 'lead' } },
};

/**
 * What JSON Schema cannot say about a ruleset: the weights must add up to more than 0, bands must
 * not overlap, a value (or keyword) must belong to one group (or level) only, groups may list only
 * regions that exist, and tier floors must fall from A to C. Every problem names its field.
 */
export function checkIcpConfig(config: IcpConfig): FieldProblem[] {
  const problems: FieldProblem[] = [];
  const { criteria } = config;
  if (ICP_PROPERTIES.every((property) => (criteria[property]?.weight ?? 0) === 0)) {
    problems.push({ path: 'criteria', message: 'the weights add up to 0: give at least one criterion a weight above 0' });
  }
  if (criteria.industry) problems.push(...checkValueGroups('criteria.industry', criteria.industry));
  if (criteria.lifecyclestage) problems.push(...checkValueGroups('criteria.lifecyclestage', criteria.lifecyclestage));
  if (criteria.numberofemployees) problems.push(...checkBands('criteria.numberofemployees', criteria.numberofemployees));
  if (criteria.annualrevenue) problems.push(...checkBands('criteria.annualrevenue', criteria.annualrevenue));
  if (criteria.country) problems.push(...checkCountries(criteria.country));
  if (criteria.jobtitle) problems.push(...checkSeniority(criteria.jobtitle));
  const { A, B, C } = config.tiers;
  if (B >= A) problems.push({ path: 'tiers.B', message: `must be below tiers.A (${A})` });
  if (C >= B) problems.push({ path: 'tiers.C', message: `must be below tiers.B (${B})` });
  return problems;
}

/** Tracks which group each comparable value is in, and reports a value found in a second group (or with nothing to compare). */
class Membership {
  private readonly groupOf = new Map<string, number>();

  constructor(
    private readonly problems: FieldProblem[],
    private readonly groupsPath: string,
  ) {}

  add(value: string, group: number, path: string, via = ''): void {
    const key = comparable(value);
    if (key === '') {
      this.problems.push({ path, message: `"${value}" has no letters or digits to compare` });
      return;
    }
    const earlier = this.groupOf.get(key);
    if (earlier === undefined) this.groupOf.set(key, group);
    else if (earlier !== group) this.problems.push({ path, message: `"${value}"${via} is already in ${this.groupsPath}[${earlier}]` });
  }
}

function checkValueGroups(path: string, criterion: ValueCriterion): FieldProblem[] {
  const problems: FieldProblem[] = [];
  const members = new Membership(problems, `${path}.groups`);
  criterion.groups.forEach((group, g) => group.values.forEach((value, v) => members.add(value, g, `${path}.groups[${g}].values[${v}]`)));
  return problems;
}

function checkBands(path: string, criterion: BandCriterion): FieldProblem[] {
  const problems: FieldProblem[] = [];
  criterion.bands.forEach((band, b) => {
    if (band.max !== undefined && band.max <= band.min) problems.push({ path: `${path}.bands[${b}].max`, message: `must be above min (${band.min})` });
  });
  const byStart = criterion.bands.map((band, index) => ({ ...band, index })).sort((x, y) => x.min - y.min || x.index - y.index);
  for (let i = 1; i < byStart.length; i++) {
    const [before, band] = [byStart[i - 1], byStart[i]];
    if (before.max === undefined || before.max > band.min) {
      const later = Math.max(before.index, band.index);
      const other = later === band.index ? before : band;
      problems.push({
        path: `${path}.bands[${later}]`,
        message: `overlaps bands[${other.index}] (${other.min} to ${other.max === undefined ? 'no upper bound' : `under ${other.max}`})`,
      });
    }
  }
  return problems;
}

function checkCountries(criterion: CountryCriterion): FieldProblem[] {
  const path = 'criteria.country';
  const problems: FieldProblem[] = [];
  const regions = criterion.regions ?? {};
  const members = new Membership(problems, `${path}.groups`);
  criterion.groups.forEach((group, g) => {
    group.values?.forEach((value, v) => members.add(value, g, `${path}.groups[${g}].values[${v}]`));
    group.regions?.forEach((region, r) => {
      const regionPath = `${path}.groups[${g}].regions[${r}]`;
      const countries = Object.hasOwn(regions, region) ? regions[region] : undefined;
      if (!countries) {
        problems.push({ path: regionPath, message: `names no region of ${path}.regions` });
        return;
      }
      countries.forEach((country) => members.add(country, g, regionPath, ` (region ${region})`));
    });
  });
  return problems;
}

function checkSeniority(criterion: SeniorityCriterion): FieldProblem[] {
  const path = 'criteria.jobtitle.levels';
  const problems: FieldProblem[] = [];
  const levelOf = new Map<string, SeniorityLevel>();
  for (const level of SENIORITY_LEVELS) {
    criterion.levels[level].keywords.forEach((keyword, k) => {
      const key = comparable(keyword);
      const keywordPath = `${path}.${level}.keywords[${k}]`;
      const earlier = levelOf.get(key);
      if (key === '') problems.push({ path: keywordPath, message: `"${keyword}" has no letters or digits to compare` });
      else if (earlier === undefined) levelOf.set(key, level);
      else if (earlier !== level) problems.push({ path: keywordPath, message: `"${keyword}" is already a keyword of ${earlier}` });
    });
  }
  return problems;
}
