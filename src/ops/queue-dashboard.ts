import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ApiError } from '../common/api-error';
import { secretsEqual } from '../common/bearer-token';
import { JobQueue } from '../queue/job-queue.service';

export const DASHBOARD_PATH = '/ops/queues';

/**
 * The admin token, as a bearer token (scripts) or as the password of HTTP Basic auth, which lets a
 * browser open the dashboard with its own login prompt.
 */
function adminTokenOf(request: FastifyRequest): string | undefined {
  const [scheme, value] = (request.headers.authorization ?? '').split(/\s+/, 2);
  if (/^bearer$/i.test(scheme)) return value;
  if (/^basic$/i.test(scheme) && value) {
    const decoded = Buffer.from(value, 'base64').toString('utf8');
    return decoded.slice(decoded.indexOf(':') + 1);
  }
  return undefined;
}

/** Mounts the BullMQ dashboard of every job type's queue at /ops/queues, behind the admin token. */
export async function mountQueueDashboard(app: NestFastifyApplication, adminToken: string): Promise<void> {
  const serverAdapter = new FastifyAdapter().setBasePath(DASHBOARD_PATH);
  createBullBoard({
    queues: app.get(JobQueue).entries().map(([, queue]) => new BullMQAdapter(queue)),
    serverAdapter,
    options: { uiConfig: { boardTitle: 'Offload queues' } },
  });
  await app.register(
    async (scope: FastifyInstance) => {
      scope.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
        const token = adminTokenOf(request);
        if (token && secretsEqual(token, adminToken)) return;
        const error = ApiError.unauthorized('The queue dashboard needs the admin token (as bearer token or Basic password)');
        await reply.status(401).header('www-authenticate', 'Basic realm="Offload ops"').send(error.toBody());
      });
      await scope.register(serverAdapter.registerPlugin() as never);
    },
    { prefix: DASHBOARD_PATH },
  );
}
