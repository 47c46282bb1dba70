import { Injectable } from '@nestjs/common';
import { MicroBatcher } from '../../common/micro-batcher';
import type { JobError, JobPriority, JobRecord } from '../../jobs/job-record';
import { HandlerRegistry } from '../../registry/handler-registry';
import type { JobOutputs } from '../../registry/job-handler';
import { HubSpotGateway, hubSpotFailure } from './hubspot-gateway';
import { hubSpotJobError } from './hubspot-job-error';
import { normaliseObjectType } from './object-types';
import type { Grant } from './rate-budget';
import { BatchUpdateInput, mergeWrites, outputProperties, RecordWrite, refusedRecords } from './writeback-inputs';

export type WritebackOutcome =
  | { ok: true }
  | { ok: false; error: JobError; retryAfterMs?: number }
  /** Stopped before the write went out: nothing was written. */
  | { ok: false; withdrawn: true };

/** HubSpot's batch endpoints take at most this many inputs. */
const MAX_BATCH_RECORDS = 100;
/** How long a first write waits for others to share its call. */
const LINGER_MS = 1_000;
const WRITTEN: WritebackOutcome = { ok: true };
const WITHDRAWN: WritebackOutcome = { ok: false, withdrawn: true };

/**
 * Writes job outputs to CRM records. Writes from every job of a portal, object type and priority
 * share batch update calls (up to 100 records each, sent when full or after a second), so ten
 * thousand jobs cost about a hundred calls, not ten thousand.
 */
@Injectable()
export class WritebackBatcher {
  private readonly batchers = new Map<string, MicroBatcher<RecordWrite, WritebackOutcome, Grant>>();

  constructor(
    private readonly gateway: HubSpotGateway,
    private readonly registry: HandlerRegistry,
  ) {}

  /**
   * Writes a job's outputs to its object; resolves once HubSpot has accepted or refused them, never
   * rejects. When `stop` aborts while the write still waits for its batch, the write is withdrawn
   * (so a job handed back is written once, by the run that finishes it); once sent, it is seen through.
   */
  async write(job: JobRecord, outputs: JobOutputs, stop?: AbortSignal): Promise<WritebackOutcome> {
    if (!job.object) throw new Error(`job ${job.id} has nothing to write back to`);
    const objectType = normaliseObjectType(job.object.type);
    try {
      const { propertyMappings } = await this.gateway.connection(job.portalId);
      if (stop?.aborted) return WITHDRAWN;
      const properties = outputProperties(outputs, propertyMappings[objectType], this.registry.get(job.type)?.outputs);
      if (Object.keys(properties).length === 0) return WRITTEN;
      const batcher = this.batcher(job.portalId, objectType, job.priority);
      const write: RecordWrite = { recordId: job.object.id, properties };
      const written = batcher.add(write);
      if (!stop) return await written;
      return await new Promise<WritebackOutcome>((resolve) => {
        const onStop = () => batcher.withdraw(write) && resolve(WITHDRAWN);
        stop.addEventListener('abort', onStop, { once: true });
        written.then(resolve, (error) => resolve(failed(error))).finally(() => stop.removeEventListener('abort', onStop));
      });
    } catch (error) {
      return failed(error);
    }
  }

  async drain(): Promise<void> {
    await Promise.all([...this.batchers.values()].map((batcher) => batcher.drain()));
  }

  private batcher(portalId: string, objectType: string, priority: JobPriority): MicroBatcher<RecordWrite, WritebackOutcome, Grant> {
    const key = `${portalId}\u0000${objectType}\u0000${priority}`;
    let batcher = this.batchers.get(key);
    if (!batcher) {
      batcher = new MicroBatcher({
        maxBatchSize: MAX_BATCH_RECORDS,
        maxInFlight: 4,
        lingerMs: LINGER_MS,
        // A batch waits for its slot of the budget before it is cut: when the budget is short,
        // writes keep joining it, and every call the budget allows carries as many as it can.
        permit: { acquire: () => this.gateway.reserve(portalId, priority), release: (grant) => this.gateway.release(grant) },
        execute: async (writes, grant) => {
          const outcomes = await this.update(portalId, objectType, priority, mergeWrites(writes), grant);
          return writes.map((write) => outcomes.get(write.recordId)!);
        },
      });
      this.batchers.set(key, batcher);
    }
    return batcher;
  }

  /**
   * One batch update. A 207 fails only the records HubSpot names. A batch refused as a whole (400:
   * one bad value fails them all) is halved until the records at fault are found, so the others are
   * still written.
   */
  private async update(
    portalId: string,
    objectType: string,
    priority: JobPriority,
    inputs: BatchUpdateInput[],
    reserved?: Grant,
  ): Promise<Map<string, WritebackOutcome>> {
    try {
      const answer = await this.gateway.call(portalId, priority, (client) => client.crm.objects.batchApi.update(objectType, { inputs }), reserved);
      const refused = refusedRecords(inputs.map((input) => input.id), answer);
      return new Map(inputs.map((input) => [input.id, refused.has(input.id) ? rejected(refused.get(input.id)!) : WRITTEN]));
    } catch (error) {
      if (hubSpotFailure(error).status === 400 && inputs.length > 1) {
        const half = Math.ceil(inputs.length / 2);
        const parts = await Promise.all([
          this.update(portalId, objectType, priority, inputs.slice(0, half)),
          this.update(portalId, objectType, priority, inputs.slice(half)),
        ]);
        return new Map(parts.flatMap((part) => [...part]));
      }
      const outcome = failed(error);
      return new Map(inputs.map((input) => [input.id, outcome]));
    }
  }
}

const WRITE = { code: 'writeback_rejected', what: 'the write' };

function rejected(message: string): WritebackOutcome {
  return { ok: false, error: { code: WRITE.code, message: `HubSpot refused ${WRITE.what}: ${message}`, retryable: false } };
}

function failed(error: unknown): WritebackOutcome {
  return { ok: false, ...hubSpotJobError(error, WRITE) };
}
