/**
 * What lets a handler version's writes through to a portal's records: its rollout, a dry-run-only
 * setting, a pause, a revert; and when its writes look wrong enough to pause them. Pure: the
 * journal's SQL (WritebackReleases) gathers the state and applies the decisions.
 */

/** The stages of a rollout when a portal names none: the first record, then 10, then 100, then all. */
export const DEFAULT_ROLLOUT_STAGES = [1, 10, 100];

/**
 * When a version's writes are paused. Over its latest WINDOW writes in the portal (at least
 * MIN_WRITES of them), against the latest WINDOW of the version that wrote there before it:
 * - one value of a property in DOMINANT_SHARE of the writes that set it, where the previous version
 *   gave that value to fewer than PREVIOUS_DOMINANT_BELOW of them (a quiet bug does not fail; it
 *   writes the same thing everywhere);
 * - a property cleared by more than CLEARED_SHARE of the writes that set it, where the previous
 *   version cleared it in fewer than PREVIOUS_CLEARED_BELOW;
 * - HubSpot refusing FAILURE_RATE or more of its latest settled writes (no previous version needed).
 */
export const GUARDS = {
  window: 100,
  minWrites: 20,
  dominantShare: 0.9,
  previousDominantBelow: 0.5,
  clearedShare: 0.5,
  previousClearedBelow: 0.25,
  failureRate: 0.5,
} as const;

/** Why a version's writes are paused; shown by the admin API, in the metrics and in the logs. */
export interface PauseReason {
  code: 'drift' | 'clearing' | 'failure_rate';
  message: string;
  property?: string;
  value?: string;
  /** The share of the version's latest writes that did it. */
  share: number;
  /** The same share among the previous version's writes. */
  previousShare?: number;
  previousVersion?: string;
}

/** The values a version's latest writes set: how many writes, and per property, how many set each value. */
export interface WrittenValues {
  writes: number;
  values: Record<string, Record<string, number>>;
}

/** A version's latest settled writes, and how many of them HubSpot refused. */
export interface SettledWrites {
  settled: number;
  refused: number;
}

/** How many of a version's writes its rollout lets through so far: the current stage's count, or all past the last stage. */
export function allowanceOf(stages: number[] | null, stage: number): number {
  return stages && stage < stages.length ? stages[stage] : Infinity;
}

/**
 * Whether a rollout that releases itself goes to its next stage: after `autoReleaseAfter` clean
 * writes in the stage (written, none refused since), or, for a stage of fewer records than that,
 * once all of them are written cleanly.
 */
export function dueForRelease(release: { stages: number[] | null; stage: number; autoReleaseAfter: number | null; clean: number }): boolean {
  if (!release.stages || release.autoReleaseAfter === null || release.stage >= release.stages.length) return false;
  const stageSize = release.stages[release.stage] - (release.stage > 0 ? release.stages[release.stage - 1] : 0);
  return release.clean >= Math.min(release.autoReleaseAfter, stageSize);
}

/** A version's drift from the previous version's writes, or undefined when there is none (or too few writes to tell). */
export function driftOf(current: WrittenValues, previous: WrittenValues, previousVersion: string): PauseReason | undefined {
  if (current.writes < GUARDS.minWrites || previous.writes < GUARDS.minWrites) return undefined;
  for (const [property, counts] of Object.entries(current.values)) {
    const before = previous.values[property];
    if (!before) continue;
    const setting = total(counts);
    const previousSetting = total(before);
    if (setting < GUARDS.minWrites || previousSetting === 0) continue;
    const cleared = (counts[''] ?? 0) / setting;
    const previousCleared = (before[''] ?? 0) / previousSetting;
    if (cleared > GUARDS.clearedShare && previousCleared < GUARDS.previousClearedBelow) {
      return {
        code: 'clearing',
        message: `${percent(cleared)} of the latest ${setting} writes clear ${property} (${previousVersion} cleared it in ${percent(previousCleared)})`,
        property,
        share: cleared,
        previousShare: previousCleared,
        previousVersion,
      };
    }
    const [value, count] = Object.entries(counts).reduce((top, entry) => (entry[1] > top[1] ? entry : top));
    const share = count / setting;
    const previousShare = (before[value] ?? 0) / previousSetting;
    if (value !== '' && share >= GUARDS.dominantShare && previousShare < GUARDS.previousDominantBelow) {
      return {
        code: 'drift',
        message: `${percent(share)} of the latest ${setting} writes set ${property} to ${JSON.stringify(value)} (${previousVersion} did in ${percent(previousShare)})`,
        property,
        value,
        share,
        previousShare,
        previousVersion,
      };
    }
  }
  return undefined;
}

/** A failure rate past the threshold, or undefined. */
export function failureRateOf({ settled, refused }: SettledWrites): PauseReason | undefined {
  if (settled < GUARDS.minWrites) return undefined;
  const share = refused / settled;
  if (share < GUARDS.failureRate) return undefined;
  return { code: 'failure_rate', message: `HubSpot refused ${refused} of the latest ${settled} writes (${percent(share)})`, share };
}

/** A version's release as the gate sees it. */
export interface ReleaseGate {
  dryRunOnly: boolean;
  stages: number[] | null;
  stage: number;
  admitted: number;
  paused: boolean;
  reverted: boolean;
}

/** A claimed write as the gate sees it. */
export interface GateWrite {
  id: string;
  dryRun: boolean;
  /** Counted against the rollout already (sent before, and back for another try). */
  admitted: boolean;
}

/** What becomes of a version's claimed writes. `admit`: counted against its rollout now (a subset of `send`). */
export interface GateDecision {
  send: string[];
  preview: string[];
  hold: string[];
  withdraw: string[];
  admit: string[];
}

/**
 * Lets a version's claimed writes through: dry runs are previewed whatever the release's state; a
 * reverted version's writes are withdrawn; a paused one's (or one `tripped` now) are held; the rest
 * go while the rollout's stage allows, oldest first, and are held past it.
 */
export function gate(release: ReleaseGate, writes: GateWrite[], tripped: boolean): GateDecision {
  const decision: GateDecision = { send: [], preview: [], hold: [], withdraw: [], admit: [] };
  let room = allowanceOf(release.stages, release.stage) - release.admitted;
  for (const write of writes) {
    if (write.dryRun || release.dryRunOnly) decision.preview.push(write.id);
    else if (release.reverted) decision.withdraw.push(write.id);
    else if (release.paused || tripped) decision.hold.push(write.id);
    else if (write.admitted || !Number.isFinite(room)) decision.send.push(write.id);
    else if (room > 0) {
      room--;
      decision.send.push(write.id);
      decision.admit.push(write.id);
    } else decision.hold.push(write.id);
  }
  return decision;
}

function total(counts: Record<string, number>): number {
  return Object.values(counts).reduce((sum, count) => sum + count, 0);
}

function percent(share: number): string {
  return `${Math.round(share * 100)}%`;
}
