import Fastify from 'fastify';
import { bindRequestLogContext, requestLogFields } from './request-log-context';

describe('request log context', () => {
  const app = Fastify();
  bindRequestLogContext(app);
  app.post('/echo', async (request) => {
    // After the body was read and across an await, the request is still the one in context.
    await new Promise((resolve) => setTimeout(resolve, 5));
    return { seen: requestLogFields(), id: request.id };
  });

  afterAll(() => app.close());

  it('gives the log fields of the request being served, body parsing and awaits included', async () => {
    const answers = await Promise.all(
      [1, 2, 3].map((n) => app.inject({ method: 'POST', url: '/echo', payload: { n } }).then((response) => response.json())),
    );
    for (const answer of answers) expect(answer.seen).toEqual({ reqId: answer.id });
    expect(new Set(answers.map((answer) => answer.id)).size).toBe(3);
  });

  it('gives no fields outside a request', () => {
    expect(requestLogFields()).toEqual({});
  });
});
