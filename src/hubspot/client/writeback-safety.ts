import type { PropertyChange } from '../../jobs/writeback-journal';
import { sameValue } from './writeback-inputs';

/** A property's versions as a read with propertiesWithHistory answers them (the client gives Dates; JSON, text). */
export type PropertyHistory = ReadonlyArray<{ value: string; timestamp: Date | string }>;

/**
 * Whether a property changed in HubSpot after `basis` (when the job read the record, or was
 * enqueued) by anything but Offload: a version newer than the basis whose value is none of `own`
 * (the values Offload wrote to the record since, this write's own among them). Such a property is
 * stale for the write: it is skipped, and the person's edit is kept.
 */
export function changedAfter(history: PropertyHistory | undefined, basis: Date, own: readonly string[]): boolean {
  return (history ?? []).some((version) => new Date(version.timestamp).getTime() > basis.getTime() && !own.some((value) => sameValue(value, version.value)));
}

/** A dry run's change: each property whose value the write would change, from its value now to the new one. */
export function changesOf(properties: Record<string, string>, current: Record<string, string | null>): PropertyChange[] {
  return Object.entries(properties)
    .filter(([name, value]) => !sameValue(value, current[name]))
    .map(([property, value]) => ({ property, old: current[property] ?? null, new: value }));
}

/** One reverted write to a record: what it sent, and what the record held before. */
export interface RevertedWrite {
  properties: Record<string, string>;
  /** Null: written without reading the record first, so nothing was kept to restore. */
  previous: Record<string, string | null> | null;
}

/** What a revert does to one record. */
export type RestorePlan =
  | { action: 'restore'; properties: Record<string, string> }
  | { action: 'restored' | 'skipped' | 'unrestorable' };

/**
 * How to put a record back as it was before the reverted writes (`writes`, newest first), given
 * its values now. Each property goes back to the value before the earliest of those writes that
 * follow each other untouched (a change between two of them, by a person say, stops the walk
 * there). The record is restored only if it still holds, in every property, what Offload wrote
 * last: otherwise someone changed it since (`skipped`). A record already back (a revert taken up
 * again after its writer stopped) is `restored` without a call; one written blind, `unrestorable`.
 */
export function restorePlan(writes: RevertedWrite[], current: Record<string, string | null>, overwrittenLater: boolean): RestorePlan {
  if (writes.some((write) => write.previous === null)) return { action: 'unrestorable' };
  if (overwrittenLater) return { action: 'skipped' };
  const last: Record<string, string> = {};
  const targets: Record<string, string | null> = {};
  const names = [...new Set(writes.flatMap((write) => Object.keys(write.properties)))];
  for (const name of names) {
    const setting = writes.filter((write) => Object.hasOwn(write.properties, name));
    last[name] = setting[0].properties[name];
    let target = setting[0].previous![name] ?? null;
    for (const older of setting.slice(1)) {
      if (!sameValue(older.properties[name], target)) break;
      target = older.previous![name] ?? null;
    }
    targets[name] = target;
  }
  if (names.every((name) => sameValue(last[name], current[name]))) {
    return { action: 'restore', properties: Object.fromEntries(names.map((name) => [name, targets[name] ?? ''])) };
  }
  if (names.every((name) => sameValue(targets[name] ?? '', current[name]))) return { action: 'restored' };
  return { action: 'skipped' };
}
