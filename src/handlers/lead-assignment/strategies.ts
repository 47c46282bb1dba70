import type { Strategy } from './lead-assignment-config';

/** An owner a pool may give the lead to: active in HubSpot and not marked unavailable. */
export interface Candidate {
  id: string;
  /** The name and email, for the assignment reason. */
  label: string;
  weight: number;
  /** Most open leads the owner takes (capacity pools). */
  capacity?: number;
}

/** An owner's leads assigned within the open-lead window. */
export interface OpenLeads {
  count: number;
  lastAssignedAt: Date | null;
}

/** What a pick rests on, read under the pool's lock. */
export interface PoolState {
  /** How many assignments the pool has made: the next turn. */
  position: number;
  /** Open leads of the candidates (capacity pools only). */
  openLeads: Map<string, OpenLeads>;
}

export interface Choice {
  candidate: Candidate;
  /** Why this owner, after the strategy's name: "next in turn of 4". */
  why: string;
}

/** Picks the pool's owner for the next lead from its state, or undefined when none can take it (all at capacity). */
export type Picker = (state: PoolState) => Choice | undefined;

/**
 * The strategy's picker for these candidates. Whatever can be worked out without the pool's state
 * (a weighted schedule) is worked out here, so the pick itself, made under the pool's lock, is quick.
 */
export function pickerFor(strategy: Strategy, candidates: Candidate[]): Picker {
  if (candidates.length === 0) return () => undefined;
  switch (strategy) {
    case 'round_robin':
      return ({ position }) => ({ candidate: candidates[position % candidates.length], why: `next in turn of ${available(candidates)}` });
    case 'weighted': {
      const schedule = weightedSchedule(candidates.map((candidate) => candidate.weight));
      return ({ position }) => {
        const candidate = candidates[schedule[position % schedule.length]];
        return { candidate, why: `next in turn, weight ${candidate.weight} of ${schedule.length} among ${available(candidates)}` };
      };
    }
    case 'capacity':
      return ({ openLeads }) => leastLoaded(candidates, openLeads);
  }
}

/**
 * One cycle of smooth weighted round-robin: each index appears as often as its weight, spread out
 * (weights 3 and 1 give 0, 0, 1, 0, not 0, 0, 0, 1), so a heavier owner never gets a long run of leads.
 */
export function weightedSchedule(weights: number[]): number[] {
  const total = weights.reduce((sum, weight) => sum + weight, 0);
  const current = weights.map(() => 0);
  const schedule: number[] = [];
  for (let turn = 0; turn < total; turn++) {
    let best = 0;
    for (let index = 0; index < weights.length; index++) {
      current[index] += weights[index];
      if (current[index] > current[best]) best = index;
    }
    current[best] -= total;
    schedule.push(best);
  }
  return schedule;
}

/**
 * The owner with the fewest open leads below their capacity; on a tie, the one who waited longest
 * for a lead (never assigned first), then the pool's order.
 */
export function leastLoaded(candidates: Candidate[], openLeads: Map<string, OpenLeads>): Choice | undefined {
  let best: { candidate: Candidate; open: OpenLeads } | undefined;
  for (const candidate of candidates) {
    const open = openLeads.get(candidate.id) ?? { count: 0, lastAssignedAt: null };
    if (candidate.capacity === undefined || open.count >= candidate.capacity) continue;
    if (!best || open.count < best.open.count || (open.count === best.open.count && waitedLonger(open, best.open))) {
      best = { candidate, open };
    }
  }
  if (!best) return undefined;
  return { candidate: best.candidate, why: `fewest open leads (${best.open.count} of ${best.candidate.capacity})` };
}

function available(candidates: Candidate[]): string {
  return candidates.length === 1 ? '1 available owner' : `${candidates.length} available owners`;
}

function waitedLonger(a: OpenLeads, b: OpenLeads): boolean {
  if (b.lastAssignedAt === null) return false;
  return a.lastAssignedAt === null || a.lastAssignedAt < b.lastAssignedAt;
}
