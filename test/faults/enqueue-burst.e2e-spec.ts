import { FaultEnv } from './support/fault-env';
import { expectEveryJobDoneOnce } from './support/job-audit';
import { report, seconds } from './support/summary';

const ENQUEUES = 50_000;
/** Every fifth enqueue repeats a key sent before: 20%. */
const REPEAT_EVERY = 5;
const KEYS = ENQUEUES - ENQUEUES / REPEAT_EVERY;
/** Requests on their way at once, as many workflow executions calling at the same moment. */
const IN_FLIGHT = 48;

describe('fault suite: a burst of enqueues', () => {
  let env: FaultEnv | undefined;

  afterAll(async () => {
    await env?.stop();
  });

  it('50,000 POST /v1/jobs with 20% repeated keys: each key makes one job, run once; every repeat answers 200 with that job', async () => {
    env = await FaultEnv.start({ contacts: KEYS, simulator: { rateLimit: 1_000 } });
    const { admin, portalId } = env;
    expect((await admin.request('PATCH', `/v1/admin/portals/${portalId}`, { rateLimit: { requestsPer10s: 1_000 } })).status).toBe(200);

    // The n-th enqueue: a new key (its own contact to write back to), or, every fifth, a key sent
    // before: half of those the one just sent (likely still on its way), half one sent long ago.
    let keys = 0;
    const plan = Array.from({ length: ENQUEUES }, (_, n) => {
      if (n % REPEAT_EVERY !== REPEAT_EVERY - 1) return ++keys;
      return n % (2 * REPEAT_EVERY) === REPEAT_EVERY - 1 ? keys : 1 + ((n * 7919) % keys);
    });
    const body = (key: number) => ({ type: 'noop', object: { type: 'contacts', id: String(key) }, writeback: true, idempotencyKey: `burst-${key}` });
    const answers = new Map<number, Array<{ status: number; id: string }>>();
    const refused: Array<{ status: number; body: unknown }> = [];
    let next = 0;
    const startedAt = Date.now();
    await Promise.all(
      Array.from({ length: IN_FLIGHT }, async () => {
        for (let n = next++; n < ENQUEUES; n = next++) {
          const answer = await env!.client.post('/v1/jobs', body(plan[n]));
          if (answer.status !== 202 && answer.status !== 200) refused.push({ status: answer.status, body: answer.body });
          else answers.set(plan[n], [...(answers.get(plan[n]) ?? []), { status: answer.status, id: answer.body.id }]);
        }
      }),
    );
    const enqueuedAt = Date.now();
    expect(refused.slice(0, 5)).toEqual([]);

    expect(answers.size).toBe(KEYS);
    const wrong = [...answers].filter(([, got]) => new Set(got.map((a) => a.id)).size !== 1 || got.filter((a) => a.status === 202).length !== 1);
    expect(wrong.slice(0, 5)).toEqual([]);
    const ids = [...answers.values()].map((got) => got[0].id);
    await env.allEnded(KEYS, 600_000);

    const audit = await expectEveryJobDoneOnce(env, ids);
    expect(audit.runs).toBe(KEYS);
    const { lastEnd } = await env.timeline(startedAt);
    report(
      '50,000 enqueues, 20% repeated keys',
      `${KEYS} jobs from ${ENQUEUES} requests (${IN_FLIGHT} at once); enqueued in ${seconds(startedAt, enqueuedAt)} ` +
        `(${Math.round(ENQUEUES / ((enqueuedAt - startedAt) / 1000))}/s), all ended ${seconds(startedAt, lastEnd)} after the first`,
    );
  }, 900_000);
});
