import { randomBytes } from 'node:crypto';
import { CredentialCipher } from './credential-cipher';

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
    parts[3] = Buffer.from('tampered').toString('base64');
    expect(() => cipher.decrypt(parts.join(':'))).toThrow();
    expect(() => new CredentialCipher(randomBytes(32)).decrypt(stored)).toThrow();
  });
});
