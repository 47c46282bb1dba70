import Fastify from 'fastify';
import { webhookRetryAfterInMilliseconds } from './webhook-retry-after';

describe('webhookRetryAfterInMilliseconds', () => {
  const app = Fastify();
  webhookRetryAfterInMilliseconds(app);
  app.post('/v1/hubspot/webhooks/noop', (_request, reply) => reply.code(429).header('retry-after', '2').send({ error: { code: 'rate_limited' } }));
  app.post('/v1/jobs', (_request, reply) => reply.code(429).header('retry-after', '2').send({ error: { code: 'rate_limited' } }));
  app.post('/v1/hubspot/webhooks/dated', (_request, reply) => reply.code(429).header('retry-after', 'Wed, 21 Oct 2026 07:28:00 GMT').send({}));
  afterAll(() => app.close());

  it('says Retry-After in milliseconds on the webhook entry point, as workflow webhooks read it', async () => {
    const answer = await app.inject({ method: 'POST', url: '/v1/hubspot/webhooks/noop?portalId=1' });
    expect(answer.headers['retry-after']).toBe('2000');
  });

  it('leaves it in seconds everywhere else, and an HTTP date as it is', async () => {
    expect((await app.inject({ method: 'POST', url: '/v1/jobs' })).headers['retry-after']).toBe('2');
    expect((await app.inject({ method: 'POST', url: '/v1/hubspot/webhooks/dated' })).headers['retry-after']).toBe('Wed, 21 Oct 2026 07:28:00 GMT');
  });
});
