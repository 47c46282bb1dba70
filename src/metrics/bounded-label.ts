/** The label value every value past the bound shares. */
export const OTHER = 'other';

/**
 * A label whose values come from data (portal ids): the first `max` distinct values a process sees
 * keep their own series, the rest share `other`, so a deployment with ten thousand portals does not
 * give Prometheus ten thousand series per metric. The busiest portals show up first in practice.
 */
export class BoundedLabel {
  private readonly seen = new Set<string>();

  constructor(private readonly max: number) {}

  of(value: string): string {
    if (this.seen.has(value)) return value;
    if (this.seen.size >= this.max) return OTHER;
    this.seen.add(value);
    return value;
  }
}
