import {
  BandCriterion,
  comparable,
  CountryCriterion,
  IcpConfig,
  IcpProperty,
  scoredProperties,
  SENIORITY_LEVELS,
  SeniorityCriterion,
  SeniorityLevel,
  Tier,
  ValueCriterion,
} from './icp-config';

/**
 * What the criteria weigh: texts as the record holds them, numbers, and for jobtitle the title's
 * seniority level. A property without a usable value is absent.
 */
export interface IcpFacts {
  industry?: string;
  numberofemployees?: number;
  annualrevenue?: number;
  country?: string;
  jobtitle?: SeniorityLevel;
  lifecyclestage?: string;
}

/** Property values as a workflow passes them or HubSpot holds them (strings, even for numbers). */
export type RecordValues = Partial<Record<IcpProperty, string | number | null>>;

export interface Contribution {
  property: IcpProperty;
  /** What the record earned: maxPoints times its fit. */
  points: number;
  /** The criterion's share of 100, from its weight. */
  maxPoints: number;
  reason: string;
}

export interface IcpScore {
  /** 0 to 100, a whole number. */
  score: number;
  tier: Tier;
  /** Every weighed criterion, largest contribution first. */
  contributions: Contribution[];
  /** The contributions as a person reads them, "; " between. */
  reasons: string;
}

/** An amount as CRM data writes it: "250", "1,200", "$12.5M", "€800k". The same pattern checks a job's input. */
export const QUANTITY_PATTERN = '^\\s*[$€£¥]?\\s*(\\d[\\d,]*(?:\\.\\d+)?)\\s*([kKmMbB])?\\s*$';
const QUANTITY = new RegExp(QUANTITY_PATTERN);
const MULTIPLIERS: Record<string, number> = { k: 1e3, m: 1e6, b: 1e9 };

/** The amount a text states, or undefined when it states none. */
export function parseQuantity(text: string): number | undefined {
  const match = QUANTITY.exec(text);
  if (!match) return undefined;
  const value = Number(match[1].replaceAll(',', '')) * (match[2] ? MULTIPLIERS[match[2].toLowerCase()] : 1);
  return Number.isFinite(value) ? value : undefined;
}

/** The properties' usable values for the criteria the config weighs; blank and unreadable values are left out. */
export function factsOf(values: RecordValues, config: IcpConfig): IcpFacts {
  const facts: IcpFacts = {};
  for (const property of scoredProperties(config)) {
    const raw = values[property];
    if (raw === undefined || raw === null) continue;
    if (property === 'numberofemployees' || property === 'annualrevenue') {
      const amount = typeof raw === 'number' ? raw : parseQuantity(raw);
      if (amount !== undefined && amount >= 0) facts[property] = amount;
      continue;
    }
    const text = String(raw).replace(/\s+/g, ' ').trim();
    if (comparable(text) === '') continue;
    if (property === 'jobtitle') facts.jobtitle = seniorityOf(text, config);
    else facts[property] = text;
  }
  return facts;
}

/**
 * A job title's level: the longest keyword found in it as whole words decides ("vice president"
 * beats "president"), the more senior level on equal length; a title with none is an individual
 * contributor.
 */
export function seniorityOf(title: string, config: IcpConfig): SeniorityLevel {
  const words = ` ${comparable(title)} `;
  return rulesOf(config).keywords.find(({ keyword }) => words.includes(` ${keyword} `))?.level ?? 'individual_contributor';
}

export function tierOf(score: number, tiers: IcpConfig['tiers']): Tier {
  if (score >= tiers.A) return 'A';
  if (score >= tiers.B) return 'B';
  return score >= tiers.C ? 'C' : 'D';
}

/**
 * The score of a record's facts under a portal's rules: each weighed criterion earns its share of
 * 100 points (weight over the sum of weights) times how well the value fits (0 to 1); the total,
 * rounded, is the score. Pure: the same facts and rules always give the same score and reasons.
 */
export function scoreIcp(facts: IcpFacts, config: IcpConfig, imputed: ReadonlySet<IcpProperty> = new Set()): IcpScore {
  const properties = scoredProperties(config);
  const totalWeight = properties.reduce((sum, property) => sum + config.criteria[property]!.weight, 0);
  const contributions = properties
    .map((property, order) => {
      const maxPoints = (100 * config.criteria[property]!.weight) / totalWeight;
      const { fit, text } = judge(property, facts, config, imputed.has(property) ? ' (imputed)' : '');
      const points = maxPoints * fit;
      const earned = formatPoints(points);
      const reason = `${text} (+${earned}${earned === formatPoints(maxPoints) ? '' : ` of ${formatPoints(maxPoints)}`})`;
      return { contribution: { property, points, maxPoints, reason }, order };
    })
    .sort((a, b) => b.contribution.points - a.contribution.points || b.contribution.maxPoints - a.contribution.maxPoints || a.order - b.order)
    .map(({ contribution }) => contribution);
  const total = contributions.reduce((sum, contribution) => sum + contribution.points, 0);
  const score = Math.min(100, Math.max(0, Math.round(total)));
  return { score, tier: tierOf(score, config.tiers), contributions, reasons: contributions.map((c) => c.reason).join('; ') };
}

interface Judgement {
  fit: number;
  text: string;
}

const NAMES: Record<IcpProperty, string> = {
  industry: 'Industry',
  numberofemployees: 'Employees',
  annualrevenue: 'Annual revenue',
  country: 'Country',
  jobtitle: 'Seniority',
  lifecyclestage: 'Lifecycle stage',
};

const LEVEL_NAMES: Record<SeniorityLevel, string> = {
  c_level: 'C-level',
  vp: 'VP',
  director: 'Director',
  manager: 'Manager',
  individual_contributor: 'Individual contributor',
};

function judge(property: IcpProperty, facts: IcpFacts, config: IcpConfig, mark: string): Judgement {
  const name = NAMES[property];
  const unknown = { fit: 0, text: `${name} unknown` };
  switch (property) {
    case 'industry':
    case 'lifecyclestage':
    case 'country': {
      const value = facts[property];
      if (value === undefined) return unknown;
      const match = rulesOf(config).groups[property].get(comparable(value));
      if (!match) return { fit: 0, text: `${name} ${shown(value)}${mark} does not match` };
      return { fit: match.fit, text: `${name} ${shown(value)}${mark} matches${match.label ? ` "${match.label}"` : ''}` };
    }
    case 'numberofemployees':
    case 'annualrevenue': {
      const value = facts[property];
      if (value === undefined) return unknown;
      const criterion = config.criteria[property]!;
      const band = criterion.bands.find((b) => value >= b.min && (b.max === undefined || value < b.max));
      const format = property === 'numberofemployees' ? formatCount : formatAmount;
      const where = band ? `in ${band.label ?? bandLabel(band, property === 'numberofemployees')}` : 'in no band';
      return { fit: band?.fit ?? 0, text: `${name} ${format(value)}${mark} ${where}` };
    }
    case 'jobtitle': {
      const level = facts.jobtitle;
      if (level === undefined) return unknown;
      return { fit: config.criteria.jobtitle!.levels[level].fit, text: `${name} ${LEVEL_NAMES[level]}${mark}` };
    }
  }
}

function bandLabel(band: BandCriterion['bands'][number], wholeCounts: boolean): string {
  const format = wholeCounts ? formatCount : formatAmount;
  if (band.max === undefined) return `${format(band.min)}+`;
  // Counts are whole, so the band below 1,000 ends at 999.
  if (wholeCounts && Number.isInteger(band.min) && Number.isInteger(band.max)) {
    return band.max - 1 === band.min ? format(band.min) : `${format(band.min)}-${format(band.max - 1)}`;
  }
  return `${format(band.min)}-${format(band.max)}`;
}

const MAX_SHOWN = 60;

/** A record's text as reasons quote it: one line, and short, whatever the record holds. */
function shown(text: string): string {
  return text.length > MAX_SHOWN ? `${text.slice(0, MAX_SHOWN - 1)}…` : text;
}

function formatPoints(points: number): string {
  return String(Number(points.toFixed(1)));
}

const COUNT_FORMAT = new Intl.NumberFormat('en-US', { maximumFractionDigits: 2 });

function formatCount(count: number): string {
  return COUNT_FORMAT.format(count);
}

const UNITS: Array<[number, string]> = [
  [1e12, 'T'],
  [1e9, 'B'],
  [1e6, 'M'],
  [1e3, 'K'],
];

/** 12500000 as "12.5M": amounts read at a glance. */
function formatAmount(amount: number): string {
  for (const [size, unit] of UNITS) {
    const scaled = Number((amount / size).toFixed(2));
    if (scaled >= 1) return `${scaled}${unit}`;
  }
  return String(Number(amount.toFixed(2)));
}

interface GroupMatch {
  fit: number;
  label?: string;
}

interface CompiledRules {
  groups: Record<'industry' | 'lifecyclestage' | 'country', Map<string, GroupMatch>>;
  /** Longest first, the more senior level first among equals: the first found in a title decides. */
  keywords: Array<{ keyword: string; level: SeniorityLevel }>;
}

/** Rules compiled once per settings object: a portal's settings are cached and shared, so a run costs lookups, not rescans. */
const compiled = new WeakMap<IcpConfig, CompiledRules>();

function rulesOf(config: IcpConfig): CompiledRules {
  let rules = compiled.get(config);
  if (!rules) {
    const { industry, lifecyclestage, country, jobtitle } = config.criteria;
    rules = {
      groups: { industry: valueGroups(industry), lifecyclestage: valueGroups(lifecyclestage), country: countryGroups(country) },
      keywords: seniorityKeywords(jobtitle),
    };
    compiled.set(config, rules);
  }
  return rules;
}

/** The first group a value is in wins (the config check refuses a value in two). */
function valueGroups(criterion: ValueCriterion | undefined): Map<string, GroupMatch> {
  const groups = new Map<string, GroupMatch>();
  for (const group of criterion?.groups ?? []) {
    for (const value of group.values) {
      const key = comparable(value);
      if (!groups.has(key)) groups.set(key, { fit: group.fit, label: group.label });
    }
  }
  return groups;
}

/** A country's group, listed by name or through a region; a group without a label is named by the region that brought the country in. */
function countryGroups(criterion: CountryCriterion | undefined): Map<string, GroupMatch> {
  const groups = new Map<string, GroupMatch>();
  const add = (country: string, match: GroupMatch) => {
    const key = comparable(country);
    if (!groups.has(key)) groups.set(key, match);
  };
  for (const group of criterion?.groups ?? []) {
    for (const country of group.values ?? []) add(country, { fit: group.fit, label: group.label });
    for (const region of group.regions ?? []) {
      for (const country of criterion?.regions?.[region] ?? []) add(country, { fit: group.fit, label: group.label ?? region });
    }
  }
  return groups;
}

function seniorityKeywords(criterion: SeniorityCriterion | undefined): CompiledRules['keywords'] {
  if (!criterion) return [];
  return SENIORITY_LEVELS.flatMap((level, rank) => criterion.levels[level].keywords.map((keyword) => ({ keyword: comparable(keyword), level, rank })))
    .filter(({ keyword }) => keyword !== '')
    .sort((a, b) => b.keyword.length - a.keyword.length || a.rank - b.rank)
    .map(({ keyword, level }) => ({ keyword, level }));
}
