import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';

export function bearerToken(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (typeof header !== 'string') return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match?.[1];
}

/**
 * The admin token, as a bearer token (scripts) or as the password of HTTP Basic auth, which lets a
 * browser open an operator page, and call the admin API from it, with its own login prompt.
 */
export function adminTokenOf(request: FastifyRequest): string | undefined {
  const [scheme, value] = (request.headers.authorization ?? '').trim().split(/\s+/, 2);
  if (/^bearer$/i.test(scheme)) return value;
  if (/^basic$/i.test(scheme) && value) {
    const decoded = Buffer.from(value, 'base64').toString('utf8');
    return decoded.slice(decoded.indexOf(':') + 1);
  }
  return undefined;
}

/** Asks a browser for the admin token (as a Basic password) on a 401. */
export const ADMIN_CHALLENGE = 'Basic realm="Offload ops"';

/** Compares secrets in constant time whatever their lengths. */
export function secretsEqual(a: string, b: string): boolean {
  return timingSafeEqual(createHash('sha256').update(a).digest(), createHash('sha256').update(b).digest());
}
