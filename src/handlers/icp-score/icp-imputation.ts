import { comparable, IcpConfig, IcpProperty, imputationSettings, scoredProperties, SENIORITY_LEVELS, SeniorityLevel } from './icp-config';
import { IcpFacts } from './icp-scoring';

/** How often each value of one property was seen in a portal's scored records, by observation key. */
export type Histogram = Record<string, number>;
export type Histograms = Partial<Record<IcpProperty, Histogram>>;

const NUMERIC = new Set<IcpProperty>(['numberofemployees', 'annualrevenue']);

/**
 * How a fact is counted: texts by their comparable form, levels by name, numbers to two significant
 * figures (so that a property has few distinct values to count; its median is then within 5%).
 */
export function observationKey(property: IcpProperty, value: string | number): string {
  if (NUMERIC.has(property)) return String(Number(Number(value).toPrecision(2)));
  return property === 'jobtitle' ? String(value) : comparable(String(value));
}

/** The observation key of every fact a record has. */
export function observationsOf(facts: IcpFacts): Partial<Record<IcpProperty, string>> {
  const observations: Partial<Record<IcpProperty, string>> = {};
  for (const [property, value] of Object.entries(facts) as Array<[IcpProperty, string | number]>) {
    observations[property] = observationKey(property, value);
  }
  return observations;
}

/**
 * A property's typical value: for numbers the median (the lower of the middle two), else the most
 * common value (of equally common ones, the first in code-point order), and how many observations
 * it comes from. Only the histogram decides, so the same histogram always gives the same value.
 */
export function typicalValue(property: IcpProperty, histogram: Histogram): { observations: number; value?: string | number } {
  const counted = Object.entries(histogram).filter(([key, count]) => count > 0 && isObservation(property, key));
  const observations = counted.reduce((sum, [, count]) => sum + count, 0);
  if (observations === 0) return { observations };
  if (NUMERIC.has(property)) {
    const middle = Math.ceil(observations / 2);
    let seen = 0;
    const [median] = counted
      .map(([key, count]) => [Number(key), count] as const)
      .sort((a, b) => a[0] - b[0])
      .find(([, count]) => (seen += count) >= middle)!;
    return { observations, value: median };
  }
  const [mostCommon] = counted.sort(([keyA, countA], [keyB, countB]) => countB - countA || (keyA < keyB ? -1 : keyA > keyB ? 1 : 0))[0];
  return { observations, value: mostCommon };
}

function isObservation(property: IcpProperty, key: string): boolean {
  if (NUMERIC.has(property)) return key !== '' && Number.isFinite(Number(key)) && Number(key) >= 0;
  if (property === 'jobtitle') return (SENIORITY_LEVELS as readonly string[]).includes(key);
  return key !== '';
}

/**
 * Fills each weighed property the record lacks: with the portal's typical value once it has
 * `minObservations` of them (and the settings allow), else with the settings' default for it; a
 * property with neither stays unknown. Answers the completed facts and the properties imputed, in
 * criteria order. Pure: the histograms are the one input that changes as records are scored.
 */
export function impute(facts: IcpFacts, config: IcpConfig, histograms: Histograms): { facts: IcpFacts; imputed: IcpProperty[] } {
  const settings = imputationSettings(config);
  const completed: IcpFacts = { ...facts };
  const imputed: IcpProperty[] = [];
  for (const property of scoredProperties(config)) {
    if (completed[property] !== undefined) continue;
    const observed = settings.fromObserved && histograms[property] ? typicalValue(property, histograms[property]) : undefined;
    const value = observed && observed.observations >= settings.minObservations ? observed.value : settings.defaults[property];
    if (value === undefined) continue;
    setFact(completed, property, value);
    imputed.push(property);
  }
  return { facts: completed, imputed };
}

function setFact(facts: IcpFacts, property: IcpProperty, value: string | number): void {
  if (property === 'numberofemployees' || property === 'annualrevenue') facts[property] = Number(value);
  else if (property === 'jobtitle') facts.jobtitle = value as SeniorityLevel;
  else facts[property] = String(value);
}
