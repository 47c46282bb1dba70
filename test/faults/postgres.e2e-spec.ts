import { setTimeout as sleep } from 'node:timers/promises';
import { FaultEnv, until, writebackJobs } from './support/fault-env';
import { expectEveryJobDoneOnce } from './support/job-audit';
import { report, seconds } from './support/summary';

const JOBS = 2_000;
const OUTAGE_MS = 30_000;

describe('fault suite: PostgreSQL, the source of truth, goes away', () => {
  let env: FaultEnv | undefined;

  afterEach(async () => {
    await env?.stop();
    env = undefined;
  });

  it('stopped with -m immediate for 30 s, then started: the API answers 503 unavailable throughout, never 500; runs and writes are recorded once it is back', async () => {
    env = await FaultEnv.start({ contacts: JOBS });
    // Batch updates take 3 s, so that HubSpot answers some of them while PostgreSQL is down.
    env.sim.inject.faults({ latencyMs: 3_000, pathIncludes: '/batch/update' });
    const ids = await env.enqueue(writebackJobs(1, JOBS, { sleepMs: 500 }));
    await until(async () => env!.sim.stats().inFlight, (inFlight) => inFlight > 0, 60_000);

    await env.cluster.crash();
    const crashedAt = Date.now();
    let phase: 'down' | 'starting' | 'up' = 'down';
    const probing = env.probeWhile(() => phase !== 'up', ids[0]);
    await sleep(OUTAGE_MS);
    phase = 'starting';
    const startingAt = Date.now();
    await env.cluster.start();
    const upAt = Date.now();
    phase = 'up';
    const { answers, keys } = await probing;
    ids.push(...(await env.acceptProbes(keys, 60_000)));
    await env.allEnded(ids.length, 300_000);

    const audit = await expectEveryJobDoneOnce(env, ids);
    expect(audit.takenOver).toBe(0);
    const refused = answers.filter((answer) => answer.status < 200 || answer.status >= 300);
    const { lastEnd } = await env.timeline(upAt);
    report(
      'PostgreSQL stopped -m immediate for 30 s',
      `${ids.length} jobs; ${answers.length} API calls during the outage and restart, ${refused.filter((a) => a.status === 503).length} answered 503, ` +
        `${refused.filter((a) => a.status !== 503).length} otherwise refused; down ${seconds(crashedAt, startingAt)}, accepting connections ` +
        `${seconds(startingAt, upAt)} after the start; all ended ${seconds(upAt, lastEnd)} after`,
    );
    // Down, and while it starts, a request either gets through or is refused as the contract says.
    expect(refused.filter((answer) => answer.status !== 503 || answer.code !== 'unavailable')).toEqual([]);
    expect(refused.length).toBeGreaterThan(0);
  }, 420_000);
});
