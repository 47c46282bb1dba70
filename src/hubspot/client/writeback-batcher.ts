import { Injectable } from '@nestjs/common';
import { MicroBatcher } from '../../common/micro-batcher';
import type { JobError, JobPriority, JobRecord } from '../../jobs/job-record';
import { HandlerRegistry } from '../../registry/handler-registry';
import type { JobOutputs } from '../../registry/job-handler';
import { HubSpotGateway, hubSpotFailure } from './hubspot-gateway';
import { hubSpotJobError } from './hubspot-job-error';
import { normaliseObjectType } from './object-types';
import type { Grant } from './rate-budget';
import { BatchUpdateError, inJobOrder, mergeWrites, outputProperties, RecordVerdict, recordVerdicts, refusal, RecordWrite } from './writeback-inputs';

export type WritebackOutcome =
  | { ok: true }
  | { ok: false; error: JobError; retryAfterMs?: number }
  /** Stopped before the write went out: nothing was written. */
  | { ok: false; withdrawn: true };

/** What became of a write sent in one batch: an outcome, or no word of it in HubSpot's answer (it is sent again). */
type Delivery = WritebackOutcome | { unconfirmed: true };

/** HubSpot's batch endpoints take at most this many inputs. */
const MAX_BATCH_RECORDS = 100;
/** How long a first write waits for others to share its call. */
const LINGER_MS = 1_000;
/** Sends of a write HubSpot's answers leave out before its job fails: never counted as written without HubSpot saying so. */
const WRITE_TRIES = 3;
const WRITTEN: WritebackOutcome = { ok: true };
const WITHDRAWN: WritebackOutcome = { ok: false, withdrawn: true };
const UNCONFIRMED: Delivery = { unconfirmed: true };

/**
 * Writes job outputs to CRM records. Writes from every job of a portal, object type and priority
 * share batch update calls (up to 100 records each, sent when full or after a second), so ten
 * thousand jobs cost about a hundred calls, not ten thousand.
 */
@Injectable()
export class WritebackBatcher {
  private readonly batchers = new Map<string, MicroBatcher<RecordWrite, Delivery, Grant>>();

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
      const write: RecordWrite = { recordId: job.object.id, properties, order: job.createdAt.getTime() };
      let delivery = await this.firstSend(batcher, write, stop);
      // Left out of HubSpot's answer: sent again, sharing a later batch; once sent, a write is seen through.
      for (let tries = 1; 'unconfirmed' in delivery; tries++) {
        if (tries >= WRITE_TRIES) return unconfirmed(write, tries);
        delivery = await batcher.add(write).catch(failed);
      }
      return delivery;
    } catch (error) {
      return failed(error);
    }
  }

  private firstSend(batcher: MicroBatcher<RecordWrite, Delivery, Grant>, write: RecordWrite, stop?: AbortSignal): Promise<Delivery> {
    const sent = batcher.add(write).catch(failed);
    if (!stop) return sent;
    return new Promise<Delivery>((resolve) => {
      const onStop = () => batcher.withdraw(write) && resolve(WITHDRAWN);
      stop.addEventListener('abort', onStop, { once: true });
      sent.then(resolve).finally(() => stop.removeEventListener('abort', onStop));
    });
  }

  async drain(): Promise<void> {
    await Promise.all([...this.batchers.values()].map((batcher) => batcher.drain()));
  }

  private batcher(portalId: string, objectType: string, priority: JobPriority): MicroBatcher<RecordWrite, Delivery, Grant> {
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
          const deliveries = await this.update(portalId, objectType, priority, writes, grant);
          return writes.map((write) => deliveries.get(write)!);
        },
      });
      this.batchers.set(key, batcher);
    }
    return batcher;
  }

  /**
   * One batch update of the writes (those to one record merged into one input). Each job stands alone:
   * - a record HubSpot's answer leaves out is unconfirmed (write() sends it again);
   * - a record refused for properties it names fails only the jobs that wrote them, and the other
   *   jobs' writes to it go again without them; a refusal that names none sends each job's write to
   *   the record alone, so it falls on the job at fault;
   * - a batch refused as a whole (400: one bad value fails them all) is halved until the records at
   *   fault are found, so the others are still written.
   */
  private async update(
    portalId: string,
    objectType: string,
    priority: JobPriority,
    writes: RecordWrite[],
    reserved?: Grant,
  ): Promise<Map<RecordWrite, Delivery>> {
    const inputs = mergeWrites(writes);
    let verdicts: Map<string, RecordVerdict>;
    try {
      const answer = await this.gateway.call(portalId, priority, (client) => client.crm.objects.batchApi.update(objectType, { inputs }), reserved);
      verdicts = recordVerdicts(
        inputs.map((input) => input.id),
        answer,
      );
    } catch (error) {
      if (hubSpotFailure(error).status !== 400) return new Map(writes.map((write) => [write, failed(error)]));
      if (inputs.length > 1) {
        const firstHalf = new Set(inputs.slice(0, Math.ceil(inputs.length / 2)).map((input) => input.id));
        const parts = await Promise.all([
          this.update(portalId, objectType, priority, writes.filter((write) => firstHalf.has(write.recordId))),
          this.update(portalId, objectType, priority, writes.filter((write) => !firstHalf.has(write.recordId))),
        ]);
        return new Map(parts.flatMap((part) => [...part]));
      }
      verdicts = new Map([[inputs[0].id, refusal({ message: hubSpotFailure(error).message, ...((error as { body?: BatchUpdateError }).body ?? {}) })]]);
    }
    const deliveries = new Map<RecordWrite, Delivery>();
    const again: RecordWrite[] = [];
    const alone: RecordWrite[][] = [];
    for (const { id } of inputs) {
      const verdict = verdicts.get(id)!;
      const toRecord = writes.filter((write) => write.recordId === id);
      if ('written' in verdict) toRecord.forEach((write) => deliveries.set(write, WRITTEN));
      else if ('unconfirmed' in verdict) toRecord.forEach((write) => deliveries.set(write, UNCONFIRMED));
      else {
        const atFault = toRecord.filter((write) => verdict.properties.some((property) => Object.hasOwn(write.properties, property)));
        if (atFault.length === 0 && toRecord.length > 1) alone.push(inJobOrder(toRecord));
        else if (atFault.length === 0) deliveries.set(toRecord[0], rejected(verdict.refused));
        else {
          atFault.forEach((write) => deliveries.set(write, rejected(verdict.refused)));
          again.push(...toRecord.filter((write) => !atFault.includes(write)));
        }
      }
    }
    const resent = await Promise.all([
      again.length > 0 ? this.update(portalId, objectType, priority, again) : new Map<RecordWrite, Delivery>(),
      this.eachAlone(portalId, objectType, priority, alone),
    ]);
    for (const part of resent) for (const [write, delivery] of part) deliveries.set(write, delivery);
    return deliveries;
  }

  /** Sends each record's writes one per call, in job order (the n-th write of every record shares the n-th call). */
  private async eachAlone(portalId: string, objectType: string, priority: JobPriority, writesByRecord: RecordWrite[][]): Promise<Map<RecordWrite, Delivery>> {
    const deliveries = new Map<RecordWrite, Delivery>();
    for (let round = 0; writesByRecord.some((writes) => writes.length > round); round++) {
      const writes = writesByRecord.flatMap((toRecord) => toRecord.slice(round, round + 1));
      for (const [write, delivery] of await this.update(portalId, objectType, priority, writes)) deliveries.set(write, delivery);
    }
    return deliveries;
  }
}

const WRITE = { code: 'writeback_rejected', what: 'the write' };

function rejected(message: string): WritebackOutcome {
  return { ok: false, error: { code: WRITE.code, message: `HubSpot refused ${WRITE.what}: ${message}`, retryable: false } };
}

function failed(error: unknown): WritebackOutcome {
  return { ok: false, ...hubSpotJobError(error, WRITE) };
}

function unconfirmed(write: RecordWrite, tries: number): WritebackOutcome {
  return {
    ok: false,
    error: {
      code: 'writeback_unconfirmed',
      message: `HubSpot did not confirm the write to record ${write.recordId}: its answers to ${tries} batch updates left the record out without an error`,
      retryable: false,
    },
  };
}
