/**
 * One BullMQ queue per job type, so a slow handler never holds up another and each has its own
 * concurrency. Never change this scheme: jobs already waiting under the old names would be orphaned.
 */
export function queueNameFor(type: string): string {
  return `jobs.${type}`;
}

