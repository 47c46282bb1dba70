import { DataSource } from 'typeorm';
import { DEFAULT_DATABASE_URL, encryptionKeys } from '../config/app-config';
import { ConfigError } from '../config/environment';
import { dataSourceOptions } from '../database/data-source';
import { CredentialCipher } from './credential-cipher';
import { reencrypt } from './stored-credentials';

/**
 * `npm run keys:reencrypt`: the second step of rotating the key of stored credentials. With
 * ENCRYPTION_KEYS listing the new key first (and the old ones after it) on every process, this
 * encrypts every credential again with the new key; the old keys can then be dropped.
 */
async function main(): Promise<void> {
  let cipher: CredentialCipher;
  try {
    cipher = new CredentialCipher(encryptionKeys(process.env));
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      process.exit(78);
    }
    throw error;
  }
  const db = await new DataSource(dataSourceOptions(process.env.DATABASE_URL?.trim() || DEFAULT_DATABASE_URL, 2)).initialize();
  try {
    const { reencrypted, current } = await reencrypt(db, cipher);
    console.log(
      JSON.stringify({ event: 'keys.reencrypted', key: cipher.currentKeyId, reencrypted, current, msg: `Re-encrypted ${reencrypted} stored credentials with key ${cipher.currentKeyId}; ${current} were under it already` }),
    );
  } finally {
    await db.destroy();
  }
}

main().catch((error: Error) => {
  console.error(`Re-encryption failed: ${error.message}`);
  process.exit(1);
});
