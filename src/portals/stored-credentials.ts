import type { DataSource, EntityManager } from 'typeorm';
import { CredentialCipher } from './credential-cipher';

/** Every column that holds a credential encrypted with ENCRYPTION_KEYS, and the key of its rows. */
const ENCRYPTED_COLUMNS = [
  { table: 'portals', column: 'hubspot_access_token_enc', key: ['id'] },
  { table: 'portals', column: 'hubspot_refresh_token_enc', key: ['id'] },
  { table: 'portal_secrets', column: 'value_enc', key: ['portal_id', 'name'] },
] as const;

/** How many stored credentials there are, and a description of each that the keys cannot decrypt. */
export async function undecryptable(db: DataSource, cipher: CredentialCipher): Promise<{ total: number; failing: string[] }> {
  let total = 0;
  const failing: string[] = [];
  for (const { table, column, key } of ENCRYPTED_COLUMNS) {
    const rows: Array<Record<string, string>> = await db.query(`SELECT ${key.join(', ')}, ${column} AS value FROM ${table} WHERE ${column} IS NOT NULL`);
    for (const row of rows) {
      total++;
      try {
        cipher.decrypt(row.value);
      } catch {
        failing.push(`${table}.${column} of ${key.map((name) => row[name]).join('/')}`);
      }
    }
  }
  return { total, failing };
}

/**
 * Encrypts again, with the first key, every stored credential that is under another key: the
 * second step of a key rotation. A value changed meanwhile (a portal's token renewed) is left as
 * it was written, under the new key already. Throws, changing nothing more, on a value no key decrypts.
 */
export async function reencrypt(db: DataSource, cipher: CredentialCipher): Promise<{ reencrypted: number; current: number }> {
  let reencrypted = 0;
  let current = 0;
  for (const { table, column, key } of ENCRYPTED_COLUMNS) {
    const rows: Array<Record<string, string>> = await db.query(`SELECT ${key.join(', ')}, ${column} AS value FROM ${table} WHERE ${column} IS NOT NULL`);
    for (const row of rows) {
      if (cipher.isCurrent(row.value)) {
        current++;
        continue;
      }
      const again = cipher.encrypt(cipher.decrypt(row.value));
      const where = key.map((name, index) => `${name} = $${index + 3}`).join(' AND ');
      await db.transaction((manager: EntityManager) =>
        manager.query(`UPDATE ${table} SET ${column} = $1 WHERE ${column} = $2 AND ${where}`, [again, row.value, ...key.map((name) => row[name])]),
      );
      reencrypted++;
    }
  }
  return { reencrypted, current };
}
