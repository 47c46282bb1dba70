import Redis from 'ioredis';
import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { redisOptionsFromUrl, RedisEndpoint } from '../../src/config/app-config';
import { migrate } from '../../src/database/migrate';

/** The benchmark's own database and Redis key prefix; nothing else on the machine is touched. */
export interface Isolation {
  runId: string;
  database: string;
  databaseUrl: string;
  redisUrl: string;
  redis: RedisEndpoint;
  redisPrefix: string;
}

export function newIsolation(postgresUrl: string, redisUrl: string): Isolation {
  const runId = randomBytes(5).toString('hex');
  const database = `offload_bench_${runId}`;
  const root = new URL(postgresUrl);
  root.pathname = `/${database}`;
  return {
    runId,
    database,
    databaseUrl: root.toString(),
    redisUrl,
    redis: redisOptionsFromUrl(redisUrl),
    redisPrefix: `offload-bench-${runId}`,
  };
}

/** Creates and migrates the database (migrate() creates it when missing). */
export async function prepare(isolation: Isolation): Promise<void> {
  await migrate(isolation.databaseUrl);
}

function maintenanceUrl(isolation: Isolation): string {
  const url = new URL(isolation.databaseUrl);
  url.pathname = '/postgres';
  return url.toString();
}

/** Drops the database (ending any session still on it) and deletes every Redis key under the prefix. */
export async function dispose(isolation: Isolation): Promise<string[]> {
  const problems: string[] = [];
  const pg = new Client({ connectionString: maintenanceUrl(isolation), connectionTimeoutMillis: 5_000 });
  try {
    await pg.connect();
    await pg.query(`DROP DATABASE IF EXISTS "${isolation.database}" WITH (FORCE)`);
  } catch (error) {
    problems.push(`database ${isolation.database} not dropped: ${(error as Error).message}`);
  } finally {
    await pg.end().catch(() => undefined);
  }

  const redis = new Redis({ ...isolation.redis, maxRetriesPerRequest: 1, lazyConnect: true });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${isolation.redisPrefix}:*`, 'COUNT', 1000);
      if (keys.length > 0) await redis.unlink(...keys);
      cursor = next;
    } while (cursor !== '0');
  } catch (error) {
    problems.push(`Redis keys ${isolation.redisPrefix}:* not deleted: ${(error as Error).message}`);
  } finally {
    redis.disconnect();
  }
  return problems;
}
