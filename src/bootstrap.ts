import { Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Logger } from 'nestjs-pino';
import { AppModule } from './app.module';
import { ApiError } from './common/api-error';
import { ApiErrorFilter } from './common/api-error.filter';
import { bearerToken } from './common/bearer-token';
import { answerClientError, drainUnreadBody } from './common/http-connections';
import { MAX_BODY_BYTES, parseJsonBody } from './common/json-body';
import { bindRequestLogContext, requestIdOf } from './common/request-log-context';
import { unstorableTextProblems } from './common/storable-text';
import { AppConfig } from './config/app-config';
import { quietBullMqEvictionWarning } from './health/redis-eviction-policy';
import { webhookRetryAfterInMilliseconds } from './hubspot/entry-points/webhook-retry-after';
import { MetricsService } from './metrics/metrics.service';
import { requireAdminToken } from './ops/admin-auth';
import { mountOpsPage } from './ops/ops-page';
import { mountQueueDashboard } from './ops/queue-dashboard';
import { RequestRateLimiter } from './request-limits/request-rate-limiter';
import { continueCallerTraces } from './telemetry/request-trace';

declare module 'fastify' {
  interface FastifyRequest {
    /** The JSON body exactly as received, for checks over its bytes (HubSpot's request signatures). */
    rawBody?: string;
  }
}

/** Routes that are never limited: probes and scrapes come from the platform, not from clients. */
const UNLIMITED_ROUTES = new Set(['/health/live', '/health/ready', '/metrics']);

/** Every other request counts against its client address and its bearer token; over a limit it is answered 429 with Retry-After. */
function limitRequestRates(fastify: FastifyInstance, limiter: RequestRateLimiter): void {
  if (!limiter.enabled) return;
  fastify.addHook('onRequest', async (request, reply) => {
    if (UNLIMITED_ROUTES.has(request.routeOptions.url ?? '')) return;
    const verdict = await limiter.check({ ip: request.ip, token: bearerToken(request) });
    if (verdict.allowed) return;
    void reply.header('retry-after', String(verdict.retryAfterSeconds));
    const whose = verdict.limit === 'key' ? 'this API key' : 'this client address';
    throw new ApiError(429, 'rate_limited', `Too many requests from ${whose}; try again in ${verdict.retryAfterSeconds} s`);
  });
}

/** Builds the application for config.role, ready to listen. Tests call it with their own config. */
export async function createApp(config: AppConfig, handlerClasses?: Type[]): Promise<NestFastifyApplication> {
  quietBullMqEvictionWarning();
  const adapter = new FastifyAdapter({
    bodyLimit: MAX_BODY_BYTES,
    trustProxy: true,
    // Answered by the hook below instead, in the contract's shape.
    return503OnClosing: false,
    clientErrorHandler: answerClientError,
    genReqId: requestIdOf,
    // Raised before routing (a malformed percent-encoding in the path, say): answered in the contract's shape too.
    frameworkErrors: (error: FastifyError, _request: FastifyRequest, reply: FastifyReply) => {
      const problem = ApiError.validation([{ path: 'url', message: `is malformed: ${error.message}` }]);
      void reply.code(problem.status).send(problem.toBody());
    },
  });
  const app = await NestFactory.create<NestFastifyApplication>(AppModule.forRole(config, handlerClasses), adapter, {
    bufferLogs: true,
    bodyParser: false,
    // Reject instead of exiting, so the caller decides (main exits with the reason; tests assert it).
    abortOnError: false,
  });
  const logger = app.get(Logger);
  app.useLogger(logger);

  app.useGlobalFilters(new ApiErrorFilter());
  const fastify = app.getHttpAdapter().getInstance();
  continueCallerTraces(fastify);
  bindRequestLogContext(fastify, (fields, message) => logger.log(fields, message, 'HTTP'));

  // close() waits for every open connection. One whose request was still being answered when
  // closing began would stay open, idle, for the whole keep-alive timeout: its answer ends it. A
  // request that arrives on an open connection meanwhile is told to go elsewhere.
  let closing = false;
  fastify.addHook('preClose', (done) => {
    closing = true;
    done();
  });
  fastify.addHook('onRequest', (_request, reply, done) => {
    if (!closing) return done();
    void reply.code(503).send(new ApiError(503, 'unavailable', 'This instance is shutting down; try again').toBody());
  });
  fastify.addHook('onSend', (request, reply, payload, done) => {
    if (closing) void reply.header('connection', 'close');
    else if (reply.getHeader('connection') === 'close') drainUnreadBody(request, reply);
    done(null, payload);
  });

  if (config.role !== 'worker') limitRequestRates(fastify, app.get(RequestRateLimiter));

  // Bodies are read as sent: a compressed one would be parsed as if it were plain.
  fastify.addHook('onRequest', (request, _reply, done) => {
    const encoding = request.headers['content-encoding']?.trim().toLowerCase();
    if (encoding === undefined || encoding === '' || encoding === 'identity') return done();
    done(new ApiError(415, 'unsupported_media_type', `Content-Encoding "${encoding}" is not accepted; send the body uncompressed`));
  });

  // JSON only: any other media type is answered 415 rather than parsed as text.
  fastify.removeAllContentTypeParsers();
  fastify.addContentTypeParser('application/json', { parseAs: 'string', bodyLimit: MAX_BODY_BYTES }, (request, body, done) => {
    request.rawBody = body as string;
    // A bodiless POST (cancel, retry) with a JSON content type is common; it is not malformed.
    if (body === '') return done(null, undefined);
    try {
      done(null, parseJsonBody(body as string));
    } catch (error) {
      done(error as ApiError, undefined);
    }
  });

  // Query strings and path segments reach SQL as text too; in a URL, such text can only come percent-encoded.
  fastify.addHook('preValidation', (request, _reply, done) => {
    if (!request.url.includes('%')) return done();
    const problems = [...unstorableTextProblems(request.query), ...unstorableTextProblems(request.params)];
    done(problems.length > 0 ? ApiError.validation(problems) : undefined);
  });

  const metrics = app.get(MetricsService);
  fastify.addHook('onResponse', (request, reply, done) => {
    metrics.httpSeconds.observe(
      { method: request.method, route: request.routeOptions.url ?? 'unmatched', status: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    );
    done();
  });

  if (config.role !== 'worker') {
    webhookRetryAfterInMilliseconds(fastify);
    await mountQueueDashboard(app, config.adminToken!);
    await mountOpsPage(app, config.adminToken!);
    if (!config.docsPublic) {
      requireAdminToken(fastify, config.adminToken!, 'The API documentation', '/docs');
    }
    const document = SwaggerModule.createDocument(
      app,
      new DocumentBuilder()
        .setTitle('Offload')
        .setDescription('Long-running, idempotent jobs for HubSpot workflows: enqueue, poll, read typed outputs.')
        .setVersion('1')
        .addBearerAuth()
        .build(),
    );
    SwaggerModule.setup('docs', app, document, { jsonDocumentUrl: 'docs/openapi.json' });
  }
  return app;
}
