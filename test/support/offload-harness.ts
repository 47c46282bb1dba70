import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { Type } from '@nestjs/common';
import Redis from 'ioredis';
import { randomBytes } from 'node:crypto';
import type { EventEmitter } from 'node:events';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { createApp } from '../../src/bootstrap';
import { AppConfig, loadConfig } from '../../src/config/app-config';
import { dataSourceOptions } from '../../src/database/data-source';
import { migrate } from '../../src/database/migrate';

export const ADMIN_TOKEN = 'test-admin-token-0123456789';
export const ENCRYPTION_KEY = 'a'.repeat(64);
const PG_ROOT = 'postgres://postgres@127.0.0.1:5432';

/**
 * A test's own connection reports an 'error' event (its server closed on it) on stderr: an emitter
 * without a listener would throw it, and kill the test runner with every file still to run.
 */
export function loggingErrors<T extends EventEmitter>(connection: T, name: string): T {
  connection.on('error', (error: Error) => process.stderr.write(`${name}: ${error.message}\n`));
  return connection;
}

export interface Isolation {
  databaseUrl: string;
  redisPrefix: string;
  redisDb: number;
  /** Drops the database and deletes every Redis key of the prefix. */
  cleanup(): Promise<void>;
}

/** A database and a Redis key prefix of the test file's own, migrated and ready; on the shared PostgreSQL unless `postgres` names another server. */
export async function isolate(options: { redisDb?: number; postgres?: string } = {}): Promise<Isolation> {
  const suffix = randomBytes(5).toString('hex');
  const database = `offload_test_${suffix}`;
  const pgRoot = options.postgres ?? PG_ROOT;
  const databaseUrl = `${pgRoot}/${database}`;
  await migrate(databaseUrl);
  const redisDb = options.redisDb ?? 0;
  const redisPrefix = `offload-test-${suffix}`;
  return {
    databaseUrl,
    redisPrefix,
    redisDb,
    async cleanup() {
      const redis = loggingErrors(new Redis({ host: '127.0.0.1', port: 6379, db: redisDb }), 'Redis');
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', `${redisPrefix}:*`, 'COUNT', 1000);
        if (keys.length) await redis.del(...keys);
        cursor = next;
      } while (cursor !== '0');
      redis.disconnect();
      const pg = loggingErrors(new Client({ connectionString: `${pgRoot}/postgres` }), 'PostgreSQL');
      await pg.connect();
      await pg.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
      await pg.end();
    },
  };
}

export interface IsolatedDatabase {
  /** The application's connection, for the repository under test. */
  db: DataSource;
  /** A plain client, to arrange rows and inspect them beside the repository. */
  pg: Client;
  /** Closes both connections and drops the database. */
  close(): Promise<void>;
}

/** An isolated, migrated database with both kinds of connection, for tests of repository statements. */
export async function isolateDatabase(): Promise<IsolatedDatabase> {
  const isolation = await isolate();
  const db = await new DataSource(dataSourceOptions(isolation.databaseUrl, 2)).initialize();
  const pg = loggingErrors(new Client({ connectionString: isolation.databaseUrl }), 'PostgreSQL');
  await pg.connect();
  return {
    db,
    pg,
    async close() {
      await pg.end();
      await db.destroy();
      await isolation.cleanup();
    },
  };
}

/** The environment of an Offload that uses this isolation's database and Redis keys. */
export function envFor(isolation: Isolation, env: Record<string, string> = {}): Record<string, string> {
  return {
    ROLE: 'all',
    PORT: '0',
    DATABASE_URL: isolation.databaseUrl,
    REDIS_URL: `redis://127.0.0.1:6379/${isolation.redisDb}`,
    REDIS_PREFIX: isolation.redisPrefix,
    ADMIN_TOKEN,
    ENCRYPTION_KEY,
    LOG_LEVEL: 'warn',
    RECONCILE_INTERVAL_MS: '500',
    SHUTDOWN_GRACE_MS: '5000',
    ...env,
  };
}

export function configFor(isolation: Isolation, env: Record<string, string> = {}): AppConfig {
  return loadConfig(envFor(isolation, env));
}

export interface RunningOffload {
  app: NestFastifyApplication;
  url: string;
  close(): Promise<void>;
}

/** Starts Offload in this process on a free port. */
export async function startOffload(config: AppConfig, handlerClasses?: Type[]): Promise<RunningOffload> {
  const app = await createApp(config, handlerClasses);
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.getHttpServer().address() as { port: number };
  return { app, url: `http://127.0.0.1:${address.port}`, close: () => app.close() };
}

export interface Answer<T = any> {
  status: number;
  body: T;
  headers: Headers;
}

/** A plain HTTP client, as a workflow or an operator would use the API. */
export class HttpClient {
  constructor(
    readonly baseUrl: string,
    readonly token?: string,
  ) {}

  withToken(token: string): HttpClient {
    return new HttpClient(this.baseUrl, token);
  }

  async request<T = any>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Answer<T>> {
    const response = await fetch(`${this.baseUrl}${path}`, {
      method,
      headers: {
        ...(this.token ? { authorization: `Bearer ${this.token}` } : {}),
        ...(body !== undefined && typeof body !== 'string' ? { 'content-type': 'application/json' } : {}),
        ...headers,
      },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      // not JSON (metrics, docs): keep the text
    }
    return { status: response.status, body: parsed as T, headers: response.headers };
  }

  get<T = any>(path: string) {
    return this.request<T>('GET', path);
  }

  post<T = any>(path: string, body?: unknown, headers?: Record<string, string>) {
    return this.request<T>('POST', path, body, headers);
  }
}

/** Registers a portal through the admin API and answers a client holding its API key. */
export async function newPortal(url: string, hubspotPortalId = 100000 + Math.floor(Math.random() * 1e8)) {
  const admin = new HttpClient(url, ADMIN_TOKEN);
  const created = await admin.post('/v1/admin/portals', { hubspotPortalId, name: `Portal ${hubspotPortalId}` });
  if (created.status !== 201) throw new Error(`portal not created: ${created.status} ${JSON.stringify(created.body)}`);
  return { portal: created.body, client: new HttpClient(url, created.body.apiKey), admin };
}

/** Polls until the condition holds; for state that changes in another process. The deadline only bounds a hang. */
export async function eventually<T>(probe: () => Promise<T>, accept: (value: T) => boolean, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (accept(value)) return value;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms; last value: ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
