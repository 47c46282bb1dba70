import { ConfigError, Env, flag, integer, read, text, url } from './environment';

export const DEFAULT_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/offload';

export const ROLES = ['api', 'worker', 'all'] as const;
export type Role = (typeof ROLES)[number];

/** Where Redis is; accepted as it is by ioredis and by BullMQ. */
export interface RedisEndpoint {
  host: string;
  port: number;
  db: number;
  username?: string;
  password?: string;
  tls?: Record<string, never>;
}

/** Where job requests are read from Kafka, and where the ones Offload refuses go. */
export interface KafkaIngestConfig {
  topic: string;
  groupId: string;
  deadLetterTopic: string;
  /** How long the group waits for a consumer that stopped heartbeating (a killed worker) before its partitions go to another. */
  sessionTimeoutMs: number;
}

export interface AppConfig {
  role: Role;
  /** The address the HTTP server binds; 0.0.0.0 (every interface) unless HOST narrows it. */
  host: string;
  port: number;
  databaseUrl: string;
  redis: RedisEndpoint;
  /**
   * The seed nodes of a Redis Cluster (REDIS_CLUSTER_NODES); set, every Redis connection is a cluster
   * client, and REDIS_URL gives only the nodes' user, password and TLS.
   */
  redisClusterNodes: Array<{ host: string; port: number }> | undefined;
  /** Namespaces every Redis key and channel Offload owns, so deployments (and test runs) can share one Redis. */
  redisPrefix: string;
  kafkaBrokers: string[] | undefined;
  /** The consumer of job requests from Kafka (worker processes); undefined, KAFKA_INGEST_TOPIC is unset and it is off. */
  kafkaIngest: KafkaIngestConfig | undefined;
  /** How long the outbox relay waits between polls when it has nothing to publish. */
  outboxPollMs: number;
  /** The most outbox events the relay publishes in one Kafka request. */
  outboxBatchSize: number;
  /** How long events stay in the outbox once Kafka has them; 0 keeps them for good. */
  outboxRetentionHours: number;
  adminToken: string | undefined;
  /**
   * The keys of portal credentials at rest, newest first: the first encrypts, every one decrypts
   * (a key rotation: ENCRYPTION_KEYS lists the new key before the old, then keys:reencrypt).
   */
  encryptionKeys: Buffer[];
  /** The bearer token /metrics asks for; unset, it answers anyone who reaches the port. */
  metricsToken: string | undefined;
  /** Whether /docs (the OpenAPI UI and document) answers without the admin token. */
  docsPublic: boolean;
  /** How long ended jobs (inputs, outputs, write-back journal and events) are kept; 0 keeps them for good. */
  jobRetentionDays: number;
  hubspotBaseUrl: string;
  /** The date version of HubSpot's APIs every call goes to (`/crm/objects/2026-03/...`). */
  hubspotApiVersion: string;
  hubspotClientSecret: string | undefined;
  /** The app's OAuth client id: with the client secret, renews the access tokens of OAuth portals. */
  hubspotClientId: string | undefined;
  /** HubSpot's page where a user installs the app in a portal (the OAuth authorization-code flow starts there). */
  hubspotAuthorizeUrl: string;
  publicBaseUrl: string | undefined;
  logLevel: string;
  /** How long a worker waits on SIGTERM for running jobs before handing them back to the queue. */
  shutdownGraceMs: number;
  reconcileIntervalMs: number;
  /**
   * How many requests one bearer token, and one client address, may make in each 10-second window
   * (counted in Redis, across every API process); 0 leaves that limit off.
   */
  rateLimits: { perKey: number; perIp: number };
  /** Redis may evict keys (maxmemory-policy other than noeviction) and Offload still reports itself ready. */
  redisEvictionAllowed: boolean;
  /** The environment this was read from: each handler reads the settings it declares from it at start-up. */
  environment: Env;
}

function hostPortList(env: Env, name: string): string[] | undefined {
  const raw = read(env, name);
  if (raw === undefined) return undefined;
  const endpoints = raw.split(',').map((endpoint) => endpoint.trim()).filter(Boolean);
  const invalid = endpoints.find((endpoint) => !/^[^\s/]+:\d{1,5}$/.test(endpoint));
  if (endpoints.length === 0 || invalid !== undefined) {
    throw new ConfigError(name, `must be a comma-separated list of host:port (got "${raw}")`);
  }
  return endpoints;
}

/** REDIS_CLUSTER_NODES: host:port of some of the cluster's nodes (the client learns the rest from them). */
function redisClusterNodes(env: Env, redis: RedisEndpoint): AppConfig['redisClusterNodes'] {
  const nodes = hostPortList(env, 'REDIS_CLUSTER_NODES')?.map((node) => {
    const colon = node.lastIndexOf(':');
    return { host: node.slice(0, colon), port: Number(node.slice(colon + 1)) };
  });
  if (nodes?.some(({ port }) => port < 1 || port > 65535)) throw new ConfigError('REDIS_CLUSTER_NODES', 'has a port outside 1 to 65535');
  if (nodes && redis.db !== 0) throw new ConfigError('REDIS_URL', `names database ${redis.db}, but a Redis Cluster has only database 0`);
  return nodes;
}

/** Kafka's own rule for topic names (and the one this applies to consumer group ids). */
const KAFKA_NAME = /^[A-Za-z0-9._-]{1,249}$/;
const KAFKA_NAME_SHAPE = 'may hold only letters, digits, ".", "_" and "-" (at most 249)';

/** KAFKA_INGEST_TOPIC and its companions; the ingest needs brokers, and a dead-letter topic other than its own. */
function kafkaIngest(env: Env, brokers: string[] | undefined): KafkaIngestConfig | undefined {
  const topic = read(env, 'KAFKA_INGEST_TOPIC');
  if (topic === undefined) return undefined;
  if (!KAFKA_NAME.test(topic)) throw new ConfigError('KAFKA_INGEST_TOPIC', `${KAFKA_NAME_SHAPE} (got "${topic}")`);
  if (brokers === undefined) throw new ConfigError('KAFKA_BROKERS', 'is required when KAFKA_INGEST_TOPIC is set');
  const deadLetterTopic = text(env, 'KAFKA_INGEST_DLQ_TOPIC', `${topic}.dlq`, KAFKA_NAME, KAFKA_NAME_SHAPE);
  if (deadLetterTopic === topic) throw new ConfigError('KAFKA_INGEST_DLQ_TOPIC', 'must differ from KAFKA_INGEST_TOPIC');
  return {
    topic,
    deadLetterTopic,
    groupId: text(env, 'KAFKA_INGEST_GROUP', 'offload-ingest', KAFKA_NAME, KAFKA_NAME_SHAPE),
    sessionTimeoutMs: integer(env, 'KAFKA_INGEST_SESSION_TIMEOUT_MS', 30_000, 6_000, 300_000),
  };
}

const KEY_HEX = /^[0-9a-fA-F]{64}$/;

/**
 * ENCRYPTION_KEYS (comma-separated, newest first) when set, else ENCRYPTION_KEY alone. Both set:
 * ENCRYPTION_KEY must be one of the list, so a deployment that names both cannot disagree with itself.
 */
export function encryptionKeys(env: Env): Buffer[] {
  const list = read(env, 'ENCRYPTION_KEYS');
  const single = read(env, 'ENCRYPTION_KEY');
  if (list === undefined) {
    if (single === undefined) throw new ConfigError('ENCRYPTION_KEY', 'is required (32 bytes as 64 hex characters), or ENCRYPTION_KEYS');
    if (!KEY_HEX.test(single)) throw new ConfigError('ENCRYPTION_KEY', 'must be 32 bytes written as 64 hex characters');
    return [Buffer.from(single, 'hex')];
  }
  const keys = list.split(',').map((key) => key.trim());
  if (keys.some((key) => !KEY_HEX.test(key))) {
    throw new ConfigError('ENCRYPTION_KEYS', 'must be a comma-separated list of keys of 64 hex characters, the newest first');
  }
  if (new Set(keys.map((key) => key.toLowerCase())).size !== keys.length) throw new ConfigError('ENCRYPTION_KEYS', 'lists a key twice');
  if (single !== undefined && !keys.some((key) => key.toLowerCase() === single.toLowerCase())) {
    throw new ConfigError('ENCRYPTION_KEY', 'is not one of ENCRYPTION_KEYS; drop it, or list it there');
  }
  return keys.map((key) => Buffer.from(key, 'hex'));
}

export function redisOptionsFromUrl(raw: string, name = 'REDIS_URL'): RedisEndpoint {
  const parsed = new URL(raw);
  const dbPath = parsed.pathname.replace(/^\//, '');
  const db = dbPath === '' ? 0 : Number(dbPath);
  if (!Number.isInteger(db) || db < 0) {
    throw new ConfigError(name, `has an invalid database index "${dbPath}"`);
  }
  return {
    host: parsed.hostname || '127.0.0.1',
    port: parsed.port ? Number(parsed.port) : 6379,
    db,
    username: parsed.username ? decodeURIComponent(parsed.username) : undefined,
    password: parsed.password ? decodeURIComponent(parsed.password) : undefined,
    tls: parsed.protocol === 'rediss:' ? {} : undefined,
  };
}

/** HUBSPOT_API_VERSION: the date version of HubSpot's APIs to call. */
export function hubspotApiVersion(env: Env): string {
  return text(env, 'HUBSPOT_API_VERSION', '2026-03', /^\d{4}-(0[1-9]|1[0-2])$/, 'must be a date version, YYYY-MM');
}

export function loadConfig(env: Env = process.env): AppConfig {
  const role = (read(env, 'ROLE') ?? 'all') as Role;
  if (!ROLES.includes(role)) {
    throw new ConfigError('ROLE', `must be one of ${ROLES.join(', ')} (got "${role}")`);
  }

  const adminToken = read(env, 'ADMIN_TOKEN');
  if (role !== 'worker') {
    if (adminToken === undefined) throw new ConfigError('ADMIN_TOKEN', `is required when ROLE is ${role}`);
    if (adminToken.length < 16) throw new ConfigError('ADMIN_TOKEN', 'must be at least 16 characters');
  }

  const metricsToken = read(env, 'METRICS_TOKEN');
  if (metricsToken !== undefined && metricsToken.length < 16) throw new ConfigError('METRICS_TOKEN', 'must be at least 16 characters');

  const redisUrl = url(env, 'REDIS_URL', 'redis://127.0.0.1:6379', ['redis:', 'rediss:'])!;
  const redis = redisOptionsFromUrl(redisUrl);
  const redisPrefix = text(env, 'REDIS_PREFIX', 'offload', /^[A-Za-z0-9_.-]+$/, 'may hold only letters, digits, "_", "." and "-"');

  const kafkaBrokers = hostPortList(env, 'KAFKA_BROKERS');

  return {
    role,
    host: text(env, 'HOST', '0.0.0.0', /^[A-Za-z0-9.:_-]+$/, 'must be an IP address or a host name'),
    port: integer(env, 'PORT', 3000, 0, 65535),
    databaseUrl: url(env, 'DATABASE_URL', DEFAULT_DATABASE_URL, ['postgres:', 'postgresql:'])!,
    redis,
    redisClusterNodes: redisClusterNodes(env, redis),
    redisPrefix,
    kafkaBrokers,
    kafkaIngest: kafkaIngest(env, kafkaBrokers),
    outboxPollMs: integer(env, 'OUTBOX_POLL_MS', 500, 10, 60_000),
    outboxBatchSize: integer(env, 'OUTBOX_BATCH_SIZE', 500, 1, 10_000),
    outboxRetentionHours: integer(env, 'OUTBOX_RETENTION_HOURS', 168, 0, 87_600),
    adminToken,
    encryptionKeys: encryptionKeys(env),
    metricsToken,
    docsPublic: flag(env, 'DOCS_PUBLIC', true),
    jobRetentionDays: integer(env, 'JOB_RETENTION_DAYS', 30, 0, 36_500),
    hubspotBaseUrl: url(env, 'HUBSPOT_BASE_URL', 'https://api.hubapi.com', ['http:', 'https:'])!,
    hubspotApiVersion: hubspotApiVersion(env),
    hubspotClientSecret: read(env, 'HUBSPOT_CLIENT_SECRET'),
    hubspotClientId: read(env, 'HUBSPOT_CLIENT_ID'),
    hubspotAuthorizeUrl: url(env, 'HUBSPOT_AUTHORIZE_URL', 'https://app.hubspot.com/oauth/authorize', ['http:', 'https:'])!,
    publicBaseUrl: url(env, 'PUBLIC_BASE_URL', undefined, ['http:', 'https:']),
    logLevel: read(env, 'LOG_LEVEL') ?? 'info',
    shutdownGraceMs: integer(env, 'SHUTDOWN_GRACE_MS', 25_000, 0, 3_600_000),
    reconcileIntervalMs: integer(env, 'RECONCILE_INTERVAL_MS', 15_000, 100, 3_600_000),
    rateLimits: {
      perKey: integer(env, 'RATE_LIMIT_KEY_PER_10S', 50_000, 0, 100_000_000),
      perIp: integer(env, 'RATE_LIMIT_IP_PER_10S', 100_000, 0, 100_000_000),
    },
    redisEvictionAllowed: flag(env, 'REDIS_EVICTION_ALLOWED', false),
    environment: env,
  };
}
