import { Span, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';

const tracer = trace.getTracer('offload');

/** The writes of one batch call, as its span names them. */
export interface WritebackBatch {
  portalId: string;
  objectType: string;
  priority: string;
  /** send: an update of the records; verify: a read-back of records whose writer's lease lapsed. */
  kind: 'send' | 'verify';
  jobIds: string[];
}

/**
 * A write-back batch as a span: its lane, its writes' jobs, and (through settledInBatch) what
 * became of them. Its HubSpot calls are its children. A batch serves many jobs, so it stands in a
 * trace of its own and names the jobs (their ids) rather than joining one job's trace.
 */
export function inWritebackBatchSpan(batch: WritebackBatch, send: () => Promise<void>): Promise<void> {
  return tracer.startActiveSpan(
    `writeback.${batch.kind}`,
    {
      kind: SpanKind.INTERNAL,
      attributes: {
        'offload.portal.id': batch.portalId,
        'offload.writeback.object_type': batch.objectType,
        'offload.writeback.priority': batch.priority,
        'offload.writeback.writes': batch.jobIds.length,
        'offload.job.ids': batch.jobIds,
      },
    },
    (span: Span) => send().finally(() => span.end()),
  );
}

/** Records on the batch span in progress how its writes were settled; a write that failed its job marks it failed. */
export function settledInBatch(outcomes: string[]): void {
  const span = trace.getActiveSpan();
  if (!span) return;
  const counts: Record<string, number> = {};
  for (const outcome of outcomes) counts[outcome] = (counts[outcome] ?? 0) + 1;
  for (const [outcome, count] of Object.entries(counts)) span.setAttribute(`offload.writeback.${outcome}`, count);
  if (outcomes.some((outcome) => outcome === 'refused' || outcome === 'failed' || outcome === 'unconfirmed')) {
    span.setStatus({ code: SpanStatusCode.ERROR, message: 'writes failed their jobs' });
  }
}
