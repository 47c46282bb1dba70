import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyInstance } from 'fastify';
import { JobQueue } from '../queue/job-queue.service';
import { requireAdminToken } from './admin-auth';
import { SAME_ORIGIN_ONLY } from './ops-page';

export const DASHBOARD_PATH = '/ops/queues';

/** Bull Board's page asks a font host for its typeface; the page keeps to what Offload serves. */
const OUTSIDE_STYLESHEET = /<link[^>]+href="https?:\/\/[^"]*"[^>]*>/g;

/**
 * Mounts the BullMQ dashboard of every job type's queue at /ops/queues, behind the admin token and
 * read-only: PostgreSQL holds the truth about jobs, so a retry or removal made in BullMQ behind its
 * back would be undone or lost, and unaudited. Operators act through /ops and the admin API.
 */
export async function mountQueueDashboard(app: NestFastifyApplication, adminToken: string): Promise<void> {
  const serverAdapter = new FastifyAdapter().setBasePath(DASHBOARD_PATH);
  createBullBoard({
    queues: app.get(JobQueue).entries().map(([, queue]) => new BullMQAdapter(queue, { readOnlyMode: true, allowRetries: false })),
    serverAdapter,
    options: { uiConfig: { boardTitle: 'Offload queues', miscLinks: [{ text: 'Failed jobs', url: '/ops' }] } },
  });
  await app.register(
    async (scope: FastifyInstance) => {
      requireAdminToken(scope, adminToken, 'The queue dashboard');
      scope.addHook('onSend', async (_request, reply, payload) => {
        void reply.header('content-security-policy', SAME_ORIGIN_ONLY);
        const html = String(reply.getHeader('content-type') ?? '').startsWith('text/html');
        return html && typeof payload === 'string' ? payload.replace(OUTSIDE_STYLESHEET, '') : payload;
      });
      await scope.register(serverAdapter.registerPlugin() as never);
    },
    { prefix: DASHBOARD_PATH },
  );
}
