import Redis from 'ioredis';
import { Client } from 'pg';
import { providePrerequisites, TEST_PREREQUISITES, thisMachine } from './prerequisites';

/**
 * Runs once before any test: brings the programs the tests need beyond the README's prerequisites
 * (installing them where it can), and fails the run at once, with the reason, when the real
 * PostgreSQL or Redis the tests need is not there.
 */
export default async function globalSetup(): Promise<void> {
  await providePrerequisites(TEST_PREREQUISITES, thisMachine());
  const pg = new Client({ connectionString: process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres' });
  try {
    await pg.connect();
    await pg.query('SELECT 1');
  } catch (error) {
    throw new Error(`The end-to-end tests need PostgreSQL at 127.0.0.1:5432: ${(error as Error).message}`);
  } finally {
    await pg.end().catch(() => undefined);
  }
  const redis = new Redis({ host: '127.0.0.1', port: 6379, lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    await redis.ping();
  } catch (error) {
    throw new Error(`The end-to-end tests need Redis at 127.0.0.1:6379: ${(error as Error).message}`);
  } finally {
    redis.disconnect();
  }
}
