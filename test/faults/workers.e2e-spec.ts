import { FaultEnv, until, writebackJobs } from './support/fault-env';
import { expectEveryJobDoneOnce } from './support/job-audit';
import { report, seconds } from './support/summary';

describe('fault suite: workers that die or stop', () => {
  let env: FaultEnv | undefined;

  afterEach(async () => {
    await env?.stop();
    env = undefined;
  });

  it('a worker SIGKILLed mid-run: the other takes its runs over once they are known dead; each job ends once, each record written once', async () => {
    const JOBS = 800;
    env = await FaultEnv.start({ contacts: JOBS });
    // 5 s runs, 200 at a time per worker: more than 200 running means both workers hold runs.
    const ids = await env.enqueue(writebackJobs(1, JOBS, { sleepMs: 5_000 }));
    await until(() => env!.statuses(), (counts) => (counts.running ?? 0) > 250, 60_000);

    const killedAt = Date.now();
    await env.kill(env.workers[0]);
    await env.allEnded(JOBS, 300_000);

    const audit = await expectEveryJobDoneOnce(env, ids);
    expect(audit.takenOver).toBeGreaterThan(0);
    const { firstTakeover, lastEnd } = await env.timeline(killedAt);
    report(
      'worker SIGKILLed mid-run',
      `${JOBS} jobs, ${audit.takenOver} runs of the dead worker taken over; first taken over ${seconds(killedAt, firstTakeover)} after the kill, all ended ${seconds(killedAt, lastEnd)} after`,
    );
  }, 420_000);

  it('a worker SIGKILLed with write-back batch calls in flight: its leases lapse, the other reads the records back and sends nothing twice', async () => {
    const JOBS = 2_000;
    env = await FaultEnv.start({ contacts: JOBS, workers: 1 });
    const [doomed] = env.workers;
    // Every batch update takes 8 s: calls are on their way for as long as the writes last.
    env.sim.inject.faults({ latencyMs: 8_000, pathIncludes: '/batch/update' });
    const ids = await env.enqueue(writebackJobs(1, JOBS));
    const [{ sent_by: doomedWriter }] = await until(
      () => env!.query(`SELECT DISTINCT sent_by FROM writebacks WHERE status = 'sent'`),
      (rows) => rows.length > 0,
      60_000,
    );
    await env.startWorker();
    await until(
      () => env!.query(`SELECT count(*)::int AS n FROM writebacks WHERE status = 'sent' AND sent_by = $1`, [doomedWriter]),
      ([row]) => row.n > 0 && env!.sim.stats().inFlight > 0,
      60_000,
    );

    const killedAt = Date.now();
    await env.kill(doomed);
    // What the dead writer had sent and never heard back about: HubSpot applies those calls all the same.
    const [{ n: orphaned }] = await env.query(`SELECT count(*)::int AS n FROM writebacks WHERE status = 'sent' AND sent_by = $1`, [doomedWriter]);
    expect(orphaned).toBeGreaterThan(0);
    await env.allEnded(JOBS, 300_000);

    await expectEveryJobDoneOnce(env, ids);
    const readBack = env.sim.listCalls({ endpoint: 'crm.objects.batch.read' }).filter((call) => call.status === 200);
    expect(readBack.length).toBeGreaterThan(0);
    const { lastEnd } = await env.timeline(killedAt);
    report(
      'worker SIGKILLed mid-batch-call',
      `${JOBS} jobs, ${orphaned} writes on their way when it died, read back by the other writer in ${readBack.length} calls; all ended ${seconds(killedAt, lastEnd)} after the kill`,
    );
  }, 420_000);

  it('the only worker killed and restarted: the new one takes the dead runs over once they are known dead', async () => {
    const JOBS = 600;
    env = await FaultEnv.start({ contacts: JOBS, workers: 1 });
    const ids = await env.enqueue(writebackJobs(1, JOBS, { sleepMs: 4_000 }));
    await until(() => env!.statuses(), (counts) => (counts.running ?? 0) >= 100, 60_000);

    const killedAt = Date.now();
    await env.kill(env.workers[0]);
    await env.startWorker();
    const restartedAt = Date.now();
    await env.allEnded(JOBS, 300_000);

    const audit = await expectEveryJobDoneOnce(env, ids);
    expect(audit.takenOver).toBeGreaterThan(0);
    const { firstTakeover, lastEnd } = await env.timeline(killedAt);
    report(
      'only worker killed and restarted',
      `${JOBS} jobs, ${audit.takenOver} runs taken over; ready again ${seconds(killedAt, restartedAt)} after the kill, first taken over ${seconds(killedAt, firstTakeover)} after, all ended ${seconds(killedAt, lastEnd)} after`,
    );
  }, 420_000);

  it('SIGTERM with jobs running and HubSpot answering in 12 s: the worker exits 0, hands its runs back, waits for its calls; nothing is written twice', async () => {
    const JOBS = 600;
    env = await FaultEnv.start({ contacts: JOBS });
    env.sim.inject.latency(12_000);
    // Half the jobs end at once and wait on slow batch calls; the other half are still running (9 s) at SIGTERM.
    const ids = await env.enqueue(writebackJobs(1, JOBS / 2));
    await until(async () => env!.sim.stats().inFlight, (inFlight) => inFlight > 0, 60_000);
    ids.push(...(await env.enqueue(writebackJobs(JOBS / 2 + 1, JOBS / 2, { sleepMs: 9_000 }))));
    await until(() => env!.statuses(), (counts) => (counts.running ?? 0) > 200, 60_000);

    const [stopping] = env.workers;
    const stoppedAt = Date.now();
    stopping.child.kill('SIGTERM');
    expect(await stopping.exited).toEqual({ code: 0, signal: null });
    const exitedAt = Date.now();
    await env.allEnded(JOBS, 300_000);

    const audit = await expectEveryJobDoneOnce(env, ids);
    expect(audit.handedBack).toBeGreaterThan(0);
    expect(audit.runs).toBe(JOBS + audit.handedBack);
    const { lastEnd } = await env.timeline(stoppedAt);
    report(
      'SIGTERM with a slow HubSpot',
      `${JOBS} jobs, ${audit.handedBack} runs handed back; exited 0 ${seconds(stoppedAt, exitedAt)} after SIGTERM, all ended ${seconds(stoppedAt, lastEnd)} after`,
    );
  }, 420_000);
});
