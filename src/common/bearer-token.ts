import { createHash, hash, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';

export function bearerToken(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (typeof header !== 'string') return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match?.[1];
}

/** SHA-256 in hex, one-shot: several times cheaper than a createHash object for a short string. */
export function sha256Hex(value: string): string {
  return hash('sha256', value, 'hex');
}

/** Compares secrets in constant time whatever their lengths. */
export function secretsEqual(a: string, b: string): boolean {
  return timingSafeEqual(createHash('sha256').update(a).digest(), createHash('sha256').update(b).digest());
}
