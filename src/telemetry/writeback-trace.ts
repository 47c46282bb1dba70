import { Link, Span, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { jobSpanContext, recordJobSpan, TraceIds } from './job-trace';

const tracer = trace.getTracer('offload');

/** One job's write in a batch: the write, its job, and the job's trace. */
export interface BatchedWrite {
  id: string;
  jobId: string;
  trace: TraceIds;
}

/** The writes of one batch call, as its span names them. */
export interface WritebackBatch {
  portalId: string;
  objectType: string;
  priority: string;
  /** send: an update of the records; verify: a read-back of records whose writer's lease lapsed. */
  kind: 'send' | 'verify';
  writes: BatchedWrite[];
}

/** The outcome of each write of a batch in progress, by write id, as settledInBatch hears of it. */
const outcomesOf = new WeakMap<Span, Map<string, string>>();

/** The outcomes that fail a write's job. */
const FAILING = new Set(['refused', 'failed', 'unconfirmed']);

/**
 * A write-back batch as a span: its lane, its writes' jobs, and (through settledInBatch) what
 * became of them. Its HubSpot calls are its children. A batch serves many jobs, so it stands in a
 * trace of its own, linked to each job's trace; and each job's trace gets a `job.writeback` span
 * for its write in the batch (with its outcome), linked back to the batch.
 */
export function inWritebackBatchSpan(batch: WritebackBatch, send: () => Promise<void>): Promise<void> {
  const links: Link[] = batch.writes.map((write) => ({ context: jobSpanContext(write.trace), attributes: { 'offload.job.id': write.jobId } }));
  const started = Date.now();
  return tracer.startActiveSpan(
    `writeback.${batch.kind}`,
    {
      kind: SpanKind.INTERNAL,
      root: true,
      links,
      attributes: {
        'offload.portal.id': batch.portalId,
        'offload.writeback.object_type': batch.objectType,
        'offload.writeback.priority': batch.priority,
        'offload.writeback.writes': batch.writes.length,
        'offload.job.ids': batch.writes.map((write) => write.jobId),
      },
    },
    (span: Span) => {
      const outcomes = new Map<string, string>();
      outcomesOf.set(span, outcomes);
      return send().finally(() => {
        span.end();
        const ended = Date.now();
        for (const write of batch.writes) {
          const outcome = outcomes.get(write.id) ?? 'unsettled';
          const attributes = { 'offload.job.id': write.jobId, 'offload.portal.id': batch.portalId, 'offload.writeback.kind': batch.kind, 'offload.writeback.outcome': outcome };
          recordJobSpan(write.trace, 'job.writeback', attributes, started, ended, {
            links: [{ context: span.spanContext() }],
            ...(FAILING.has(outcome) ? { status: { code: SpanStatusCode.ERROR, message: outcome } } : {}),
          });
        }
      });
    },
  );
}

/** Records on the batch span in progress how its writes were settled; a write that failed its job marks it failed. */
export function settledInBatch(settlements: Array<{ id: string; outcome: string }>): void {
  const span = trace.getActiveSpan();
  if (!span) return;
  const outcomes = outcomesOf.get(span);
  const counts: Record<string, number> = {};
  for (const { id, outcome } of settlements) {
    counts[outcome] = (counts[outcome] ?? 0) + 1;
    outcomes?.set(id, outcome);
  }
  for (const [outcome, count] of Object.entries(counts)) span.setAttribute(`offload.writeback.${outcome}`, count);
  if (settlements.some(({ outcome }) => FAILING.has(outcome))) {
    span.setStatus({ code: SpanStatusCode.ERROR, message: 'writes failed their jobs' });
  }
}
