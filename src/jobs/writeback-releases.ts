import { Injectable, Logger } from '@nestjs/common';
import { Counter, Gauge } from 'prom-client';
import { DataSource, EntityManager } from 'typeorm';
import { ConflictError } from '../common/domain-errors';
import { storableJson } from '../common/storable-text';
import { MetricsService } from '../metrics/metrics.service';
import { AdminAudit, OFFLOAD_ACTOR } from './admin-audit';
import { ClaimedWrite, ReleaseRow, WriteLane, WritebackJournal } from './writeback-journal';
import {
  allowanceOf,
  DEFAULT_ROLLOUT_STAGES,
  driftOf,
  dueForRelease,
  failureRateOf,
  gate,
  GUARDS,
  PauseReason,
  WrittenValues,
} from './writeback-guards';

/** What a claim lets through: the writes to send (dry runs among them), the ones to withdraw, and what it held. */
export interface GatedClaim {
  writes: ClaimedWrite[];
  /** Writes of a reverted version: to be settled withdrawn, which fails their jobs. */
  withdrawn: ClaimedWrite[];
  held: number;
  /** The portal's setting: read the records before writing them (stale properties skipped, previous values kept). */
  readBeforeWrite: boolean;
  /** Versions this claim paused. */
  paused: Array<{ type: string; version: string; reason: PauseReason }>;
}

/** A handler version's write-back to one portal, as the admin API shows it. */
export interface ReleaseView {
  type: string;
  version: string;
  dryRunOnly: boolean;
  rollout: {
    stages: number[];
    /** The stage now, counting from 0; `stages.length` once every stage is released. */
    stage: number;
    /** How many of the version's writes the stage lets through in all; null past the last stage. */
    allowance: number | null;
    admitted: number;
    autoReleaseAfter: number | null;
    /** Clean writes in this stage, for a rollout that releases itself. */
    clean: number;
  } | null;
  paused: { at: string; reason: PauseReason } | null;
  reverted: { at: string } | null;
  /** Writes waiting for a rollout stage or the end of the pause. */
  held: number;
  firstWriteAt: string | null;
}

export interface ReleaseChange {
  dryRunOnly?: boolean;
  /** A new rollout (counting starts again at its first stage), or null for none. */
  rollout?: { stages?: number[]; autoReleaseAfter?: number | null } | null;
}

const BASELINE_TTL_MS = 60_000;

/**
 * A version's latest settled writes before the claimed batch (walking its index backwards a
 * bounded way, after a released pause's), and how many of them HubSpot refused.
 */
const SETTLED_WRITES = `
  SELECT count(*)::int AS settled, count(*) FILTER (WHERE status = 'refused')::int AS refused FROM (
    SELECT status FROM (
      SELECT status FROM writebacks
      WHERE portal_id = $1 AND handler_type = $2 AND handler_version = $3 AND NOT dry_run AND id < $5 AND id > $6
      ORDER BY id DESC LIMIT 1000
    ) recent WHERE status IN ('written', 'superseded', 'skipped', 'refused') LIMIT $4
  ) settled`;

/** The values of a version's latest writes in the portal (walking its index backwards), after a released pause's. */
const LATEST_VALUES = `
  WITH latest AS (
    SELECT properties FROM writebacks
    WHERE portal_id = $1 AND handler_type = $2 AND handler_version = $3 AND NOT dry_run AND id > $5
    ORDER BY id DESC LIMIT $4
  )
  SELECT p.key AS property, p.value, count(*)::int AS n FROM latest, jsonb_each_text(latest.properties) p GROUP BY p.key, p.value
  UNION ALL
  SELECT NULL, NULL, count(*)::int FROM latest`;

/** Puts back as pending up to `limit` (null: all) of a version's held writes, oldest first, keeping their place; answers their lanes. */
const UNHOLD = `
  WITH released AS (
    UPDATE writebacks SET status = 'pending' WHERE id IN (
      SELECT id FROM writebacks
      WHERE portal_id = $1 AND handler_type = $2 AND handler_version = $3 AND status = 'held'
      ORDER BY id LIMIT $4)
    RETURNING portal_id, object_type, priority
  )
  SELECT DISTINCT portal_id, object_type, priority FROM released`;

/**
 * The per-version gate of write-back, per portal: a rollout (the first record, then 10, then 100,
 * then all; each stage released by an admin or after clean writes), a dry-run-only setting, an
 * automatic pause when the version's writes drift from the previous version's or HubSpot refuses
 * too many of them, and the mark a revert leaves. Held writes wait in the journal (status `held`,
 * outside the claim's index): they hold no worker and no other version's writes.
 */
@Injectable()
export class WritebackReleases {
  private readonly logger = new Logger(WritebackReleases.name);
  private readonly baselines = new Map<string, { values: Promise<WrittenValues>; expiresAt: number }>();
  private readonly previousVersions = new Map<string, { version: Promise<string | undefined>; expiresAt: number }>();
  private readonly pauses: Counter<'type' | 'reason'>;

  constructor(
    private readonly db: DataSource,
    private readonly journal: WritebackJournal,
    private readonly audit: AdminAudit,
    metrics: MetricsService,
  ) {
    this.pauses = new Counter({
      name: 'offload_writeback_pauses_total',
      help: 'Handler versions whose writes to a portal were paused automatically, by type and reason (drift, clearing, failure_rate)',
      labelNames: ['type', 'reason'],
      registers: [metrics.registry],
    });
    new Gauge({
      name: 'offload_writeback_paused',
      help: 'Handler versions whose write-back to a portal is paused (1), with the reason; their writes wait',
      labelNames: ['portal', 'type', 'version', 'reason'],
      registers: [metrics.registry],
      collect: async function (this: Gauge<'portal' | 'type' | 'version' | 'reason'>) {
        this.reset();
        // PostgreSQL out of reach: the scrape goes on without this gauge (readiness reports the outage).
        const rows = await db
          .query(`SELECT portal_id, handler_type, handler_version, pause_reason->>'code' AS reason FROM writeback_releases WHERE paused_at IS NOT NULL`)
          .catch(() => []);
        for (const row of rows) this.set({ portal: row.portal_id, type: row.handler_type, version: row.handler_version, reason: row.reason }, 1);
      },
    });
  }

  /**
   * Claims up to `limit` due writes of the lane for `writer` and lets them through their versions'
   * releases. A version with nothing to judge (no rollout, pause, revert or dry-run-only setting, a
   * failure rate below the threshold, no previous version to drift from) costs the claim statement
   * alone. The others are judged under their release's lock: what a rollout stage or a pause does
   * not allow is held, a reverted version's writes are handed back to be withdrawn, and a version
   * whose latest writes trip a guard is paused before this batch is sent. Writes of
   * `pausedTypes` (the kill switch) are held, see WritebackJournal.
   */
  async claim(lane: WriteLane, writer: string, limit: number, leaseMs: number, pausedTypes: string[] = []): Promise<GatedClaim> {
    const { writes: claimed, releases, readBeforeWrite } = await this.journal.claimWrites(lane, writer, limit, leaseMs, pausedTypes);
    const outcome: GatedClaim = { writes: [], withdrawn: [], held: 0, readBeforeWrite, paused: [] };
    const plain = new Set<string>();
    for (const release of releases) if (!(await this.needsJudging(lane.portalId, release))) plain.add(versionKey(release.handler_type, release.handler_version));
    const judged = new Set(claimed.map((write) => versionKey(write.handlerType, write.handlerVersion)).filter((key) => !plain.has(key)));
    outcome.writes = claimed.filter((write) => !judged.has(versionKey(write.handlerType, write.handlerVersion)));
    const toJudge = claimed.filter((write) => judged.has(versionKey(write.handlerType, write.handlerVersion)));
    if (toJudge.length > 0) await this.db.transaction((tx) => this.judge(tx, lane.portalId, toJudge, outcome));
    for (const { type, version, reason } of outcome.paused) {
      this.pauses.inc({ type, reason: reason.code });
      this.logger.warn(`Write-back of ${type}@${version} to portal ${lane.portalId} is paused (${reason.code}): ${reason.message}. Its writes wait for a release or a revert.`);
    }
    return outcome;
  }

  /**
   * Whether a version's claimed writes must be judged under its release's lock: anything held,
   * dry-run only, refused by HubSpot lately, or with a previous version to drift from. A version's
   * first claim (its release just created, or set up before it wrote) is judged too.
   */
  private async needsJudging(portalId: string, release: ReleaseRow): Promise<boolean> {
    const { rollout_stages, paused_at, reverted_at, dry_run_only, refused_at, first_claim_at } = release;
    if (rollout_stages !== null || paused_at !== null || reverted_at !== null || dry_run_only || refused_at !== null || first_claim_at === null) return true;
    return !release.drift_accepted && (await this.previousVersion(portalId, release.handler_type, release.handler_version, first_claim_at)) !== undefined;
  }

  /**
   * Judges claimed writes under their releases' locks, oldest-named version first (so two claims
   * never wait on each other in turn), and applies the decisions: holds, rollout counts, pauses.
   */
  private async judge(tx: EntityManager, portalId: string, claimed: ClaimedWrite[], outcome: GatedClaim): Promise<void> {
    const byVersion = new Map<string, ClaimedWrite[]>();
    for (const write of claimed) {
      const key = versionKey(write.handlerType, write.handlerVersion);
      byVersion.set(key, [...(byVersion.get(key) ?? []), write]);
    }
    const versions = [...byVersion.values()].map((writes) => writes[0]);
    const releases: ReleaseRow[] = await tx.query(
      `SELECT r.* FROM writeback_releases r JOIN unnest($2::text[], $3::text[]) AS v(type, version)
         ON r.portal_id = $1 AND r.handler_type = v.type AND r.handler_version = v.version
       ORDER BY r.handler_type, r.handler_version FOR UPDATE OF r`,
      [portalId, versions.map((write) => write.handlerType), versions.map((write) => write.handlerVersion)],
    );
    for (const release of releases.filter((release) => release.first_claim_at === null)) {
      // Set up (a rollout, say) before the version wrote: this is its first claim.
      [{ first_claim_at: release.first_claim_at }] = await tx.query(
        `WITH first AS (
           UPDATE writeback_releases SET first_claim_at = now() WHERE portal_id = $1 AND handler_type = $2 AND handler_version = $3 RETURNING first_claim_at
         ) SELECT first_claim_at FROM first`,
        [portalId, release.handler_type, release.handler_version],
      );
    }
    const hold: string[] = [];
    const admit: string[] = [];
    // Written blind, a claimed write was counted as sent; one that is not sent now is counted back.
    const unsent: string[] = [];
    for (const release of releases) {
      const writes = byVersion.get(versionKey(release.handler_type, release.handler_version))!;
      const paused = release.paused_at !== null;
      const reverted = release.reverted_at !== null;
      const writing = !release.dry_run_only && writes.some((write) => !write.dryRun);
      const reason = writing && !paused && !reverted ? await this.trip(tx, portalId, release, Math.min(...writes.map((write) => Number(write.id)))) : undefined;
      const decision = gate(
        { dryRunOnly: release.dry_run_only, stages: release.rollout_stages, stage: release.rollout_stage, admitted: release.admitted, paused, reverted },
        writes,
        reason !== undefined,
      );
      const byId = new Map(writes.map((write) => [write.id, write]));
      outcome.writes.push(...decision.send.map((id) => byId.get(id)!), ...decision.preview.map((id) => ({ ...byId.get(id)!, dryRun: true })));
      outcome.withdrawn.push(...decision.withdraw.map((id) => byId.get(id)!));
      hold.push(...decision.hold);
      admit.push(...decision.admit);
      if (!outcome.readBeforeWrite) unsent.push(...[...decision.hold, ...decision.withdraw, ...decision.preview].filter((id) => !byId.get(id)!.dryRun));
      if (reason || decision.admit.length > 0) {
        await tx.query(
          `UPDATE writeback_releases SET admitted = admitted + $4, paused_at = CASE WHEN $5::jsonb IS NULL THEN paused_at ELSE now() END,
             pause_reason = coalesce($5::jsonb, pause_reason), updated_at = now()
           WHERE portal_id = $1 AND handler_type = $2 AND handler_version = $3`,
          [portalId, release.handler_type, release.handler_version, decision.admit.length, reason ? storableJson(reason) : null],
        );
      }
      if (reason) {
        outcome.paused.push({ type: release.handler_type, version: release.handler_version, reason });
        const target = { portalId, type: release.handler_type, version: release.handler_version, guard: reason.code };
        await this.audit.record({ actor: OFFLOAD_ACTOR, action: 'writeback.pause', reason: reason.message, target, matched: 1, done: 1 }, tx);
      }
    }
    if (hold.length + admit.length + unsent.length > 0) {
      await tx.query(
        `UPDATE writebacks SET
           status = CASE WHEN id = ANY($1::bigint[]) THEN 'held' ELSE status END,
           sent_by = CASE WHEN id = ANY($1::bigint[]) THEN NULL ELSE sent_by END,
           lease_until = CASE WHEN id = ANY($1::bigint[]) THEN NULL ELSE lease_until END,
           admitted = admitted OR id = ANY($2::bigint[]),
           sends = sends - CASE WHEN id = ANY($3::bigint[]) THEN 1 ELSE 0 END
         WHERE id = ANY($1::bigint[]) OR id = ANY($2::bigint[]) OR id = ANY($3::bigint[])`,
        [hold, admit, unsent],
      );
    }
    outcome.held += hold.length;
  }

  /**
   * The guard a version's writes trip, if any: HubSpot refusing too many of its latest settled
   * writes (asked only while it has refused any lately; once none of them are refused, the
   * version's release forgets its refusals), or its latest values drifting from the version before
   * it (unless an admin released a drift of it). `beforeId`: the claimed batch's first write.
   */
  private async trip(tx: EntityManager, portalId: string, release: ReleaseRow, beforeId: number): Promise<PauseReason | undefined> {
    if (release.refused_at !== null) {
      const [settled] = await tx.query(SETTLED_WRITES, [portalId, release.handler_type, release.handler_version, GUARDS.window, beforeId, release.judged_after]);
      const failing = failureRateOf(settled);
      if (failing) return failing;
      if (settled.refused === 0) {
        await tx.query(`UPDATE writeback_releases SET refused_at = NULL WHERE portal_id = $1 AND handler_type = $2 AND handler_version = $3`, [
          portalId,
          release.handler_type,
          release.handler_version,
        ]);
      }
    }
    if (release.drift_accepted) return undefined;
    const previous = await this.previousVersion(portalId, release.handler_type, release.handler_version, release.first_claim_at);
    if (previous === undefined) return undefined;
    const latest = await this.latestValues(tx, portalId, release.handler_type, release.handler_version, release.judged_after);
    return driftOf(latest, await this.baseline(portalId, release.handler_type, previous), previous);
  }

  /** The values of a version's latest writes in the portal (after `judgedAfter`), whatever became of them. */
  private async latestValues(within: EntityManager, portalId: string, type: string, version: string, judgedAfter: string | number = 0): Promise<WrittenValues> {
    const rows: Array<Record<string, any>> = await within.query(LATEST_VALUES, [portalId, type, version, GUARDS.window, judgedAfter]);
    const values: WrittenValues['values'] = {};
    let writes = 0;
    for (const row of rows) {
      if (row.property === null) writes = row.n;
      else (values[row.property] ??= {})[row.value] = row.n;
    }
    return { writes, values };
  }

  /** The version that wrote to the portal before this one began (by their first writes), cached for a minute. */
  private previousVersion(portalId: string, type: string, version: string, firstClaimAt: ReleaseRow['first_claim_at']): Promise<string | undefined> {
    const key = `${portalId}\u0000${versionKey(type, version)}`;
    const cached = this.previousVersions.get(key);
    if (cached && cached.expiresAt > Date.now()) return cached.version;
    const found = this.db
      .query(
        `SELECT handler_version FROM writeback_releases
         WHERE portal_id = $1 AND handler_type = $2 AND handler_version <> $3 AND first_claim_at < $4
         ORDER BY first_claim_at DESC LIMIT 1`,
        [portalId, type, version, firstClaimAt],
      )
      .then((rows: Array<{ handler_version: string }>) => rows[0]?.handler_version);
    this.previousVersions.set(key, { version: found, expiresAt: Date.now() + BASELINE_TTL_MS });
    found.catch(() => this.previousVersions.delete(key));
    return found;
  }

  /** The previous version's latest values, the baseline of drift; cached for a minute. */
  private baseline(portalId: string, type: string, version: string): Promise<WrittenValues> {
    const key = `${portalId}\u0000${versionKey(type, version)}`;
    const cached = this.baselines.get(key);
    if (cached && cached.expiresAt > Date.now()) return cached.values;
    const values = this.latestValues(this.db.manager, portalId, type, version);
    this.baselines.set(key, { values, expiresAt: Date.now() + BASELINE_TTL_MS });
    values.catch(() => this.baselines.delete(key));
    return values;
  }

  /**
   * Goes on to the next stage of every rollout that releases itself and has had its clean writes;
   * answers the lanes whose held writes it released.
   */
  async releaseDue(): Promise<WriteLane[]> {
    const rows: Array<Record<string, any>> = await this.db.query(
      `SELECT * FROM writeback_releases
       WHERE auto_release_after IS NOT NULL AND rollout_stage < cardinality(rollout_stages) AND paused_at IS NULL AND reverted_at IS NULL`,
    );
    const lanes: WriteLane[] = [];
    for (const row of rows) {
      if (!dueForRelease({ stages: row.rollout_stages, stage: row.rollout_stage, autoReleaseAfter: row.auto_release_after, clean: row.clean })) continue;
      const released = await this.db.transaction((tx) => this.advance(tx, row.portal_id, row.handler_type, row.handler_version, false, row.rollout_stage));
      if (!released) continue; // another writer released it first
      this.logger.log(`Rollout of ${row.handler_type}@${row.handler_version} to portal ${row.portal_id}: stage ${row.rollout_stage + 1} released after ${row.clean} clean writes`);
      lanes.push(...released);
    }
    return lanes;
  }

  /** The releases of every version that wrote to the portal, or was set up for it. */
  async list(portalId: string): Promise<ReleaseView[]> {
    const rows = await this.db.query(`${RELEASE_VIEW} WHERE r.portal_id = $1 ORDER BY r.handler_type, r.first_claim_at NULLS LAST, r.handler_version`, [portalId]);
    return rows.map(releaseView);
  }

  async get(portalId: string, type: string, version: string): Promise<ReleaseView> {
    const [row] = await this.db.query(`${RELEASE_VIEW} WHERE r.portal_id = $1 AND r.handler_type = $2 AND r.handler_version = $3`, [portalId, type, version]);
    return row ? releaseView(row) : emptyRelease(type, version);
  }

  /** Sets a version's dry-run-only setting and its rollout; a new rollout starts counting at its first stage, none releases what one held. */
  async configure(portalId: string, type: string, version: string, change: ReleaseChange): Promise<ReleaseView> {
    await this.db.transaction(async (tx) => {
      await tx.query(
        `INSERT INTO writeback_releases (portal_id, handler_type, handler_version) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`,
        [portalId, type, version],
      );
      await tx.query(`SELECT 1 FROM writeback_releases WHERE portal_id = $1 AND handler_type = $2 AND handler_version = $3 FOR UPDATE`, [portalId, type, version]);
      if (change.dryRunOnly !== undefined) {
        await tx.query(
          `UPDATE writeback_releases SET dry_run_only = $4, updated_at = now() WHERE portal_id = $1 AND handler_type = $2 AND handler_version = $3`,
          [portalId, type, version, change.dryRunOnly],
        );
      }
      if (change.rollout !== undefined) {
        const rollout = change.rollout;
        await tx.query(
          `UPDATE writeback_releases SET rollout_stages = $4, rollout_stage = 0, admitted = 0, clean = 0, auto_release_after = $5, updated_at = now()
           WHERE portal_id = $1 AND handler_type = $2 AND handler_version = $3`,
          [portalId, type, version, rollout ? (rollout.stages ?? DEFAULT_ROLLOUT_STAGES) : null, rollout?.autoReleaseAfter ?? null],
        );
        await this.unholdAllowed(tx, portalId, type, version);
      }
    });
    return this.get(portalId, type, version);
  }

  /**
   * Releases a version: ends its pause or its reverted state, or else takes its rollout to the next
   * stage (`all`: past the last). Conflict when nothing holds it. Audited: who, why, and what it ended.
   */
  async release(portalId: string, type: string, version: string, all: boolean, by: { actor: string; reason?: string }): Promise<ReleaseView> {
    await this.db.transaction(async (tx) => {
      const [row] = await tx.query(
        `SELECT * FROM writeback_releases WHERE portal_id = $1 AND handler_type = $2 AND handler_version = $3 FOR UPDATE`,
        [portalId, type, version],
      );
      const staged = row?.rollout_stages && row.rollout_stage < row.rollout_stages.length;
      if (!row || (row.paused_at === null && row.reverted_at === null && !staged)) {
        throw new ConflictError(`Write-back of ${type}@${version} is not paused, reverted or held by a rollout stage: there is nothing to release`);
      }
      const ended = row.reverted_at !== null ? 'revert' : row.paused_at !== null ? 'pause' : 'stage';
      await this.audit.record({ ...by, action: 'writeback.release', target: { portalId, type, version, ended }, matched: 1, done: 1 }, tx);
      if (row.paused_at !== null || row.reverted_at !== null) {
        // The writes that made the pause are not judged again, and a drift an admin released is the version's to make.
        await tx.query(
          `UPDATE writeback_releases SET paused_at = NULL, reverted_at = NULL, updated_at = now(),
             judged_after = (SELECT last_value FROM writebacks_id_seq), refused_at = NULL,
             drift_accepted = drift_accepted OR (paused_at IS NOT NULL AND pause_reason->>'code' IN ('drift', 'clearing'))
           WHERE portal_id = $1 AND handler_type = $2 AND handler_version = $3`,
          [portalId, type, version],
        );
        this.logger.log(`Write-back of ${type}@${version} to portal ${portalId} released from its ${row.reverted_at !== null ? 'revert' : 'pause'}`);
        if (!all) return this.unholdAllowed(tx, portalId, type, version);
      }
      if (staged) await this.advance(tx, portalId, type, version, all);
      else await this.unholdAllowed(tx, portalId, type, version);
    });
    return this.get(portalId, type, version);
  }

  /**
   * Marks a version reverted and puts its held writes back as pending: a claim then withdraws them
   * (failing their jobs), as it withdraws the version's later writes until the version is released.
   */
  async markReverted(tx: EntityManager, portalId: string, type: string, version: string): Promise<void> {
    await tx.query(
      `INSERT INTO writeback_releases AS r (portal_id, handler_type, handler_version, reverted_at) VALUES ($1, $2, $3, now())
       ON CONFLICT (portal_id, handler_type, handler_version) DO UPDATE SET reverted_at = now(), paused_at = NULL, updated_at = now()`,
      [portalId, type, version],
    );
    await tx.query(UNHOLD, [portalId, type, version, null]);
  }

  /** The portal's write-back settings. */
  async settings(portalId: string): Promise<{ readBeforeWrite: boolean }> {
    const [row] = await this.db.query(`SELECT read_before_write FROM writeback_settings WHERE portal_id = $1`, [portalId]);
    return { readBeforeWrite: row?.read_before_write ?? true };
  }

  async setSettings(portalId: string, settings: { readBeforeWrite: boolean }): Promise<{ readBeforeWrite: boolean }> {
    await this.db.query(
      `INSERT INTO writeback_settings (portal_id, read_before_write) VALUES ($1, $2)
       ON CONFLICT (portal_id) DO UPDATE SET read_before_write = excluded.read_before_write, updated_at = now()`,
      [portalId, settings.readBeforeWrite],
    );
    return this.settings(portalId);
  }

  /**
   * Takes a rollout to its next stage (`all`: past the last), and releases the held writes the
   * stage allows. `from`: only if the rollout is still at that stage (undefined when it is not).
   */
  private async advance(tx: EntityManager, portalId: string, type: string, version: string, all: boolean, from?: number): Promise<WriteLane[] | undefined> {
    const [{ advanced }] = await tx.query(
      `WITH advanced AS (
         UPDATE writeback_releases SET rollout_stage = CASE WHEN $4 THEN cardinality(rollout_stages) ELSE rollout_stage + 1 END, clean = 0, updated_at = now()
         WHERE portal_id = $1 AND handler_type = $2 AND handler_version = $3 AND ($5::int IS NULL OR rollout_stage = $5)
         RETURNING 1
       ) SELECT count(*)::int AS advanced FROM advanced`,
      [portalId, type, version, all, from ?? null],
    );
    return advanced === 0 ? undefined : this.unholdAllowed(tx, portalId, type, version);
  }

  /** Puts back as pending the held writes the version's release now allows: all of them, or as many as its rollout stage has room for. */
  private async unholdAllowed(tx: EntityManager, portalId: string, type: string, version: string): Promise<WriteLane[]> {
    const [row] = await tx.query(
      `SELECT rollout_stages, rollout_stage, admitted, paused_at, reverted_at FROM writeback_releases
       WHERE portal_id = $1 AND handler_type = $2 AND handler_version = $3`,
      [portalId, type, version],
    );
    if (!row || row.paused_at !== null) return [];
    const room = allowanceOf(row.rollout_stages, row.rollout_stage) - row.admitted;
    if (room <= 0) return [];
    const lanes = await tx.query(UNHOLD, [portalId, type, version, Number.isFinite(room) ? room : null]);
    return lanes.map((lane: Record<string, any>): WriteLane => ({ portalId: lane.portal_id, objectType: lane.object_type, priority: lane.priority }));
  }
}

const RELEASE_VIEW = `
  SELECT r.*, (SELECT count(*)::int FROM writebacks w
    WHERE w.portal_id = r.portal_id AND w.handler_type = r.handler_type AND w.handler_version = r.handler_version AND w.status = 'held') AS held
  FROM writeback_releases r`;

function versionKey(type: string, version: string): string {
  return `${type}\u0000${version}`;
}

function releaseView(row: Record<string, any>): ReleaseView {
  const stages: number[] | null = row.rollout_stages;
  return {
    type: row.handler_type,
    version: row.handler_version,
    dryRunOnly: row.dry_run_only,
    rollout: stages
      ? {
          stages,
          stage: row.rollout_stage,
          allowance: Number.isFinite(allowanceOf(stages, row.rollout_stage)) ? allowanceOf(stages, row.rollout_stage) : null,
          admitted: row.admitted,
          autoReleaseAfter: row.auto_release_after,
          clean: row.clean,
        }
      : null,
    paused: row.paused_at ? { at: row.paused_at.toISOString(), reason: row.pause_reason } : null,
    reverted: row.reverted_at ? { at: row.reverted_at.toISOString() } : null,
    held: row.held,
    firstWriteAt: row.first_claim_at?.toISOString() ?? null,
  };
}

function emptyRelease(type: string, version: string): ReleaseView {
  return { type, version, dryRunOnly: false, rollout: null, paused: null, reverted: null, held: 0, firstWriteAt: null };
}
