import { Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { MicroBatcher } from '../common/micro-batcher';
import { ScheduledJob, Settlement } from '../queue/fair-share';
import { JobQueue, QueuedJob } from '../queue/job-queue.service';
import { HandlerRegistry } from '../registry/handler-registry';

/** What a worker tells the schedule about one job type: merged into one Settlement per batch. */
type Report = { started: number } | { ended: ScheduledJob } | { back: ScheduledJob; dueAt: number } | { waiting: number };

/**
 * How often each worker process corrects the schedule's count of the jobs waiting in BullMQ (a
 * process that died between letting jobs in and adding them leaves it too high), and looks for
 * retries come due and capped portals whose slots lapsed.
 */
const TICK_MS = 1_000;

/**
 * The worker's side of the fair share: as runs start, BullMQ's lookahead has room, and each
 * batch of reports feeds it again, so the executor's queue stays short and full. Runs of capped
 * portals report their end (their slot is free), and jobs to run again go back to their portal's
 * share, due when their backoff ends.
 */
@Injectable()
export class QueueFeeder implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(QueueFeeder.name);
  private readonly feeds = new Map<string, MicroBatcher<Report, void>>();
  private readonly wakeups = new Map<string, { at: number; timer: NodeJS.Timeout }>();
  private ticker?: NodeJS.Timeout;

  constructor(
    private readonly queue: JobQueue,
    registry: HandlerRegistry,
  ) {
    for (const { type } of registry.list()) {
      this.feeds.set(
        type,
        new MicroBatcher<Report, void>({
          maxBatchSize: 1000,
          maxInFlight: 1,
          execute: async (reports) => {
            await this.queue.settle(type, settlementOf(reports));
            return reports.map(() => undefined);
          },
        }),
      );
    }
  }

  onApplicationBootstrap(): void {
    this.ticker = setInterval(() => void this.tick(), TICK_MS).unref();
  }

  onApplicationShutdown(): void {
    clearInterval(this.ticker);
    for (const { timer } of this.wakeups.values()) clearTimeout(timer);
  }

  /** A run of the type started: BullMQ's lookahead has room for one more. */
  started(type: string): void {
    this.report(type, { started: 1 });
  }

  /** A run of a capped portal ended, or will not happen: its slot is free. */
  ended(job: QueuedJob): void {
    this.report(job.type, { ended: job });
  }

  /** Puts a job back in its portal's share, to be let through again from dueAt on (a retry after its backoff). */
  async back(job: QueuedJob, dueAt: number): Promise<void> {
    await this.report(job.type, { back: job, dueAt });
    this.wakeAt(job.type, dueAt);
  }

  confirm(job: QueuedJob, leaseMs: number): Promise<boolean> {
    return this.queue.confirm(job, leaseMs);
  }

  /** Sends what is still gathered; for shutdown, once no run is left. */
  async drain(): Promise<void> {
    await Promise.all([...this.feeds.values()].map((feed) => feed.drain()));
  }

  private report(type: string, report: Report): Promise<void> {
    return this.feeds
      .get(type)!
      .add(report)
      .catch((error: Error) => this.logger.warn(`The schedule of ${type} jobs did not take a report, the next one corrects it: ${error.message}`));
  }

  private async tick(): Promise<void> {
    await Promise.all(
      [...this.feeds.keys()].map(async (type) => {
        const waiting = await this.queue.waiting(type).catch(() => undefined);
        if (waiting !== undefined) await this.report(type, { waiting });
      }),
    );
  }

  /** A feed when the earliest job put back comes due, so a retry waits for its backoff and not for the next tick. */
  private wakeAt(type: string, dueAt: number): void {
    const current = this.wakeups.get(type);
    if (current && current.at <= dueAt) return;
    if (current) clearTimeout(current.timer);
    const timer = setTimeout(() => {
      this.wakeups.delete(type);
      void this.report(type, { started: 0 });
    }, Math.max(0, dueAt - Date.now())).unref();
    this.wakeups.set(type, { at: dueAt, timer });
  }
}

function settlementOf(reports: Report[]): Settlement {
  const settlement: Settlement = { started: 0, ended: [], back: [] };
  for (const report of reports) {
    if ('started' in report) settlement.started += report.started;
    else if ('ended' in report) settlement.ended.push(report.ended);
    else if ('back' in report) settlement.back.push({ job: report.back, dueAt: report.dueAt });
    else settlement.waiting = report.waiting;
  }
  return settlement;
}
