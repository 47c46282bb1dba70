import { propagation, ROOT_CONTEXT, Span, trace } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { jobTraceparent, keepJobTraceContext, tracedMessage } from './kafka-trace';
import { instrumentations } from './tracing';

describe('tracing', () => {
  it('turns on the maintained instrumentations of HTTP, fetch, Fastify, PostgreSQL, Redis and Kafka', () => {
    const list = instrumentations();
    list.forEach((instrumentation) => instrumentation.disable());
    expect(list.map((instrumentation) => instrumentation.instrumentationName)).toEqual([
      '@opentelemetry/instrumentation-http',
      '@opentelemetry/instrumentation-undici',
      '@fastify/otel',
      '@opentelemetry/instrumentation-pg',
      '@opentelemetry/instrumentation-ioredis',
      '@opentelemetry/instrumentation-kafkajs',
    ]);
  });

  it("gives a Kafka message back the job's trace context after the kafkajs instrumentation wrote its own, and links the two", () => {
    propagation.setGlobalPropagator(new W3CTraceContextPropagator());
    const job = jobTraceparent('4bf92f3577b34da6a3ce929d0e0e4736', '00f067aa0ba902b7');
    const message = tracedMessage({ key: 'k', value: 'v', headers: { traceparent: job } });
    message.headers = { traceparent: '00-11111111111111111111111111111111-2222222222222222-01' };
    const links: unknown[] = [];
    keepJobTraceContext({ addLink: (link: unknown) => links.push(link) } as unknown as Span, message);
    expect(message.headers.traceparent).toBe(job);
    expect(links).toEqual([{ context: trace.getSpanContext(propagation.extract(ROOT_CONTEXT, { traceparent: job })) }]);
    propagation.disable();
  });
});
