import { setTimeout as sleep } from 'node:timers/promises';
import type { FaultSettings } from '../../tools/simulators/hubspot';
import { FaultEnv, until, writebackJobs } from './support/fault-env';
import { expectEveryJobDoneOnce } from './support/job-audit';
import { report, seconds } from './support/summary';

const JOBS = 1_500;
const STORM_MS = 20_000;

describe('fault suite: HubSpot refuses, fails or hangs on the write-back calls', () => {
  let env: FaultEnv | undefined;

  afterEach(async () => {
    await env?.stop();
    env = undefined;
  });

  /**
   * Enqueues a write-back job per contact, turns the fault on once the first batch update is on its
   * way, and off after `faultMs` (0: the fault ends itself); then checks that every job ran once and
   * every record was written once. Answers when the fault ended and when the last job did.
   */
  async function writesThrough(faults: FaultSettings, faultMs: number): Promise<{ cleared: number; lastEnd?: number }> {
    env = await FaultEnv.start({ contacts: JOBS });
    const ids = await env.enqueue(writebackJobs(1, JOBS));
    await until(async () => env!.sim.stats().byEndpoint['crm.objects.batch.update']?.total ?? 0, (calls) => calls > 0, 60_000);
    env.sim.inject.faults({ ...faults, pathIncludes: '/batch/update' });
    if (faultMs > 0) {
      await sleep(faultMs);
      env.sim.inject.clear();
    }
    const cleared = Date.now();
    await env.allEnded(JOBS, 300_000);

    const audit = await expectEveryJobDoneOnce(env, ids);
    expect(audit.runs).toBe(JOBS);
    return { cleared, lastEnd: (await env.timeline(cleared)).lastEnd };
  }

  it('a 429 storm of 20 s: every process waits it out; each job runs once and each record is written once', async () => {
    const { cleared, lastEnd } = await writesThrough({ stormMs: STORM_MS }, STORM_MS);
    const { storm } = env!.sim.stats().faults;
    expect(storm).toBeGreaterThan(0);
    report('429 storm', `${JOBS} jobs, ${storm} calls answered 429 in ${STORM_MS / 1000} s; all ended ${seconds(cleared, lastEnd)} after the storm`);
  }, 420_000);

  it('a 5xx storm of 20 s (80% of batch updates): writes are sent again, never their handler run; each record is written once', async () => {
    const { cleared, lastEnd } = await writesThrough({ errorRate: 0.8, errorStatuses: [500, 502, 503, 504] }, STORM_MS);
    const { error } = env!.sim.stats().faults;
    expect(error).toBeGreaterThan(0);
    report('5xx storm', `${JOBS} jobs, ${error} calls answered 5xx in ${STORM_MS / 1000} s; all ended ${seconds(cleared, lastEnd)} after the storm`);
  }, 420_000);

  it('hanging calls (no answer for 25 s, then the connection lost): the call times out and goes again; each record is written once', async () => {
    const startedAt = Date.now();
    const { lastEnd } = await writesThrough({ timeoutNext: 4, timeoutMs: 25_000 }, 0);
    const { timeout } = env!.sim.stats().faults;
    expect(timeout).toBe(4);
    report('hanging HubSpot calls', `${JOBS} jobs, ${timeout} batch updates left hanging; all ended ${seconds(startedAt, lastEnd)} after the first enqueue`);
  }, 420_000);
});
