import { Inject, Injectable, OnModuleInit } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { randomBytes } from 'node:crypto';
import { DataSource, IsNull, Repository } from 'typeorm';
import { ConflictError, NotFoundError } from '../common/domain-errors';
import { sha256Hex } from '../common/sha256';
import { AppConfig } from '../config/app-config';
import { APP_CONFIG } from '../config/config.module';
import { normaliseObjectType } from '../hubspot/client/object-types';
import { DEFAULT_SCHEDULING, PortalScheduling } from '../queue/fair-share';
import { JobQueue } from '../queue/job-queue.service';
import { RedisService } from '../redis/redis.service';
import { ApiKey } from './api-key.entity';
import { CredentialCipher } from './credential-cipher';
import { Portal, PropertyMappings } from './portal.entity';

export interface AuthenticatedPortal {
  id: string;
  hubspotPortalId: string;
  name: string;
}

/** An OAuth install's tokens; with only the refresh token, Offload fetches an access token when it first needs one. */
export interface OAuthTokens {
  refreshToken: string;
  accessToken?: string;
  /** Seconds the access token has left. */
  expiresIn?: number;
}

export interface RateLimitSetting {
  requestsPer10s: number;
  daily?: number;
}

export interface NewPortal {
  hubspotPortalId: number;
  name: string;
  hubspotAccessToken?: string;
  hubspotOAuth?: OAuthTokens;
  rateLimit?: RateLimitSetting;
  scheduling?: Partial<PortalScheduling>;
}

/** A change to a portal; null clears a setting. Giving a private app token drops OAuth tokens, and the other way round. */
export interface PortalChange {
  name?: string;
  hubspotAccessToken?: string | null;
  hubspotOAuth?: OAuthTokens;
  rateLimit?: RateLimitSetting | null;
  /** The parts given change; the others stay. */
  scheduling?: Partial<PortalScheduling>;
}

const KEY_CACHE_TTL_MS = 30_000;
const KEY_CACHE_MAX = 10_000;

@Injectable()
export class PortalsService implements OnModuleInit {
  private readonly cipher: CredentialCipher;
  /** Key hash -> portal; revocations reach every process through Redis, the TTL bounds anything missed. */
  private readonly keyCache = new Map<string, { portal: AuthenticatedPortal; expiresAt: number }>();
  private readonly revokedChannel: string;
  private revocations = 0;
  private readonly lookups = new Map<string, Promise<AuthenticatedPortal | undefined>>();
  private readonly changedChannel: string;

  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    @InjectRepository(Portal) private readonly portals: Repository<Portal>,
    @InjectRepository(ApiKey) private readonly apiKeys: Repository<ApiKey>,
    private readonly dataSource: DataSource,
    private readonly redis: RedisService,
    private readonly queue: JobQueue,
  ) {
    this.cipher = new CredentialCipher(config.encryptionKeys);
    this.revokedChannel = redis.key('api-key-revoked');
    this.changedChannel = redis.key('portal-changed');
  }

  onModuleInit(): void {
    this.redis.subscribe(this.revokedChannel, (hash) => this.forget(hash));
  }

  async create(input: NewPortal): Promise<{ portal: Portal; apiKey: string }> {
    try {
      const created = await this.dataSource.transaction(async (manager) => {
        const portal = await manager.save(
          manager.create(Portal, {
            hubspotPortalId: String(input.hubspotPortalId),
            name: input.name,
            ...this.credentials(input),
            ...rateLimitColumns(input.rateLimit),
            ...schedulingColumns({ ...DEFAULT_SCHEDULING, ...input.scheduling }),
            propertyMappings: {},
          }),
        );
        const { key, record } = newKey(portal.id);
        await manager.save(manager.create(ApiKey, record));
        return { portal, apiKey: key };
      });
      if (input.scheduling) await this.queue.schedule(created.portal.id, schedulingOf(created.portal));
      return created;
    } catch (error) {
      if ((error as { code?: string }).code === '23505') {
        throw new ConflictError(`Portal ${input.hubspotPortalId} is already registered`, [
          { path: 'hubspotPortalId', message: 'is already registered' },
        ]);
      }
      throw error;
    }
  }

  async findById(id: string): Promise<Portal> {
    const portal = isUuid(id) ? await this.portals.findOneBy({ id }) : null;
    if (!portal) throw new NotFoundError('Portal');
    return portal;
  }

  /** The portal of a HubSpot account id, as HubSpot's own requests name it. */
  async findByHubSpotPortalId(hubspotPortalId: number | string): Promise<Portal> {
    const id = String(hubspotPortalId);
    const portal = /^\d{1,19}$/.test(id) ? await this.portals.findOneBy({ hubspotPortalId: id }) : null;
    if (!portal) throw new NotFoundError(`Portal for HubSpot account ${id}`);
    return portal;
  }

  async setPropertyMappings(id: string, mappings: PropertyMappings): Promise<Portal> {
    const portal = await this.findById(id);
    portal.propertyMappings = byObjectType(mappings);
    return this.saveChanged(portal);
  }

  async update(id: string, change: PortalChange): Promise<Portal> {
    const portal = await this.findById(id);
    if (change.name !== undefined) portal.name = change.name;
    if (change.hubspotAccessToken !== undefined || change.hubspotOAuth !== undefined) {
      Object.assign(portal, this.credentials({ hubspotAccessToken: change.hubspotAccessToken ?? undefined, hubspotOAuth: change.hubspotOAuth }));
    }
    if (change.rateLimit !== undefined) Object.assign(portal, rateLimitColumns(change.rateLimit ?? undefined));
    if (change.scheduling) Object.assign(portal, schedulingColumns({ ...schedulingOf(portal), ...change.scheduling }));
    const saved = await this.saveChanged(portal);
    // Saved first: should Redis not take it now, the reconciler restores every portal's share from PostgreSQL once Redis has lost them.
    if (change.scheduling) await this.queue.schedule(portal.id, schedulingOf(saved));
    return saved;
  }

  /** Every portal whose scheduling is off the defaults. */
  async scheduledOffDefaults(): Promise<Array<{ portalId: string; scheduling: PortalScheduling }>> {
    const portals = await this.portals
      .createQueryBuilder('p')
      .where('p.scheduling_weight <> :weight OR p.scheduling_max_concurrency IS NOT NULL', { weight: DEFAULT_SCHEDULING.weight })
      .getMany();
    return portals.map((portal) => ({ portalId: portal.id, scheduling: schedulingOf(portal) }));
  }

  /** Calls the listener with a portal's id whenever it changes, in any process. */
  onChanged(listener: (portalId: string) => void): void {
    this.redis.subscribe(this.changedChannel, listener);
  }

  /** Keeps the tokens HubSpot answered to a refresh; the refresh token may be new too. */
  async saveRefreshedTokens(id: string, tokens: { accessToken: string; refreshToken: string; expiresAt: Date }): Promise<void> {
    await this.portals.update(
      { id },
      {
        hubspotAccessTokenEnc: this.cipher.encrypt(tokens.accessToken),
        hubspotRefreshTokenEnc: this.cipher.encrypt(tokens.refreshToken),
        hubspotTokenExpiresAt: tokens.expiresAt,
      },
    );
    await this.redis.publish(this.changedChannel, id);
  }

  private async saveChanged(portal: Portal): Promise<Portal> {
    const saved = await this.portals.save(portal);
    await this.redis.publish(this.changedChannel, portal.id);
    return saved;
  }

  private credentials(input: Pick<NewPortal, 'hubspotAccessToken' | 'hubspotOAuth'>) {
    const { hubspotAccessToken: token, hubspotOAuth: oauth } = input;
    if (oauth) {
      return {
        hubspotAccessTokenEnc: oauth.accessToken ? this.cipher.encrypt(oauth.accessToken) : null,
        hubspotRefreshTokenEnc: this.cipher.encrypt(oauth.refreshToken),
        // An access token given without its lifetime is renewed at first use rather than trusted blindly.
        hubspotTokenExpiresAt: oauth.accessToken && oauth.expiresIn ? new Date(Date.now() + oauth.expiresIn * 1000) : new Date(0),
      };
    }
    return { hubspotAccessTokenEnc: token ? this.cipher.encrypt(token) : null, hubspotRefreshTokenEnc: null, hubspotTokenExpiresAt: null };
  }

  async listKeys(portalId: string): Promise<ApiKey[]> {
    await this.findById(portalId);
    return this.apiKeys.find({ where: { portalId, revokedAt: IsNull() }, order: { createdAt: 'ASC' } });
  }

  async createKey(portalId: string): Promise<{ id: string; apiKey: string }> {
    await this.findById(portalId);
    const { key, record } = newKey(portalId);
    const saved = await this.apiKeys.save(this.apiKeys.create(record));
    return { id: saved.id, apiKey: key };
  }

  async revokeKey(portalId: string, keyId: string): Promise<void> {
    const key = isUuid(portalId) && isUuid(keyId) ? await this.apiKeys.findOneBy({ id: keyId, portalId, revokedAt: IsNull() }) : null;
    if (!key) throw new NotFoundError('API key');
    await this.apiKeys.update({ id: key.id }, { revokedAt: new Date() });
    this.forget(key.keyHash);
    await this.redis.publish(this.revokedChannel, key.keyHash);
  }

  async authenticate(apiKey: string): Promise<AuthenticatedPortal | undefined> {
    const hash = sha256Hex(apiKey);
    const cached = this.keyCache.get(hash);
    if (cached && cached.expiresAt > Date.now()) return cached.portal;
    // Requests that arrive together with the same uncached key share one lookup.
    let lookup = this.lookups.get(hash);
    if (!lookup) {
      lookup = this.lookUp(hash).finally(() => this.lookups.delete(hash));
      this.lookups.set(hash, lookup);
    }
    return lookup;
  }

  private forget(hash: string): void {
    this.revocations++;
    this.keyCache.delete(hash);
  }

  private async lookUp(hash: string): Promise<AuthenticatedPortal | undefined> {
    // A revocation that lands while the query runs must not be undone by caching its stale answer.
    const revocationsBefore = this.revocations;
    const row = await this.apiKeys
      .createQueryBuilder('k')
      .innerJoin(Portal, 'p', 'p.id = k.portal_id')
      .select(['p.id AS id', 'p.hubspot_portal_id AS "hubspotPortalId"', 'p.name AS name'])
      .where('k.key_hash = :hash AND k.revoked_at IS NULL', { hash })
      .getRawOne<AuthenticatedPortal>();
    if (!row) {
      this.keyCache.delete(hash);
      return undefined;
    }
    if (this.revocations !== revocationsBefore) return row;
    if (this.keyCache.size >= KEY_CACHE_MAX) this.keyCache.delete(this.keyCache.keys().next().value!);
    this.keyCache.set(hash, { portal: { ...row, hubspotPortalId: String(row.hubspotPortalId) }, expiresAt: Date.now() + KEY_CACHE_TTL_MS });
    return row;
  }

  decryptAccessToken(portal: Portal): string | undefined {
    return portal.hubspotAccessTokenEnc ? this.cipher.decrypt(portal.hubspotAccessTokenEnc) : undefined;
  }

  decryptRefreshToken(portal: Portal): string | undefined {
    return portal.hubspotRefreshTokenEnc ? this.cipher.decrypt(portal.hubspotRefreshTokenEnc) : undefined;
  }
}

export function schedulingOf(portal: Portal): PortalScheduling {
  return { weight: portal.schedulingWeight, maxConcurrency: portal.schedulingMaxConcurrency };
}

function schedulingColumns(scheduling: PortalScheduling) {
  return { schedulingWeight: scheduling.weight, schedulingMaxConcurrency: scheduling.maxConcurrency };
}

function rateLimitColumns(rateLimit: RateLimitSetting | undefined) {
  return { rateLimitPer10s: rateLimit?.requestsPer10s ?? null, rateLimitDaily: rateLimit?.daily ?? null };
}

/** Mappings keyed by the object type as the CRM API names it, whichever way the admin wrote it. */
function byObjectType(mappings: PropertyMappings): PropertyMappings {
  const normalised: PropertyMappings = {};
  for (const [objectType, mapping] of Object.entries(mappings)) {
    const key = normaliseObjectType(objectType);
    normalised[key] = { ...normalised[key], ...mapping };
  }
  return normalised;
}

function newKey(portalId: string) {
  const key = `ofk_${randomBytes(32).toString('base64url')}`;
  return { key, record: { portalId, keyHash: sha256Hex(key), keyPrefix: key.slice(0, 12) } };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export function isUuid(value: string): boolean {
  return UUID.test(value);
}
