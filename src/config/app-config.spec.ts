import { DEFAULT_DATABASE_URL, loadConfig, redisOptionsFromUrl } from './app-config';
import { configRefusal } from './config-refusal.testing';

const KEY = '0123456789abcdef'.repeat(4);
const REQUIRED = { ADMIN_TOKEN: 'an-admin-token-of-some-length', ENCRYPTION_KEY: KEY };

const refusal = (env: Record<string, string | undefined>) => configRefusal(() => loadConfig(env));

describe('loadConfig', () => {
  describe('defaults (the contract)', () => {
    const config = loadConfig({ ...REQUIRED });

    it('runs both sides on port 3000', () => {
      expect(config.role).toBe('all');
      expect(config.port).toBe(3000);
    });

    it('uses the local offload database', () => {
      expect(DEFAULT_DATABASE_URL).toBe('postgres://postgres@127.0.0.1:5432/offload');
      expect(config.databaseUrl).toBe('postgres://postgres@127.0.0.1:5432/offload');
    });

    it('uses local Redis, database 0, without credentials or TLS', () => {
      expect(config.redis).toEqual({
        host: '127.0.0.1',
        port: 6379,
        db: 0,
        username: undefined,
        password: undefined,
        tls: undefined,
      });
    });

    it('uses one Redis server, not a cluster', () => {
      expect(config.redisClusterNodes).toBeUndefined();
    });

    it('leaves the Kafka relay off', () => {
      expect(config.kafkaBrokers).toBeUndefined();
    });

    it("calls HubSpot's public API", () => {
      expect(config.hubspotBaseUrl).toBe('https://api.hubapi.com');
    });

    it('rebuilds the public URL from the request, and has no client secret', () => {
      expect(config.publicBaseUrl).toBeUndefined();
      expect(config.hubspotClientSecret).toBeUndefined();
    });

    it('decodes the encryption key to 32 bytes and keeps the admin token', () => {
      expect(config.encryptionKeys).toEqual([Buffer.from(KEY, 'hex')]);
      expect(config.adminToken).toBe(REQUIRED.ADMIN_TOKEN);
    });

    it('treats empty and blank values as unset', () => {
      const blank = loadConfig({ ...REQUIRED, PORT: '', REDIS_URL: '  ', DATABASE_URL: '', KAFKA_BROKERS: '', HUBSPOT_BASE_URL: ' ' });
      expect(blank.port).toBe(3000);
      expect(blank.redis).toMatchObject({ host: '127.0.0.1', port: 6379, db: 0 });
      expect(blank.databaseUrl).toBe(DEFAULT_DATABASE_URL);
      expect(blank.kafkaBrokers).toBeUndefined();
      expect(blank.hubspotBaseUrl).toBe('https://api.hubapi.com');
    });
  });

  describe('REDIS_URL', () => {
    it('honours a db index in the URL', () => {
      expect(loadConfig({ ...REQUIRED, REDIS_URL: 'redis://127.0.0.1:6379/5' }).redis).toMatchObject({ host: '127.0.0.1', port: 6379, db: 5 });
      expect(loadConfig({ ...REQUIRED, REDIS_URL: 'redis://cache.internal/12' }).redis).toMatchObject({ host: 'cache.internal', port: 6379, db: 12 });
      expect(loadConfig({ ...REQUIRED, REDIS_URL: 'redis://cache.internal:6380/' }).redis).toMatchObject({ port: 6380, db: 0 });
    });

    it('passes credentials (URL-decoded) and TLS for rediss:', () => {
      const redis = loadConfig({ ...REQUIRED, REDIS_URL: 'rediss://user%40x:p%3Ass@cache.example:6390/3' }).redis;
      expect(redis).toEqual({ host: 'cache.example', port: 6390, db: 3, username: 'user@x', password: 'p:ss', tls: {} });
    });

    it('refuses an invalid db index, another scheme, or no URL at all', () => {
      expect(refusal({ ...REQUIRED, REDIS_URL: 'redis://127.0.0.1:6379/abc' }).variable).toBe('REDIS_URL');
      expect(refusal({ ...REQUIRED, REDIS_URL: 'redis://127.0.0.1:6379/-1' }).variable).toBe('REDIS_URL');
      expect(refusal({ ...REQUIRED, REDIS_URL: 'ftp://x' }).variable).toBe('REDIS_URL');
      expect(refusal({ ...REQUIRED, REDIS_URL: 'not a url' }).variable).toBe('REDIS_URL');
      expect(configRefusal(() => redisOptionsFromUrl('redis://h/1.5')).variable).toBe('REDIS_URL');
    });
  });

  describe('REDIS_CLUSTER_NODES', () => {
    it('reads the seed nodes of a Redis Cluster, REDIS_URL still giving their credentials and TLS', () => {
      const config = loadConfig({ ...REQUIRED, REDIS_CLUSTER_NODES: 'r1.internal:7000, 10.0.0.2:7001', REDIS_URL: 'rediss://:pw@ignored.example' });
      expect(config.redisClusterNodes).toEqual([
        { host: 'r1.internal', port: 7000 },
        { host: '10.0.0.2', port: 7001 },
      ]);
      expect(config.redis).toMatchObject({ password: 'pw', tls: {}, db: 0 });
    });

    it.each([
      ['REDIS_CLUSTER_NODES', 'no port', { REDIS_CLUSTER_NODES: 'r1.internal' }],
      ['REDIS_CLUSTER_NODES', 'a URL', { REDIS_CLUSTER_NODES: 'redis://r1:7000' }],
      ['REDIS_CLUSTER_NODES', 'only commas', { REDIS_CLUSTER_NODES: ' , ' }],
      ['REDIS_CLUSTER_NODES', 'port 0', { REDIS_CLUSTER_NODES: 'r1:7000,r2:0' }],
      ['REDIS_CLUSTER_NODES', 'port 70000', { REDIS_CLUSTER_NODES: 'r1:70000' }],
      ['REDIS_URL', 'a database other than 0', { REDIS_CLUSTER_NODES: 'r1:7000', REDIS_URL: 'redis://r1:7000/2' }],
    ])('names %s when it is invalid (%s)', (variable, _label, env) => {
      const error = refusal({ ...REQUIRED, ...env });
      expect(error.variable).toBe(variable);
      expect(error.message).toContain(variable);
    });
  });

  describe('other settings', () => {
    it('reads PORT, ROLE, DATABASE_URL, KAFKA_BROKERS, HUBSPOT_*, PUBLIC_BASE_URL', () => {
      const config = loadConfig({
        ...REQUIRED,
        PORT: '8080',
        ROLE: 'api',
        DATABASE_URL: 'postgresql://u:p@db.internal:5433/jobs',
        KAFKA_BROKERS: 'k1:9092, k2:9092',
        HUBSPOT_BASE_URL: 'http://127.0.0.1:4010',
        HUBSPOT_CLIENT_SECRET: 'secret',
        HUBSPOT_API_VERSION: '2025-09',
        PUBLIC_BASE_URL: 'https://offload.example.com',
      });
      expect(config).toMatchObject({
        port: 8080,
        role: 'api',
        databaseUrl: 'postgresql://u:p@db.internal:5433/jobs',
        kafkaBrokers: ['k1:9092', 'k2:9092'],
        hubspotBaseUrl: 'http://127.0.0.1:4010',
        hubspotClientSecret: 'secret',
        hubspotApiVersion: '2025-09',
        publicBaseUrl: 'https://offload.example.com',
      });
    });

    it('binds every interface, keeps jobs 30 days, serves /docs openly and /metrics without a token', () => {
      expect(loadConfig({ ...REQUIRED })).toMatchObject({ host: '0.0.0.0', jobRetentionDays: 30, docsPublic: true, metricsToken: undefined });
    });

    it('takes ENCRYPTION_KEYS newest first, alone or beside the ENCRYPTION_KEY it lists', () => {
      const newKey = 'b'.repeat(64);
      const expected = [Buffer.from(newKey, 'hex'), Buffer.from(KEY, 'hex')];
      expect(loadConfig({ ...REQUIRED, ENCRYPTION_KEYS: `${newKey}, ${KEY}` }).encryptionKeys).toEqual(expected);
      expect(loadConfig({ ADMIN_TOKEN: REQUIRED.ADMIN_TOKEN, ENCRYPTION_KEYS: `${newKey},${KEY}` }).encryptionKeys).toEqual(expected);
    });

    it('leaves the Kafka ingest off until KAFKA_INGEST_TOPIC names a topic, then reads it with a default group and dead-letter topic', () => {
      expect(loadConfig({ ...REQUIRED, KAFKA_BROKERS: 'k1:9092' }).kafkaIngest).toBeUndefined();
      expect(loadConfig({ ...REQUIRED, KAFKA_BROKERS: 'k1:9092', KAFKA_INGEST_TOPIC: 'offload.job-requests' }).kafkaIngest).toEqual({
        topic: 'offload.job-requests',
        groupId: 'offload-ingest',
        deadLetterTopic: 'offload.job-requests.dlq',
        sessionTimeoutMs: 30_000,
      });
      const named = { KAFKA_INGEST_TOPIC: 'requests', KAFKA_INGEST_GROUP: 'ingest-eu', KAFKA_INGEST_DLQ_TOPIC: 'requests-refused', KAFKA_INGEST_SESSION_TIMEOUT_MS: '6000' };
      expect(loadConfig({ ...REQUIRED, KAFKA_BROKERS: 'k1:9092', ...named }).kafkaIngest).toEqual({
        topic: 'requests',
        groupId: 'ingest-eu',
        deadLetterTopic: 'requests-refused',
        sessionTimeoutMs: 6_000,
      });
    });

    it('lets a worker run without ADMIN_TOKEN, but not api or all', () => {
      expect(loadConfig({ ENCRYPTION_KEY: KEY, ROLE: 'worker' }).adminToken).toBeUndefined();
      expect(refusal({ ENCRYPTION_KEY: KEY, ROLE: 'api' }).variable).toBe('ADMIN_TOKEN');
      expect(refusal({ ENCRYPTION_KEY: KEY, ROLE: 'all' }).variable).toBe('ADMIN_TOKEN');
      expect(refusal({ ENCRYPTION_KEY: KEY }).variable).toBe('ADMIN_TOKEN');
    });

    it('limits requests per key and per address every 10 s, high enough for the benchmark, 0 turning a limit off', () => {
      expect(loadConfig(REQUIRED).rateLimits).toEqual({ perKey: 50_000, perIp: 100_000 });
      expect(loadConfig({ ...REQUIRED, RATE_LIMIT_KEY_PER_10S: '0', RATE_LIMIT_IP_PER_10S: '600' }).rateLimits).toEqual({ perKey: 0, perIp: 600 });
    });

    it('reports itself not ready on an evicting Redis unless told REDIS_EVICTION_ALLOWED=true', () => {
      expect(loadConfig(REQUIRED).redisEvictionAllowed).toBe(false);
      expect(loadConfig({ ...REQUIRED, REDIS_EVICTION_ALLOWED: 'true' }).redisEvictionAllowed).toBe(true);
      expect(loadConfig({ ...REQUIRED, REDIS_EVICTION_ALLOWED: 'false' }).redisEvictionAllowed).toBe(false);
    });

    it.each([
      ['RATE_LIMIT_KEY_PER_10S', 'negative', { ...REQUIRED, RATE_LIMIT_KEY_PER_10S: '-1' }],
      ['RATE_LIMIT_IP_PER_10S', 'not a number', { ...REQUIRED, RATE_LIMIT_IP_PER_10S: 'lots' }],
      ['REDIS_EVICTION_ALLOWED', 'yes', { ...REQUIRED, REDIS_EVICTION_ALLOWED: 'yes' }],
      ['ENCRYPTION_KEY', 'missing', { ADMIN_TOKEN: REQUIRED.ADMIN_TOKEN }],
      ['ENCRYPTION_KEY', '63 hex characters', { ...REQUIRED, ENCRYPTION_KEY: KEY.slice(1) }],
      ['ENCRYPTION_KEY', '66 hex characters', { ...REQUIRED, ENCRYPTION_KEY: `${KEY}00` }],
      ['ENCRYPTION_KEY', 'not hex', { ...REQUIRED, ENCRYPTION_KEY: 'z'.repeat(64) }],
      ['ROLE', 'bogus', { ...REQUIRED, ROLE: 'bogus' }],
      ['PORT', 'abc', { ...REQUIRED, PORT: 'abc' }],
      ['PORT', '3000.5', { ...REQUIRED, PORT: '3000.5' }],
      ['PORT', '65536', { ...REQUIRED, PORT: '65536' }],
      ['PORT', '-1', { ...REQUIRED, PORT: '-1' }],
      ['DATABASE_URL', 'mysql:', { ...REQUIRED, DATABASE_URL: 'mysql://localhost/offload' }],
      ['HUBSPOT_BASE_URL', 'no scheme', { ...REQUIRED, HUBSPOT_BASE_URL: 'api.hubapi.com' }],
      ['HUBSPOT_API_VERSION', 'v3', { ...REQUIRED, HUBSPOT_API_VERSION: 'v3' }],
      ['HUBSPOT_API_VERSION', 'month 13', { ...REQUIRED, HUBSPOT_API_VERSION: '2026-13' }],
      ['PUBLIC_BASE_URL', 'ftp:', { ...REQUIRED, PUBLIC_BASE_URL: 'ftp://offload.example.com' }],
      ['REDIS_PREFIX', 'a colon', { ...REQUIRED, REDIS_PREFIX: 'off:load' }],
      ['ENCRYPTION_KEYS', 'a short key', { ...REQUIRED, ENCRYPTION_KEYS: `${KEY},abc` }],
      ['ENCRYPTION_KEYS', 'a key twice', { ...REQUIRED, ENCRYPTION_KEYS: `${KEY},${KEY}` }],
      ['ENCRYPTION_KEY', 'not among ENCRYPTION_KEYS', { ...REQUIRED, ENCRYPTION_KEYS: 'b'.repeat(64) }],
      ['METRICS_TOKEN', 'short', { ...REQUIRED, METRICS_TOKEN: 'short' }],
      ['DOCS_PUBLIC', 'maybe', { ...REQUIRED, DOCS_PUBLIC: 'maybe' }],
      ['JOB_RETENTION_DAYS', '-1', { ...REQUIRED, JOB_RETENTION_DAYS: '-1' }],
      ['HOST', 'a space', { ...REQUIRED, HOST: 'a b' }],
      ['KAFKA_BROKERS', 'missing beside KAFKA_INGEST_TOPIC', { ...REQUIRED, KAFKA_INGEST_TOPIC: 'requests' }],
      ['KAFKA_INGEST_TOPIC', 'a slash', { ...REQUIRED, KAFKA_BROKERS: 'k1:9092', KAFKA_INGEST_TOPIC: 'job/requests' }],
      ['KAFKA_INGEST_GROUP', 'a space', { ...REQUIRED, KAFKA_BROKERS: 'k1:9092', KAFKA_INGEST_TOPIC: 'requests', KAFKA_INGEST_GROUP: 'a b' }],
      ['KAFKA_INGEST_SESSION_TIMEOUT_MS', 'under 6 s', { ...REQUIRED, KAFKA_BROKERS: 'k1:9092', KAFKA_INGEST_TOPIC: 'requests', KAFKA_INGEST_SESSION_TIMEOUT_MS: '1000' }],
      ['KAFKA_INGEST_DLQ_TOPIC', 'the topic itself', { ...REQUIRED, KAFKA_BROKERS: 'k1:9092', KAFKA_INGEST_TOPIC: 'requests', KAFKA_INGEST_DLQ_TOPIC: 'requests' }],
    ])('names %s when it is invalid (%s)', (variable, _label, env) => {
      const error = refusal(env);
      expect(error.variable).toBe(variable);
      expect(error.message).toContain(variable);
    });
  });
});
