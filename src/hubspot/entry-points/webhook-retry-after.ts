import type { FastifyInstance } from 'fastify';

const WEBHOOK_PATH = '/v1/hubspot/webhooks/';

/**
 * Offload's 429s say Retry-After in seconds (RFC 9110), which is what API clients and HubSpot's
 * custom workflow actions read. HubSpot's "send a webhook" workflow action reads it in milliseconds
 * (its knowledge base), so on the webhook entry point the value is given in milliseconds: a
 * "retry-after: 1" would otherwise bring the retry back a thousand times too soon. Done when the
 * answer is sent, so it holds whichever layer refused the request (a request limiter, the API).
 */
export function webhookRetryAfterInMilliseconds(fastify: FastifyInstance): void {
  fastify.addHook('onSend', (request, reply, payload, done) => {
    if (reply.statusCode === 429 && request.url.startsWith(WEBHOOK_PATH)) {
      const seconds = Number(reply.getHeader('retry-after'));
      if (Number.isFinite(seconds) && seconds >= 0) void reply.header('retry-after', String(Math.ceil(seconds * 1000)));
    }
    done(null, payload);
  });
}
