import type { IncomingMessage, ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { hangUp, readBody, sendAnswer, SimulatorServer } from '../common';
import { InvalidDomainError, normaliseDomain, emailDomain } from '../../../src/handlers/enrichment/domain';
import { CompanyRecord, companyForDomain, personForEmail } from './companies';
import { handleControl } from './control';
import { Mode, ModeRule, ModeTable, parseModeRule } from './modes';
import { CallRecorder, EnrichmentSimulatorStats, Endpoint, RecordedCall } from './recorder';

export const DEFAULT_API_KEY = 'sim-pdl-key';
/** PDL's bulk endpoints take 1 to 100 requests. */
export const MAX_BULK_REQUESTS = 100;

export interface EnrichmentSimulatorOptions {
  /** 0 (the default) picks a free port. */
  port?: number;
  host?: string;
  /** Keys accepted in X-Api-Key (or ?api_key=). Default: DEFAULT_API_KEY. */
  apiKeys?: string[];
  /** Calls per window per key (PDL: fixed windows of a minute). Default 1000. */
  rateLimit?: number;
  windowMs?: number;
  /** Added to every API call before it is answered. */
  latencyMs?: number;
  /** Size of the call record. Default 100000. */
  maxRecordedCalls?: number;
  modes?: ModeRule[];
}

/** PDL's error body: `{status, error: {type, message}}`. */
export function errorBody(status: number, type: string, message: string): { status: number; error: { type: string; message: string } } {
  return { status, error: { type, message } };
}

const JSON_TYPE = 'application/json';
const NOT_FOUND_MESSAGE = 'No records were found matching your request';
const SERVER_ERROR_MESSAGE = 'The server encountered an unexpected condition which prevented it from fulfilling the request';
const COMPANY_PARAMS = ['website', 'name', 'profile', 'ticker', 'pdl_id'];
/** What a body cut off mid-answer looks like: the answer of a proxy that gave up, or of a broken deploy. */
const TRUNCATED_BODY = '{"status": 200, "name": "acme", "employee_count": 12';

interface Answer {
  status: number;
  /** A string is sent as it is (malformed answers); anything else as JSON. */
  body: unknown;
  headers: Record<string, string>;
  /** Set when the call is to be held and then dropped without an answer. */
  hangMs?: number;
  mode?: Mode;
  credits: number;
}

interface Call {
  endpoint: Endpoint;
  subjects: string[];
  lookups: number;
}

class FixedWindow {
  private windowStart = 0;
  private used = 0;

  constructor(
    public limit: number,
    public windowMs: number,
  ) {}

  private roll(now: number): void {
    const start = Math.floor(now / this.windowMs) * this.windowMs;
    if (start !== this.windowStart) {
      this.windowStart = start;
      this.used = 0;
    }
  }

  admit(now: number): boolean {
    this.roll(now);
    if (this.used >= this.limit) return false;
    this.used++;
    return true;
  }

  get resetAt(): number {
    return this.windowStart + this.windowMs;
  }

  remaining(now: number): number {
    this.roll(now);
    return Math.max(0, this.limit - this.used);
  }
}

function isoSeconds(ms: number): string {
  return new Date(Math.ceil(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

/**
 * A local stand-in for People Data Labs' company and person enrichment APIs: PDL's request and
 * answer shapes, status codes, error bodies and rate-limit headers, with a deterministic company
 * for every domain, injectable modes per domain or for every call, and a record of every call.
 */
export class EnrichmentSimulator {
  readonly modes = new ModeTable();
  private readonly recorder: CallRecorder;
  private readonly apiKeys: Set<string>;
  private readonly windows = new Map<string, FixedWindow>();
  private readonly overrides = new Map<string, CompanyRecord | null>();
  private rateLimit: number;
  private windowMs: number;
  private latencyMs: number;
  private readonly http = new SimulatorServer(
    (req, res) => this.dispatch(req, res),
    (error) => ({ contentType: JSON_TYPE, body: errorBody(500, 'api_error', `simulator error: ${error.message}`) }),
  );

  constructor(private readonly options: EnrichmentSimulatorOptions = {}) {
    this.apiKeys = new Set(options.apiKeys ?? [DEFAULT_API_KEY]);
    this.rateLimit = options.rateLimit ?? 1000;
    this.windowMs = options.windowMs ?? 60_000;
    this.latencyMs = options.latencyMs ?? 0;
    this.recorder = new CallRecorder(options.maxRecordedCalls ?? 100_000);
    for (const rule of options.modes ?? []) this.modes.set(parseModeRule(rule));
  }

  async listen(port = this.options.port ?? 0, host = this.options.host ?? '127.0.0.1'): Promise<this> {
    await this.http.listen(port, host);
    return this;
  }

  get url(): string {
    return this.http.url;
  }

  get apiKey(): string {
    return [...this.apiKeys][0] ?? '';
  }

  close(): Promise<void> {
    return this.http.close();
  }

  addApiKey(key: string): void {
    if (key.trim() === '') throw new Error('an API key cannot be empty');
    this.apiKeys.add(key);
  }

  /** Sets the record a domain answers with (null: no match), instead of the generated one. */
  setCompany(domain: string, record: Partial<CompanyRecord> | null): void {
    const key = normaliseDomain(domain);
    this.overrides.set(key, record === null ? null : { ...companyForDomain(key), ...record });
  }

  /**
   * The company of a domain: a record set with setCompany, else the generated one. Domains under
   * `.invalid` (reserved by RFC 2606, so never a real company) have none.
   */
  company(domain: string): CompanyRecord | undefined {
    const override = this.overrides.get(domain);
    if (override !== undefined) return override ?? undefined;
    return domain.endsWith('.invalid') ? undefined : companyForDomain(domain);
  }

  setLimits(limits: { rateLimit?: number; windowMs?: number; latencyMs?: number }): void {
    if (limits.rateLimit !== undefined) this.rateLimit = limits.rateLimit;
    if (limits.windowMs !== undefined) this.windowMs = limits.windowMs;
    if (limits.latencyMs !== undefined) this.latencyMs = limits.latencyMs;
    for (const window of this.windows.values()) {
      window.limit = this.rateLimit;
      window.windowMs = this.windowMs;
    }
  }

  limits(): { rateLimit: number; windowMs: number; latencyMs: number } {
    return { rateLimit: this.rateLimit, windowMs: this.windowMs, latencyMs: this.latencyMs };
  }

  calls(filter: Parameters<CallRecorder['list']>[0] = {}): RecordedCall[] {
    return this.recorder.list(filter);
  }

  stats(): EnrichmentSimulatorStats {
    return this.recorder.stats();
  }

  resetCalls(): void {
    this.recorder.reset();
  }

  // --- HTTP -----------------------------------------------------------------------------------

  private async dispatch(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://simulator');
    const method = req.method ?? 'GET';
    const rawBody = await readBody(req);
    if (url.pathname.startsWith('/__sim/')) {
      const answer = handleControl(this, method, url.pathname, url.searchParams, rawBody);
      sendAnswer(res, answer, JSON_TYPE);
      return;
    }

    const at = Date.now();
    const started = performance.now();
    this.recorder.begin();
    const call: Call = { endpoint: 'unknown', subjects: [], lookups: 0 };
    let answer: Answer | undefined;
    try {
      if (this.latencyMs > 0) await sleep(this.latencyMs);
      answer = this.answer(req, method, url, rawBody, call);
      if (answer.hangMs !== undefined) {
        await hangUp(req, res, answer.hangMs);
        return;
      }
      sendAnswer(res, answer, JSON_TYPE);
    } finally {
      this.recorder.record(
        {
          method,
          path: url.pathname,
          endpoint: call.endpoint,
          status: answer && answer.hangMs === undefined ? answer.status : 0,
          lookups: call.lookups,
          subjects: call.subjects,
          ...(answer?.mode ? { mode: answer.mode } : {}),
          credits: answer?.credits ?? 0,
          durationMs: Math.round((performance.now() - started) * 100) / 100,
        },
        at,
      );
    }
  }

  private answer(req: IncomingMessage, method: string, url: URL, rawBody: string, call: Call): Answer {
    const route = ROUTES[url.pathname];
    if (!route) return plain(404, errorBody(404, 'not_found', `No such endpoint: ${url.pathname}`));
    call.endpoint = route.endpoint;
    if (method !== route.method) return plain(405, errorBody(405, 'invalid_request_error', 'Request method is not allowed on the requested resource'));

    const key = headerValue(req.headers['x-api-key']) ?? url.searchParams.get('api_key') ?? '';
    if (!this.apiKeys.has(key)) return plain(401, errorBody(401, 'authentication_error', 'Request contained a missing or invalid key'));

    const now = Date.now();
    let window = this.windows.get(key);
    if (!window) this.windows.set(key, (window = new FixedWindow(this.rateLimit, this.windowMs)));
    const admitted = window.admit(now);
    const rateHeaders = {
      'x-ratelimit-limit': JSON.stringify({ minute: window.limit }),
      'x-ratelimit-remaining': JSON.stringify({ minute: window.remaining(now) }),
      'x-ratelimit-reset': isoSeconds(window.resetAt),
    };
    if (!admitted) {
      return {
        ...plain(429, errorBody(429, 'rate_limit_error', 'An error occurred due to requests hitting the API too quick')),
        headers: { ...rateHeaders, 'retry-after': String(Math.max(1, Math.ceil((window.resetAt - now) / 1000))) },
      };
    }

    const answer =
      route.endpoint === 'company.bulk'
        ? this.bulkCompanies(rawBody, call)
        : route.endpoint === 'company.enrich'
          ? this.singleCompany(url.searchParams, call)
          : this.person(url.searchParams, call);
    const headers: Record<string, string> = {
      ...rateHeaders,
      'x-call-credits-spent': String(answer.credits),
      'x-call-credits-type': route.endpoint === 'person.enrich' ? 'enrich' : 'enrich_company',
      ...answer.headers,
    };
    if (answer.status === 429) headers['x-ratelimit-reset'] = isoSeconds(now + Number(answer.headers['retry-after']) * 1000);
    return { ...answer, headers };
  }

  /** The domain a set of company parameters names: the website's, else the LinkedIn slug's or the name's `.com`. */
  private subjectOf(params: Record<string, unknown>): string | undefined {
    const text = (name: string) => (typeof params[name] === 'string' && (params[name] as string).trim() !== '' ? (params[name] as string) : undefined);
    const website = text('website');
    if (website !== undefined) return normaliseDomain(website);
    const profile = text('profile');
    const slug = profile ? /linkedin\.com\/company\/([a-z0-9-]+)/i.exec(profile)?.[1] : undefined;
    if (slug) return `${slug.toLowerCase()}.com`;
    const name = text('name');
    if (name !== undefined) {
      const label = name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '');
      if (label !== '') return `${label}.com`;
    }
    return undefined;
  }

  /** Whole-call answers a mode forces: a rate limit, a server error, a hang, or (for a single call) a cut-off body. */
  private forced(rule: ModeRule | undefined): Answer | undefined {
    if (!rule) return undefined;
    switch (rule.mode) {
      case 'rate_limit': {
        const seconds = rule.retryAfterS ?? 60;
        return {
          ...plain(429, errorBody(429, 'rate_limit_error', 'An error occurred due to requests hitting the API too quick')),
          headers: { 'retry-after': String(seconds) },
          mode: rule.mode,
        };
      }
      case 'server_error': {
        const status = rule.status ?? 503;
        return { ...plain(status, errorBody(status, 'api_error', SERVER_ERROR_MESSAGE)), mode: rule.mode };
      }
      case 'hang':
        return { ...plain(0, undefined), hangMs: rule.hangMs ?? 30_000, mode: rule.mode };
      case 'malformed':
        return { ...plain(200, TRUNCATED_BODY), mode: rule.mode };
      default:
        return undefined;
    }
  }

  private singleCompany(query: URLSearchParams, call: Call): Answer {
    const params = Object.fromEntries(query);
    call.lookups = 1;
    if (!COMPANY_PARAMS.some((name) => (params[name] ?? '').trim() !== '')) {
      return plain(400, errorBody(400, 'invalid_request_error', `Request must contain at least one of: ${COMPANY_PARAMS.join(', ')}`));
    }
    let domain: string | undefined;
    try {
      domain = this.subjectOf(params);
    } catch (error) {
      if (!(error instanceof InvalidDomainError)) throw error;
      return plain(400, errorBody(400, 'invalid_request_error', `Invalid website: ${error.message}`));
    }
    if (domain) call.subjects = [domain];
    const rule = this.modes.peek(domain);
    if (rule) this.modes.spend(rule);
    const forced = this.forced(rule);
    if (forced) return forced;
    const outcome = this.lookUp(domain, params.min_likelihood, rule);
    return { status: outcome.status, body: outcome, headers: {}, credits: outcome.status === 200 ? 1 : 0, ...(rule ? { mode: rule.mode } : {}) };
  }

  private lookUp(domain: string | undefined, minLikelihood: unknown, rule: ModeRule | undefined): Record<string, unknown> & { status: number } {
    const record = rule?.mode === 'no_match' || domain === undefined ? undefined : this.company(domain);
    const min = Number(minLikelihood ?? 0);
    if (!record || (Number.isFinite(min) && record.likelihood < min)) return errorBody(404, 'not_found', NOT_FOUND_MESSAGE);
    const { likelihood, ...fields } = record;
    return { status: 200, ...fields, likelihood };
  }

  private bulkCompanies(rawBody: string, call: Call): Answer {
    let body: unknown;
    try {
      body = JSON.parse(rawBody);
    } catch {
      return plain(400, errorBody(400, 'invalid_request_error', 'Request body is not valid JSON'));
    }
    const requests = (body as { requests?: unknown } | null)?.requests;
    if (!Array.isArray(requests) || requests.length === 0 || requests.length > MAX_BULK_REQUESTS) {
      return plain(400, errorBody(400, 'invalid_request_error', `requests must be an array of 1 to ${MAX_BULK_REQUESTS} request objects`));
    }
    call.lookups = requests.length;
    const items = requests.map((request: unknown) => {
      const entry = (request ?? {}) as { params?: unknown; metadata?: unknown };
      const params = entry.params !== null && typeof entry.params === 'object' && !Array.isArray(entry.params) ? (entry.params as Record<string, unknown>) : undefined;
      try {
        const domain = params ? this.subjectOf(params) : undefined;
        return { params, metadata: entry.metadata, domain };
      } catch (error) {
        if (!(error instanceof InvalidDomainError)) throw error;
        return { params, metadata: entry.metadata, domain: undefined, invalid: error.message };
      }
    });
    call.subjects = items.map((item) => item.domain ?? '');

    // A rate limit, an outage or a hang befalls the whole request, whichever lookup's domain it was set for.
    const callRule = [undefined, ...items.map((item) => item.domain)]
      .map((domain) => this.modes.peek(domain))
      .find((rule) => rule && (rule.mode === 'rate_limit' || rule.mode === 'server_error' || rule.mode === 'hang' || (rule.mode === 'malformed' && rule.domain === undefined)));
    if (callRule) {
      this.modes.spend(callRule);
      return this.forced(callRule)!;
    }

    let credits = 0;
    const spent = new Set<ModeRule>();
    const answers = items.map((item) => {
      const withMetadata = (answer: Record<string, unknown>) => (item.metadata === undefined ? answer : { ...answer, metadata: item.metadata });
      if (!item.params || !COMPANY_PARAMS.some((name) => typeof item.params![name] === 'string' && (item.params![name] as string).trim() !== '')) {
        return withMetadata(errorBody(400, 'invalid_request_error', `Request must contain at least one of: ${COMPANY_PARAMS.join(', ')}`));
      }
      if ('invalid' in item) return withMetadata(errorBody(400, 'invalid_request_error', `Invalid website: ${item.invalid}`));
      const rule = this.modes.peek(item.domain);
      if (rule) spent.add(rule);
      if (rule?.mode === 'malformed') {
        credits++;
        return withMetadata({ status: 200, name: 42, employee_count: 'many', location: 'somewhere', likelihood: 'high' });
      }
      const outcome = this.lookUp(item.domain, item.params.min_likelihood, rule);
      if (outcome.status === 200) credits++;
      return withMetadata(outcome);
    });
    for (const rule of spent) this.modes.spend(rule);
    return { status: 200, body: answers, headers: {}, credits };
  }

  private person(query: URLSearchParams, call: Call): Answer {
    call.lookups = 1;
    const email = query.get('email')?.trim() ?? '';
    if (email === '' && !['profile', 'phone', 'name', 'pdl_id', 'lid', 'email_hash'].some((name) => (query.get(name) ?? '').trim() !== '')) {
      return plain(400, errorBody(400, 'invalid_request_error', 'Request must contain an identifying parameter such as email, profile, phone, name or pdl_id'));
    }
    if (email !== '') call.subjects = [email.toLowerCase()];
    const rule = this.modes.peek(email !== '' ? emailDomain(email) : undefined);
    if (rule) this.modes.spend(rule);
    const forced = this.forced(rule);
    if (forced) return forced;
    const person = email !== '' && rule?.mode !== 'no_match' ? personForEmail(email, (domain) => this.company(domain)) : undefined;
    const min = Number(query.get('min_likelihood') ?? 0);
    const likelihood = 8;
    if (!person || likelihood < min) return { ...plain(404, errorBody(404, 'not_found', NOT_FOUND_MESSAGE)), ...(rule ? { mode: rule.mode } : {}) };
    return { status: 200, body: { status: 200, likelihood, data: person }, headers: {}, credits: 1, ...(rule ? { mode: rule.mode } : {}) };
  }
}

const ROUTES: Record<string, { method: string; endpoint: Endpoint }> = {
  '/v5/company/enrich': { method: 'GET', endpoint: 'company.enrich' },
  '/v5/company/enrich/bulk': { method: 'POST', endpoint: 'company.bulk' },
  '/v5/person/enrich': { method: 'GET', endpoint: 'person.enrich' },
};

function plain(status: number, body: unknown): Answer {
  return { status, body, headers: {}, credits: 0 };
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** Starts a simulator on `options.port` (a free port by default) and answers once it listens. */
export async function createEnrichmentSimulator(options: EnrichmentSimulatorOptions = {}): Promise<EnrichmentSimulator> {
  return new EnrichmentSimulator(options).listen();
}
