import { Inject, Injectable, OnModuleInit } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { InvalidInputError, NotFoundError } from '../common/domain-errors';
import { AppConfig } from '../config/app-config';
import { APP_CONFIG } from '../config/config.module';
import { RedisService } from '../redis/redis.service';
import { HandlerRegistry } from '../registry/handler-registry';
import { CredentialCipher } from './credential-cipher';
import { PortalHandlerConfig } from './portal-handler-config.entity';
import { PortalSecret } from './portal-secret.entity';
import { PortalsService } from './portals.service';

export const SECRET_NAME = /^[A-Z][A-Z0-9_]{0,63}$/;
/** Bounds how long a change missed on the Redis channel (a reconnect) can go unseen by a worker. */
const CACHE_TTL_MS = 30_000;

/**
 * What a portal gives its handlers: settings per handler, checked against the handler's schema, and
 * secrets, stored encrypted. Workers read both for every job, so each process caches them and a change
 * reaches every process through Redis at once.
 */
@Injectable()
export class PortalSettingsService implements OnModuleInit {
  private readonly cipher: CredentialCipher;
  private readonly changedChannel: string;
  private readonly cache = new Map<string, { value: Promise<unknown>; expiresAt: number }>();

  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    @InjectRepository(PortalHandlerConfig) private readonly configs: Repository<PortalHandlerConfig>,
    @InjectRepository(PortalSecret) private readonly secrets: Repository<PortalSecret>,
    private readonly portals: PortalsService,
    private readonly registry: HandlerRegistry,
    private readonly redis: RedisService,
  ) {
    this.cipher = new CredentialCipher(config.encryptionKeys);
    this.changedChannel = redis.key('portal-settings-changed');
  }

  onModuleInit(): void {
    this.redis.subscribe(this.changedChannel, (key) => this.cache.delete(key));
  }

  /** The portal's settings for a handler, or the handler's default. */
  handlerConfig(portalId: string, type: string): Promise<unknown> {
    return this.cached(configKey(portalId, type), async () => {
      const row = await this.configs.findOneBy({ portalId, handlerType: type });
      return row ? row.config : this.registry.get(type)?.config?.default;
    });
  }

  async storedHandlerConfig(portalId: string, type: string): Promise<{ config: unknown; isDefault: boolean; updatedAt?: Date }> {
    await this.portals.findById(portalId);
    const handler = this.configurable(type);
    const row = await this.configs.findOneBy({ portalId, handlerType: type });
    return row ? { config: row.config, isDefault: false, updatedAt: row.updatedAt } : { config: handler.default, isDefault: true };
  }

  async setHandlerConfig(portalId: string, type: string, config: unknown): Promise<void> {
    await this.portals.findById(portalId);
    const problems = this.configurable(type).validate(config);
    if (problems.length > 0) throw new InvalidInputError(problems);
    await this.configs.upsert({ portalId, handlerType: type, config: config as object }, ['portalId', 'handlerType']);
    await this.changed(configKey(portalId, type));
  }

  async resetHandlerConfig(portalId: string, type: string): Promise<void> {
    await this.portals.findById(portalId);
    this.configurable(type);
    await this.configs.delete({ portalId, handlerType: type });
    await this.changed(configKey(portalId, type));
  }

  /** A secret's plain value, for a handler at work; never for the API. */
  secret(portalId: string, name: string): Promise<string | undefined> {
    return this.cached(secretKey(portalId, name), async () => {
      const row = await this.secrets.findOneBy({ portalId, name });
      return row ? this.cipher.decrypt(row.valueEnc) : undefined;
    }) as Promise<string | undefined>;
  }

  async listSecrets(portalId: string): Promise<{ name: string; updatedAt: Date }[]> {
    await this.portals.findById(portalId);
    const rows = await this.secrets.find({ where: { portalId }, order: { name: 'ASC' } });
    return rows.map(({ name, updatedAt }) => ({ name, updatedAt }));
  }

  async setSecret(portalId: string, name: string, value: string): Promise<void> {
    await this.portals.findById(portalId);
    checkSecretName(name);
    await this.secrets.upsert({ portalId, name, valueEnc: this.cipher.encrypt(value) }, ['portalId', 'name']);
    await this.changed(secretKey(portalId, name));
  }

  async deleteSecret(portalId: string, name: string): Promise<void> {
    await this.portals.findById(portalId);
    checkSecretName(name);
    const { affected } = await this.secrets.delete({ portalId, name });
    if (!affected) throw new NotFoundError('Secret');
    await this.changed(secretKey(portalId, name));
  }

  private configurable(type: string) {
    const handler = this.registry.get(type);
    if (!handler) throw new NotFoundError(`Handler ${type}`);
    if (!handler.config) {
      throw new InvalidInputError([{ path: 'type', message: 'takes no settings' }], `Handler ${type} takes no settings`);
    }
    return handler.config;
  }

  private cached(key: string, load: () => Promise<unknown>): Promise<unknown> {
    const hit = this.cache.get(key);
    if (hit && hit.expiresAt > Date.now()) return hit.value;
    const value = load();
    this.cache.set(key, { value, expiresAt: Date.now() + CACHE_TTL_MS });
    value.catch(() => this.cache.delete(key));
    return value;
  }

  private async changed(key: string): Promise<void> {
    this.cache.delete(key);
    await this.redis.publish(this.changedChannel, key);
  }
}

function checkSecretName(name: string): void {
  if (!SECRET_NAME.test(name)) {
    throw new InvalidInputError([{ path: 'name', message: 'must be upper-case letters, digits and "_", starting with a letter (at most 64)' }]);
  }
}

const configKey = (portalId: string, type: string) => `config\u0000${portalId}\u0000${type}`;
const secretKey = (portalId: string, name: string) => `secret\u0000${portalId}\u0000${name}`;
