import { NodeSDK } from '@opentelemetry/sdk-node';

/**
 * Starts OpenTelemetry from the standard OTEL_* variables. Traces are exported only when an
 * exporter or endpoint is configured, so a plain start does not retry a collector that is not there.
 */
export function startTracing(env = process.env): NodeSDK | undefined {
  if (env.OTEL_SDK_DISABLED === 'true') return undefined;
  env.OTEL_TRACES_EXPORTER ??= env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ? 'otlp' : 'none';
  env.OTEL_METRICS_EXPORTER ??= 'none';
  env.OTEL_LOGS_EXPORTER ??= 'none';
  const sdk = new NodeSDK({ serviceName: env.OTEL_SERVICE_NAME ?? `offload-${env.ROLE ?? 'all'}`, instrumentations: [] });
  sdk.start();
  return sdk;
}
