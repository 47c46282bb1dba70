import { Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import { AdminAudit, OFFLOAD_ACTOR } from '../jobs/admin-audit';
import { WritebackJournal } from '../jobs/writeback-journal';
import { MetricsService, PausedCount } from '../metrics/metrics.service';
import { RedisService } from '../redis/redis.service';
import { HandlerRegistry } from '../registry/handler-registry';
import { isUuid } from './portals.service';

/** How often each process reloads the pauses, in case a change was missed on the channel. */
const RELOAD_EVERY_MS = 15_000;

/** A pause: since when, and why. */
export interface Pause {
  since: Date;
  reason: string;
}

/** What holds a job's work: its portal's pause of all its work, or of the job's type. */
export interface JobPause extends Pause {
  scope: 'portal' | 'type';
}

/** A portal's pauses: of all its work (null when it runs), and of single job types. */
export interface PortalPauseState {
  portal: Pause | null;
  types: Record<string, Pause>;
}

/** Who pauses or resumes, why, and what: every job type (no `types`), or the types named. */
export interface PauseRequest {
  actor: string;
  reason?: string;
  types?: string[];
}

/** What a pause or a resume did: the pauses it was asked about (`matched`), and those it made or ended (`done`). */
export interface PauseOutcome {
  matched: number;
  done: number;
}

const NOT_PAUSED: PortalPauseState = { portal: null, types: {} };

/**
 * The kill switch: pausing a portal's work, all of it or that of some job types. Paused jobs are
 * not started (workers put them back for later, not counted as an attempt) and paused HubSpot
 * writes are held, until they resume. A pause keeps its first reason: pausing what is paused
 * changes nothing. Every pause and resume is audited (an automatic one as `offload`).
 *
 * A resume without types ends every pause of the portal. A resume of some types ends their
 * pauses; if the whole portal was paused, its pause becomes one of each other registered type
 * (same time and reason), so only the types named run again.
 *
 * Every process knows the pauses in memory (changes reach it through Redis at once, and a periodic
 * reload), so asking costs nothing.
 */
@Injectable()
export class PortalPauses implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(PortalPauses.name);
  private paused = new Map<string, PortalPauseState>();
  private readonly channel: string;
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly db: DataSource,
    private readonly redis: RedisService,
    private readonly audit: AdminAudit,
    private readonly journal: WritebackJournal,
    private readonly registry: HandlerRegistry,
    private readonly metrics: MetricsService,
  ) {
    this.channel = redis.key('portal-paused');
  }

  onModuleInit(): void {
    this.redis.subscribe(this.channel, () => void this.reload());
    this.timer = setInterval(() => void this.reload(), RELOAD_EVERY_MS);
    this.timer.unref();
    this.metrics.reportPausedPortals(() => this.counts());
    // Not awaited: start-up goes on (other modules' Redis subscriptions with it) while the pauses load.
    void this.reload();
  }

  onApplicationShutdown(): void {
    clearInterval(this.timer);
  }

  /** Whether the portal's work is paused, all of it, or (given a type) that of the type, as this process last heard. */
  isPaused(portalId: string, type?: string): boolean {
    return this.pauseOf(portalId, type) !== undefined;
  }

  /** What holds the portal's work (of the type, when given), if anything: the portal's pause first. */
  pauseOf(portalId: string, type?: string): JobPause | undefined {
    const state = this.paused.get(portalId);
    if (state?.portal) return { scope: 'portal', ...state.portal };
    const typePause = type === undefined ? undefined : state?.types[type];
    return typePause && { scope: 'type', ...typePause };
  }

  /** The job types paused on their own in the portal (a pause of the whole portal aside). */
  pausedTypes(portalId: string): string[] {
    return Object.keys(this.paused.get(portalId)?.types ?? {});
  }

  /** The portal's pauses as this process last heard. */
  stateOf(portalId: string): PortalPauseState {
    return this.paused.get(portalId) ?? NOT_PAUSED;
  }

  /** The job types paused on their own in the portal, as PostgreSQL holds them. */
  async typePauses(portalId: string): Promise<Record<string, Pause>> {
    const rows: Array<{ job_type: string; paused_at: Date; reason: string }> = await this.db.query(
      `SELECT job_type, paused_at, reason FROM portal_type_pauses WHERE portal_id = $1`,
      [portalId],
    );
    return Object.fromEntries(rows.map((row) => [row.job_type, { since: row.paused_at, reason: row.reason }]));
  }

  /** Pauses the portal's work (of the types, when named) with the reason; each pause already in place keeps its first reason. */
  async pause(portalId: string, request: PauseRequest & { reason: string }): Promise<PauseOutcome> {
    if (!isUuid(portalId)) return { matched: 0, done: 0 };
    const { types, reason } = request;
    const done = await this.db.transaction(async (tx) => {
      const [{ paused }] =
        types === undefined
          ? await tx.query(
              `WITH paused AS (UPDATE portals SET paused_at = now(), paused_reason = $2 WHERE id = $1 AND paused_at IS NULL RETURNING id)
               SELECT count(*)::int AS paused FROM paused`,
              [portalId, reason],
            )
          : await tx.query(
              `WITH paused AS (
                 INSERT INTO portal_type_pauses (portal_id, job_type, reason) SELECT $1, unnest($2::text[]), $3 ON CONFLICT DO NOTHING RETURNING 1)
               SELECT count(*)::int AS paused FROM paused`,
              [portalId, types, reason],
            );
      await this.audited(tx, 'portal.pause', portalId, request, { matched: types?.length ?? 1, done: paused });
      return paused as number;
    });
    if (done > 0) {
      this.logger.warn({ event: 'portal.paused', portalId, types, actor: request.actor }, `Portal ${portalId} is paused${types ? ` for ${types.join(', ')}` : ''}: ${reason}`);
      await this.announce();
    }
    return { matched: types?.length ?? 1, done };
  }

  /**
   * Resumes the portal's work: all of it (no `types`), the types named, or (`portalOnly`) only the
   * pause of the whole portal, leaving the pauses of single types in place. Held writes of the
   * types that resume go back to be sent.
   */
  async resume(portalId: string, request: PauseRequest & { portalOnly?: boolean }): Promise<PauseOutcome> {
    if (!isUuid(portalId)) return { matched: 0, done: 0 };
    const { types, portalOnly } = request;
    const outcome = await this.db.transaction(async (tx) => {
      const [portal]: Array<{ paused_at: Date; paused_reason: string }> = await tx.query(
        `SELECT paused_at, paused_reason FROM portals WHERE id = $1 AND paused_at IS NOT NULL FOR UPDATE`,
        [portalId],
      );
      if (portal) await tx.query(`UPDATE portals SET paused_at = NULL, paused_reason = NULL WHERE id = $1`, [portalId]);
      const ended: string[] =
        portalOnly === true
          ? []
          : (
              await tx.query(
                `WITH ended AS (DELETE FROM portal_type_pauses WHERE portal_id = $1 AND ($2::text[] IS NULL OR job_type = ANY($2::text[])) RETURNING job_type)
                 SELECT job_type FROM ended`,
                [portalId, types ?? null],
              )
            ).map((row: { job_type: string }) => row.job_type);
      if (portal && types !== undefined) {
        // The rest of the portal's work stays paused, type by type, as it was paused.
        const others = this.registry
          .list()
          .map((handler) => handler.type)
          .filter((type) => !types.includes(type));
        await tx.query(
          `INSERT INTO portal_type_pauses (portal_id, job_type, paused_at, reason) SELECT $1, unnest($2::text[]), $3, $4 ON CONFLICT DO NOTHING`,
          [portalId, others, portal.paused_at, portal.paused_reason],
        );
      }
      // After the pauses are gone: a claim that parked writes under a pause it locked has committed by now (see WritebackJournal).
      await this.journal.unholdTypes(tx, portalId, ended);
      const done = (portal ? 1 : 0) + ended.length;
      const matched = types === undefined ? done : types.length;
      await this.audited(tx, 'portal.resume', portalId, request, { matched, done });
      return { matched, done };
    });
    if (outcome.done > 0) {
      this.logger.log({ event: 'portal.resumed', portalId, types, actor: request.actor }, `Portal ${portalId} resumed${types ? ` for ${types.join(', ')}` : ''}`);
      await this.announce();
    }
    return outcome;
  }

  /** An admin's pause or resume is audited even when it changed nothing; Offload's own only when it did something. */
  private async audited(tx: EntityManager, action: string, portalId: string, request: PauseRequest, outcome: PauseOutcome): Promise<void> {
    if (outcome.done === 0 && request.actor === OFFLOAD_ACTOR) return;
    const target = { portalId, ...(request.types ? { types: request.types } : {}) };
    await this.audit.record({ actor: request.actor, action, reason: request.reason, target, ...outcome }, tx);
  }

  /** Paused portals by scope, for the gauge: the whole portal (`all`), or each job type (every registered one, 0 when none). */
  private counts(): PausedCount[] {
    const byType = new Map(this.registry.list().map((handler) => [handler.type, 0]));
    let all = 0;
    for (const state of this.paused.values()) {
      if (state.portal) all++;
      for (const type of Object.keys(state.types)) byType.set(type, (byType.get(type) ?? 0) + 1);
    }
    return [{ scope: 'all', count: all }, ...[...byType].map(([type, count]): PausedCount => ({ scope: 'type', type, count }))];
  }

  /** Tells every process (this one at once) that the pauses changed. */
  private async announce(): Promise<void> {
    await this.reload();
    await this.redis.publish(this.channel, '').catch((error: Error) => this.logger.warn(`Portal pause not announced, processes learn it within ${RELOAD_EVERY_MS} ms: ${error.message}`));
  }

  private async reload(): Promise<void> {
    try {
      const rows: Array<{ portal_id: string; job_type: string | null; paused_at: Date; reason: string }> = await this.db.query(
        `SELECT id AS portal_id, NULL AS job_type, paused_at, paused_reason AS reason FROM portals WHERE paused_at IS NOT NULL
         UNION ALL
         SELECT portal_id, job_type, paused_at, reason FROM portal_type_pauses`,
      );
      const paused = new Map<string, PortalPauseState>();
      for (const row of rows) {
        const state = paused.get(row.portal_id) ?? { portal: null, types: {} };
        const pause = { since: row.paused_at, reason: row.reason };
        if (row.job_type === null) state.portal = pause;
        else state.types[row.job_type] = pause;
        paused.set(row.portal_id, state);
      }
      this.paused = paused;
    } catch (error) {
      this.logger.warn(`Pauses not reloaded, keeping the last known: ${(error as Error).message}`);
    }
  }
}
