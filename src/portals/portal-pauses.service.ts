import { Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { IsNull, Not, Repository } from 'typeorm';
import { RedisService } from '../redis/redis.service';
import { Portal } from './portal.entity';
import { isUuid } from './portals.service';

/** How often each process reloads the paused portals, in case a change was missed on the channel. */
const RELOAD_EVERY_MS = 15_000;

/**
 * Pausing a portal's work: its queued jobs are not started (workers put them back for later) and its
 * HubSpot writes are held, until it resumes. A pause keeps its reason (an uninstall, an admin) and is
 * set once: pausing a paused portal changes nothing. Every process knows the paused portals in
 * memory (changes reach it through Redis at once, and a periodic reload), so asking costs nothing.
 */
@Injectable()
export class PortalPauses implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(PortalPauses.name);
  private paused = new Set<string>();
  private readonly channel: string;
  private timer?: NodeJS.Timeout;

  constructor(
    @InjectRepository(Portal) private readonly portals: Repository<Portal>,
    private readonly redis: RedisService,
  ) {
    this.channel = redis.key('portal-paused');
  }

  onModuleInit(): void {
    this.redis.subscribe(this.channel, () => void this.reload());
    this.timer = setInterval(() => void this.reload(), RELOAD_EVERY_MS);
    this.timer.unref();
    // Not awaited: start-up goes on (other modules' Redis subscriptions with it) while the pauses load.
    void this.reload();
  }

  onApplicationShutdown(): void {
    clearInterval(this.timer);
  }

  /** Whether the portal's work is paused, as this process last heard. */
  isPaused(portalId: string): boolean {
    return this.paused.has(portalId);
  }

  /** Pauses the portal's work with the reason; false when it was paused already (the first reason stands). */
  async pause(portalId: string, reason: string): Promise<boolean> {
    if (!isUuid(portalId)) return false;
    const result = await this.portals
      .createQueryBuilder()
      .update(Portal)
      .set({ pausedAt: () => 'now()', pausedReason: reason })
      .where('id = :portalId AND paused_at IS NULL', { portalId })
      .execute();
    if (!result.affected) return false;
    this.paused.add(portalId);
    this.logger.warn(`Portal ${portalId} is paused: ${reason}`);
    await this.announce();
    return true;
  }

  /** Resumes the portal's work; false when it was not paused. */
  async resume(portalId: string): Promise<boolean> {
    if (!isUuid(portalId)) return false;
    const result = await this.portals.update({ id: portalId, pausedAt: Not(IsNull()) }, { pausedAt: null, pausedReason: null });
    if (!result.affected) return false;
    this.paused.delete(portalId);
    this.logger.log(`Portal ${portalId} resumed`);
    await this.announce();
    return true;
  }

  private async announce(): Promise<void> {
    await this.redis.publish(this.channel, '').catch((error: Error) => this.logger.warn(`Portal pause not announced, processes learn it within ${RELOAD_EVERY_MS} ms: ${error.message}`));
  }

  private async reload(): Promise<void> {
    try {
      const rows = await this.portals.find({ select: { id: true }, where: { pausedAt: Not(IsNull()) } });
      this.paused = new Set(rows.map((row) => row.id));
    } catch (error) {
      this.logger.warn(`Paused portals not reloaded, keeping the last known: ${(error as Error).message}`);
    }
  }
}
