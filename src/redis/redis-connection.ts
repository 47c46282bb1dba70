import type { ConnectionOptions } from 'bullmq';
import Redis, { Cluster, RedisOptions } from 'ioredis';
import { AppConfig } from '../config/app-config';

/** A connection to the deployment's Redis: one server, or a Redis Cluster. */
export type RedisClient = Redis | Cluster;

/** Where Redis is, as the configuration says. */
export type RedisSettings = Pick<AppConfig, 'redis' | 'redisClusterNodes'>;

export function isCluster(client: unknown): client is Cluster {
  return client instanceof Cluster;
}

/**
 * Every Redis connection Offload opens is made here, so that REDIS_CLUSTER_NODES makes each of them a
 * cluster client. `options` apply to each server's connection (on a cluster, to each node's).
 */
export function connectRedis(settings: RedisSettings, options: RedisOptions = {}): RedisClient {
  if (!settings.redisClusterNodes) return new Redis({ ...settings.redis, ...options });
  // A cluster has database 0 only, and its nodes say where they are: REDIS_URL gives the rest.
  const { host: _host, port: _port, db: _db, ...credentials } = settings.redis;
  const { lazyConnect, ...perNode } = options;
  return new Cluster(settings.redisClusterNodes, { lazyConnect, redisOptions: { ...credentials, ...perNode } });
}

/** BullMQ's workers block on Redis, and must wait out a reconnect rather than fail their commands. */
const BULLMQ_OPTIONS = { maxRetriesPerRequest: null };

/**
 * What BullMQ connects with. On one server, options: each queue and worker opens its connections
 * from them, as BullMQ does by default. A cluster client BullMQ cannot make from options, so it is
 * given one, which its queues share and its workers duplicate; whoever closes the queues closes it.
 */
export function bullMqConnection(settings: RedisSettings): ConnectionOptions {
  return settings.redisClusterNodes ? connectRedis(settings, BULLMQ_OPTIONS) : { ...settings.redis, ...BULLMQ_OPTIONS };
}

/** Closes a connection: QUIT when it is up, which waits for an answer a connection that is down would never give. */
export async function closeRedis(client: RedisClient | undefined): Promise<void> {
  if (client?.status === 'ready') await client.quit();
  else client?.disconnect();
}
