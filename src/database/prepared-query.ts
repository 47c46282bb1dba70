import type { Pool } from 'pg';
import { DataSource } from 'typeorm';
import type { PostgresDriver } from 'typeorm/driver/postgres/PostgresDriver';

/** A statement PostgreSQL parses and plans once per connection, then runs by name. */
export interface PreparedStatement {
  name: string;
  text: string;
}

/**
 * Runs a hot-path statement as a named prepared statement on TypeORM's own pg pool. The statements
 * that every job runs (insert, claim, finish) are long CTEs: sent by name, a call carries only its
 * parameters and PostgreSQL skips parsing and planning, which at thousands of calls a second is a
 * large share of both the client's and the server's CPU.
 */
export async function preparedQuery<T = any>(db: DataSource, statement: PreparedStatement, values: unknown[]): Promise<T[]> {
  const pool = (db.driver as PostgresDriver).master as Pool;
  const result = await pool.query<T & object>({ name: statement.name, text: statement.text, values });
  return result.rows;
}
