import { FastifyOtelInstrumentation } from '@fastify/otel';
import type { Span } from '@opentelemetry/api';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { IORedisInstrumentation } from '@opentelemetry/instrumentation-ioredis';
import { KafkaJsInstrumentation } from '@opentelemetry/instrumentation-kafkajs';
import { PgInstrumentation } from '@opentelemetry/instrumentation-pg';
import { UndiciInstrumentation } from '@opentelemetry/instrumentation-undici';
import { NodeSDK, NodeSDKConfiguration } from '@opentelemetry/sdk-node';
import { keepJobTraceContext } from './kafka-trace';

/** Probes and scrapes: traced, they would drown the traces that matter. */
const UNTRACED_PATHS = /^\/(health|metrics)(\/|$|\?)/;
/** Query parameters that carry a client's own text (an idempotency key): never copied into a span. */
const REDACTED_QUERY = ['idempotencyKey', 'cursor', 'errorCode'];

/** The maintained instrumentations of what Offload talks through: HTTP (node:http and fetch), Fastify, PostgreSQL, Redis and Kafka. */
export function instrumentations() {
  return [
    new HttpInstrumentation({
      ignoreIncomingRequestHook: (request) => UNTRACED_PATHS.test(request.url ?? ''),
      redactedQueryParamsServer: REDACTED_QUERY,
    }),
    new UndiciInstrumentation(),
    new FastifyOtelInstrumentation({ registerOnInitialization: true, ignorePaths: ({ url }) => UNTRACED_PATHS.test(url) }),
    // Only inside a traced operation: the relay's, the reconciler's and BullMQ's polls would be a root trace each.
    new PgInstrumentation({ requireParentSpan: true }),
    new IORedisInstrumentation({ requireParentSpan: true, dbStatementSerializer: (command) => command }),
    new KafkaJsInstrumentation({ producerHook: (span: Span, { message }) => keepJobTraceContext(span, message) }),
  ];
}

/**
 * Starts OpenTelemetry from the standard OTEL_* variables. Traces are exported only when an
 * exporter or endpoint is configured, so a plain start does not retry a collector that is not there.
 * `options` add to or replace what the variables say (a test's in-memory exporter).
 */
export function startTracing(env = process.env, options: Partial<NodeSDKConfiguration> = {}): NodeSDK | undefined {
  if (env.OTEL_SDK_DISABLED === 'true') return undefined;
  env.OTEL_TRACES_EXPORTER ??= env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ? 'otlp' : 'none';
  env.OTEL_METRICS_EXPORTER ??= 'none';
  env.OTEL_LOGS_EXPORTER ??= 'none';
  // Built only when used: an instrumentation patches its module as soon as it is constructed.
  const sdk = new NodeSDK({
    serviceName: env.OTEL_SERVICE_NAME ?? `offload-${env.ROLE ?? 'all'}`,
    ...options,
    instrumentations: options.instrumentations ?? instrumentations(),
  });
  sdk.start();
  return sdk;
}
