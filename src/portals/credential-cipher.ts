import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

/** v1 values name no key (every key is tried); v2 values name theirs by id. */
const LEGACY = 'v1';
const VERSION = 'v2';

/** A stored credential none of the configured keys decrypts: the key it was stored with is missing. */
export class CredentialKeyError extends Error {
  override readonly name = 'CredentialKeyError';

  constructor(detail: string) {
    super(`A stored credential cannot be decrypted with ENCRYPTION_KEYS (or ENCRYPTION_KEY): ${detail}`);
  }
}

/** A short, public fingerprint of a key: it says which key a value is stored under without revealing it. */
export function keyId(key: Buffer): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 8);
}

/**
 * AES-256-GCM for portal credentials at rest; the stored form carries the id of its key, its IV and
 * its tag. The first key encrypts; every key decrypts, so a rotation lists the new key first, then
 * re-encrypts (npm run keys:reencrypt) before the old key is dropped.
 */
export class CredentialCipher {
  private readonly keys: Buffer[];
  private readonly byId: Map<string, Buffer>;
  readonly currentKeyId: string;

  constructor(keys: Buffer | readonly Buffer[]) {
    this.keys = Buffer.isBuffer(keys) ? [keys] : [...keys];
    if (this.keys.length === 0 || this.keys.some((key) => key.length !== 32)) throw new Error('CredentialCipher needs 32-byte keys');
    this.byId = new Map(this.keys.map((key) => [keyId(key), key]));
    this.currentKeyId = keyId(this.keys[0]);
  }

  encrypt(plain: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.keys[0], iv);
    const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
    return [VERSION, this.currentKeyId, iv.toString('base64'), cipher.getAuthTag().toString('base64'), body.toString('base64')].join(':');
  }

  decrypt(stored: string): string {
    const parts = stored.split(':');
    if (parts[0] === VERSION && parts.length === 5) {
      const key = this.byId.get(parts[1]);
      if (!key) throw new CredentialKeyError(`it was stored under key ${parts[1]}, which is not configured`);
      return open(key, parts[2], parts[3], parts[4]) ?? failed('its key does not authenticate it (tampered)');
    }
    if (parts[0] === LEGACY && parts.length === 4) {
      for (const key of this.keys) {
        const plain = open(key, parts[1], parts[2], parts[3]);
        if (plain !== undefined) return plain;
      }
      return failed('no configured key authenticates it');
    }
    throw new CredentialKeyError('unrecognised format');
  }

  /** Whether a stored value is under the current (first) key already, so re-encrypting it would change nothing. */
  isCurrent(stored: string): boolean {
    return stored.startsWith(`${VERSION}:${this.currentKeyId}:`);
  }
}

function open(key: Buffer, iv: string, tag: string, body: string): string | undefined {
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64'));
    decipher.setAuthTag(Buffer.from(tag, 'base64'));
    return Buffer.concat([decipher.update(Buffer.from(body, 'base64')), decipher.final()]).toString('utf8');
  } catch {
    return undefined;
  }
}

function failed(detail: string): never {
  throw new CredentialKeyError(detail);
}
