import type { Logger } from '@nestjs/common';
import { setTimeout as sleep } from 'node:timers/promises';

/** Waits between tries while a backing service cannot be reached: doubling from the first, capped. */
const FIRST_WAIT_MS = 200;
const MAX_WAIT_MS = 5_000;

/**
 * Runs `step` until it succeeds, waiting between tries: for what must not be given up because a
 * backing service is down for a while (a run's outcome, HubSpot's answer to a write). The first
 * failure is logged as `what` ... "could not be done".
 */
export async function persistently<T>(what: string, step: () => Promise<T>, logger: Logger): Promise<T> {
  for (let wait = FIRST_WAIT_MS; ; wait = Math.min(wait * 2, MAX_WAIT_MS)) {
    try {
      return await step();
    } catch (error) {
      if (wait === FIRST_WAIT_MS) logger.warn(`${what} failed, trying again until it can be done: ${(error as Error).message}`);
      await sleep(wait);
    }
  }
}
