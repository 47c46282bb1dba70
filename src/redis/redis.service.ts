import { Inject, Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import Redis, { ChainableCommander } from 'ioredis';
import { randomUUID } from 'node:crypto';
import { AppConfig } from '../config/app-config';
import { APP_CONFIG } from '../config/config.module';
import { closeRedis, connectRedis, isCluster, RedisClient } from './redis-connection';

type Listener = (message: string) => void;

/** A pipelined command's answer: its error, or its reply. */
export type PipelineReply = [Error | null, unknown];

const RELEASE_LOCK = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end`;

/**
 * Offload's own Redis connections (BullMQ keeps its own): one for commands and publishing, and one
 * shared subscriber per process, so a thousand long-polls cost one subscription, not a thousand.
 * On a Redis Cluster both are cluster clients: each command goes to the node that serves its keys,
 * and a command or script that names several keys names keys of one hash tag.
 */
@Injectable()
export class RedisService implements OnApplicationShutdown {
  private readonly logger = new Logger(RedisService.name);
  readonly client: RedisClient;
  private subscriber?: RedisClient;
  private readonly listeners = new Map<string, Set<Listener>>();

  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {
    this.client = connectRedis(config, { lazyConnect: false, maxRetriesPerRequest: 2 });
    this.client.on('error', (error) => this.logger.warn(`Redis: ${error.message}`));
  }

  /** A key or channel name in Offload's namespace. */
  key(...parts: string[]): string {
    return [this.config.redisPrefix, ...parts].join(':');
  }

  /**
   * Runs `work` while holding a lock no other process holds; answers undefined, without running it,
   * when another process has the lock. The lock expires after `ttlMs` in case its holder dies, and
   * is released only by its holder (compare-and-delete in one script, so a lock that expired and
   * was taken by another process is left alone).
   */
  async exclusively<T>(name: string, ttlMs: number, work: () => Promise<T>): Promise<T | undefined> {
    const key = this.key(name);
    const token = randomUUID();
    if (!(await this.client.set(key, token, 'PX', ttlMs, 'NX'))) return undefined;
    try {
      return await work();
    } finally {
      await this.client.eval(RELEASE_LOCK, 1, key, token);
    }
  }

  /** The servers that hold the keys: the one Redis, or every master of the cluster. */
  async masters(): Promise<Redis[]> {
    if (!isCluster(this.client)) return [this.client];
    // A cluster client learns its nodes when it first connects; until then it knows none.
    if (this.client.nodes('master').length === 0) await this.client.ping();
    return this.client.nodes('master');
  }

  /**
   * Sends `commands` for every key in one round trip, and answers each key's replies. A cluster
   * takes a pipeline only when one node serves all its keys, so there each key's commands go in a
   * pipeline of their own, all sent at once.
   */
  async pipelinePerKey(keys: string[], commands: (pipeline: ChainableCommander, key: string) => void): Promise<PipelineReply[][]> {
    const groups = isCluster(this.client) ? keys.map((key) => [key]) : [keys];
    const replies = await Promise.all(
      groups.map(async (group) => {
        const pipeline = this.client.pipeline();
        const ends = group.map((key) => {
          commands(pipeline, key);
          return pipeline.length;
        });
        const answers = ((await pipeline.exec()) ?? []) as PipelineReply[];
        return ends.map((end, index) => answers.slice(index === 0 ? 0 : ends[index - 1], end));
      }),
    );
    return replies.flat();
  }

  publish(channel: string, message: string): Promise<number> {
    return this.client.publish(channel, message);
  }

  /**
   * Listens on a channel; answers the function that stops listening. It does not wait for Redis:
   * ioredis sends the subscription once connected and renews it after every reconnect, so start-up
   * goes on (and readiness can say 503) while Redis is unreachable.
   */
  subscribe(channel: string, listener: Listener): () => void {
    const subscriber = this.subscriberConnection();
    let set = this.listeners.get(channel);
    if (!set) {
      set = new Set();
      this.listeners.set(channel, set);
      subscriber.subscribe(channel).catch((error: Error) => this.logger.warn(`Redis: cannot subscribe to ${channel}: ${error.message}`));
    }
    set.add(listener);
    return () => set.delete(listener);
  }

  private subscriberConnection(): RedisClient {
    if (!this.subscriber) {
      this.subscriber = connectRedis(this.config, { maxRetriesPerRequest: null });
      this.subscriber.on('error', (error) => this.logger.warn(`Redis subscriber: ${error.message}`));
      this.subscriber.on('message', (channel: string, message: string) => {
        for (const listener of this.listeners.get(channel) ?? []) {
          try {
            listener(message);
          } catch (error) {
            this.logger.error(`listener on ${channel} failed: ${(error as Error).message}`);
          }
        }
      });
    }
    return this.subscriber;
  }

  async onApplicationShutdown(): Promise<void> {
    await Promise.allSettled([closeRedis(this.client), closeRedis(this.subscriber)]);
  }
}
