import Redis from 'ioredis';
import { setTimeout as sleep } from 'node:timers/promises';
import { loggingErrors } from '../support/offload-harness';
import { FaultEnv, probeSummary, until, writebackJobs } from './support/fault-env';
import { expectEveryJobDoneOnce } from './support/job-audit';
import { report, seconds } from './support/summary';

const JOBS = 2_000;

describe('fault suite: Redis loses every job it held', () => {
  let env: FaultEnv | undefined;

  afterEach(async () => {
    await env?.stop();
    env = undefined;
  });

  /** Enqueues the jobs (1 s runs, 400 at a time over both workers) and waits until they are well under way. */
  async function underWay(): Promise<string[]> {
    env = await FaultEnv.start({ contacts: JOBS + 200 });
    const ids = await env.enqueue(writebackJobs(1, JOBS, { sleepMs: 1_000 }));
    await until(() => env!.statuses(), (counts) => (counts.writing ?? 0) + (counts.succeeded ?? 0) >= 200 && (counts.queued ?? 0) >= 500, 60_000);
    return ids;
  }

  it('FLUSHALL: the reconciler queues again, from PostgreSQL, every live job the queue lost; each runs once', async () => {
    const ids = await underWay();
    const redis = loggingErrors(new Redis(env!.redis.port, '127.0.0.1'), 'Redis');
    const [{ n: queued }] = await env!.query(`SELECT count(*)::int AS n FROM jobs WHERE status = 'queued'`);
    const flushedAt = Date.now();
    await redis.flushall();
    redis.disconnect();
    ids.push(...(await env!.enqueue(writebackJobs(JOBS + 1, 200, { sleepMs: 1_000 }))));
    await env!.allEnded(JOBS + 200, 300_000);

    const audit = await expectEveryJobDoneOnce(env!, ids);
    expect(audit.runs).toBe(ids.length);
    const { lastEnd } = await env!.timeline(flushedAt);
    report('Redis FLUSHALL', `${JOBS + 200} jobs, ${queued} of them queued when Redis was flushed; all ended ${seconds(flushedAt, lastEnd)} after the flush`);
  }, 420_000);

  it('Redis killed and restarted empty: the API keeps answering, the reconciler queues the lost jobs again; each runs once', async () => {
    const ids = await underWay();
    const [job] = ids;
    const killedAt = Date.now();
    await env!.redis.stop();
    let down = true;
    const probing = env!.probeWhile(() => down, job);
    await sleep(10_000);
    await env!.redis.start();
    const restartedAt = Date.now();
    down = false;
    const { answers, keys } = await probing;
    ids.push(...(await env!.acceptProbes(keys, 60_000)));
    await env!.allEnded(ids.length, 300_000);

    expect(answers.filter((answer) => answer.status === 500 || answer.status === 0)).toEqual([]);
    const audit = await expectEveryJobDoneOnce(env!, ids);
    expect(audit.runs).toBe(ids.length);
    const { lastEnd } = await env!.timeline(restartedAt);
    report(
      'Redis killed and restarted empty',
      `${ids.length} jobs; down ${seconds(killedAt, restartedAt)}, the API answered ${probeSummary(answers)}; all ended ${seconds(restartedAt, lastEnd)} after the restart`,
    );
  }, 420_000);
});
