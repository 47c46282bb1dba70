import { Client } from '@hubspot/api-client';
import { Inject, Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { AsyncLocalStorage } from 'node:async_hooks';
import { subscribe } from 'node:diagnostics_channel';
import { Agent as HttpAgent, ClientRequest } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { setTimeout as sleep } from 'node:timers/promises';
import { AppConfig } from '../../config/app-config';
import { APP_CONFIG } from '../../config/config.module';
import { OFFLOAD_ACTOR } from '../../jobs/admin-audit';
import { MetricsService } from '../../metrics/metrics.service';
import { Portal, PropertyMappings } from '../../portals/portal.entity';
import { PortalPauses } from '../../portals/portal-pauses.service';
import { PortalsService } from '../../portals/portals.service';
import { CredentialKeyError } from '../../portals/credential-cipher';
import { RedisService } from '../../redis/redis.service';
import { tracedHubSpotCall } from '../../telemetry/hubspot-trace';
import { retryDelayMs } from '../../worker/backoff';
import { apiVersionMiddleware } from './api-version';
import { BudgetUsage, DailyBudgetExhaustedError, Grant, PortalRateLimits, RateBudget, RatePriority } from './rate-budget';

/** A portal as the gateway talks to HubSpot for it. */
export interface HubSpotConnection {
  portalId: string;
  hubspotPortalId: string;
  propertyMappings: PropertyMappings;
  client: Client;
  accessToken: string;
  /** Connected by OAuth: a 401 means the access token must be renewed. */
  oauth: boolean;
}

/** The portal has no usable HubSpot credentials, so nothing can be read from or written to its account. */
export class HubSpotNotConnectedError extends Error {
  override readonly name = 'HubSpotNotConnectedError';

  constructor(
    readonly portalId: string,
    reason = 'has no HubSpot access token; register one to let Offload call HubSpot for it',
  ) {
    super(`Portal ${portalId} ${reason}`);
  }
}

/**
 * The portal's work is paused (its app was uninstalled, or an admin paused it): nothing is sent to
 * HubSpot for it until it resumes, and what was to be sent waits.
 */
export class PortalPausedError extends Error {
  override readonly name = 'PortalPausedError';

  constructor(readonly portalId: string) {
    super(`Portal ${portalId} is paused; its work waits until it resumes`);
  }
}

/** What went wrong with a HubSpot call, as Offload acts on it. */
export interface HubSpotFailure {
  /** HubSpot's HTTP status; absent when no answer came (network, timeout). */
  status?: number;
  message: string;
  /** Worth trying again later: no answer, a 5xx, a 423 or 477, or a rate limit that outlasted the retries. */
  transient: boolean;
  /** How long HubSpot asks to be left alone before the next try (423: at least 2 s; 477: its Retry-After). */
  retryAfterMs?: number;
}

/** How long work waiting on a paused portal waits before it looks again. */
export const PAUSED_RECHECK_MS = 5_000;

/** HubSpot's 423 Locked: "wait at least 2 seconds and retry". */
const LOCKED_WAIT_MS = 2_000;

/** Reads a failure from anything a call threw: the client's ApiException, a transport error, a timeout. */
export function hubSpotFailure(error: unknown): HubSpotFailure {
  if (error instanceof DailyBudgetExhaustedError) return { status: 429, message: error.message, transient: true };
  if (error instanceof HubSpotNotConnectedError) return { message: error.message, transient: false };
  // The key is wrong, not HubSpot: waited out (the key can be fixed), and said as it is.
  if (error instanceof CredentialKeyError) return { message: error.message, transient: true };
  if (error instanceof PortalPausedError) return { message: error.message, transient: true, retryAfterMs: PAUSED_RECHECK_MS };
  const status = apiStatus(error);
  if (status === undefined) return { message: `HubSpot did not answer: ${(error as Error)?.message ?? error}`, transient: true };
  const body = (error as { body?: unknown }).body;
  const message = typeof (body as { message?: unknown })?.message === 'string' ? (body as { message: string }).message : `HTTP ${status}`;
  if (status === 423) return { status, message, transient: true, retryAfterMs: Math.max(LOCKED_WAIT_MS, retryAfterHeaderMs(error) ?? 0) };
  if (status === 477) {
    const retryAfterMs = retryAfterHeaderMs(error);
    return { status, message, transient: true, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) };
  }
  return { status, message, transient: status === 429 || status >= 500 };
}

/** How long to wait before trying a call again after its `failures`-th transient failure: the backoff, or longer when HubSpot asks. */
export function transientWaitMs(failure: HubSpotFailure, failures: number): number {
  return Math.max(retryDelayMs(failures, TRANSIENT_BACKOFF), failure.retryAfterMs ?? 0);
}

/** An answer's Retry-After (seconds, or an HTTP date) in milliseconds. */
function retryAfterHeaderMs(error: unknown): number | undefined {
  const headers = (error as { headers?: Record<string, unknown> }).headers ?? {};
  const name = Object.keys(headers).find((key) => key.toLowerCase() === 'retry-after');
  const value = name === undefined ? '' : String(headers[name]).trim();
  if (value === '') return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

/** The status of an ApiException; every API area of the client has its own class of it, so it is recognised by shape. */
function apiStatus(error: unknown): number | undefined {
  const { code, headers } = (error ?? {}) as { code?: unknown; headers?: unknown };
  return typeof code === 'number' && code >= 100 && code < 600 && typeof headers === 'object' ? code : undefined;
}

/** HubSpot's stated limits for a Free or Starter private app, the lowest tier, for portals that state none. */
const DEFAULT_LIMITS: PortalRateLimits = { requestsPer10s: 100, daily: 250_000 };
const CONNECTION_TTL_MS = 60_000;
/** An OAuth access token is renewed this long before it expires, so no call goes out with a dying one. */
const REFRESH_MARGIN_MS = 5 * 60_000;
const REFRESH_LOCK_MS = 30_000;
/** The longest one HubSpot call is waited for; a shutdown waits this long for writes already sent. */
export const CALL_TIMEOUT_MS = 20_000;
/** Runs for answers that may be transient (5xx, none at all), the first included; bounded so a caller hears back. */
const TRANSIENT_ATTEMPTS = 5;
const TRANSIENT_BACKOFF = { attempts: TRANSIENT_ATTEMPTS, backoffMs: 500, maxBackoffMs: 8_000 };
/** A wait for the budget this long or longer is logged (shorter ones only counted). */
const BUDGET_WAIT_LOGGED_MS = 1_000;
/** 429s waited out per call before the caller is told HubSpot is unavailable (and retries later). */
const RATE_LIMITED_RETRIES = 10;

/**
 * Every HubSpot call Offload makes goes through here: the official client for the portal, the
 * portal's budget shared with every other process (RateBudget), and one retry policy. The client's
 * own retries stay off: they ignore the shared budget and the Retry-After, and their settings are
 * process-wide.
 */
@Injectable()
export class HubSpotGateway implements OnModuleInit {
  private readonly logger = new Logger(HubSpotGateway.name);
  private readonly budget: RateBudget;
  /**
   * Connections every client shares. Given an agent, the client sends with node:http instead of
   * fetch, which lets a call given up on be closed for real (see withTimeout). Its idle connections
   * hold no process open, and calls still on their way at shutdown are seen through.
   */
  private readonly agent: HttpAgent;
  private readonly connections = new Map<string, { connection: Promise<HubSpotConnection>; expiresAt: number }>();
  private readonly limitsByHubSpotId = new Map<string, PortalRateLimits>();

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly portals: PortalsService,
    private readonly metrics: MetricsService,
    private readonly redis: RedisService,
    private readonly pauses: PortalPauses,
  ) {
    this.agent = new URL(config.hubspotBaseUrl).protocol === 'https:' ? new HttpsAgent({ keepAlive: true }) : new HttpAgent({ keepAlive: true });
    this.budget = new RateBudget(redis.client, {
      keyPrefix: redis.key('hubspot', 'budget'),
      limits: (hubspotPortalId) => this.limitsByHubSpotId.get(hubspotPortalId) ?? this.loadLimits(hubspotPortalId),
    });
  }

  onModuleInit(): void {
    // A new token, limit or mapping takes effect at once in every process.
    this.portals.onChanged((portalId) => {
      this.connections.delete(portalId);
      this.limitsByHubSpotId.clear();
    });
  }

  /**
   * The portal's client and settings, cached for a minute (or until its OAuth token is due for
   * renewal). `rejectedToken`: HubSpot has just refused this token, so a fresh one is needed.
   */
  connection(portalId: string, rejectedToken?: string): Promise<HubSpotConnection> {
    if (this.pauses.isPaused(portalId)) return Promise.reject(new PortalPausedError(portalId));
    const cached = this.connections.get(portalId);
    if (cached && cached.expiresAt > Date.now() && !rejectedToken) return cached.connection;
    const entry = { connection: undefined as unknown as Promise<HubSpotConnection>, expiresAt: Date.now() + CONNECTION_TTL_MS };
    entry.connection = this.portals.findById(portalId).then(async (portal) => {
      const token = await this.accessToken(portal, rejectedToken);
      entry.expiresAt = Math.min(entry.expiresAt, token.renewAt);
      return this.connect(portal, token.value);
    });
    this.connections.set(portalId, entry);
    entry.connection.catch(() => this.connections.delete(portalId));
    return entry.connection;
  }

  /**
   * Runs one HubSpot request for the portal: acquires from its budget first; on a 429 records it in
   * the budget (so every process pauses as HubSpot said) and tries again; on a 5xx, a timeout or no
   * answer, tries again after a backoff, a few times. Other errors, and the last of those, are thrown.
   * `operation` must be safe to repeat: a request that timed out here may still have reached HubSpot.
   * `reserved`: a slot of the budget already taken (see reserve) for the first try. `stop`: once it
   * aborts, no further try starts (a wait for the budget ends with its reason, a retry with the
   * failure before it); a request already on its way is seen through.
   */
  async call<T>(portalId: string, priority: RatePriority, operation: (client: Client) => Promise<T>, reserved?: Grant, stop?: AbortSignal): Promise<T> {
    let connection: HubSpotConnection;
    try {
      connection = await this.connection(portalId);
    } catch (error) {
      if (reserved) this.release(reserved);
      throw error;
    }
    let transientFailures = 0;
    let rateLimited = 0;
    let renewed = false;
    let next = reserved;
    const portal = this.metrics.portalLabel.of(portalId);
    for (let tries = 1; ; tries++) {
      const grant = next ?? this.waited(portalId, priority, await this.budget.acquire(connection.hubspotPortalId, { priority, signal: stop }));
      next = undefined;
      const answered = () => void this.budget.settle(grant).catch((error: Error) => this.logger.warn(`Rate budget: ${error.message}`));
      try {
        const result = await tracedHubSpotCall(portalId, tries, () => withTimeout(() => operation(connection.client), CALL_TIMEOUT_MS), hubSpotFailure);
        answered();
        this.metrics.hubspotCalls.inc({ portal, outcome: 'ok' });
        return result;
      } catch (error) {
        answered();
        const failure = hubSpotFailure(error);
        if (failure.status === 401 && connection.oauth && !renewed) {
          // Expired or revoked early: renew once and try again.
          renewed = true;
          connection = await this.connection(portalId, connection.accessToken);
          continue;
        }
        if (failure.status === 429) {
          this.metrics.hubspotCalls.inc({ portal, outcome: 'rate_limited' });
          const recorded = await this.budget.recordRateLimited(connection.hubspotPortalId, rateLimitAnswer(error));
          this.logger.warn(
            { event: 'hubspot.rate_limited', portalId, hubspotPortalId: connection.hubspotPortalId, daily: recorded.daily, until: recorded.daily ? recorded.resetsAt : recorded.pausedUntil, retry: rateLimited + 1 },
            `HubSpot answered 429 for portal ${portalId}: every process waits until ${(recorded.daily ? recorded.resetsAt : recorded.pausedUntil).toISOString()}`,
          );
          if (recorded.daily) throw new DailyBudgetExhaustedError(connection.hubspotPortalId, recorded.resetsAt);
          if (++rateLimited <= RATE_LIMITED_RETRIES && !stop?.aborted) continue;
          throw error;
        }
        this.metrics.hubspotCalls.inc({ portal, outcome: failure.transient ? 'unavailable' : 'refused' });
        if (!failure.transient || ++transientFailures >= TRANSIENT_ATTEMPTS || stop?.aborted) throw error;
        this.logger.warn(`HubSpot call for portal ${portalId} failed (${failure.message}); trying again`);
        await sleep(transientWaitMs(failure, transientFailures), undefined, { signal: stop }).catch(() => undefined);
        if (stop?.aborted) throw error;
      }
    }
  }

  /** Whether the portal's work (all of it, or given a type, that type's) is paused: nothing of it goes to HubSpot until it resumes. */
  isPaused(portalId: string, type?: string): boolean {
    return this.pauses.isPaused(portalId, type);
  }

  /** The job types whose work is paused on its own in the portal: their writes are held. */
  pausedTypes(portalId: string): string[] {
    return this.pauses.pausedTypes(portalId);
  }

  /** Where the portal's outputs are written; known without HubSpot, so a paused portal has them too. */
  async propertyMappings(portalId: string): Promise<PropertyMappings> {
    if (!this.pauses.isPaused(portalId)) return (await this.connection(portalId)).propertyMappings;
    return (await this.portals.findById(portalId)).propertyMappings ?? {};
  }

  /** Waits for a slot of the portal's budget without using it yet: for a caller that decides what to send once it has one. */
  async reserve(portalId: string, priority: RatePriority, signal?: AbortSignal): Promise<Grant> {
    const connection = await this.connection(portalId);
    return this.waited(portalId, priority, await this.budget.acquire(connection.hubspotPortalId, { priority, signal }));
  }

  /** Counts how long a grant was waited for; a wait long enough to notice is logged with its portal. */
  private waited(portalId: string, priority: RatePriority, grant: Grant): Grant {
    this.metrics.hubspotBudgetWaitSeconds.observe({ priority }, grant.waitedMs / 1000);
    if (grant.waitedMs >= BUDGET_WAIT_LOGGED_MS) {
      this.logger.log({ event: 'hubspot.budget_wait', portalId, priority, waitedMs: grant.waitedMs }, `A ${priority} HubSpot call for portal ${portalId} waited ${grant.waitedMs} ms for its budget`);
    }
    return grant;
  }

  /** The portal's use of its HubSpot budget, shared by every process. */
  async budgetUse(portalId: string): Promise<BudgetUsage> {
    const portal = await this.portals.findById(portalId);
    this.limitsByHubSpotId.set(portal.hubspotPortalId, limitsOf(portal));
    return this.budget.usage(portal.hubspotPortalId);
  }

  /** Gives back a reserved slot that found nothing to send. */
  release(grant: Grant): void {
    this.budget.release(grant).catch((error: Error) => this.logger.warn(`Rate budget: ${error.message}`));
  }

  /** Whether the portal holds what HubSpot can be called with: a private app token, or an OAuth refresh token to get access tokens by. */
  canConnect(portal: Portal): boolean {
    return Boolean(portal.hubspotRefreshTokenEnc || portal.hubspotAccessTokenEnc);
  }

  /** The token to call with: a private app token as stored, or an OAuth access token renewed when due. */
  private async accessToken(portal: Portal, rejectedToken?: string): Promise<{ value: string; renewAt: number }> {
    const stored = this.portals.decryptAccessToken(portal);
    if (!portal.hubspotRefreshTokenEnc) {
      if (!stored) throw new HubSpotNotConnectedError(portal.id);
      return { value: stored, renewAt: Infinity };
    }
    const renewAt = (portal.hubspotTokenExpiresAt?.getTime() ?? 0) - REFRESH_MARGIN_MS;
    if (stored && stored !== rejectedToken && renewAt > Date.now()) return { value: stored, renewAt };
    return this.renew(portal, rejectedToken);
  }

  /**
   * Renews an OAuth access token. One process at a time asks HubSpot (under a Redis lock); the
   * others wait for the tokens it stores, so a burst of jobs costs one refresh.
   */
  private async renew(portal: Portal, rejectedToken: string | undefined): Promise<{ value: string; renewAt: number }> {
    const renewed = await this.redis.exclusively(`oauth-refresh:${portal.id}`, REFRESH_LOCK_MS, () => this.refresh(portal));
    if (renewed) return renewed;
    const deadline = Date.now() + REFRESH_LOCK_MS;
    while (Date.now() < deadline) {
      await sleep(200);
      if (this.pauses.isPaused(portal.id)) throw new PortalPausedError(portal.id);
      const current = await this.portals.findById(portal.id);
      const token = this.portals.decryptAccessToken(current);
      const renewAt = (current.hubspotTokenExpiresAt?.getTime() ?? 0) - REFRESH_MARGIN_MS;
      if (token && token !== rejectedToken && renewAt > Date.now()) return { value: token, renewAt };
    }
    throw new Error(`the OAuth token of portal ${portal.id} was not renewed within ${REFRESH_LOCK_MS} ms`);
  }

  private async refresh(portal: Portal): Promise<{ value: string; renewAt: number }> {
    const { hubspotClientId: clientId, hubspotClientSecret: clientSecret } = this.config;
    if (!clientId || !clientSecret) {
      throw new HubSpotNotConnectedError(portal.id, 'is connected by OAuth, but HUBSPOT_CLIENT_ID and HUBSPOT_CLIENT_SECRET are not both set to renew its token');
    }
    const refreshToken = this.portals.decryptRefreshToken(portal)!;
    const oauth = this.appClient().oauth.tokensApi;
    let answer;
    try {
      answer = await withTimeout(() => oauth.create('refresh_token', undefined, undefined, clientId, clientSecret, refreshToken), CALL_TIMEOUT_MS);
    } catch (error) {
      const failure = hubSpotFailure(error);
      if (failure.transient) throw error;
      this.metrics.hubspotCalls.inc({ portal: this.metrics.portalLabel.of(portal.id), outcome: 'refused' });
      // Refused for good: the app was uninstalled or its access revoked. The portal's work waits, once for all its jobs, until it is installed again.
      await this.pauses.pause(portal.id, {
        actor: OFFLOAD_ACTOR,
        reason: `HubSpot refused the app's OAuth refresh token (${failure.message}): the app was uninstalled or its access revoked; install it again to resume`,
      });
      throw new PortalPausedError(portal.id);
    }
    this.metrics.hubspotCalls.inc({ portal: this.metrics.portalLabel.of(portal.id), outcome: 'ok' });
    const expiresAt = new Date(Date.now() + answer.expiresIn * 1000);
    await this.portals.saveRefreshedTokens(portal.id, { accessToken: answer.accessToken, refreshToken: answer.refreshToken, expiresAt });
    this.logger.log(`Renewed the OAuth access token of portal ${portal.id}; it expires at ${expiresAt.toISOString()}`);
    return { value: answer.accessToken, renewAt: expiresAt.getTime() - REFRESH_MARGIN_MS };
  }

  /**
   * A client for the app's own calls (OAuth tokens, action definitions), with no portal's token: the
   * date version, no retries of its own, the shared connections.
   */
  appClient(): Client {
    return new Client({
      basePath: this.config.hubspotBaseUrl,
      numberOfApiCallRetries: 0,
      httpAgent: this.agent,
      middleware: [apiVersionMiddleware(this.config.hubspotApiVersion)],
    });
  }

  private connect(portal: Portal, accessToken: string): HubSpotConnection {
    this.limitsByHubSpotId.set(portal.hubspotPortalId, limitsOf(portal));
    const hubspotPortalId = portal.hubspotPortalId;
    const client = new Client({
      accessToken,
      basePath: this.config.hubspotBaseUrl,
      numberOfApiCallRetries: 0,
      httpAgent: this.agent,
      // HubSpot's count of the day comes back on every answer; calls other integrations make count too.
      middleware: [
        apiVersionMiddleware(this.config.hubspotApiVersion),
        {
          pre: (context: unknown) => context,
          post: (context: unknown) => {
            const headers = (context as { headers?: Record<string, unknown> }).headers ?? {};
            this.budget.observe(hubspotPortalId, headers).catch(() => undefined);
            return context;
          },
        },
      ],
    });
    // The client applies its process-wide decorators (retries, limiter) when an API area is first
    // built; building them now, right after this client installed none, keeps another client's out.
    void client.crm.objects;
    void client.automation.actions;
    return {
      portalId: portal.id,
      hubspotPortalId,
      propertyMappings: portal.propertyMappings ?? {},
      client,
      accessToken,
      oauth: portal.hubspotRefreshTokenEnc !== null,
    };
  }

  private async loadLimits(hubspotPortalId: string): Promise<PortalRateLimits> {
    const limits = limitsOf(await this.portals.findByHubSpotPortalId(hubspotPortalId));
    this.limitsByHubSpotId.set(hubspotPortalId, limits);
    return limits;
  }
}

function limitsOf(portal: Portal): PortalRateLimits {
  if (!portal.rateLimitPer10s) return DEFAULT_LIMITS;
  return { requestsPer10s: portal.rateLimitPer10s, ...(portal.rateLimitDaily ? { daily: portal.rateLimitDaily } : {}) };
}

function rateLimitAnswer(error: unknown): { headers: Record<string, unknown>; body?: unknown } {
  const { headers, body } = error as { headers?: Record<string, unknown>; body?: unknown };
  return { headers: headers ?? {}, body };
}

/** The HTTP requests the current call has opened (the client offers no AbortSignal, so they are collected as they start). */
const openRequests = new AsyncLocalStorage<Set<ClientRequest>>();
subscribe('http.client.request.start', (message) => openRequests.getStore()?.add((message as { request: ClientRequest }).request));

/**
 * Runs a call, giving up after `ms`: its requests are then destroyed, so HubSpot sees the connection
 * closed and no late answer (or late write) follows the next try.
 */
async function withTimeout<T>(operation: () => Promise<T>, ms: number): Promise<T> {
  const requests = new Set<ClientRequest>();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const error = new Error(`no answer within ${ms} ms`);
      for (const request of requests) request.destroy(error);
      reject(error);
    }, ms);
  });
  try {
    return await Promise.race([openRequests.run(requests, operation), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
