import { Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { Logger } from 'nestjs-pino';
import { AppModule } from './app.module';
import { ApiError } from './common/api-error';
import { ApiErrorFilter } from './common/api-error.filter';
import { bindRequestLogContext } from './common/request-log-context';
import { mayHoldUnstorableText, unstorableTextProblems } from './common/storable-text';
import { AppConfig } from './config/app-config';
import { webhookRetryAfterInMilliseconds } from './hubspot/entry-points/webhook-retry-after';
import { MetricsService } from './metrics/metrics.service';
import { mountQueueDashboard } from './ops/queue-dashboard';

export const MAX_BODY_BYTES = 1024 * 1024;

declare module 'fastify' {
  interface FastifyRequest {
    /** The JSON body exactly as received, for checks over its bytes (HubSpot's request signatures). */
    rawBody?: string;
  }
}

/** Why a JSON body was refused: the parser also refuses valid JSON that would poison prototypes, and says so only vaguely. */
function malformedJsonMessage(body: string, error: Error): string {
  try {
    JSON.parse(body);
  } catch {
    return `The body is not valid JSON: ${error.message}`;
  }
  return 'The body has a "__proto__" or "constructor.prototype" key; such keys are refused';
}

/** Builds the application for config.role, ready to listen. Tests call it with their own config. */
export async function createApp(config: AppConfig, handlerClasses?: Type[]): Promise<NestFastifyApplication> {
  const adapter = new FastifyAdapter({
    bodyLimit: MAX_BODY_BYTES,
    trustProxy: true,
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
  app.useLogger(app.get(Logger));

  app.useGlobalFilters(new ApiErrorFilter());
  const fastify = app.getHttpAdapter().getInstance();
  bindRequestLogContext(fastify);

  const parseJson = fastify.getDefaultJsonParser('error', 'error');
  // JSON only: any other media type is answered 415 rather than parsed as text.
  fastify.removeAllContentTypeParsers();
  fastify.addContentTypeParser('application/json', { parseAs: 'string', bodyLimit: MAX_BODY_BYTES }, (request, body, done) => {
    request.rawBody = body as string;
    // A bodiless POST (cancel, retry) with a JSON content type is common; it is not malformed.
    if (body === '') return done(null, undefined);
    parseJson(request, body as string, (error, value) => {
      if (error) return done(new ApiError(400, 'malformed_json', malformedJsonMessage(body as string, error)), undefined);
      const problems = mayHoldUnstorableText(body as string) ? unstorableTextProblems(value) : [];
      done(problems.length > 0 ? ApiError.validation(problems) : null, value);
    });
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

  // close() waits for every open connection. One whose request was still being answered when
  // closing began would stay open, idle, for the whole keep-alive timeout: its answer ends it.
  let closing = false;
  fastify.addHook('preClose', (done) => {
    closing = true;
    done();
  });
  fastify.addHook('onSend', (_request, reply, payload, done) => {
    if (closing) void reply.header('connection', 'close');
    done(null, payload);
  });

  if (config.role !== 'worker') {
    webhookRetryAfterInMilliseconds(fastify);
    await mountQueueDashboard(app, config.adminToken!);
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
