import { Injectable, OnModuleInit } from '@nestjs/common';
import { JobSignals } from './job-signals';

/**
 * Long-polls: each waiting request parks here, and the one shared subscription wakes exactly the
 * requests whose job ended. Waiting costs a map entry and a timer, no query.
 */
@Injectable()
export class JobWaiter implements OnModuleInit {
  private readonly waiting = new Map<string, Set<() => void>>();

  constructor(private readonly signals: JobSignals) {}

  onModuleInit(): void {
    this.signals.onFinished((ids) => {
      for (const id of ids) {
        const wakers = this.waiting.get(id);
        if (!wakers) continue;
        this.waiting.delete(id);
        wakers.forEach((wake) => wake());
      }
    });
  }

  /**
   * Registers interest before the caller reads the job, so an end that lands between the read and
   * the wait is not missed. `wait` resolves when the job ends or the time is up.
   */
  watch(id: string): { wait: (ms: number) => Promise<void>; cancel: () => void } {
    let wake!: () => void;
    const woken = new Promise<void>((resolve) => (wake = resolve));
    const wakers = this.waiting.get(id) ?? new Set();
    wakers.add(wake);
    this.waiting.set(id, wakers);
    const cancel = () => {
      wakers.delete(wake);
      if (wakers.size === 0 && this.waiting.get(id) === wakers) this.waiting.delete(id);
      wake();
    };
    return {
      cancel,
      wait: async (ms) => {
        const timer = setTimeout(cancel, ms);
        await woken;
        clearTimeout(timer);
        cancel();
      },
    };
  }
}
