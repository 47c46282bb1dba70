import { randomUUID } from 'node:crypto';

/**
 * A version 7 UUID (RFC 9562): the Unix time in milliseconds in its first 48 bits, then 74 random
 * bits. Job ids are made in order of time, so a new job's entry lands on the last pages of the
 * primary key's index, and the jobs claimed, finished and polled soon after are on pages already
 * in memory; with random (version 4) ids every insert and every lookup of a recent job touched a
 * page anywhere in an index of millions of entries (npm run bench:scale). The random part comes
 * from a version 4 UUID, whose generator keeps a pool of entropy.
 */
export function timeOrderedUuid(now = Date.now()): string {
  const time = now.toString(16).padStart(12, '0');
  // randomUUID(): xxxxxxxx-xxxx-4xxx-Vxxx-xxxxxxxxxxxx; its version digit (index 14) becomes 7, its variant stays.
  return `${time.slice(0, 8)}-${time.slice(8, 12)}-7${randomUUID().slice(15)}`;
}
