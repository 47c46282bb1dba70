import { InvalidDomainError, normaliseDomain } from '../../../src/handlers/enrichment/domain';

export const MODES = ['no_match', 'rate_limit', 'server_error', 'hang', 'malformed'] as const;
export type Mode = (typeof MODES)[number];

/** How the simulator answers a call: injected per domain, or for every call when `domain` is absent. */
export interface ModeRule {
  mode: Mode;
  /** The normalised domain it applies to; absent: every call. */
  domain?: string;
  /** How many calls it applies to before it lapses; absent: until cleared. */
  times?: number;
  /** server_error: the status (default 503). */
  status?: number;
  /** rate_limit: the Retry-After, in seconds (default 60, a PDL minute window). */
  retryAfterS?: number;
  /** hang: how long the call is held before its connection is dropped (default 30000). */
  hangMs?: number;
}

function wholeNumber(value: unknown, name: string, min: number, max: number): number | undefined {
  if (value === undefined || value === null) return undefined;
  const n = typeof value === 'string' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) throw new Error(`${name} must be an integer from ${min} to ${max}`);
  return n;
}

/** Validates a rule given as JSON (control endpoint) or command-line text; throws naming the bad field. */
export function parseModeRule(input: unknown): ModeRule {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) throw new Error('a mode rule must be a JSON object');
  const raw = input as Record<string, unknown>;
  const unknown = Object.keys(raw).filter((key) => !['mode', 'domain', 'times', 'status', 'retryAfterS', 'hangMs'].includes(key));
  if (unknown.length > 0) throw new Error(`unknown mode field(s): ${unknown.join(', ')}`);
  if (!MODES.includes(raw.mode as Mode)) throw new Error(`mode must be one of ${MODES.join(', ')}`);
  let domain: string | undefined;
  if (raw.domain !== undefined) {
    if (typeof raw.domain !== 'string') throw new Error('domain must be a string');
    try {
      domain = normaliseDomain(raw.domain);
    } catch (error) {
      if (error instanceof InvalidDomainError) throw new Error(`domain: ${error.message}`);
      throw error;
    }
  }
  const rule: ModeRule = { mode: raw.mode as Mode };
  if (domain !== undefined) rule.domain = domain;
  const times = wholeNumber(raw.times, 'times', 1, 1_000_000);
  const status = wholeNumber(raw.status, 'status', 500, 599);
  const retryAfterS = wholeNumber(raw.retryAfterS, 'retryAfterS', 0, 86_400);
  const hangMs = wholeNumber(raw.hangMs, 'hangMs', 0, 600_000);
  if (times !== undefined) rule.times = times;
  if (status !== undefined) rule.status = status;
  if (retryAfterS !== undefined) rule.retryAfterS = retryAfterS;
  if (hangMs !== undefined) rule.hangMs = hangMs;
  return rule;
}

/** The rules in force. A domain's own rule wins over a global one; a rule with `times` lapses once spent. */
export class ModeTable {
  private readonly byDomain = new Map<string, ModeRule>();
  private global: ModeRule | undefined;

  set(rule: ModeRule): void {
    if (rule.domain === undefined) this.global = { ...rule };
    else this.byDomain.set(rule.domain, { ...rule });
  }

  clear(domain?: string): void {
    if (domain === undefined) {
      this.global = undefined;
      this.byDomain.clear();
    } else {
      this.byDomain.delete(domain);
    }
  }

  list(): ModeRule[] {
    return [...(this.global ? [this.global] : []), ...this.byDomain.values()].map((rule) => ({ ...rule }));
  }

  /** The rule a call about this domain meets, without spending it. */
  peek(domain: string | undefined): ModeRule | undefined {
    return (domain !== undefined ? this.byDomain.get(domain) : undefined) ?? this.global;
  }

  /** Spends one use of a rule that decided an answer. */
  spend(rule: ModeRule): void {
    if (rule.times === undefined) return;
    const owner = rule.domain === undefined ? this.global : this.byDomain.get(rule.domain);
    if (!owner || owner.times === undefined) return;
    owner.times -= 1;
    if (owner.times > 0) return;
    if (rule.domain === undefined) this.global = undefined;
    else this.byDomain.delete(rule.domain);
  }
}
