import type { Client } from '@hubspot/api-client';
import { Injectable } from '@nestjs/common';
import { MicroBatcher } from '../../common/micro-batcher';
import type { JobPriority, ObjectRef } from '../../jobs/job-record';
import { HubSpotOwner, JobFailure, JobHubSpot } from '../../registry/job-handler';
import { HubSpotGateway } from './hubspot-gateway';
import { hubSpotJobError } from './hubspot-job-error';
import { normaliseObjectType } from './object-types';
import type { Grant } from './rate-budget';
import { recordVerdicts } from './writeback-inputs';

type Properties = Record<string, string | null>;
type OwnersPage = Client['crm']['owners']['ownersApi']['getPage'];
interface PropertyRead {
  id: string;
  properties: string[];
}
type ReadOutcome = { ok: true; properties: Properties; updatedAt: Date } | { ok: false; failure: JobFailure };

/** Told of each record a job read: its type (as HubSpot's paths name it), id, and HubSpot's last-modified time of it. */
export type RecordReadListener = (object: { type: string; id: string }, updatedAt: Date) => void;

const MAX_BATCH_RECORDS = 100;
/**
 * Reads wait this long for others to share their batch call. A job waits on each, but a call saved
 * is budget a portal keeps: jobs that arrive a few a second (a workflow enrolling contacts) still share.
 */
const READ_LINGER_MS = 250;
const OWNERS_TTL_MS = 60_000;
const OWNERS_PAGE = 500;

/**
 * HubSpot as a handler sees it (context.hubspot): calls through the gateway at the job's priority,
 * property reads from concurrent jobs of a portal coalesced into batch reads, owners cached, and
 * every failure turned into the JobFailure that ends the run the right way.
 */
@Injectable()
export class JobHubSpotFactory {
  private readonly readers = new Map<string, MicroBatcher<PropertyRead, ReadOutcome, Grant>>();
  private readonly owners = new Map<string, { owners: Promise<HubSpotOwner[]>; expiresAt: number }>();

  constructor(private readonly gateway: HubSpotGateway) {}

  /** `onRead`: told of each record the job reads (write-back skips the properties changed since). */
  forJob(job: { portalId: string; priority: JobPriority; object?: ObjectRef | null }, onRead?: RecordReadListener): JobHubSpot {
    return {
      readProperties: async (object, properties) => {
        const type = normaliseObjectType(object.type);
        const known = knownProperties(job.object, type, object.id, properties);
        if (known) return known;
        const outcome = await this.reader(job.portalId, type, job.priority)
          .add({ id: object.id, properties })
          .catch((error: unknown): never => {
            throw asJobFailure(error, `the read of ${type}`);
          });
        if (!outcome.ok) throw outcome.failure;
        onRead?.({ type, id: object.id }, outcome.updatedAt);
        return outcome.properties;
      },
      owners: () => this.activeOwners(job.portalId, job.priority),
      call: (operation) => this.call(job.portalId, job.priority, operation, 'the call'),
    };
  }

  private async call<T>(portalId: string, priority: JobPriority, operation: Parameters<HubSpotGateway['call']>[2], what: string): Promise<T> {
    try {
      return (await this.gateway.call(portalId, priority, operation)) as T;
    } catch (error) {
      throw asJobFailure(error, what);
    }
  }

  private reader(portalId: string, objectType: string, priority: JobPriority): MicroBatcher<PropertyRead, ReadOutcome, Grant> {
    const key = `${portalId}\u0000${objectType}\u0000${priority}`;
    let reader = this.readers.get(key);
    if (!reader) {
      reader = new MicroBatcher({
        maxBatchSize: MAX_BATCH_RECORDS,
        maxInFlight: 4,
        lingerMs: READ_LINGER_MS,
        // As write-back does: a read batch is cut once the budget has a slot for it, so reads that come meanwhile join it.
        permit: { acquire: () => this.gateway.reserve(portalId, priority), release: (grant) => this.gateway.release(grant) },
        execute: (reads, grant) => this.batchRead(portalId, objectType, priority, reads, grant),
      });
      this.readers.set(key, reader);
    }
    return reader;
  }

  /** One batch read for every record asked for (the union of the properties each asked). */
  private async batchRead(portalId: string, objectType: string, priority: JobPriority, reads: PropertyRead[], grant: Grant): Promise<ReadOutcome[]> {
    const ids = [...new Set(reads.map((read) => read.id))];
    const properties = [...new Set(reads.flatMap((read) => read.properties))];
    let answer: {
      results?: Array<{ id: string; properties: Record<string, string | null>; updatedAt: Date }>;
      errors?: Array<{ message?: string; context?: { ids?: string[] } }>;
    };
    try {
      answer = await this.gateway.call(portalId, priority, (client) =>
        client.crm.objects.batchApi.read(objectType, { inputs: ids.map((id) => ({ id })), properties, propertiesWithHistory: [] }),
        grant,
      );
    } catch (error) {
      const failure: ReadOutcome = { ok: false, failure: asJobFailure(error, `the read of ${objectType}`) };
      return reads.map(() => failure);
    }
    const found = new Map((answer.results ?? []).map((result) => [String(result.id), result]));
    const verdicts = recordVerdicts(ids, answer);
    return reads.map((read): ReadOutcome => {
      const record = found.get(read.id);
      if (!record) {
        const verdict = verdicts.get(read.id);
        const message = verdict && 'refused' in verdict ? verdict.refused : 'not found';
        return { ok: false, failure: new JobFailure('hubspot_record_not_found', `HubSpot has no ${objectType} record ${read.id}: ${message}`, { retryable: false }) };
      }
      const values = record.properties ?? {};
      return { ok: true, properties: Object.fromEntries(read.properties.map((name) => [name, values[name] ?? null])), updatedAt: record.updatedAt };
    });
  }

  private activeOwners(portalId: string, priority: JobPriority): Promise<HubSpotOwner[]> {
    const cached = this.owners.get(portalId);
    if (cached && cached.expiresAt > Date.now()) return cached.owners;
    const owners = (async () => {
      const all: HubSpotOwner[] = [];
      let after: string | undefined;
      do {
        // A page per call, so each spends its own share of the budget.
        const page = await this.call<Awaited<ReturnType<OwnersPage>>>(portalId, priority, (client) =>
          client.crm.owners.ownersApi.getPage(undefined, after, OWNERS_PAGE, false), 'the owners list');
        for (const owner of page.results) {
          if (owner.archived) continue;
          all.push({
            id: String(owner.id),
            email: owner.email ?? '',
            firstName: owner.firstName ?? '',
            lastName: owner.lastName ?? '',
            userId: owner.userId ?? null,
            teams: (owner.teams ?? []).map((team) => ({ id: String(team.id), name: team.name, primary: Boolean(team.primary) })),
          });
        }
        after = page.paging?.next?.after;
      } while (after);
      return all;
    })();
    this.owners.set(portalId, { owners, expiresAt: Date.now() + OWNERS_TTL_MS });
    owners.catch(() => this.owners.delete(portalId));
    return owners;
  }
}

/**
 * The properties asked for, when the job's request carried every one of them for this record (a
 * custom action's object.properties): no call to HubSpot is needed.
 */
function knownProperties(carried: ObjectRef | null | undefined, type: string, id: string, properties: string[]): Properties | undefined {
  const values = carried?.properties;
  if (!values || normaliseObjectType(carried.type) !== type || carried.id !== String(id)) return undefined;
  if (!properties.every((name) => Object.hasOwn(values, name))) return undefined;
  return Object.fromEntries(properties.map((name) => [name, values[name]]));
}

function asJobFailure(error: unknown, what: string): JobFailure {
  if (error instanceof JobFailure) return error;
  const { error: jobError, retryAfterMs } = hubSpotJobError(error, { code: 'hubspot_refused', what });
  return new JobFailure(jobError.code, jobError.message, { retryable: jobError.retryable, retryAfterMs });
}
