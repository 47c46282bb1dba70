import { Injectable } from '@nestjs/common';
import { DataSource, MigrationExecutor } from 'typeorm';

/**
 * Whether the database holds the schema this code expects: every migration it ships recorded in
 * the migrations table. Code running on an older schema fails every statement that touches what
 * the missing migrations add (on an empty database, every statement), so it is not ready.
 */
@Injectable()
export class SchemaVersion {
  /** Once up to date, a database stays so: its migrations are not undone under a running process. */
  private upToDate = false;

  constructor(private readonly db: DataSource) {}

  /** The names of the shipped migrations the database has not applied, oldest first; all of them on an empty database. */
  async pending(): Promise<string[]> {
    if (this.upToDate) return [];
    const pending = (await new MigrationExecutor(this.db).getPendingMigrations()).map((migration) => migration.name);
    this.upToDate = pending.length === 0;
    return pending;
  }

  /** The newest migration the code ships: the schema version it expects. */
  get expected(): string | undefined {
    const names = this.db.migrations.map((migration) => migration.name ?? migration.constructor.name);
    return names[names.length - 1];
  }
}
