import type { Condition, TerritoryConfig } from './lead-assignment-config';

/** A lead's property values, as given in the job input or read from HubSpot (where every value is text). */
export type PropertyValues = Record<string, string | number | boolean | null>;

/** Every property some territory tests, in first-use order. */
export function propertiesTested(territories: TerritoryConfig[]): string[] {
  return [...new Set(territories.flatMap((territory) => territory.when.map((condition) => condition.property)))];
}

/** The first territory whose conditions all hold for the lead, or undefined. */
export function matchTerritory(territories: TerritoryConfig[], values: PropertyValues): TerritoryConfig | undefined {
  return territories.find((territory) => territory.when.every((condition) => conditionHolds(condition, values[condition.property])));
}

/**
 * Whether one condition holds for a value. An unset or empty value is unknown: it satisfies only
 * `known: false`, so a lead with no country never lands in a territory by what it is not.
 */
export function conditionHolds(condition: Condition, value: PropertyValues[string] | undefined): boolean {
  const text = asText(value);
  if (condition.known !== undefined && condition.known !== (text !== null)) return false;
  if (text === null) return condition.known === false && !testsValue(condition);
  const folded = fold(text);
  if (condition.in && !condition.in.some((candidate) => fold(candidate) === folded)) return false;
  if (condition.notIn?.some((candidate) => fold(candidate) === folded)) return false;
  if (condition.min !== undefined || condition.max !== undefined) {
    const number = Number(text);
    if (!Number.isFinite(number)) return false;
    if (condition.min !== undefined && number < condition.min) return false;
    if (condition.max !== undefined && number > condition.max) return false;
  }
  return true;
}

/** "country = Germany, numberofemployees unknown": the values a decision rested on, for a person to read. */
export function describeValues(properties: string[], values: PropertyValues): string {
  return properties
    .map((property) => {
      const text = asText(values[property]);
      return text === null ? `${property} unknown` : `${property} = ${text}`;
    })
    .join(', ');
}

function testsValue(condition: Condition): boolean {
  return condition.in !== undefined || condition.notIn !== undefined || condition.min !== undefined || condition.max !== undefined;
}

function asText(value: PropertyValues[string] | undefined): string | null {
  if (value === null || value === undefined) return null;
  const text = String(value).trim();
  return text === '' ? null : text;
}

function fold(text: string): string {
  return text.trim().toLowerCase();
}
