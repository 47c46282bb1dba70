import { EnrichmentProvider, failureOf, Firmographics, Lookup, LookupOutcome, mapLimited, ProviderCall, ProviderFailure, send } from './provider';

/** A field path into a JSON answer: `company.metrics.employees`, `results[0].industry`, optionally after `$.`. */
export const JSON_PATH_PATTERN = '^(\\$\\.)?[A-Za-z_][A-Za-z0-9_-]*(\\[\\d+\\])*(\\.[A-Za-z_][A-Za-z0-9_-]*(\\[\\d+\\])*)*$';
/** A path and query on the configured host, with {domain}, {name} and {email} placeholders; never a host of its own. */
export const URL_TEMPLATE_PATTERN = '^/(?![/\\\\])[^\\s{}]*(\\{(domain|name|email)\\}[^\\s{}]*)*$';
export const HEADER_NAME_PATTERN = "^[A-Za-z0-9!#$%&'*+.^_`|~-]+$";

export interface GenericSettings {
  urlTemplate: string;
  keyHeader: string;
  /** Put before the key in keyHeader, e.g. "Bearer ". */
  keyPrefix?: string;
  fields: {
    industry?: string;
    employee_count?: string;
    employee_range?: string;
    annual_revenue_range?: string;
    country?: string;
  };
}

/** Lookups go one call each; this many at once. */
const CONCURRENCY = 8;

class MalformedAnswer extends Error {}

/** The value at a path; undefined when any step is missing. */
export function valueAt(document: unknown, path: string): unknown {
  const steps = path
    .replace(/^\$\./, '')
    .split(/\.|(?=\[)/)
    .map((step) => (step.startsWith('[') ? Number(step.slice(1, -1)) : step));
  let current: unknown = document;
  for (const step of steps) {
    if (current === null || typeof current !== 'object') return undefined;
    if (typeof step === 'number') {
      if (!Array.isArray(current)) return undefined;
      current = current[step];
    } else {
      if (Array.isArray(current) || !Object.prototype.hasOwnProperty.call(current, step)) return undefined;
      current = (current as Record<string, unknown>)[step];
    }
  }
  return current;
}

function textAt(document: unknown, path: string | undefined): string | null {
  if (path === undefined) return null;
  const value = valueAt(document, path);
  if (value === undefined || value === null) return null;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (typeof value !== 'string') throw new MalformedAnswer(`${path} is ${JSON.stringify(value).slice(0, 80)}, not a value`);
  return value.trim() === '' ? null : value;
}

function countAt(document: unknown, path: string | undefined): number | null {
  if (path === undefined) return null;
  const value = valueAt(document, path);
  if (value === undefined || value === null || value === '') return null;
  const n = typeof value === 'string' && /^\s*\d+\s*$/.test(value) ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0) throw new MalformedAnswer(`${path} is ${JSON.stringify(value).slice(0, 80)}, not a count`);
  return n;
}

/** Maps an answer through the configured paths; a path that is absent means unknown, a value of the wrong kind is malformed. */
export function mapFirmographics(document: unknown, fields: GenericSettings['fields']): Firmographics {
  return {
    industry: textAt(document, fields.industry),
    employeeCount: countAt(document, fields.employee_count),
    employeeRange: textAt(document, fields.employee_range),
    revenueRange: textAt(document, fields.annual_revenue_range),
    country: textAt(document, fields.country),
  };
}

/** A path segment URL resolution removes or climbs with: ".", "..", or either with its dots percent-encoded. */
const DOT_SEGMENT = /^(\.|%2e){1,2}$/i;

/**
 * Any JSON-over-HTTP enrichment API: one GET per lookup to the configured path on the configured
 * host, the key in the configured header, outputs read from the answer by JSON paths. 404 is no
 * match. It has no bulk call, so many lookups are many calls, a few at a time.
 */
export class GenericProvider implements EnrichmentProvider {
  constructor(private readonly settings: GenericSettings) {}

  /**
   * The request URL: the template's path and query on the base URL, each placeholder filled in
   * URL-encoded (empty when the lookup lacks it, as long as the lookup fills one of them).
   */
  urlFor(lookup: Lookup, baseUrl: string): URL | ProviderFailure {
    const values: Record<string, string | undefined> =
      lookup.kind === 'company' ? { domain: lookup.domain, name: lookup.name } : { email: lookup.email };
    const wanted = new Set<string>();
    let filled = 0;
    const path = this.settings.urlTemplate.replace(/\{(domain|name|email)\}/g, (_, name: string) => {
      wanted.add(name);
      const value = values[name];
      if (value !== undefined) filled++;
      return encodeURIComponent(value ?? '');
    });
    if (wanted.size > 0 && filled === 0) {
      const names = [...wanted].map((name) => `{${name}}`).join(', ');
      return new ProviderFailure('refused', `the portal's urlTemplate asks for ${names}, which this job's input does not give`);
    }
    // A value is encoded whole, "/" included, but "." and ".." are left as they are, and URL
    // parsers (and servers) resolve them: a name of ".." would take the call, and the portal's
    // key, to another path on the provider's host.
    const segments = path.split(/[?#]/, 1)[0].split('/');
    if (segments.some((segment) => DOT_SEGMENT.test(segment))) {
      return new ProviderFailure('refused', "a value filled into the urlTemplate's path makes it \".\" or \"..\"");
    }
    const base = new URL(baseUrl);
    const url = new URL(`${baseUrl.replace(/\/+$/, '')}${path}`);
    if (url.origin !== base.origin) return new ProviderFailure('refused', `the urlTemplate leads off the configured host (${url.origin})`);
    return url;
  }

  async enrichOne(lookup: Lookup, call: ProviderCall): Promise<LookupOutcome> {
    const url = this.urlFor(lookup, call.baseUrl);
    if (url instanceof ProviderFailure) return { kind: 'failed', failure: url };
    const answer = await send(call, url, {
      headers: { [this.settings.keyHeader]: `${this.settings.keyPrefix ?? ''}${call.apiKey}`, Accept: 'application/json' },
    });
    if (answer instanceof ProviderFailure) return { kind: 'failed', failure: answer };
    if (answer.status === 404) return { kind: 'no_match' };
    if (answer.status < 200 || answer.status > 299) return { kind: 'failed', failure: failureOf(answer, (body) => body.slice(0, 200) || '(empty body)') };
    const malformed = (message: string): LookupOutcome => ({
      kind: 'failed',
      failure: new ProviderFailure('malformed', `the enrichment provider's answer is malformed: ${message}`),
    });
    let document: unknown;
    try {
      document = JSON.parse(answer.body);
    } catch {
      return malformed(`the body is not JSON: ${answer.body.slice(0, 80)}`);
    }
    try {
      return { kind: 'match', firmographics: mapFirmographics(document, this.settings.fields) };
    } catch (error) {
      if (error instanceof MalformedAnswer) return malformed(error.message);
      throw error;
    }
  }

  enrichMany(lookups: Lookup[], call: ProviderCall): Promise<LookupOutcome[]> {
    return mapLimited(lookups, CONCURRENCY, (lookup) => this.enrichOne(lookup, call));
  }
}
