import { Injectable, Logger } from '@nestjs/common';
import { setTimeout as sleep } from 'node:timers/promises';
import { RecordToRevert, RevertOutcome, WritebackReverts } from '../../jobs/writeback-reverts';
import { retryDelayMs } from '../../worker/backoff';
import { HubSpotGateway, hubSpotFailure } from './hubspot-gateway';
import { mergeWrites, RecordVerdict, recordVerdicts } from './writeback-inputs';
import { restorePlan } from './writeback-safety';

/** Records per revert batch: one batch read and at most one batch update each. */
const BATCH_RECORDS = 100;
const LEASE_MS = 30_000;
const RENEW_EVERY_MS = LEASE_MS / 3;
/** How often a writer looks for a revert to run. */
const LOOK_EVERY_MS = 2_000;
/** Between tries of a batch HubSpot could not take (an outage, a 429 past the gateway's retries). */
const RETRY_POLICY = { attempts: Infinity, backoffMs: 1_000, maxBackoffMs: 60_000 };

/**
 * Runs reverts (POST /v1/admin/portals/:id/writebacks/revert), one at a time per writer, each under
 * a lease. For each batch of up to 100 records: one batch read of what they hold now, then one
 * batch update putting back, in the records that still hold what Offload wrote, the values they
 * had before; both within the portal's budget, at live priority (an undo is urgent). A record
 * changed since is left alone and counted skipped.
 */
@Injectable()
export class WritebackReverter {
  private readonly logger = new Logger(WritebackReverter.name);
  private readonly stopping = new AbortController();
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;

  constructor(
    private readonly gateway: HubSpotGateway,
    private readonly reverts: WritebackReverts,
  ) {}

  /** Looks for reverts to run as `runner` (the writer's identity). */
  start(runner: string): void {
    this.timer = setInterval(() => {
      if (!this.running && !this.stopping.signal.aborted) this.running = this.runNext(runner).finally(() => (this.running = undefined));
    }, LOOK_EVERY_MS);
    this.timer.unref();
  }

  /** Starts no new batch; the one on its way is seen through. A revert left unfinished is taken up by the next writer. */
  async stop(): Promise<void> {
    this.stopping.abort();
    clearInterval(this.timer);
    await this.running;
  }

  private async runNext(runner: string): Promise<void> {
    let revert: { id: string; portalId: string } | undefined;
    try {
      revert = await this.reverts.claim(runner, LEASE_MS);
    } catch (error) {
      this.logger.warn(`Looking for reverts failed: ${(error as Error).message}`);
    }
    if (!revert) return;
    const lease = new AbortController();
    const renew = setInterval(() => {
      this.reverts.renew(revert.id, runner, LEASE_MS).then(
        (held) => held || lease.abort(),
        () => undefined,
      );
    }, RENEW_EVERY_MS);
    const stop = AbortSignal.any([lease.signal, this.stopping.signal]);
    try {
      this.logger.log(`Reverting writes of portal ${revert.portalId} (revert ${revert.id})`);
      for (let failures = 0; !stop.aborted; ) {
        const batch = await this.reverts.nextRecords(revert.id, BATCH_RECORDS);
        if (!batch) {
          await this.reverts.finish(revert.id, runner);
          this.logger.log(`Revert ${revert.id} of portal ${revert.portalId} is done`);
          return;
        }
        try {
          await this.revertBatch(revert.id, revert.portalId, runner, batch.objectType, batch.records, stop);
          failures = 0;
        } catch (error) {
          const wait = retryDelayMs(++failures, RETRY_POLICY, hubSpotFailure(error).retryAfterMs);
          this.logger.warn(`Revert ${revert.id} of portal ${revert.portalId} waits ${wait} ms: ${(error as Error).message}`);
          await sleep(wait, undefined, { signal: stop }).catch(() => undefined);
        }
      }
    } catch (error) {
      this.logger.warn(`Revert ${revert.id} stopped, to be taken up again: ${(error as Error).message}`);
    } finally {
      clearInterval(renew);
    }
  }

  /** Reads the records, puts back those that still hold what Offload wrote, and records what became of each. Throws what is worth trying again. */
  private async revertBatch(id: string, portalId: string, runner: string, objectType: string, records: RecordToRevert[], stop: AbortSignal): Promise<void> {
    const properties = [...new Set(records.flatMap((record) => record.writes.flatMap((write) => Object.keys(write.properties))))];
    const read = await this.gateway.call(
      portalId,
      'live',
      (client) => client.crm.objects.batchApi.read(objectType, { inputs: records.map((record) => ({ id: record.objectId })), properties, propertiesWithHistory: [] }),
      undefined,
      stop,
    );
    const current = new Map((read.results ?? []).map((record) => [String(record.id), record.properties ?? {}]));
    const outcomes: Array<{ writeIds: string[]; outcome: RevertOutcome }> = [];
    const restores: Array<{ record: RecordToRevert; properties: Record<string, string> }> = [];
    for (const record of records) {
      const values = current.get(record.objectId);
      // A record HubSpot no longer has (deleted, merged) holds nothing of Offload's to put back.
      const plan = values ? restorePlan(record.writes, values, record.overwrittenLater) : { action: 'skipped' as const };
      if (plan.action === 'restore') restores.push({ record, properties: plan.properties });
      else outcomes.push({ writeIds: record.writes.map((write) => write.id), outcome: plan.action });
    }
    if (restores.length > 0) outcomes.push(...(await this.restore(portalId, objectType, restores, stop)));
    await this.reverts.settle(id, runner, outcomes);
  }

  /**
   * One batch update putting the records back. A 400 refuses the whole batch for one bad value: it
   * is halved until the records at fault are found, and only those fail.
   */
  private async restore(
    portalId: string,
    objectType: string,
    restores: Array<{ record: RecordToRevert; properties: Record<string, string> }>,
    stop: AbortSignal,
  ): Promise<Array<{ writeIds: string[]; outcome: RevertOutcome }>> {
    const writeIds = (record: RecordToRevert) => record.writes.map((write) => write.id);
    const inputs = mergeWrites(restores.map(({ record, properties }) => ({ recordId: record.objectId, properties, order: 0 })));
    let verdicts: Map<string, RecordVerdict>;
    try {
      const answer = await this.gateway.call(portalId, 'live', (client) => client.crm.objects.batchApi.update(objectType, { inputs }), undefined, stop);
      verdicts = recordVerdicts(inputs.map((input) => input.id), answer);
    } catch (error) {
      if (hubSpotFailure(error).status !== 400) throw error;
      if (restores.length === 1) return [{ writeIds: writeIds(restores[0].record), outcome: 'failed' }];
      const half = Math.ceil(restores.length / 2);
      return [...(await this.restore(portalId, objectType, restores.slice(0, half), stop)), ...(await this.restore(portalId, objectType, restores.slice(half), stop))];
    }
    // A record left out of the answer is not settled: the next batch reads it again, and counts it restored if it is back.
    return restores.flatMap(({ record }) => {
      const verdict = verdicts.get(record.objectId)!;
      if ('unconfirmed' in verdict) return [];
      return [{ writeIds: writeIds(record), outcome: 'written' in verdict ? ('restored' as const) : ('failed' as const) }];
    });
  }
}
