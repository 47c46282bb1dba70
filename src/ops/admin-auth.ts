import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ApiError } from '../common/api-error';
import { ADMIN_CHALLENGE, adminTokenOf, secretsEqual } from '../common/bearer-token';

/**
 * Puts the routes of `scope` behind the admin token (those under `prefix` only, when given: routes
 * another module registered on the root); a browser is asked for it (Basic).
 */
export function requireAdminToken(scope: FastifyInstance, adminToken: string, what: string, prefix?: string): void {
  scope.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
    if (prefix !== undefined && request.url !== prefix && !request.url.startsWith(`${prefix}/`) && !request.url.startsWith(`${prefix}?`)) return;
    const token = adminTokenOf(request);
    if (token && secretsEqual(token, adminToken)) return;
    const error = ApiError.unauthorized(`${what} needs the admin token (as bearer token or Basic password)`);
    await reply.status(401).header('www-authenticate', ADMIN_CHALLENGE).send(error.toBody());
  });
}
