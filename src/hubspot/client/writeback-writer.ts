import { Injectable, Logger } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Counter } from 'prom-client';
import { persistently } from '../../common/persistently';
import type { JobRecord } from '../../jobs/job-record';
import { JobLifecycle } from '../../jobs/job-lifecycle';
import type { RecordWriteIntent } from '../../jobs/job.repository';
import { ClaimedWrite, WriteLane, WritePreparation, WriteSettlement, WritebackJournal } from '../../jobs/writeback-journal';
import { GatedClaim, WritebackReleases } from '../../jobs/writeback-releases';
import { MetricsService } from '../../metrics/metrics.service';
import { inWritebackBatchSpan, settledInBatch } from '../../telemetry/writeback-trace';
import { HandlerRegistry } from '../../registry/handler-registry';
import type { JobOutputs } from '../../registry/job-handler';
import { retryDelayMs } from '../../worker/backoff';
import { HubSpotGateway, hubSpotFailure, HubSpotNotConnectedError, PAUSED_RECHECK_MS } from './hubspot-gateway';
import { hubSpotJobError } from './hubspot-job-error';
import { normaliseObjectType } from './object-types';
import type { Grant } from './rate-budget';
import { BatchUpdateError, inJobOrder, mergeWrites, outputProperties, RecordVerdict, recordVerdicts, refusal, RecordWrite, sameValue } from './writeback-inputs';
import { WritebackReverter } from './writeback-reverter';
import { changedAfter, changesOf, PropertyHistory } from './writeback-safety';

/** HubSpot's batch endpoints take at most this many inputs. */
const MAX_BATCH_RECORDS = 100;
/** How long the first write a lane learns of waits for others to share its call (a full batch goes at once). */
const LINGER_MS = 1_000;
/** Batch calls of one lane on their way at once. */
const MAX_IN_FLIGHT = 4;
/** Sends of a write HubSpot's answers leave out before its job fails: never counted as written without HubSpot saying so. */
const WRITE_TRIES = 3;
/**
 * How long a writer holds the writes it sent without renewing its lease. It renews every third of
 * this, while alive, the leases of the writes it knows it claimed; past it, another writer takes
 * them over and reads their records back.
 */
const LEASE_MS = 30_000;
const RENEW_EVERY_MS = LEASE_MS / 3;
/** How often a writer looks for writes no writer is on: journaled by other processes, or left by a dead one. */
const SWEEP_EVERY_MS = 5_000;
/** How long a write keeps being retried through HubSpot outages before its job fails. */
const GIVE_UP_AFTER_MS = 24 * 60 * 60_000;
/** Between sends of a write that met an outage (after the gateway's own tries): from a second, doubling, to five minutes. */
const RETRY_POLICY = { attempts: Infinity, backoffMs: 1_000, maxBackoffMs: 5 * 60_000 };
const WRITE = { code: 'writeback_rejected', what: 'the write' };

/** The reason a stopping writer gives the calls it withdraws: nothing went out for them. */
class WriterStopped extends Error {}

interface LaneState {
  lane: WriteLane;
  /** Writes known to be due (journaled here, or found by a sweep) and not yet claimed. */
  known: number;
  /** When the oldest of them became due here. */
  since: number;
  driving: boolean;
  sends: Set<Promise<void>>;
  /** Cuts the linger short: a full batch is known. */
  full?: () => void;
  /** A later wake (a retry's due time), and when. */
  wakeTimer?: NodeJS.Timeout;
  wakeAt?: number;
}

/** One job's write as it goes into a batch: the claimed write, with the properties it still sets. */
interface Sendable {
  claimed: ClaimedWrite;
  write: RecordWrite;
}

/** A record as the read before a write finds it: its values, and the history of the properties to be written. */
interface RecordNow {
  properties: Record<string, string | null>;
  propertiesWithHistory?: Record<string, PropertyHistory>;
}

/**
 * Sends the write-back journal's writes to HubSpot. Each portal's writes of one object type and
 * priority (a lane) share batch update calls of up to 100 records, each cut once the portal's
 * budget has a slot for it, so ten thousand jobs cost about a hundred calls, and a portal short
 * of budget holds no worker and delays no other portal.
 *
 * A write is claimed (marked sent, under this writer's lease) before its call and settled after
 * it. Writes to one record go one call at a time, in job order; where two jobs set one property,
 * the later job's value is the one sent and the earlier is recorded as superseded. Each job stands
 * alone: a refusal fails the job whose property HubSpot refused, and the others are sent again.
 */
@Injectable()
export class WritebackWriter {
  private readonly logger = new Logger(WritebackWriter.name);
  /** This writer's identity in the journal's leases. */
  readonly id = randomUUID();
  private readonly lanes = new Map<string, LaneState>();
  private readonly stopping = new AbortController();
  private timers: NodeJS.Timeout[] = [];
  /** Since when this writer has reached PostgreSQL without a break: it takes over others' writes only after a whole lease of it. */
  private reachableSince?: number;
  /**
   * The writes this writer claimed and has not settled yet: the only ones whose leases it renews.
   * A claim PostgreSQL committed but whose answer never came (the connection dropped between)
   * leaves writes sent under this writer's name that it knows nothing of; their leases lapse, and
   * they are read back like a dead writer's, instead of being held for as long as it lives.
   */
  private readonly held = new Set<string>();

  private readonly staleProperties: Counter<'type'>;

  constructor(
    private readonly gateway: HubSpotGateway,
    private readonly journal: WritebackJournal,
    private readonly releases: WritebackReleases,
    private readonly lifecycle: JobLifecycle,
    private readonly registry: HandlerRegistry,
    private readonly reverter: WritebackReverter,
    private readonly metrics: MetricsService,
  ) {
    this.staleProperties = new Counter({
      name: 'offload_writeback_stale_properties_total',
      help: 'Properties a write left out because they changed in HubSpot after its job read the record (a person\'s edit is kept), by job type',
      labelNames: ['type'],
      registers: [metrics.registry],
    });
  }

  /**
   * The write a job's outputs make to its record: each output to its property (as the portal maps
   * it); undefined when they set none. Throws what the portal's settings could not be read with.
   */
  async intentFor(job: JobRecord, outputs: JobOutputs): Promise<RecordWriteIntent | undefined> {
    if (!job.object) return undefined;
    const objectType = normaliseObjectType(job.object.type);
    const propertyMappings = await this.gateway.propertyMappings(job.portalId);
    const properties = outputProperties(outputs, propertyMappings[objectType], this.registry.get(job.type)?.outputs);
    return Object.keys(properties).length === 0 ? undefined : { objectType, objectId: job.object.id, properties };
  }

  /** Starts sending: the writes journaled before this process started, and any that others leave; and running reverts. */
  start(): void {
    this.timers = [setInterval(() => void this.renew(), RENEW_EVERY_MS), setInterval(() => void this.sweep(), SWEEP_EVERY_MS)];
    this.timers.forEach((timer) => timer.unref());
    void this.renew().then(() => this.sweep());
    this.reverter.start(this.id);
  }

  /** `count` writes were journaled in this process for the lane: they go after the linger, or at once when they fill a batch. */
  journaled(lane: WriteLane, count: number): void {
    this.due(lane, count, Date.now());
  }

  /**
   * Stops: no new call starts, a wait for the budget ends, and calls already sent are waited for,
   * `ms` at most (their answers settle the writes; left unanswered, the lease lapses and another
   * writer reads the records back). Unsent writes stay in the journal for the next writer.
   */
  async stop(ms: number): Promise<void> {
    this.stopping.abort(new WriterStopped('stopping'));
    this.timers.forEach(clearInterval);
    const reverting = this.reverter.stop();
    for (const state of this.lanes.values()) clearTimeout(state.wakeTimer);
    const timeout = new AbortController();
    const waited = sleep(ms, undefined, { signal: timeout.signal }).catch(() => undefined);
    let timedOut = false;
    void waited.then(() => (timedOut = true));
    for (let sends = this.allSends(); sends.length > 0 && !timedOut; sends = this.allSends()) {
      await Promise.race([Promise.allSettled(sends), waited]);
    }
    await Promise.race([reverting, waited]);
    timeout.abort();
  }

  /** Counts a send (or settlement) as on its way until it is done; then the lane's writes it held back are due. */
  private track(state: LaneState, send: Promise<void>): void {
    const tracked = send
      .catch((error: Error) => this.logger.error(`A write-back send failed unexpectedly: ${error.stack ?? error}`))
      .finally(() => {
        state.sends.delete(tracked);
        this.due(state.lane, 0, Date.now() - LINGER_MS);
      });
    state.sends.add(tracked);
  }

  private allSends(): Promise<void>[] {
    return [...this.lanes.values()].flatMap((state) => [...state.sends]);
  }

  private laneState(lane: WriteLane): LaneState {
    const key = laneKey(lane);
    let state = this.lanes.get(key);
    if (!state) {
      state = { lane, known: 0, since: Date.now(), driving: false, sends: new Set() };
      this.lanes.set(key, state);
    }
    return state;
  }

  /** `count` more writes of the lane are due, the oldest since `since`: drive the lane if nothing does. */
  private due(lane: WriteLane, count: number, since: number): void {
    if (this.stopping.signal.aborted) return;
    const state = this.laneState(lane);
    if (state.known === 0 || since < state.since) state.since = since;
    state.known += count;
    if (state.known >= MAX_BATCH_RECORDS) state.full?.();
    if (!state.driving) void this.drive(state);
  }

  /** Wakes the lane at `at` (a retry's due time); an earlier wake already set stands. */
  private dueAt(lane: WriteLane, at: number): void {
    const state = this.laneState(lane);
    if (state.wakeAt !== undefined && state.wakeAt <= at) return;
    clearTimeout(state.wakeTimer);
    state.wakeAt = at;
    state.wakeTimer = setTimeout(() => {
      state.wakeAt = state.wakeTimer = undefined;
      this.due(lane, 0, Date.now() - LINGER_MS);
    }, Math.max(0, at - Date.now()));
    state.wakeTimer.unref();
  }

  /** Waits out the lane's linger, or less once a full batch is known. */
  private async linger(state: LaneState): Promise<void> {
    const wait = state.known >= MAX_BATCH_RECORDS ? 0 : state.since + LINGER_MS - Date.now();
    if (wait <= 0) return;
    const cut = new AbortController();
    state.full = () => cut.abort();
    await sleep(wait, undefined, { signal: AbortSignal.any([cut.signal, this.stopping.signal]) }).catch(() => undefined);
    state.full = undefined;
  }

  /**
   * Claims and sends the lane's due writes while there are any: each batch after the linger (or at
   * once when full), with a slot of the budget in hand first, so writes that come while it waits
   * share the call.
   */
  private async drive(state: LaneState): Promise<void> {
    state.driving = true;
    const { lane } = state;
    const stop = this.stopping.signal;
    try {
      while (!stop.aborted) {
        await this.linger(state);
        while (state.sends.size >= MAX_IN_FLIGHT) await Promise.race(state.sends);
        if (stop.aborted) return;
        if (this.gateway.isPaused(lane.portalId)) {
          // Held in the journal, unclaimed, until the portal resumes.
          this.dueAt(lane, Date.now() + PAUSED_RECHECK_MS);
          return;
        }
        const grant = await this.gateway.reserve(lane.portalId, lane.priority, stop);
        // A paused job type's writes are held by the claims, in the journal, until the type resumes.
        const pausedTypes = this.gateway.pausedTypes(lane.portalId);
        let verifications: ClaimedWrite[] = [];
        let claim: GatedClaim = { writes: [], withdrawn: [], held: 0, readBeforeWrite: true, paused: [] };
        try {
          verifications = await this.claim(lane, true, pausedTypes);
          if (verifications.length === 0) {
            claim = await this.releases.claim(lane, this.id, MAX_BATCH_RECORDS, LEASE_MS, pausedTypes);
            for (const write of [...claim.writes, ...claim.withdrawn]) this.held.add(write.id);
          }
        } catch (error) {
          this.gateway.release(grant);
          throw error;
        }
        const { writes, withdrawn } = claim;
        const claimed = verifications.length + writes.length + withdrawn.length + claim.held;
        if (stop.aborted) {
          // Stopped while claiming: the writes go back, unsent, for the next writer.
          this.gateway.release(grant);
          const back = [...verifications, ...writes, ...withdrawn].map((write): WriteSettlement => ({ id: write.id, outcome: 'retry', retryInMs: 0, verify: verifications.includes(write) }));
          this.track(state, this.settle(lane, back));
          return;
        }
        if (claimed === 0) {
          this.gateway.release(grant);
          state.known = 0;
          // An idle lane is forgotten, so ten thousand portals that wrote once cost nothing here.
          if (state.sends.size === 0 && state.wakeTimer === undefined) this.lanes.delete(laneKey(lane));
          return;
        }
        state.known = Math.max(0, state.known - claimed);
        state.since = Date.now() - LINGER_MS; // the rest have waited their linger already
        if (withdrawn.length > 0) this.track(state, this.settle(lane, withdrawn.map(revertedWrite)));
        const kind = verifications.length > 0 ? 'verify' : 'send';
        const batched = (kind === 'verify' ? verifications : writes).map((write) => ({ id: write.id, jobId: write.jobId, trace: { traceId: write.traceId, spanId: write.spanId } }));
        const batch = { ...lane, kind, writes: batched } as const;
        if (verifications.length > 0) this.track(state, inWritebackBatchSpan(batch, () => this.verify(lane, verifications, grant)));
        else if (writes.length > 0) this.track(state, inWritebackBatchSpan(batch, () => this.send(lane, writes, claim.readBeforeWrite, grant)));
        else this.gateway.release(grant); // all held or withdrawn: nothing to send
      }
    } catch (error) {
      if (stop.aborted) return;
      await this.unsendable(state, error);
    } finally {
      state.driving = false;
    }
  }

  /**
   * The budget or the journal failed the lane. A portal HubSpot cannot be called for (no
   * credentials) fails its writes' jobs; anything else (Redis, PostgreSQL, the day's budget spent)
   * is waited out and the lane tried again.
   */
  private async unsendable(state: LaneState, error: unknown): Promise<void> {
    const { error: jobError, retryAfterMs } = hubSpotJobError(error, WRITE);
    try {
      if (error instanceof HubSpotNotConnectedError) {
        const claimed = [
          ...(await this.claim(state.lane, false)),
          ...(await this.claim(state.lane, true)),
        ];
        await this.settle(
          state.lane,
          claimed.map((write): WriteSettlement => ({ id: write.id, outcome: 'failed', error: jobError })),
        );
        if (claimed.length > 0) return this.due(state.lane, 0, Date.now() - LINGER_MS);
        return;
      }
    } catch {
      // Waited out below, like any other failure of the journal.
    }
    this.logger.warn(`Write-back for portal ${state.lane.portalId} waits: ${(error as Error)?.message ?? error}`);
    this.dueAt(state.lane, Date.now() + Math.max(retryAfterMs ?? 0, SWEEP_EVERY_MS));
  }

  /**
   * One batch of claimed writes, settled with HubSpot's answers. With `readBeforeWrite` (the
   * portal's setting, on by default), one batch read first finds each record as it is now: a
   * property changed since the job read the record (by a person, or anything but Offload) is left
   * out and reported stale, and the values the others replace are kept in the journal before the
   * update is sent, for undo. Dry runs share that read, and end with their change; they are all a
   * portal written blind reads.
   */
  private async send(lane: WriteLane, claimed: ClaimedWrite[], readBeforeWrite: boolean, grant: Grant): Promise<void> {
    const settlements: WriteSettlement[] = [];
    let sendable: Sendable[] = [];
    for (const write of claimed) {
      const properties = Object.fromEntries(Object.entries(write.properties).filter(([name]) => !write.overtaken.includes(name)));
      if (Object.keys(properties).length === 0) settlements.push({ id: write.id, outcome: 'superseded', superseded: Object.keys(write.properties) });
      else sendable.push({ claimed: write, write: { recordId: write.objectId, properties, order: write.jobOrder } });
    }
    let reserved: Grant | undefined = grant;
    const toRead = readBeforeWrite ? sendable : sendable.filter((write) => write.claimed.dryRun);
    if (toRead.length > 0) {
      reserved = undefined;
      const read = await this.readFirst(lane, toRead, readBeforeWrite, grant);
      settlements.push(...read.settlements);
      sendable = [...read.sendable, ...sendable.filter((write) => !toRead.includes(write))];
    }
    if (sendable.length > 0) settlements.push(...(await this.update(lane, sendable, reserved)));
    else if (reserved) this.gateway.release(reserved);
    await this.settle(lane, settlements);
  }

  /**
   * The read before a batch of writes (and dry runs): one batch read of the records, with the
   * history of the properties to be written when `guarded`. Answers the settlements it reached
   * (dry runs, writes whose every property is stale, records HubSpot does not have, or the read's
   * failure for all) and what is left to send, after keeping each write's previous values.
   */
  private async readFirst(lane: WriteLane, writes: Sendable[], guarded: boolean, grant: Grant): Promise<{ settlements: WriteSettlement[]; sendable: Sendable[] }> {
    const ids = [...new Set(writes.map((sendable) => sendable.write.recordId))];
    const properties = [...new Set(writes.flatMap((sendable) => Object.keys(sendable.write.properties)))];
    const history = guarded ? [...new Set(writes.filter((sendable) => !sendable.claimed.dryRun).flatMap((sendable) => Object.keys(sendable.write.properties)))] : [];
    let records: Map<string, RecordNow>;
    let verdicts: Map<string, RecordVerdict>;
    try {
      const answer = await this.gateway.call(
        lane.portalId,
        lane.priority,
        (client) => client.crm.objects.batchApi.read(lane.objectType, { inputs: ids.map((id) => ({ id })), properties, propertiesWithHistory: history }),
        grant,
        this.stopping.signal,
      );
      records = new Map((answer.results ?? []).map((record) => [String(record.id), record]));
      verdicts = recordVerdicts(ids, answer);
    } catch (error) {
      return { settlements: writes.map((sendable) => unsent(sendable.claimed, error)), sendable: [] };
    }
    const stale = await this.staleness(lane, writes, records);
    const settlements: WriteSettlement[] = [];
    const sendable: Sendable[] = [];
    const preparations: WritePreparation[] = [];
    for (const { claimed, write } of writes) {
      const record = records.get(write.recordId);
      if (!record) {
        const verdict = verdicts.get(write.recordId)!;
        settlements.push(refused(claimed, 'refused' in verdict ? verdict.refused : `HubSpot has no ${lane.objectType} record ${write.recordId}`));
        continue;
      }
      if (claimed.dryRun) {
        const previous = valuesOf(record, Object.keys(write.properties));
        settlements.push({ id: claimed.id, outcome: 'previewed', previous, report: { dryRun: true, changes: changesOf(write.properties, previous) } });
        continue;
      }
      const skipped = stale.get(claimed.id) ?? [];
      const left = Object.fromEntries(Object.entries(write.properties).filter(([name]) => !skipped.includes(name)));
      if (skipped.length > 0) this.staleProperties.inc({ type: claimed.handlerType }, skipped.length);
      const sent = Object.keys(left).length > 0;
      preparations.push({ id: claimed.id, previous: valuesOf(record, Object.keys(left)), skippedStale: skipped, sent });
      if (!sent) settlements.push({ id: claimed.id, outcome: 'skipped', report: { skipped_stale: skipped } });
      else sendable.push({ claimed: { ...claimed, sends: claimed.sends + 1, skippedStale: skipped }, write: { ...write, properties: left } });
    }
    await persistently(`Keeping the previous values of ${preparations.length} writes`, () => this.journal.prepare(preparations, this.id), this.logger);
    return { settlements, sendable };
  }

  /**
   * The properties of each write that changed in HubSpot after its job read the record (or was
   * enqueued) by anything but Offload. Offload's own writes are told apart by their values, from
   * the journal, which is asked only about the records that changed after a basis at all.
   */
  private async staleness(lane: WriteLane, writes: Sendable[], records: Map<string, RecordNow>): Promise<Map<string, string[]>> {
    const changed = (sendable: Sendable, own: Record<string, string[]>) =>
      Object.keys(sendable.write.properties).filter((name) =>
        changedAfter(records.get(sendable.write.recordId)?.propertiesWithHistory?.[name], sendable.claimed.basis, [
          ...(own[name] ?? []),
          sendable.claimed.properties[name],
        ]),
      );
    const suspects = writes.filter((sendable) => !sendable.claimed.dryRun && changed(sendable, {}).length > 0);
    if (suspects.length === 0) return new Map();
    const since = new Date(Math.min(...suspects.map((sendable) => sendable.claimed.basis.getTime())));
    const own = await persistently(
      `Reading Offload's own writes to ${suspects.length} records`,
      () => this.journal.ownValues(lane, [...new Set(suspects.map((sendable) => sendable.write.recordId))], since),
      this.logger,
    );
    return new Map(suspects.map((sendable) => [sendable.claimed.id, changed(sendable, own.get(sendable.write.recordId) ?? {})]));
  }

  /** Claims up to a batch of the lane's due writes: to send, or (`verify`) to read back first; those of `pausedTypes` are held. */
  private async claim(lane: WriteLane, verify: boolean, pausedTypes: string[] = []): Promise<ClaimedWrite[]> {
    const claimed = await this.journal.claim(lane, this.id, MAX_BATCH_RECORDS, LEASE_MS, verify, pausedTypes);
    for (const write of claimed) this.held.add(write.id);
    return claimed;
  }

  /** Records what became of writes (ending their jobs), counts it, and wakes the lane when the first retry is due. */
  private async settle(lane: WriteLane, settlements: WriteSettlement[]): Promise<void> {
    await this.lifecycle.settleWrites(settlements, this.id);
    for (const settlement of settlements) {
      this.held.delete(settlement.id);
      this.metrics.writebackWrites.inc({ outcome: settlement.outcome });
    }
    settledInBatch(settlements);
    const waits = settlements.flatMap((settlement) => (settlement.outcome === 'retry' && settlement.retryInMs > 0 ? [settlement.retryInMs] : []));
    if (waits.length > 0) this.dueAt(lane, Date.now() + Math.min(...waits));
  }

  /**
   * One batch update of the writes (those to one record merged into one input, in job order). Each job stands alone:
   * - a record HubSpot's answer leaves out is sent again, and after WRITE_TRIES sends its jobs fail unconfirmed;
   * - a record refused for properties it names fails only the jobs whose values those were, and
   *   the other jobs' writes to it go again without them; a refusal that names none sends each
   *   job's write to the record alone, so it falls on the job at fault;
   * - a batch refused as a whole (400: one bad value fails them all) is halved until the records at
   *   fault are found, so the others are still written.
   * `grant`: the budget slot for the first call; the calls that follow take their own.
   */
  private async update(lane: WriteLane, writes: Sendable[], grant?: Grant): Promise<WriteSettlement[]> {
    const inputs = mergeWrites(writes.map((sendable) => sendable.write));
    let verdicts: Map<string, RecordVerdict>;
    try {
      const answer = await this.gateway.call(
        lane.portalId,
        lane.priority,
        (client) => client.crm.objects.batchApi.update(lane.objectType, { inputs }),
        grant,
        this.stopping.signal,
      );
      verdicts = recordVerdicts(
        inputs.map((input) => input.id),
        answer,
      );
    } catch (error) {
      if (hubSpotFailure(error).status !== 400) return writes.map((sendable) => unsent(sendable.claimed, error));
      if (inputs.length > 1) {
        const firstHalf = new Set(inputs.slice(0, Math.ceil(inputs.length / 2)).map((input) => input.id));
        const parts = await Promise.all([
          this.update(lane, writes.filter((sendable) => firstHalf.has(sendable.write.recordId))),
          this.update(lane, writes.filter((sendable) => !firstHalf.has(sendable.write.recordId))),
        ]);
        return parts.flat();
      }
      verdicts = new Map([[inputs[0].id, refusal({ message: hubSpotFailure(error).message, ...((error as { body?: BatchUpdateError }).body ?? {}) })]]);
    }
    const settlements: WriteSettlement[] = [];
    const again: Sendable[] = [];
    const alone: Sendable[][] = [];
    for (const { id, properties } of inputs) {
      const verdict = verdicts.get(id)!;
      const toRecord = inJobOrderOf(writes.filter((sendable) => sendable.write.recordId === id));
      if ('written' in verdict) settlements.push(...toRecord.map((sendable) => written(sendable, toRecord)));
      else if ('unconfirmed' in verdict) settlements.push(...toRecord.map((sendable) => unanswered(sendable.claimed)));
      else {
        // The job at fault for a property is the one whose value was sent: the last in job order to set it.
        const atFault = toRecord.filter((sendable) =>
          verdict.properties.some((property) => Object.hasOwn(properties, property) && lastToSet(toRecord, property) === sendable),
        );
        if (atFault.length === 0 && toRecord.length > 1) alone.push(toRecord);
        else if (atFault.length === 0) settlements.push(refused(toRecord[0].claimed, verdict.refused));
        else {
          settlements.push(...atFault.map((sendable) => refused(sendable.claimed, verdict.refused)));
          again.push(...toRecord.filter((sendable) => !atFault.includes(sendable)));
        }
      }
    }
    const resent = await Promise.all([again.length > 0 ? this.update(lane, again) : [], this.eachAlone(lane, alone)]);
    return [...settlements, ...resent.flat()];
  }

  /** Sends each record's writes one per call, in job order (the n-th write of every record shares the n-th call). */
  private async eachAlone(lane: WriteLane, writesByRecord: Sendable[][]): Promise<WriteSettlement[]> {
    const settlements: WriteSettlement[] = [];
    for (let round = 0; writesByRecord.some((writes) => writes.length > round); round++) {
      settlements.push(...(await this.update(lane, writesByRecord.flatMap((toRecord) => toRecord.slice(round, round + 1)))));
    }
    return settlements;
  }

  /**
   * Reads back the records of writes whose writer's lease lapsed: a write whose values the record
   * holds was made (its call went out before the writer died) and is settled written; the others
   * are sent again.
   */
  private async verify(lane: WriteLane, claimed: ClaimedWrite[], grant: Grant): Promise<void> {
    const ids = [...new Set(claimed.map((write) => write.objectId))];
    const properties = [...new Set(claimed.flatMap((write) => Object.keys(write.properties)))];
    let settlements: WriteSettlement[];
    try {
      const answer = await this.gateway.call(
        lane.portalId,
        lane.priority,
        (client) => client.crm.objects.batchApi.read(lane.objectType, { inputs: ids.map((id) => ({ id })), properties, propertiesWithHistory: [] }),
        grant,
        this.stopping.signal,
      );
      const records = new Map((answer.results ?? []).map((record) => [String(record.id), record.properties ?? {}]));
      settlements = claimed.map((write): WriteSettlement => {
        const record = records.get(write.objectId);
        // A dry run is never taken as written: it is claimed again, and previewed.
        const holds =
          !write.dryRun &&
          record !== undefined &&
          Object.entries(write.properties).every(
            ([name, value]) => write.overtaken.includes(name) || write.skippedStale.includes(name) || sameValue(value, record[name]),
          );
        return holds ? { id: write.id, outcome: 'written' } : { id: write.id, outcome: 'retry', retryInMs: 0 };
      });
    } catch (error) {
      settlements = claimed.map((write) => readBackLater(unsent(write, error)));
    }
    await this.settle(lane, settlements);
  }

  /** Keeps this writer's leases alive, and notes whether PostgreSQL has been reachable throughout. */
  private async renew(): Promise<void> {
    try {
      await this.journal.renew(this.id, [...this.held], LEASE_MS);
      this.reachableSince ??= Date.now();
    } catch {
      this.reachableSince = undefined;
    }
  }

  /**
   * Finds work no writer here is on: lanes with due writes (journaled by another process, or
   * retries), and writes whose writer's lease lapsed. A lease is judged lapsed only after this
   * writer has reached PostgreSQL for a whole lease: after an outage, live writers get the time to
   * renew theirs first.
   */
  private async sweep(): Promise<void> {
    if (this.stopping.signal.aborted) return;
    try {
      if (this.reachableSince !== undefined && Date.now() - this.reachableSince >= LEASE_MS) {
        for (const lane of await this.journal.reclaimLapsed()) {
          this.logger.warn(`Writes of portal ${lane.portalId} were left by a writer whose lease lapsed: reading their records back`);
          this.due(lane, 0, Date.now() - LINGER_MS);
        }
      }
      for (const lane of await this.releases.releaseDue()) this.due(lane, 0, Date.now() - LINGER_MS);
      for (const lane of await this.journal.dueLanes(10_000)) {
        const state = this.lanes.get(laneKey(lane));
        if (state?.driving) continue;
        if (lane.dueAt.getTime() <= Date.now()) this.due(lane, lane.pending, Date.now() - LINGER_MS);
        else this.dueAt(lane, lane.dueAt.getTime());
      }
    } catch (error) {
      this.logger.warn(`Write-back sweep failed: ${(error as Error).message}`);
    }
  }
}

function laneKey(lane: WriteLane): string {
  return `${lane.portalId}\u0000${lane.objectType}\u0000${lane.priority}`;
}

/** A read-back that failed: still to be read back, unless the failure failed the job. */
function readBackLater(settlement: WriteSettlement): WriteSettlement {
  return settlement.outcome === 'retry' ? { ...settlement, verify: true } : settlement;
}

function inJobOrderOf(writes: Sendable[]): Sendable[] {
  const order = new Map(writes.map((sendable) => [sendable.write, sendable]));
  return inJobOrder(writes.map((sendable) => sendable.write)).map((write) => order.get(write)!);
}

function lastToSet(inOrder: Sendable[], property: string): Sendable | undefined {
  return inOrder.findLast((sendable) => Object.hasOwn(sendable.write.properties, property));
}

/** Written: with the properties a later job's write in the same call set instead, and those it left out as stale. */
function written(sendable: Sendable, toRecord: Sendable[]): WriteSettlement {
  const superseded = [
    ...sendable.claimed.overtaken.filter((name) => Object.hasOwn(sendable.claimed.properties, name)),
    ...Object.keys(sendable.write.properties).filter((name) => lastToSet(toRecord, name) !== sendable),
  ];
  const stale = sendable.claimed.skippedStale;
  return {
    id: sendable.claimed.id,
    outcome: 'written',
    ...(superseded.length > 0 ? { superseded } : {}),
    ...(stale.length > 0 ? { report: { skipped_stale: stale } } : {}),
  };
}

/** A write of a reverted version: withdrawn, and its job fails. */
function revertedWrite(write: ClaimedWrite): WriteSettlement {
  return {
    id: write.id,
    outcome: 'withdrawn',
    error: {
      code: 'writeback_reverted',
      message: `The write-back of ${write.handlerType}@${write.handlerVersion} to this portal was reverted; this write was withdrawn`,
      retryable: false,
    },
  };
}

/** A record's values of the properties, null where unset. */
function valuesOf(record: RecordNow, properties: string[]): Record<string, string | null> {
  return Object.fromEntries(properties.map((name) => [name, record.properties[name] ?? null]));
}

function refused(write: ClaimedWrite, message: string): WriteSettlement {
  return { id: write.id, outcome: 'refused', error: { code: WRITE.code, message: `HubSpot refused ${WRITE.what}: ${message}`, retryable: false } };
}

/** Left out of HubSpot's answer: sent again, and after WRITE_TRIES sends its job fails, never counted as written. */
function unanswered(write: ClaimedWrite): WriteSettlement {
  if (write.unanswered + 1 < WRITE_TRIES) return { id: write.id, outcome: 'retry', retryInMs: 0, unanswered: 1 };
  return {
    id: write.id,
    outcome: 'unconfirmed',
    error: {
      code: 'writeback_unconfirmed',
      message: `HubSpot did not confirm the write to record ${write.objectId}: its answers to ${write.unanswered + 1} batch updates left the record out without an error`,
      retryable: false,
    },
  };
}

/**
 * A call that brought no verdict. Transient (an outage, a 429 past its retries, 423, 477, no
 * answer): tried again after the wait HubSpot asks for or a backoff, for a day at most; a call
 * that may have reached HubSpot (no answer came) is read back first. Anything else fails the job.
 */
function unsent(write: ClaimedWrite, error: unknown): WriteSettlement {
  if (error instanceof WriterStopped) return { id: write.id, outcome: 'retry', retryInMs: 0 };
  const { error: jobError, retryAfterMs } = hubSpotJobError(error, WRITE);
  if (!jobError.retryable || Date.now() - write.createdAt.getTime() > GIVE_UP_AFTER_MS) return { id: write.id, outcome: 'failed', error: jobError };
  const failure = hubSpotFailure(error);
  const wait = retryDelayMs(Math.max(1, write.sends), RETRY_POLICY, retryAfterMs ?? failure.retryAfterMs);
  return { id: write.id, outcome: 'retry', retryInMs: wait, verify: failure.status === undefined };
}
