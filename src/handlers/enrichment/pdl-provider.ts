import {
  Answered,
  EnrichmentProvider,
  failureOf,
  Firmographics,
  Lookup,
  LookupOutcome,
  mapLimited,
  ProviderCall,
  ProviderFailure,
  send,
} from './provider';

/** PDL's bulk company enrichment takes 1 to 100 requests. */
export const PDL_MAX_BULK = 100;
/** People are looked up one call each; this many at once. */
const PERSON_CONCURRENCY = 8;

export interface PdlSettings {
  /** PDL's min_likelihood (1..10): weaker matches answer 404, so count as no match. */
  minLikelihood?: number;
}

class MalformedAnswer extends Error {}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function text(record: Record<string, unknown>, field: string): string | null {
  const value = record[field];
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string') throw new MalformedAnswer(`${field} is ${JSON.stringify(value)}, not text`);
  return value.trim() === '' ? null : value;
}

function count(record: Record<string, unknown>, field: string): number | null {
  const value = record[field];
  if (value === undefined || value === null) return null;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) throw new MalformedAnswer(`${field} is ${JSON.stringify(value)}, not a count`);
  return value;
}

function checkLikelihood(record: Record<string, unknown>): void {
  const likelihood = record.likelihood;
  if (typeof likelihood !== 'number' || !Number.isInteger(likelihood) || likelihood < 1 || likelihood > 10) {
    throw new MalformedAnswer(`likelihood is ${JSON.stringify(likelihood)}, not an integer from 1 to 10`);
  }
}

/** A company record of the Company Enrichment API: its fields are top-level, unknown ones null. */
export function pdlCompanyFirmographics(record: Record<string, unknown>): Firmographics {
  checkLikelihood(record);
  const location = record.location;
  if (location !== undefined && location !== null && !isObject(location)) throw new MalformedAnswer(`location is ${JSON.stringify(location)}, not an object`);
  return {
    industry: text(record, 'industry'),
    employeeCount: count(record, 'employee_count'),
    employeeRange: text(record, 'size'),
    revenueRange: text(record, 'inferred_revenue'),
    country: location ? text(location, 'country') : null,
  };
}

/** A Person Enrichment answer: `{status, likelihood, data}`, where data's job_company_* fields describe the employer. */
export function pdlPersonFirmographics(body: Record<string, unknown>): Firmographics {
  checkLikelihood(body);
  const data = body.data;
  if (!isObject(data)) throw new MalformedAnswer('data is missing or not an object');
  return {
    industry: text(data, 'job_company_industry'),
    employeeCount: count(data, 'job_company_employee_count'),
    employeeRange: text(data, 'job_company_size'),
    revenueRange: text(data, 'job_company_inferred_revenue'),
    country: text(data, 'job_company_location_country'),
  };
}

/** PDL's error message (`{status, error: {type, message}}`), or the start of whatever came instead. */
function describe(body: string): string {
  try {
    const parsed: unknown = JSON.parse(body);
    const error = isObject(parsed) ? parsed.error : undefined;
    if (isObject(error) && typeof error.message === 'string') return typeof error.type === 'string' ? `${error.type}: ${error.message}` : error.message;
  } catch {
    // not JSON: quoted below as it came
  }
  return body.slice(0, 200) || '(empty body)';
}

function malformed(message: string): LookupOutcome {
  return { kind: 'failed', failure: new ProviderFailure('malformed', `the enrichment provider's answer is malformed: ${message}`) };
}

/** The outcome of one enrichment answer (a single call's, or one item of a bulk answer). */
function outcomeOf(status: number, record: unknown, firmographics: (record: Record<string, unknown>) => Firmographics): LookupOutcome {
  if (status === 404) return { kind: 'no_match' };
  if (!isObject(record)) return malformed('the answer is not a JSON object');
  if (record.status !== undefined && record.status !== status) return malformed(`it says status ${JSON.stringify(record.status)} on a ${status} answer`);
  try {
    return { kind: 'match', firmographics: firmographics(record) };
  } catch (error) {
    if (error instanceof MalformedAnswer) return malformed(error.message);
    throw error;
  }
}

function parse(body: string): unknown {
  try {
    return JSON.parse(body);
  } catch {
    return undefined;
  }
}

/**
 * People Data Labs: Company Enrichment (GET /v5/company/enrich, POST /v5/company/enrich/bulk for up
 * to 100 companies in one call) and, for a contact known only by email, Person Enrichment
 * (GET /v5/person/enrich), whose job_company_* fields describe the employer. The key goes in X-Api-Key.
 */
export class PdlProvider implements EnrichmentProvider {
  constructor(private readonly settings: PdlSettings = {}) {}

  private url(call: ProviderCall, path: string): URL {
    return new URL(`${call.baseUrl.replace(/\/+$/, '')}${path}`);
  }

  private headers(call: ProviderCall): Record<string, string> {
    return { 'X-Api-Key': call.apiKey, Accept: 'application/json' };
  }

  private companyParams(lookup: Extract<Lookup, { kind: 'company' }>): Record<string, string | number> {
    return {
      ...(lookup.domain !== undefined ? { website: lookup.domain } : {}),
      ...(lookup.name !== undefined ? { name: lookup.name } : {}),
      ...(this.settings.minLikelihood !== undefined ? { min_likelihood: this.settings.minLikelihood } : {}),
    };
  }

  private single(answer: Answered | ProviderFailure, firmographics: (record: Record<string, unknown>) => Firmographics): LookupOutcome {
    if (answer instanceof ProviderFailure) return { kind: 'failed', failure: answer };
    if (answer.status !== 200 && answer.status !== 404) return { kind: 'failed', failure: failureOf(answer, describe) };
    const body = parse(answer.body);
    if (answer.status === 200 && body === undefined) return malformed(`the body is not JSON: ${answer.body.slice(0, 80)}`);
    return outcomeOf(answer.status, body, firmographics);
  }

  async enrichOne(lookup: Lookup, call: ProviderCall): Promise<LookupOutcome> {
    if (lookup.kind === 'person') {
      const url = this.url(call, '/v5/person/enrich');
      url.searchParams.set('email', lookup.email);
      if (this.settings.minLikelihood !== undefined) url.searchParams.set('min_likelihood', String(this.settings.minLikelihood));
      return this.single(await send(call, url, { headers: this.headers(call) }), pdlPersonFirmographics);
    }
    const url = this.url(call, '/v5/company/enrich');
    for (const [name, value] of Object.entries(this.companyParams(lookup))) url.searchParams.set(name, String(value));
    return this.single(await send(call, url, { headers: this.headers(call) }), pdlCompanyFirmographics);
  }

  async enrichMany(lookups: Lookup[], call: ProviderCall): Promise<LookupOutcome[]> {
    const outcomes = new Array<LookupOutcome>(lookups.length);
    const companies = lookups.flatMap((lookup, index) => (lookup.kind === 'company' ? [{ lookup, index }] : []));
    const people = lookups.flatMap((lookup, index) => (lookup.kind === 'person' ? [{ lookup, index }] : []));
    const bulk = async () => {
      for (let start = 0; start < companies.length; start += PDL_MAX_BULK) {
        const chunk = companies.slice(start, start + PDL_MAX_BULK);
        const answers = chunk.length === 1 ? [await this.enrichOne(chunk[0].lookup, call)] : await this.bulk(chunk.map((entry) => entry.lookup), call);
        chunk.forEach((entry, i) => (outcomes[entry.index] = answers[i]));
      }
    };
    const singles = async () => {
      const answers = await mapLimited(people, PERSON_CONCURRENCY, (entry) => this.enrichOne(entry.lookup, call));
      people.forEach((entry, i) => (outcomes[entry.index] = answers[i]));
    };
    await Promise.all([bulk(), singles()]);
    return outcomes;
  }

  private async bulk(lookups: Array<Extract<Lookup, { kind: 'company' }>>, call: ProviderCall): Promise<LookupOutcome[]> {
    const requests = lookups.map((lookup, index) => ({ params: this.companyParams(lookup), metadata: { index } }));
    const answer = await send(call, this.url(call, '/v5/company/enrich/bulk'), {
      method: 'POST',
      headers: { ...this.headers(call), 'Content-Type': 'application/json' },
      body: JSON.stringify({ requests }),
    });
    const everyone = (outcome: LookupOutcome) => lookups.map(() => outcome);
    if (answer instanceof ProviderFailure) return everyone({ kind: 'failed', failure: answer });
    if (answer.status !== 200) return everyone({ kind: 'failed', failure: failureOf(answer, describe) });
    const items = parse(answer.body);
    if (!Array.isArray(items)) return everyone(malformed(`the bulk answer is not a JSON array: ${answer.body.slice(0, 80)}`));
    if (items.length !== lookups.length) return everyone(malformed(`the bulk answer has ${items.length} items for ${lookups.length} requests`));
    // Items carry back the metadata of their request; position is the fallback PDL documents.
    const byIndex = new Map<number, unknown>();
    items.forEach((item, position) => {
      const index = isObject(item) && isObject(item.metadata) && typeof item.metadata.index === 'number' ? item.metadata.index : position;
      byIndex.set(index, item);
    });
    return lookups.map((_, index) => {
      const item = byIndex.get(index);
      if (!isObject(item)) return malformed(`bulk item ${index} is not a JSON object`);
      const status = item.status;
      if (typeof status !== 'number') return malformed(`bulk item ${index} has no status`);
      if (status === 200 || status === 404) return outcomeOf(status, item, pdlCompanyFirmographics);
      return { kind: 'failed', failure: failureOf({ status, headers: answer.headers, body: JSON.stringify(item) }, describe) };
    });
  }
}
