import { createCipheriv, randomBytes } from 'node:crypto';
import { CredentialCipher, CredentialKeyError } from './credential-cipher';

describe('CredentialCipher', () => {
  const cipher = new CredentialCipher(randomBytes(32));

  it('round-trips a secret and never stores it in the clear', () => {
    const stored = cipher.encrypt('pat-na1-secret');
    expect(stored).not.toContain('pat-na1-secret');
    expect(cipher.decrypt(stored)).toBe('pat-na1-secret');
  });

  it('uses a fresh IV each time', () => {
    expect(cipher.encrypt('x')).not.toBe(cipher.encrypt('x'));
  });

  it('refuses a tampered value or the wrong key', () => {
    const stored = cipher.encrypt('secret');
    const parts = stored.split(':');
    parts[4] = Buffer.from('tampered').toString('base64');
    expect(() => cipher.decrypt(parts.join(':'))).toThrow();
    expect(() => new CredentialCipher(randomBytes(32)).decrypt(stored)).toThrow();
  });
});

describe('CredentialCipher with several keys', () => {
  const [oldKey, newKey] = [randomBytes(32), randomBytes(32)];

  it('encrypts with the first key and decrypts with any, naming the variable when none fits', () => {
    const old = new CredentialCipher([oldKey]);
    const rotated = new CredentialCipher([newKey, oldKey]);
    const stored = old.encrypt('token');
    expect(rotated.decrypt(stored)).toBe('token');
    expect(rotated.isCurrent(stored)).toBe(false);
    const again = rotated.encrypt('token');
    expect(rotated.isCurrent(again)).toBe(true);
    expect(new CredentialCipher(newKey).decrypt(again)).toBe('token');
    expect(() => new CredentialCipher(newKey).decrypt(stored)).toThrow(CredentialKeyError);
    expect(() => new CredentialCipher(newKey).decrypt(stored)).toThrow(/ENCRYPTION_KEYS/);
  });

  it('still reads values stored before keys were named (v1)', () => {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', oldKey, iv);
    const body = Buffer.concat([cipher.update('legacy', 'utf8'), cipher.final()]);
    const stored = ['v1', iv.toString('base64'), cipher.getAuthTag().toString('base64'), body.toString('base64')].join(':');
    expect(new CredentialCipher([newKey, oldKey]).decrypt(stored)).toBe('legacy');
    expect(() => new CredentialCipher(newKey).decrypt(stored)).toThrow(CredentialKeyError);
  });
});
