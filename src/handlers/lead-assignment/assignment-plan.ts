import type { HubSpotOwner } from '../../registry/job-handler';
import type { LeadAssignmentConfig, PoolConfig, Strategy } from './lead-assignment-config';
import { Candidate, Picker, pickerFor } from './strategies';
import { describeValues, matchTerritory, propertiesTested, PropertyValues } from './territories';

const STRATEGY_NAMES: Record<Strategy, string> = { round_robin: 'round-robin', weighted: 'weighted', capacity: 'capacity' };

/**
 * The portal's active owners (HubSpot lists only those) less the ones the settings mark unavailable,
 * found by id or by email as the settings name them.
 */
export class OwnerDirectory {
  private readonly byId = new Map<string, HubSpotOwner>();
  private readonly byEmail = new Map<string, HubSpotOwner>();
  private readonly unavailable = new Set<string>();

  constructor(
    private readonly active: HubSpotOwner[],
    unavailable: string[] = [],
  ) {
    for (const owner of active) {
      this.byId.set(owner.id, owner);
      if (owner.email) this.byEmail.set(owner.email.toLowerCase(), owner);
    }
    for (const reference of unavailable) {
      const owner = this.find(reference);
      if (owner) this.unavailable.add(owner.id);
    }
  }

  /** The active owner a setting names (an id or an email), or undefined when HubSpot lists none such. */
  find(reference: string): HubSpotOwner | undefined {
    return this.byId.get(reference) ?? this.byEmail.get(reference.toLowerCase());
  }

  isUnavailable(owner: HubSpotOwner): boolean {
    return this.unavailable.has(owner.id);
  }

  /** The pool's owners who can take a lead now, in turn order, and those passed over. */
  members(pool: PoolConfig): { candidates: Candidate[]; inactive: string[]; unavailable: string[] } {
    const candidates: Candidate[] = [];
    const inactive: string[] = [];
    const unavailable: string[] = [];
    const seen = new Set<string>();
    const consider = (owner: HubSpotOwner, settings: { weight?: number; capacity?: number }) => {
      if (seen.has(owner.id)) return;
      seen.add(owner.id);
      if (this.isUnavailable(owner)) {
        unavailable.push(ownerLabel(owner));
        return;
      }
      candidates.push({ id: owner.id, label: ownerLabel(owner), weight: settings.weight ?? 1, capacity: settings.capacity ?? pool.capacity });
    };
    if (pool.owners) {
      for (const member of pool.owners) {
        const owner = this.find(member.owner);
        if (owner) consider(owner, member);
        else inactive.push(member.owner);
      }
    } else {
      const team = pool.team?.toLowerCase();
      const members = team === undefined ? this.active : this.active.filter((owner) => owner.teams.some((t) => t.id === team || t.name.toLowerCase() === team));
      // HubSpot's listing order is not promised; ids give teams and "everyone" a stable turn order.
      for (const owner of [...members].sort(byNumericId)) consider(owner, {});
    }
    return { candidates, inactive, unavailable };
  }
}

/** One pool to try: the territory's, then the fallback pool. */
export interface PoolStep {
  pool: string;
  /** How the reason introduces it: `Pool "emea"` or `Fallback pool "everyone"`. */
  title: string;
  strategy: Strategy;
  candidates: Candidate[];
  picker: Picker;
  /** Owners passed over, for the reason: "skipped 1 not active in HubSpot: x@y.com"; "" when none. */
  skipped: string;
}

export interface AssignmentPlan {
  /** The matched territory's name; "" when none matched. */
  territory: string;
  /** How the reason starts: which territory matched, on which values. */
  matched: string;
  pools: PoolStep[];
  /** The last resort, when set: the owner if active and available, else why not. */
  fallbackOwner?: { candidate: Candidate } | { problem: string };
}

/** Where a lead may go, in order: its territory's pool, the fallback pool, the fallback owner. */
export function planAssignment(config: LeadAssignmentConfig, values: PropertyValues, directory: OwnerDirectory): AssignmentPlan {
  const territory = matchTerritory(config.territories, values);
  const poolSteps: PoolStep[] = [];
  const addPool = (name: string, title: string) => {
    if (poolSteps.some((step) => step.pool === name)) return;
    poolSteps.push(poolStep(name, title, config.pools[name], directory));
  };
  if (territory) addPool(territory.pool, `Pool "${territory.pool}"`);
  if (config.fallback.pool !== undefined) addPool(config.fallback.pool, `Fallback pool "${config.fallback.pool}"`);

  return {
    territory: territory?.name ?? '',
    matched: territory
      ? `Territory "${territory.name}" matched${valuesNote(propertiesTested([territory]), values)}.`
      : config.territories.length === 0
        ? 'No territories are set.'
        : `No territory matched${valuesNote(propertiesTested(config.territories), values)}.`,
    pools: poolSteps,
    ...(config.fallback.owner !== undefined ? { fallbackOwner: fallbackOwner(config.fallback.owner, directory) } : {}),
  };
}

/** The reason for an owner a pool picked. */
export function pickedReason(step: PoolStep, candidate: Candidate, why: string): string {
  return `${step.title}, ${STRATEGY_NAMES[step.strategy]}: ${candidate.label}, ${why}${step.skipped ? `; ${step.skipped}` : ''}.`;
}

/** The reason a pool gave nobody. */
export function passedReason(step: PoolStep): string {
  const count = step.candidates.length;
  const what = count === 0 ? 'had no available owner' : count === 1 ? 'had its one available owner at capacity' : `had all ${count} available owners at capacity`;
  return `${step.title} ${what}${step.skipped ? ` (${step.skipped})` : ''}.`;
}

function poolStep(name: string, title: string, pool: PoolConfig, directory: OwnerDirectory): PoolStep {
  const { candidates, inactive, unavailable } = directory.members(pool);
  const skipped = [
    inactive.length ? `skipped ${inactive.length} not active in HubSpot: ${listed(inactive)}` : '',
    unavailable.length ? `skipped ${unavailable.length} marked unavailable: ${listed(unavailable)}` : '',
  ]
    .filter(Boolean)
    .join('; ');
  return { pool: name, title, strategy: pool.strategy, candidates, picker: pickerFor(pool.strategy, candidates), skipped };
}

function fallbackOwner(reference: string, directory: OwnerDirectory): { candidate: Candidate } | { problem: string } {
  const owner = directory.find(reference);
  if (!owner) return { problem: `the fallback owner ${reference} is not active in HubSpot` };
  if (directory.isUnavailable(owner)) return { problem: `the fallback owner ${ownerLabel(owner)} is marked unavailable` };
  return { candidate: { id: owner.id, label: ownerLabel(owner), weight: 1 } };
}

/** The first few names: a reason stays readable (and far inside HubSpot's output limit) however large the pool. */
function listed(names: string[], shown = 5): string {
  return names.length > shown ? `${names.slice(0, shown).join(', ')} and ${names.length - shown} more` : names.join(', ');
}

function valuesNote(properties: string[], values: PropertyValues): string {
  return properties.length ? ` (${describeValues(properties, values)})` : '';
}

/** "Ada Lovelace <ada@example.com>", or what there is of it. */
export function ownerLabel(owner: HubSpotOwner): string {
  const name = `${owner.firstName} ${owner.lastName}`.trim();
  if (name && owner.email) return `${name} <${owner.email}>`;
  return name || owner.email || `owner ${owner.id}`;
}

function byNumericId(a: HubSpotOwner, b: HubSpotOwner): number {
  return a.id.length - b.id.length || a.id.localeCompare(b.id);
}
