import type { IncomingMessage, ServerResponse } from 'node:http';
import { hangUp, HttpAnswer, readBody, sendAnswer, SimulatorServer } from '../common';
import { AppPlatform, DEFAULT_DEVELOPER_API_KEY } from './app';
import { handleControl } from './control';
import {
  CorrelationIds,
  errorBody,
  expiredAuthentication,
  invalidAuthentication,
  objectNotFound,
  rateLimitBody,
  RateLimitPolicy,
  serverErrorBody,
  serverErrorHtml,
  validationError,
} from './errors';
import { FaultInjector, FaultSettings, parseFaultSettings, seededRandom } from './faults';
import { PortalBudget } from './limits';
import { CallRecorder, Fault, RecordedCall, SimulatorStats } from './recorder';
import {
  AccessToken,
  applyProperties,
  CallbackCompletion,
  ChangeSource,
  checkProperties,
  createRecord,
  CrmObjectType,
  demoCompany,
  demoContact,
  demoDeal,
  demoOwner,
  OBJECT_TYPE_ID,
  OBJECT_TYPE_LABEL,
  Owner,
  ownerFromSeed,
  OwnerSeed,
  Portal,
  present,
  PropertyCheck,
  RefreshToken,
  resolveObjectType,
  SeedRecord,
  SimplePublicObject,
} from './store';

export const DEFAULT_PORTAL_ID = 12345678;
export const DEFAULT_CLIENT_ID = 'sim-client-id';
export const DEFAULT_CLIENT_SECRET = 'sim-client-secret';
/** HubSpot's batch endpoints take at most this many inputs. */
export const MAX_BATCH_INPUTS = 100;

export interface PortalOptions {
  portalId: number;
  /** Private app tokens of this portal; one is made up when none is given. */
  privateAppTokens?: string[];
  /** This portal's rolling-window limit, instead of the simulator-wide one. */
  rateLimit?: number;
  /** This portal's daily limit, instead of the simulator-wide one. */
  dailyLimit?: number;
}

export interface OAuthClient {
  clientId: string;
  clientSecret: string;
}

export interface HubSpotSimulatorOptions {
  /** 0 (the default) picks a free port. */
  port?: number;
  host?: string;
  /** Seeds fault sampling, correlation ids and demo data. Default 1. */
  seed?: number;
  /** Calls per rolling window, per portal. Default 100 (Free/Starter private apps). */
  rateLimit?: number;
  /** Length of the rolling window. Default 10000 (HubSpot's); shorter windows keep tests fast. */
  rateLimitWindowMs?: number;
  /** Calls per day, per portal. Default 250000. */
  dailyLimit?: number;
  faults?: FaultSettings;
  /** Size of the call record (a ring: older calls are dropped). Default 100000. */
  maxRecordedCalls?: number;
  /** Portals and their private app tokens. Default: one portal, DEFAULT_PORTAL_ID, with token `pat-sim-<portalId>`. */
  portals?: PortalOptions[];
  /** OAuth apps allowed to refresh tokens. Default: sim-client-id / sim-client-secret. */
  oauthClients?: OAuthClient[];
  /** The developer API key of the app's action definition endpoints. Default sim-developer-key. */
  developerApiKey?: string;
  /** Lifetime of OAuth access tokens. Default 1800 (HubSpot's 30 minutes). */
  accessTokenTtlSeconds?: number;
  /** Refuse writes to properties the portal's schema lacks, as HubSpot does. Default true. */
  strictProperties?: boolean;
  /** What a completion of a callbackId never registered gets: `accept` (204, recorded as unknown; the default) or `reject` (404). */
  unknownCallbacks?: 'accept' | 'reject';
  /** Demo data for the first portal: contacts 1..N, companies, deals and owners. */
  seedContacts?: number;
  seedCompanies?: number;
  seedDeals?: number;
  seedOwners?: number;
}

interface Route {
  endpoint: string;
  /** Needs a bearer token; the call is then rate-limited and carries the rate-limit headers. */
  authenticated: boolean;
  handle(call: ApiCall): HttpAnswer;
}

interface ApiCall {
  method: string;
  path: string;
  query: URLSearchParams;
  rawBody: string;
  body: unknown;
  contentType: string;
  correlationId: string;
  baseUrl: string;
  portal: Portal | null;
  token: AccessToken | null;
  summary?: Record<string, unknown>;
}

const JSON_TYPE = 'application/json;charset=utf-8';

const DATE_VERSIONED_PATHS: [RegExp, string][] = [
  [/^\/crm\/objects\/\d{4}-\d{2}(?=\/)/, '/crm/v3/objects'],
  [/^\/crm\/owners\/\d{4}-\d{2}(?=\/|$)/, '/crm/v3/owners'],
  [/^\/automation\/actions\/callbacks\/\d{4}-\d{2}(?=\/)/, '/automation/v4/actions/callbacks'],
  [/^\/automation\/actions\/\d{4}-\d{2}(?=\/)/, '/automation/v4/actions'],
  [/^\/oauth\/\d{4}-\d{2}(?=\/)/, '/oauth/v1'],
];

/** Paths HubSpot lists with a date version (`/crm/objects/2026-03/...`) answer as their v3/v4 twins. */
export function canonicalPath(path: string): string {
  for (const [pattern, replacement] of DATE_VERSIONED_PATHS) if (pattern.test(path)) return path.replace(pattern, replacement);
  return path;
}

function listParam(query: URLSearchParams, name: string): string[] {
  return query
    .getAll(name)
    .flatMap((v) => v.split(','))
    .map((v) => v.trim())
    .filter(Boolean);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** Tokens, records, owners and callbacks the simulator holds. */
export class SimulatorState {
  readonly portals = new Map<number, Portal>();
  readonly tokens = new Map<string, AccessToken>();
  readonly refreshTokens = new Map<string, RefreshToken>();
  readonly oauthClients = new Map<string, string>();
  /** callbackIds announced with registerCallback, with the portal they belong to. */
  readonly registeredCallbacks = new Map<string, number>();
  /** How often each callbackId was completed. */
  readonly completionCounts = new Map<string, number>();
  private completionRing: (CallbackCompletion | undefined)[];
  private completionNext = 0;

  constructor(readonly capacity: number) {
    this.completionRing = new Array(Math.max(1, capacity));
  }

  addCompletion(completion: CallbackCompletion): void {
    this.completionRing[this.completionNext] = completion;
    this.completionNext = (this.completionNext + 1) % this.completionRing.length;
    if (this.completionCounts.size > this.capacity * 2) {
      const oldest = this.completionCounts.keys().next().value;
      if (oldest !== undefined) this.completionCounts.delete(oldest);
    }
  }

  /** Completions received, oldest first (the last `capacity`). */
  completions(): CallbackCompletion[] {
    const out: CallbackCompletion[] = [];
    const size = this.completionRing.length;
    for (let i = 0; i < size; i++) {
      const c = this.completionRing[(this.completionNext + i) % size];
      if (c) out.push(c);
    }
    return out;
  }

  clearCompletions(): void {
    this.completionRing = new Array(this.completionRing.length);
    this.completionNext = 0;
    this.completionCounts.clear();
  }
}

export interface InjectApi {
  /** Merges the settings into the current faults. */
  faults(settings: FaultSettings): void;
  latency(ms: number, jitterMs?: number): void;
  errors(options: { rate?: number; next?: number; statuses?: number[]; body?: 'json' | 'html'; applyWrites?: boolean; retryAfterSec?: number }): void;
  /** Batch updates leave these records out of `results`, with no error, `times` times each (default: always). */
  omitResults(options: { ids: Array<string | number>; times?: number; status?: 200 | 207 }): void;
  /** 429 TEN_SECONDLY_ROLLING for the next `calls` calls and/or `ms` milliseconds, whatever the budget. */
  storm(options: { calls?: number; ms?: number }): void;
  timeouts(options: { rate?: number; next?: number; ms?: number }): void;
  /** Spends budget of a portal as another integration would: real 429s with honest headers follow. */
  spend(calls: number, portalId?: number): void;
  clear(): void;
  current(): ReturnType<FaultInjector['describe']>;
}

export class HubSpotSimulator {
  readonly state: SimulatorState;
  readonly inject: InjectApi;
  /** The app's side: installs through the authorize page, uninstalls, action definitions. */
  readonly app: AppPlatform;
  /** The first portal: the one library calls use when they name none. */
  readonly portalId: number;
  private readonly http = new SimulatorServer(
    (req, res) => this.dispatch(req, res),
    (error) => ({ contentType: JSON_TYPE, body: errorBody(this.ids.next(), 'INTERNAL_ERROR', `simulator error: ${error.message}`) }),
  );
  private clockOffsetMs = 0;
  private readonly dataSeed: number;
  private readonly random: () => number;
  private readonly ids: CorrelationIds;
  private readonly recorder: CallRecorder;
  private readonly faultInjector: FaultInjector;
  private readonly budgets = new Map<number, PortalBudget>();
  private rateLimit: number;
  private windowMs: number;
  private dailyLimit: number;
  private readonly accessTokenTtlSeconds: number;
  private readonly strictProperties: boolean;
  private readonly unknownCallbacks: 'accept' | 'reject';
  private tokenCounter = 0;

  constructor(private readonly options: HubSpotSimulatorOptions = {}) {
    this.dataSeed = options.seed ?? 1;
    this.random = seededRandom(this.dataSeed);
    this.ids = new CorrelationIds(this.dataSeed);
    const capacity = options.maxRecordedCalls ?? 100_000;
    this.recorder = new CallRecorder(capacity, () => this.now());
    this.state = new SimulatorState(capacity);
    this.faultInjector = new FaultInjector(this.random, () => this.now());
    this.rateLimit = options.rateLimit ?? 100;
    this.windowMs = options.rateLimitWindowMs ?? 10_000;
    this.dailyLimit = options.dailyLimit ?? 250_000;
    this.accessTokenTtlSeconds = options.accessTokenTtlSeconds ?? 1800;
    this.strictProperties = options.strictProperties ?? true;
    this.unknownCallbacks = options.unknownCallbacks ?? 'accept';
    for (const client of options.oauthClients ?? [{ clientId: DEFAULT_CLIENT_ID, clientSecret: DEFAULT_CLIENT_SECRET }])
      this.state.oauthClients.set(client.clientId, client.clientSecret);
    this.app = new AppPlatform(options.developerApiKey ?? DEFAULT_DEVELOPER_API_KEY, this.state.oauthClients, (portalId) => this.state.portals.has(portalId));
    const portals = options.portals ?? [{ portalId: DEFAULT_PORTAL_ID }];
    if (portals.length === 0) throw new Error('at least one portal is needed');
    for (const portal of portals) this.addPortal(portal);
    this.portalId = portals[0].portalId;
    if (options.faults) this.faultInjector.configure(parseFaultSettings(options.faults));
    this.seedDemoData(this.portalId, {
      contacts: options.seedContacts,
      companies: options.seedCompanies,
      deals: options.seedDeals,
      owners: options.seedOwners,
    });
    const faults = this.faultInjector;
    this.inject = {
      faults: (settings) => faults.configure(parseFaultSettings(settings)),
      latency: (ms, jitterMs) => faults.configure({ latencyMs: ms, ...(jitterMs !== undefined ? { latencyJitterMs: jitterMs } : {}) }),
      errors: ({ rate, next, statuses, body, applyWrites, retryAfterSec }) =>
        faults.configure(
          parseFaultSettings({
            ...(rate !== undefined ? { errorRate: rate } : {}),
            ...(next !== undefined ? { errorNext: next } : {}),
            ...(statuses !== undefined ? { errorStatuses: statuses } : {}),
            ...(body !== undefined ? { errorBody: body } : {}),
            ...(applyWrites !== undefined ? { errorsApplyWrites: applyWrites } : {}),
            ...(retryAfterSec !== undefined ? { errorRetryAfterSec: retryAfterSec } : {}),
          }),
        ),
      omitResults: ({ ids, times, status }) =>
        faults.configure(parseFaultSettings({ omitIds: ids, ...(times !== undefined ? { omitTimes: times } : {}), ...(status !== undefined ? { omitStatus: status } : {}) })),
      storm: ({ calls, ms }) =>
        faults.configure({ ...(calls !== undefined ? { stormCalls: calls } : {}), ...(ms !== undefined ? { stormMs: ms } : {}) }),
      timeouts: ({ rate, next, ms }) =>
        faults.configure(
          parseFaultSettings({
            ...(rate !== undefined ? { timeoutRate: rate } : {}),
            ...(next !== undefined ? { timeoutNext: next } : {}),
            ...(ms !== undefined ? { timeoutMs: ms } : {}),
          }),
        ),
      spend: (calls, portalId = this.portalId) => {
        this.spend(calls, portalId);
      },
      clear: () => faults.clear(),
      current: () => faults.describe(),
    };
  }

  // --- Lifecycle ------------------------------------------------------------------------------

  async listen(port = this.options.port ?? 0, host = this.options.host ?? '127.0.0.1'): Promise<this> {
    await this.http.listen(port, host);
    return this;
  }

  get url(): string {
    return this.http.url;
  }

  get port(): number {
    return this.http.port;
  }

  close(): Promise<void> {
    return this.http.close();
  }

  // --- Clock ----------------------------------------------------------------------------------

  /** The simulated clock: wall time plus whatever advanceClock added. */
  now(): number {
    return Date.now() + this.clockOffsetMs;
  }

  /** Moves the simulated clock forward: rate-limit windows, the daily budget and token expiry follow it. */
  advanceClock(ms: number): void {
    this.clockOffsetMs += ms;
  }

  // --- Setup ----------------------------------------------------------------------------------

  addPortal(options: PortalOptions): Portal {
    let portal = this.state.portals.get(options.portalId);
    if (!portal) {
      portal = new Portal(options.portalId);
      this.state.portals.set(options.portalId, portal);
    }
    portal.limits = {
      ...portal.limits,
      ...(options.rateLimit !== undefined ? { rateLimit: options.rateLimit } : {}),
      ...(options.dailyLimit !== undefined ? { dailyLimit: options.dailyLimit } : {}),
    };
    this.budgets.delete(options.portalId);
    const tokens = options.privateAppTokens ?? (this.tokensOf(options.portalId).length === 0 ? [`pat-sim-${options.portalId}`] : []);
    for (const token of tokens) this.addPrivateAppToken(options.portalId, token);
    return portal;
  }

  /** The default private app token of the first portal. */
  get token(): string {
    return this.tokensOf(this.portalId).find((t) => t.kind === 'private_app')?.token ?? '';
  }

  private tokensOf(portalId: number): AccessToken[] {
    return [...this.state.tokens.values()].filter((t) => t.portalId === portalId);
  }

  private requirePortal(portalId: number): Portal {
    const portal = this.state.portals.get(portalId);
    if (!portal) throw new Error(`unknown portal ${portalId}; add it with addPortal first`);
    return portal;
  }

  addPrivateAppToken(portalId = this.portalId, token?: string): string {
    this.requirePortal(portalId);
    const value = token ?? `pat-sim-${portalId}-${++this.tokenCounter}`;
    this.state.tokens.set(value, { token: value, portalId, kind: 'private_app' });
    return value;
  }

  /** What an OAuth install would give: an access token (expiring) and a refresh token for the portal. */
  issueOAuthTokens(
    portalId = this.portalId,
    options: { clientId?: string; expiresInSeconds?: number } = {},
  ): { accessToken: string; refreshToken: string; expiresIn: number } {
    this.requirePortal(portalId);
    const clientId = options.clientId ?? this.state.oauthClients.keys().next().value ?? DEFAULT_CLIENT_ID;
    const refreshToken = this.mintRefreshToken(portalId, clientId);
    const expiresIn = options.expiresInSeconds ?? this.accessTokenTtlSeconds;
    return { accessToken: this.mintAccessToken(portalId, clientId, expiresIn), refreshToken, expiresIn };
  }

  private mintRefreshToken(portalId: number, clientId: string): string {
    const token = `sim-rt-${portalId}-${this.ids.next()}`;
    this.state.refreshTokens.set(token, { token, portalId, clientId });
    return token;
  }

  private mintAccessToken(portalId: number, clientId: string, expiresInSeconds: number): string {
    if (this.state.tokens.size > 50_000) this.pruneExpiredTokens();
    const token = `sim-at-${portalId}-${this.ids.next()}`;
    this.state.tokens.set(token, { token, portalId, kind: 'oauth', clientId, expiresAt: this.now() + expiresInSeconds * 1000 });
    return token;
  }

  private pruneExpiredTokens(): void {
    const edge = this.now() - 86_400_000;
    for (const [key, token] of this.state.tokens) if (token.expiresAt !== undefined && token.expiresAt < edge) this.state.tokens.delete(key);
  }

  /** Makes a token answer 401 from now on: expired for OAuth tokens, unknown for private app tokens. */
  expireToken(token: string): void {
    const info = this.state.tokens.get(token);
    if (!info) return;
    if (info.kind === 'oauth') info.expiresAt = this.now() - 1;
    else this.state.tokens.delete(token);
  }

  /**
   * The portal uninstalls the app: its refresh tokens are refused from now on (400 BAD_REFRESH_TOKEN)
   * and its access tokens are revoked (401).
   */
  uninstall(portalId = this.portalId, clientId: string = this.state.oauthClients.keys().next().value ?? DEFAULT_CLIENT_ID): void {
    for (const [token, refresh] of this.state.refreshTokens) if (refresh.portalId === portalId && refresh.clientId === clientId) this.state.refreshTokens.delete(token);
    for (const [token, access] of this.state.tokens) if (access.portalId === portalId && access.clientId === clientId) this.state.tokens.delete(token);
    this.app.installs.get(clientId)?.delete(portalId);
  }

  /**
   * A property validation rule of the portal (enforced on CRM writes since the 2026-09 APIs): a
   * write whose value does not match `pattern` is refused with 400 and `message`.
   */
  setValidationRule(objectType: string, property: string, rule: { pattern: RegExp; message: string }, portalId = this.portalId): void {
    this.requirePortal(portalId).validationRules[this.objectType(objectType)].set(property, rule);
  }

  addOAuthClient(clientId: string, clientSecret: string): void {
    this.state.oauthClients.set(clientId, clientSecret);
  }

  /** Stores records; an existing id is replaced. Property names join the portal's schema. */
  seed(objectType: string, records: SeedRecord[], portalId = this.portalId): SimplePublicObject[] {
    const type = this.objectType(objectType);
    const portal = this.requirePortal(portalId);
    return records.map((seed) => present(portal, type, createRecord(portal, type, seed, this.now())));
  }

  /** Adds property names to a portal's schema so that writes to them are accepted. */
  defineProperties(objectType: string, names: string[], portalId = this.portalId): void {
    const type = this.objectType(objectType);
    const portal = this.requirePortal(portalId);
    for (const name of names) portal.schema[type].add(name);
  }

  /** A record as stored, with every property and the number of updates applied to it (no rate limit, not recorded). */
  getObject(
    objectType: string,
    id: string | number,
    portalId = this.portalId,
  ): { id: string; properties: Record<string, string | null>; createdAt: string; updatedAt: string; writes: number } | undefined {
    const type = this.objectType(objectType);
    const record = this.requirePortal(portalId).objects[type].get(String(id));
    if (!record) return undefined;
    return {
      id: record.id,
      properties: Object.fromEntries(record.properties),
      createdAt: new Date(record.createdAt).toISOString(),
      updatedAt: new Date(record.updatedAt).toISOString(),
      writes: record.writes,
    };
  }

  /**
   * Changes a record as a person in HubSpot's UI would: the values, the last-modified date, and
   * each property's history with source CRM_UI and the user. Not a call: no budget, not recorded.
   */
  editAsPerson(objectType: string, id: string | number, properties: Record<string, string>, options: { userId?: number; portalId?: number } = {}): void {
    const type = this.objectType(objectType);
    const portal = this.requirePortal(options.portalId ?? this.portalId);
    const record = portal.objects[type].get(String(id));
    if (!record) throw new Error(`no ${type} ${id} in portal ${portal.portalId}`);
    const userId = options.userId ?? 9_000_001;
    for (const name of Object.keys(properties)) portal.schema[type].add(name);
    applyProperties(record, type, new Map(Object.entries(properties)), this.now(), { sourceType: 'CRM_UI', sourceId: `userId:${userId}`, updatedByUserId: userId });
  }

  /** Adds owners: given ones, or `count` made-up ones. */
  seedOwners(owners: OwnerSeed[] | number, portalId = this.portalId): Owner[] {
    const portal = this.requirePortal(portalId);
    const start = portal.owners.length + 1;
    const added =
      typeof owners === 'number'
        ? Array.from({ length: owners }, (_, i) => demoOwner(start + i, portalId, this.dataSeed))
        : owners.map((o, i) => ownerFromSeed(o, start + i, this.now()));
    portal.owners.push(...added);
    return added;
  }

  seedDemoData(portalId: number, counts: { contacts?: number; companies?: number; deals?: number; owners?: number }): void {
    const portal = this.requirePortal(portalId);
    const now = this.now();
    for (let i = 1; i <= (counts.contacts ?? 0); i++) createRecord(portal, 'contacts', demoContact(i, this.dataSeed), now);
    for (let i = 1; i <= (counts.companies ?? 0); i++) createRecord(portal, 'companies', demoCompany(i, this.dataSeed), now);
    for (let i = 1; i <= (counts.deals ?? 0); i++) createRecord(portal, 'deals', demoDeal(i, this.dataSeed), now);
    if (counts.owners) this.seedOwners(counts.owners, portalId);
  }

  /** Announces a callbackId (as HubSpot knows the executions it blocked); completions of it are recorded as known. */
  registerCallback(callbackId: string, portalId = this.portalId): void {
    this.state.registeredCallbacks.set(callbackId, portalId);
  }

  /** Callback completions received, oldest first. */
  get callbacks(): CallbackCompletion[] {
    return this.state.completions();
  }

  /** Changes the limits, simulator-wide or (with portalId) for one portal. Calls already in the window stay there. */
  setLimits(limits: { rateLimit?: number; windowMs?: number; dailyLimit?: number; portalId?: number }): void {
    if (limits.portalId !== undefined) {
      const portal = this.requirePortal(limits.portalId);
      if (limits.rateLimit !== undefined) portal.limits.rateLimit = limits.rateLimit;
      if (limits.dailyLimit !== undefined) portal.limits.dailyLimit = limits.dailyLimit;
    } else {
      if (limits.rateLimit !== undefined) this.rateLimit = limits.rateLimit;
      if (limits.dailyLimit !== undefined) this.dailyLimit = limits.dailyLimit;
    }
    if (limits.windowMs !== undefined) this.windowMs = limits.windowMs;
    for (const [portalId, budget] of this.budgets) {
      const portal = this.state.portals.get(portalId);
      budget.window.reconfigure(portal?.limits.rateLimit ?? this.rateLimit, this.windowMs);
      budget.daily.limit = portal?.limits.dailyLimit ?? this.dailyLimit;
    }
  }

  limits(portalId = this.portalId): ReturnType<PortalBudget['describe']> {
    return this.budget(portalId).describe(this.now());
  }

  /** Takes calls from a portal's budgets as another integration of the portal would. */
  spend(calls: number, portalId = this.portalId): { window: number; daily: number } {
    const budget = this.budget(portalId);
    const now = this.now();
    return { window: budget.window.spend(now, calls), daily: budget.daily.spend(now, calls) };
  }

  private budget(portalId: number): PortalBudget {
    let budget = this.budgets.get(portalId);
    if (!budget) {
      const portal = this.state.portals.get(portalId);
      budget = new PortalBudget(portal?.limits.rateLimit ?? this.rateLimit, this.windowMs, portal?.limits.dailyLimit ?? this.dailyLimit);
      this.budgets.set(portalId, budget);
    }
    return budget;
  }

  // --- Record ---------------------------------------------------------------------------------

  /** The recorded calls, oldest first (at most maxRecordedCalls). */
  get calls(): RecordedCall[] {
    return this.recorder.list();
  }

  listCalls(filter: Parameters<CallRecorder['list']>[0] = {}): RecordedCall[] {
    return this.recorder.list(filter);
  }

  stats(): SimulatorStats {
    return this.recorder.stats();
  }

  /** Empties the call record and the counters (stats), and the callback completions. */
  resetCalls(): void {
    this.recorder.reset();
    this.state.clearCompletions();
  }

  get recordedTotal(): { recorded: number; dropped: number } {
    return { recorded: this.recorder.recorded, dropped: this.recorder.dropped };
  }

  private objectType(name: string): CrmObjectType {
    const type = resolveObjectType(name);
    if (!type) throw new Error(`unsupported object type "${name}" (contacts, companies, deals, 0-1, 0-2, 0-3)`);
    return type;
  }

  // --- HTTP -----------------------------------------------------------------------------------

  private async dispatch(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const rawUrl = req.url ?? '/';
    const q = rawUrl.indexOf('?');
    const path = q === -1 ? rawUrl : rawUrl.slice(0, q);
    const query = new URLSearchParams(q === -1 ? '' : rawUrl.slice(q + 1));
    const method = req.method ?? 'GET';

    if (path.startsWith('/__sim/') || path === '/__sim') {
      const answer = handleControl(this, method, path, query, await readBody(req));
      sendAnswer(res, { ...answer, headers: { 'X-HubSpot-Correlation-Id': this.ids.next(), ...answer.headers } }, JSON_TYPE);
      return;
    }

    const started = performance.now();
    const at = this.now();
    const recorder = this.recorder;
    recorder.inFlight++;
    if (recorder.inFlight > recorder.maxInFlight) recorder.maxInFlight = recorder.inFlight;
    const rawBody = await readBody(req);
    const canonical = canonicalPath(path);
    const route = this.route(method, canonical);
    const call: ApiCall = {
      method,
      path: canonical,
      query,
      rawBody,
      body: undefined,
      contentType: String(req.headers['content-type'] ?? ''),
      correlationId: this.ids.next(),
      baseUrl: `http://${req.headers.host ?? this.url.replace(/^http:\/\//, '')}`,
      portal: null,
      token: null,
    };
    let status = 0;
    let policyName: RateLimitPolicy | undefined;
    let fault: Fault | undefined;
    let clientClosed = false;
    try {
      const auth = route?.authenticated ? this.authenticate(req.headers.authorization) : null;
      if (auth && 'token' in auth) {
        call.token = auth.token;
        call.portal = this.state.portals.get(auth.token.portalId) ?? null;
      }
      const scope = { portalId: call.token?.portalId ?? null, path };
      const latency = this.faultInjector.active ? this.faultInjector.latency(scope) : 0;
      if (latency > 0) await sleep(latency);

      let answer: HttpAnswer;
      let rateHeaders: Record<string, string> = {};
      if (!route) {
        answer = { status: 404, body: errorBody(call.correlationId, 'OBJECT_NOT_FOUND', `The simulator does not serve ${method} ${path}`) };
      } else if (route.endpoint === 'method_not_allowed') {
        answer = route.handle(call);
      } else if (auth && 'error' in auth) {
        answer = { status: 401, body: auth.error(call.correlationId) };
      } else {
        let refused: HttpAnswer | null = null;
        if (route.authenticated && call.token) {
          const budget = this.budget(call.token.portalId);
          const withDaily = call.token.kind !== 'oauth';
          if (this.faultInjector.active && this.faultInjector.storm(scope)) {
            fault = 'storm';
            policyName = 'TEN_SECONDLY_ROLLING';
            rateHeaders = budget.headers(this.now(), withDaily, true);
          } else {
            const admission = budget.admit(this.now(), withDaily);
            rateHeaders = admission.headers;
            if (admission.refusedBy) policyName = admission.refusedBy;
          }
          if (policyName) refused = { status: 429, body: rateLimitBody(call.correlationId, policyName) };
        }
        if (refused) {
          answer = refused;
        } else {
          const hang = this.faultInjector.active ? this.faultInjector.timeout(scope) : 0;
          if (hang > 0) {
            fault = 'timeout';
            clientClosed = (await hangUp(req, res, hang)) === 'client';
            status = 0;
            return;
          }
          const injected = this.faultInjector.active ? this.faultInjector.error(scope) : null;
          if (injected) {
            fault = 'error';
            if (injected.applyWrites) this.run(route, call);
            answer = {
              status: injected.status,
              body: injected.body === 'html' ? serverErrorHtml(injected.status) : serverErrorBody(call.correlationId, injected.status),
              headers: {
                ...(injected.body === 'html' ? { 'Content-Type': 'text/html; charset=utf-8' } : {}),
                ...(injected.retryAfterSec !== undefined ? { 'Retry-After': String(injected.retryAfterSec) } : {}),
              },
            };
          } else {
            answer = this.run(route, call);
          }
        }
      }
      status = answer.status;
      sendAnswer(res, { ...answer, headers: { 'X-HubSpot-Correlation-Id': call.correlationId, ...rateHeaders, ...answer.headers } }, JSON_TYPE);
    } finally {
      recorder.inFlight--;
      recorder.record({
        at,
        method,
        path,
        endpoint: route?.endpoint ?? 'unknown',
        portalId: call.token?.portalId ?? call.portal?.portalId ?? null,
        status,
        durationMs: Math.round((performance.now() - started) * 100) / 100,
        ...(policyName ? { policyName } : {}),
        ...(fault ? { fault } : {}),
        ...(clientClosed ? { clientClosed } : {}),
        ...(call.summary ? { summary: call.summary } : {}),
      });
    }
  }

  private run(route: Route, call: ApiCall): HttpAnswer {
    if (call.rawBody.length > 0 && call.body === undefined) {
      if (call.contentType.includes('application/x-www-form-urlencoded')) {
        call.body = Object.fromEntries(new URLSearchParams(call.rawBody));
      } else {
        try {
          call.body = JSON.parse(call.rawBody);
        } catch (error) {
          return { status: 400, body: validationError(call.correlationId, `Invalid input JSON on line 1: ${(error as Error).message}`) };
        }
      }
    }
    try {
      return route.handle(call);
    } catch (error) {
      return { status: 500, body: errorBody(call.correlationId, 'INTERNAL_ERROR', `simulator error: ${(error as Error).message}`) };
    }
  }

  private authenticate(header: string | undefined): { token: AccessToken } | { error: (correlationId: string) => unknown } {
    const match = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
    const token = match ? this.state.tokens.get(match[1]) : undefined;
    if (!token || !this.state.portals.has(token.portalId)) return { error: invalidAuthentication };
    if (token.expiresAt !== undefined && token.expiresAt <= this.now()) {
      const expiredFor = this.now() - token.expiresAt;
      return { error: (id) => expiredAuthentication(id, expiredFor) };
    }
    return { token };
  }

  private route(method: string, path: string): Route | null {
    const s = path.split('/').slice(1).map(safeDecode);
    if (s.length > 0 && s[s.length - 1] === '') s.pop();
    const allow = (allowed: string, route: Route): Route =>
      method === allowed
        ? route
        : {
            endpoint: 'method_not_allowed',
            authenticated: false,
            handle: (call) => ({ status: 405, body: errorBody(call.correlationId, 'VALIDATION_ERROR', `HTTP ${method} is not supported by this endpoint`) }),
          };
    if (s[0] === 'crm' && s[1] === 'v3' && s[2] === 'objects' && s.length === 6 && s[4] === 'batch') {
      if (s[5] === 'read') return allow('POST', { endpoint: 'crm.objects.batch.read', authenticated: true, handle: (c) => this.batchRead(c, s[3]) });
      if (s[5] === 'update') return allow('POST', { endpoint: 'crm.objects.batch.update', authenticated: true, handle: (c) => this.batchUpdate(c, s[3]) });
      return null;
    }
    if (s[0] === 'crm' && s[1] === 'v3' && s[2] === 'objects' && s.length === 5) {
      if (method === 'GET') return { endpoint: 'crm.objects.get', authenticated: true, handle: (c) => this.getObjectCall(c, s[3], s[4]) };
      return allow('PATCH', { endpoint: 'crm.objects.update', authenticated: true, handle: (c) => this.updateObject(c, s[3], s[4]) });
    }
    if (s[0] === 'crm' && s[1] === 'v3' && s[2] === 'owners' && s.length === 3)
      return allow('GET', { endpoint: 'crm.owners.list', authenticated: true, handle: (c) => this.listOwners(c) });
    if (s[0] === 'crm' && s[1] === 'v3' && s[2] === 'owners' && s.length === 4)
      return allow('GET', { endpoint: 'crm.owners.get', authenticated: true, handle: (c) => this.getOwner(c, s[3]) });
    if (s[0] === 'automation' && s[1] === 'v4' && s[2] === 'actions' && /^\d+$/.test(s[3] ?? '')) {
      if (s.length === 4 && method === 'GET')
        return { endpoint: 'automation.definitions.list', authenticated: false, handle: (c) => this.app.checkDeveloperKey(c.query, c.correlationId) ?? this.app.listDefinitions(s[3]) };
      if (s.length === 4)
        return allow('POST', { endpoint: 'automation.definitions.create', authenticated: false, handle: (c) => this.app.checkDeveloperKey(c.query, c.correlationId) ?? this.app.createDefinition(s[3], c.body, c.correlationId) });
      if (s.length === 5)
        return allow('PATCH', { endpoint: 'automation.definitions.update', authenticated: false, handle: (c) => this.app.checkDeveloperKey(c.query, c.correlationId) ?? this.app.updateDefinition(s[3], s[4], c.body, c.correlationId) });
    }
    if (s[0] === 'automation' && s[1] === 'v4' && s[2] === 'actions' && s[3] === 'callbacks') {
      if (s.length === 5 && s[4] === 'complete')
        return allow('POST', { endpoint: 'automation.callbacks.completeBatch', authenticated: true, handle: (c) => this.completeBatch(c) });
      if (s.length === 6 && s[5] === 'complete')
        return allow('POST', { endpoint: 'automation.callbacks.complete', authenticated: true, handle: (c) => this.completeOne(c, s[4]) });
    }
    if (s[0] === 'oauth' && s[1] === 'v1' && s[2] === 'token' && s.length === 3)
      return allow('POST', { endpoint: 'oauth.token', authenticated: false, handle: (c) => this.oauthToken(c) });
    if (s[0] === 'oauth' && s[1] === 'v1' && s[2] === 'token' && s[3] === 'introspect' && s.length === 4)
      return allow('POST', { endpoint: 'oauth.introspect', authenticated: false, handle: (c) => this.introspect(c) });
    if (s[0] === 'oauth' && s[1] === 'authorize' && s.length === 2)
      return allow('GET', { endpoint: 'oauth.authorize', authenticated: false, handle: (c) => this.app.authorize(c.query, this.portalId) });
    return null;
  }

  // --- CRM objects ----------------------------------------------------------------------------

  private unknownType(call: ApiCall, name: string): HttpAnswer {
    return { status: 400, body: validationError(call.correlationId, `Unable to infer object type from: ${name}`) };
  }

  private getObjectCall(call: ApiCall, typeName: string, id: string): HttpAnswer {
    const type = resolveObjectType(typeName);
    if (!type) return this.unknownType(call, typeName);
    const portal = call.portal!;
    const idProperty = call.query.get('idProperty') ?? undefined;
    call.summary = { type, id };
    const record = portal.find(type, id, idProperty);
    if (!record) return { status: 404, body: objectNotFound(call.correlationId, id) };
    return { status: 200, body: present(portal, type, record, listParam(call.query, 'properties'), undefined, listParam(call.query, 'propertiesWithHistory')) };
  }

  /** HubSpot updates by a unique property only (email for contacts); anything else is refused. */
  private checkIdProperty(call: ApiCall, type: CrmObjectType, idProperty: unknown): HttpAnswer | null {
    if (idProperty === undefined || idProperty === null || idProperty === '') return null;
    if (type === 'contacts' && idProperty === 'email') return null;
    return {
      status: 400,
      body: validationError(call.correlationId, `Unable to perform update/upsert by non-unique ${OBJECT_TYPE_ID[type]} property ${String(idProperty)} in portal ID ${call.portal!.portalId}`),
    };
  }

  private propertyError(call: ApiCall, problems: unknown[]): HttpAnswer {
    return { status: 400, body: validationError(call.correlationId, `Property values were not valid: ${JSON.stringify(problems)}`) };
  }

  private updateObject(call: ApiCall, typeName: string, id: string): HttpAnswer {
    const type = resolveObjectType(typeName);
    if (!type) return this.unknownType(call, typeName);
    const portal = call.portal!;
    const body = call.body;
    if (!isObject(body) || !isObject(body.properties))
      return { status: 400, body: validationError(call.correlationId, 'Invalid input JSON: "properties" must be an object') };
    const idProperty = call.query.get('idProperty') ?? undefined;
    const badId = this.checkIdProperty(call, type, idProperty);
    if (badId) return badId;
    call.summary = { type, id, properties: Object.keys(body.properties) };
    const checked = checkProperties(portal, type, body.properties, this.strictProperties);
    this.recorder.propertyValuesNotStrings += checked.nonStringValues;
    if (checked.problems.length > 0) return this.propertyError(call, checked.problems);
    const record = portal.find(type, id, idProperty);
    if (!record) return { status: 404, body: objectNotFound(call.correlationId, id) };
    applyProperties(record, type, checked.values, this.now(), apiSource(call.token!));
    return { status: 200, body: present(portal, type, record, undefined, checked.values.keys()) };
  }

  private tooManyInputs(call: ApiCall, count: number): HttpAnswer {
    return {
      status: 400,
      body: validationError(
        call.correlationId,
        `The maximum number of inputs supported in a batch request is ${MAX_BATCH_INPUTS}, but ${count} were given. Please reduce the number of items and try again`,
      ),
    };
  }

  private batchRead(call: ApiCall, typeName: string): HttpAnswer {
    const type = resolveObjectType(typeName);
    if (!type) return this.unknownType(call, typeName);
    const portal = call.portal!;
    const body = isObject(call.body) ? call.body : {};
    const inputs = Array.isArray(body.inputs) ? body.inputs : [];
    call.summary = { type, inputs: inputs.length };
    if (inputs.length > MAX_BATCH_INPUTS) return this.tooManyInputs(call, inputs.length);
    const properties = Array.isArray(body.properties) ? body.properties.filter((p): p is string => typeof p === 'string') : [];
    const withHistory = Array.isArray(body.propertiesWithHistory) ? body.propertiesWithHistory.filter((p): p is string => typeof p === 'string') : [];
    const idProperty = typeof body.idProperty === 'string' ? body.idProperty : undefined;
    const startedAt = new Date(this.now()).toISOString();
    const results: SimplePublicObject[] = [];
    const missing: string[] = [];
    const seen = new Set<string>();
    for (const input of inputs) {
      const id = isObject(input) && input.id !== undefined ? String(input.id) : '';
      if (seen.has(id)) continue;
      seen.add(id);
      const record = portal.find(type, id, idProperty);
      if (record) results.push(present(portal, type, record, properties, undefined, withHistory));
      else missing.push(id);
    }
    return this.batchAnswer(type, results, missing, startedAt);
  }

  private batchAnswer(type: CrmObjectType, results: SimplePublicObject[], missing: string[], startedAt: string): HttpAnswer {
    const completedAt = new Date(this.now()).toISOString();
    if (missing.length === 0) return { status: 200, body: { status: 'COMPLETE', results, startedAt, completedAt } };
    return {
      status: 207,
      body: {
        status: 'COMPLETE',
        results,
        numErrors: 1,
        errors: [
          {
            status: 'error',
            category: 'OBJECT_NOT_FOUND',
            message: `Could not get some ${OBJECT_TYPE_LABEL[type]} objects, they may be deleted or not exist. Check that ids are valid.`,
            context: { ids: missing },
          },
        ],
        startedAt,
        completedAt,
      },
    };
  }

  private batchUpdate(call: ApiCall, typeName: string): HttpAnswer {
    const type = resolveObjectType(typeName);
    if (!type) return this.unknownType(call, typeName);
    const portal = call.portal!;
    const body = isObject(call.body) ? call.body : {};
    // A body without `inputs` (the client's forgotten wrapper) is an empty batch: 200, nothing done.
    const inputs = Array.isArray(body.inputs) ? body.inputs : [];
    const ids = inputs.map((input) => (isObject(input) && input.id !== undefined && input.id !== null ? String(input.id) : ''));
    call.summary = { type, inputs: inputs.length, ids: ids.slice(0, 10) };
    if (inputs.length > MAX_BATCH_INPUTS) return this.tooManyInputs(call, inputs.length);
    const startedAt = new Date(this.now()).toISOString();
    const seen = new Set<string>();
    const duplicates = new Set<string>();
    for (const id of ids) (seen.has(id) ? duplicates : seen).add(id);
    if (duplicates.size > 0)
      return { status: 400, body: validationError(call.correlationId, `Duplicate IDs found in batch input: [${[...duplicates].join(', ')}]. IDs must be unique`) };
    const checks: PropertyCheck[] = [];
    const problems: unknown[] = [];
    for (let i = 0; i < inputs.length; i++) {
      const input = inputs[i];
      if (!isObject(input) || ids[i] === '' || !isObject(input.properties))
        return { status: 400, body: validationError(call.correlationId, `Invalid input JSON: inputs[${i}] needs an "id" and a "properties" object`) };
      const badId = this.checkIdProperty(call, type, input.idProperty);
      if (badId) return badId;
      const checked = checkProperties(portal, type, input.properties, this.strictProperties);
      this.recorder.propertyValuesNotStrings += checked.nonStringValues;
      problems.push(...checked.problems);
      checks.push(checked);
    }
    if (problems.length > 0) return this.propertyError(call, problems);
    const results: SimplePublicObject[] = [];
    const missing: string[] = [];
    const now = this.now();
    const omitted = this.faultInjector.active ? this.faultInjector.omissions({ portalId: portal.portalId, path: call.path }, ids) : null;
    inputs.forEach((input, i) => {
      if (omitted?.ids.has(ids[i])) return;
      const idProperty = isObject(input) && typeof input.idProperty === 'string' ? input.idProperty : undefined;
      const record = portal.find(type, ids[i], idProperty);
      if (!record) {
        missing.push(ids[i]);
        return;
      }
      applyProperties(record, type, checks[i].values, now, apiSource(call.token!));
      results.push(present(portal, type, record, undefined, checks[i].values.keys()));
    });
    if (missing.length > 0) call.summary.missing = missing.length;
    if (omitted) call.summary.omitted = omitted.ids.size;
    const answer = this.batchAnswer(type, results, missing, startedAt);
    if (!omitted || answer.status !== 200 || omitted.status === 200) return answer;
    return { status: 207, body: { ...(answer.body as object), numErrors: 0, errors: [] } };
  }

  // --- Owners ---------------------------------------------------------------------------------

  private listOwners(call: ApiCall): HttpAnswer {
    const portal = call.portal!;
    const limitText = call.query.get('limit');
    const afterText = call.query.get('after');
    const limit = limitText === null ? 100 : Number(limitText);
    const offset = afterText === null || afterText === '' ? 0 : Number(afterText);
    call.summary = { limit, ...(afterText ? { after: afterText } : {}) };
    if (!Number.isInteger(limit) || limit < 1 || limit > 500)
      return { status: 400, body: validationError(call.correlationId, `limit must be between 1 and 500, got ${limitText}`) };
    if (!Number.isInteger(offset) || offset < 0)
      return { status: 400, body: validationError(call.correlationId, `Invalid after: ${afterText}`) };
    const archived = call.query.get('archived') === 'true';
    const email = call.query.get('email')?.toLowerCase();
    const matching = portal.owners.filter((o) => o.archived === archived && (!email || o.email.toLowerCase() === email));
    const results = matching.slice(offset, offset + limit);
    const body: Record<string, unknown> = { results };
    if (offset + limit < matching.length) {
      const after = String(offset + limit);
      const params = new URLSearchParams({ limit: String(limit), after });
      if (archived) params.set('archived', 'true');
      if (email) params.set('email', email);
      body.paging = { next: { after, link: `${call.baseUrl}/crm/v3/owners/?${params}` } };
    }
    return { status: 200, body };
  }

  private getOwner(call: ApiCall, ownerId: string): HttpAnswer {
    const portal = call.portal!;
    const byUserId = call.query.get('idProperty') === 'userId';
    const archived = call.query.get('archived') === 'true';
    call.summary = { ownerId };
    const owner = portal.owners.find((o) => (byUserId ? String(o.userId) === ownerId : o.id === ownerId) && o.archived === archived);
    if (!owner) return { status: 404, body: errorBody(call.correlationId, 'OBJECT_NOT_FOUND', `Owner ${ownerId} not found`) };
    return { status: 200, body: owner };
  }

  // --- Callbacks ------------------------------------------------------------------------------

  private checkCompletion(callbackId: string, outputFields: unknown): string | null {
    if (!callbackId) return 'callbackId is required';
    if (!isObject(outputFields)) return `outputFields of ${callbackId} must be an object`;
    const state = outputFields.hs_execution_state;
    if (state !== undefined && state !== 'SUCCESS' && state !== 'FAIL_CONTINUE')
      return `hs_execution_state of ${callbackId} must be SUCCESS or FAIL_CONTINUE, got ${JSON.stringify(state)}`;
    return null;
  }

  private recordCompletion(call: ApiCall, callbackId: string, outputFields: Record<string, unknown>, via: 'single' | 'batch'): void {
    const count = (this.state.completionCounts.get(callbackId) ?? 0) + 1;
    this.state.completionCounts.set(callbackId, count);
    const known = this.state.registeredCallbacks.has(callbackId);
    const state = outputFields.hs_execution_state;
    this.state.addCompletion({
      callbackId,
      portalId: call.portal!.portalId,
      outputFields,
      executionState: typeof state === 'string' ? state : null,
      known,
      completion: count,
      via,
      path: call.path,
      at: this.now(),
    });
    this.recorder.callbacks.completed++;
    if (count > 1) this.recorder.callbacks.repeated++;
    if (!known) this.recorder.callbacks.unknown++;
  }

  private unknownCallbackAnswer(call: ApiCall, ids: string[]): HttpAnswer | null {
    if (this.unknownCallbacks !== 'reject') return null;
    const unknown = ids.filter((id) => !this.state.registeredCallbacks.has(id));
    if (unknown.length === 0) return null;
    return { status: 404, body: errorBody(call.correlationId, 'OBJECT_NOT_FOUND', `No blocked action execution for callbackId ${unknown.join(', ')}`, { callbackIds: unknown }) };
  }

  private completeOne(call: ApiCall, callbackId: string): HttpAnswer {
    const body = isObject(call.body) ? call.body : {};
    call.summary = { callbackIds: [callbackId], state: isObject(body.outputFields) ? body.outputFields.hs_execution_state : undefined };
    const problem = this.checkCompletion(callbackId, body.outputFields);
    if (problem) return { status: 400, body: validationError(call.correlationId, problem) };
    const refused = this.unknownCallbackAnswer(call, [callbackId]);
    if (refused) return refused;
    this.recordCompletion(call, callbackId, body.outputFields as Record<string, unknown>, 'single');
    return { status: 204 };
  }

  private completeBatch(call: ApiCall): HttpAnswer {
    const body = isObject(call.body) ? call.body : {};
    if (!Array.isArray(body.inputs)) return { status: 400, body: validationError(call.correlationId, 'inputs is required') };
    const inputs = body.inputs;
    const ids = inputs.map((input) => (isObject(input) && typeof input.callbackId === 'string' ? input.callbackId : ''));
    call.summary = { callbackIds: ids.slice(0, 10), inputs: inputs.length };
    if (inputs.length > MAX_BATCH_INPUTS) return this.tooManyInputs(call, inputs.length);
    for (let i = 0; i < inputs.length; i++) {
      const problem = this.checkCompletion(ids[i], isObject(inputs[i]) ? (inputs[i] as Record<string, unknown>).outputFields : undefined);
      if (problem) return { status: 400, body: validationError(call.correlationId, `inputs[${i}]: ${problem}`) };
    }
    const refused = this.unknownCallbackAnswer(call, ids);
    if (refused) return refused;
    inputs.forEach((input, i) => this.recordCompletion(call, ids[i], (input as Record<string, unknown>).outputFields as Record<string, unknown>, 'batch'));
    return { status: 204 };
  }

  // --- OAuth ----------------------------------------------------------------------------------

  private oauthToken(call: ApiCall): HttpAnswer {
    const form = isObject(call.body) ? (call.body as Record<string, unknown>) : {};
    const field = (name: string) => (typeof form[name] === 'string' ? (form[name] as string) : '');
    const grantType = field('grant_type');
    const clientId = field('client_id');
    const refresh = this.state.refreshTokens.get(field('refresh_token'));
    call.summary = { grantType };
    if (refresh) call.portal = this.state.portals.get(refresh.portalId) ?? null;
    const fail = (status: string, message: string): HttpAnswer => ({ status: 400, body: { status, message, correlationId: call.correlationId } });
    if (grantType !== 'refresh_token' && grantType !== 'authorization_code') return fail('BAD_GRANT_TYPE', 'missing or unsupported grant_type');
    if (!this.state.oauthClients.has(clientId)) return fail('BAD_CLIENT_ID', 'missing or unknown client id');
    if (this.state.oauthClients.get(clientId) !== field('client_secret')) return fail('BAD_CLIENT_SECRET', 'missing or invalid client secret');
    if (grantType === 'authorization_code') {
      const grant = this.app.redeem(field('code'), clientId, field('redirect_uri'));
      if (!grant) return fail('BAD_AUTH_CODE', 'missing or unknown auth code');
      call.portal = this.state.portals.get(grant.portalId) ?? null;
      return {
        status: 200,
        body: {
          token_type: 'bearer',
          refresh_token: this.mintRefreshToken(grant.portalId, clientId),
          access_token: this.mintAccessToken(grant.portalId, clientId, this.accessTokenTtlSeconds),
          expires_in: this.accessTokenTtlSeconds,
        },
      };
    }
    if (!refresh || refresh.clientId !== clientId) return fail('BAD_REFRESH_TOKEN', 'missing or unknown refresh token');
    const accessToken = this.mintAccessToken(refresh.portalId, clientId, this.accessTokenTtlSeconds);
    // HubSpot answers a refresh with the same refresh token; the older access tokens stay valid until they expire.
    return {
      status: 200,
      body: { token_type: 'bearer', refresh_token: refresh.token, access_token: accessToken, expires_in: this.accessTokenTtlSeconds },
    };
  }

  /** What HubSpot says of a token the app holds: for an access token, its portal (hub_id) and scopes. */
  private introspect(call: ApiCall): HttpAnswer {
    const form = isObject(call.body) ? (call.body as Record<string, unknown>) : {};
    const field = (name: string) => (typeof form[name] === 'string' ? (form[name] as string) : '');
    const clientId = field('client_id');
    if (this.state.oauthClients.get(clientId) !== field('client_secret') || !clientId)
      return { status: 400, body: { status: 'BAD_CLIENT_SECRET', message: 'missing or invalid client credentials', correlationId: call.correlationId } };
    const token = this.state.tokens.get(field('token'));
    if (!token || token.kind !== 'oauth' || token.clientId !== clientId || (token.expiresAt ?? 0) <= this.now()) return { status: 200, body: { active: false } };
    call.portal = this.state.portals.get(token.portalId) ?? null;
    return {
      status: 200,
      body: {
        active: true,
        token: token.token,
        token_use: 'access_token',
        token_type: 'bearer',
        client_id: clientId,
        hub_id: token.portalId,
        scopes: this.app.scopesOf(clientId, token.portalId),
        expires_in: Math.max(0, Math.round(((token.expiresAt ?? 0) - this.now()) / 1000)),
      },
    };
  }
}

/** A write through the API is an app's: HubSpot records it as INTEGRATION, from the app (an OAuth client, or the portal's private app). */
function apiSource(token: AccessToken): ChangeSource {
  return { sourceType: 'INTEGRATION', sourceId: token.kind === 'oauth' ? String(token.clientId) : `private-app:${token.portalId}` };
}

function safeDecode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

/** Starts a simulator on `options.port` (a free port by default) and answers once it listens. */
export async function createHubSpotSimulator(options: HubSpotSimulatorOptions = {}): Promise<HubSpotSimulator> {
  return new HubSpotSimulator(options).listen();
}
