import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { DataSourceOptions } from 'typeorm';
import { ApiKey } from '../portals/api-key.entity';
import { Portal } from '../portals/portal.entity';
import { PortalHandlerConfig } from '../portals/portal-handler-config.entity';
import { PortalSecret } from '../portals/portal-secret.entity';

export const ENTITIES = [Portal, ApiKey, PortalHandlerConfig, PortalSecret];

const MIGRATIONS_DIR = join(__dirname, '..', '..', 'migrations');

/** Every migration class in migrations/, loaded with require so it works compiled and under the test runner. */
export function loadMigrations(dir = MIGRATIONS_DIR): Function[] {
  return readdirSync(dir)
    .filter((file) => /\.(ts|js)$/.test(file) && !file.endsWith('.d.ts'))
    .sort()
    .flatMap((file) => Object.values(require(join(dir, file)) as Record<string, unknown>))
    .filter((value): value is Function => typeof value === 'function');
}

export function dataSourceOptions(databaseUrl: string, poolSize = 20): DataSourceOptions {
  return {
    type: 'postgres',
    url: databaseUrl,
    entities: ENTITIES,
    migrations: loadMigrations(),
    migrationsTableName: 'schema_migrations',
    synchronize: false,
    extra: { max: poolSize, connectionTimeoutMillis: 5_000 },
  };
}
