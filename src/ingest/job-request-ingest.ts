import { Injectable } from '@nestjs/common';
import { context } from '@opentelemetry/api';
import type { KafkaMessage } from 'kafkajs';
import { ApiError } from '../common/api-error';
import { NotFoundError, UnavailableError } from '../common/domain-errors';
import { isBackingServiceUnavailable } from '../common/error-mapping';
import { EnqueueResult, JobsService } from '../jobs/jobs.service';
import { AuthenticatedPortal, PortalsService } from '../portals/portals.service';
import { messageTraceContext } from '../telemetry/kafka-trace';
import { Verdict } from './ingest-batch';
import { readJobRequestMessage, refusalOf, UNKNOWN_PORTAL } from './job-request-message';

interface Request {
  index: number;
  portalId: string;
  job: unknown;
  message: KafkaMessage;
}

function failureVerdict(error: unknown): Verdict {
  const reason = (error as Error)?.message ?? String(error);
  return error instanceof UnavailableError || isBackingServiceUnavailable(error) ? { kind: 'unavailable', reason } : { kind: 'failed', reason };
}

function enqueueVerdict(result: EnqueueResult): Verdict {
  if (!('error' in result)) return { kind: 'accepted', repeated: result.status === 200 };
  if (result.error instanceof UnavailableError) return { kind: 'unavailable', reason: result.error.message };
  return { kind: 'refused', refusal: refusalOf(result.error, 'job') };
}

function header(message: KafkaMessage, name: string): string {
  const value = message.headers?.[name];
  return (Array.isArray(value) ? value[0] : value)?.toString() ?? '';
}

/**
 * Job requests read from Kafka, enqueued as POST /v1/jobs enqueues them: the same parse, the same
 * validation and the same idempotency, through the same JobsService. A message names its portal
 * rather than authenticating as it (the cluster's ACLs vouch for the producer).
 */
@Injectable()
export class JobRequestIngest {
  constructor(
    private readonly jobs: JobsService,
    private readonly portals: PortalsService,
  ) {}

  /** What became of each message, in order. Never throws: a failure is a verdict of the messages it touched. */
  async judge(messages: KafkaMessage[]): Promise<Verdict[]> {
    const verdicts: Verdict[] = [];
    const requests: Request[] = [];
    messages.forEach((message, index) => {
      try {
        requests.push({ index, message, ...readJobRequestMessage(message.value) });
      } catch (error) {
        verdicts[index] = error instanceof ApiError ? { kind: 'refused', refusal: refusalOf(error) } : failureVerdict(error);
      }
    });

    const portals = await this.portalsOf(requests.map((request) => request.portalId));
    // Requests of one portal and one trace context share a call, and concurrent calls share the INSERT.
    const groups = new Map<string, { portal: AuthenticatedPortal; requests: Request[] }>();
    for (const request of requests) {
      const portal = portals.get(request.portalId)!;
      if (!('id' in portal)) {
        verdicts[request.index] = portal;
        continue;
      }
      const key = [request.portalId, header(request.message, 'traceparent'), header(request.message, 'tracestate')].join('\n');
      const group = groups.get(key) ?? { portal, requests: [] };
      group.requests.push(request);
      groups.set(key, group);
    }
    await Promise.all(
      [...groups.values()].map(async ({ portal, requests: group }) => {
        try {
          // The job's trace starts while the service prepares it, synchronously inside this call.
          const results = await context.with(messageTraceContext(group[0].message.headers), () =>
            this.jobs.enqueueMany(
              portal,
              group.map((request) => request.job),
            ),
          );
          results.forEach((result, position) => (verdicts[group[position].index] = enqueueVerdict(result)));
        } catch (error) {
          for (const request of group) verdicts[request.index] = failureVerdict(error);
        }
      }),
    );
    return verdicts;
  }

  /** Each portal id's portal, or the verdict of the messages that name it. */
  private async portalsOf(ids: string[]): Promise<Map<string, AuthenticatedPortal | Verdict>> {
    const unique = [...new Set(ids)];
    const found = await Promise.all(
      unique.map(async (id): Promise<AuthenticatedPortal | Verdict> => {
        try {
          const { hubspotPortalId, name } = await this.portals.findById(id);
          return { id, hubspotPortalId, name };
        } catch (error) {
          return error instanceof NotFoundError ? { kind: 'refused', refusal: UNKNOWN_PORTAL } : failureVerdict(error);
        }
      }),
    );
    return new Map(unique.map((id, index) => [id, found[index]]));
  }
}
