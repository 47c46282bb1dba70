import Redis from 'ioredis';
import { randomBytes } from 'node:crypto';
import { DailyBudgetExhaustedError, Grant, PortalRateLimits, RateBudget, RateBudgetOptions } from '../src/hubspot/client/rate-budget';
import { loggingErrors } from './support/offload-harness';

// Several RateBudget instances, each on its own Redis connection, stand for several Offload processes.
// A 1-second window with 20 requests keeps the tests fast; the algorithm does not depend on the scale.
// Grant times come from Redis's clock and say what the budget did; how soon a grant came after it
// was due depends on the machine, so no test bounds it.
const WINDOW = 1000;
const N = 20;

const prefix = `offload-test-${randomBytes(5).toString('hex')}`;
const connections: Redis[] = [];
let nextPortal = 1;

interface Process {
  budget: RateBudget;
  /** Commands this process has sent to Redis since it was made. */
  commands(): number;
}

function processes(count: number, limits: PortalRateLimits, options: Partial<RateBudgetOptions> = {}): Process[] {
  return Array.from({ length: count }, () => {
    const redis = loggingErrors(new Redis({ host: '127.0.0.1', port: 6379, maxRetriesPerRequest: 2 }), 'Redis');
    connections.push(redis);
    let sent = 0;
    const sendCommand = redis.sendCommand.bind(redis);
    redis.sendCommand = (command) => {
      sent += 1;
      return sendCommand(command);
    };
    const budget = new RateBudget(redis, {
      keyPrefix: `${prefix}:hubspot-budget`,
      limits: () => limits,
      windowMs: WINDOW,
      safetyMargin: 1,
      ...options,
    });
    return { budget, commands: () => sent };
  });
}

/** A portal id no other test uses, so tests cannot see each other's budgets. */
function portal(): number {
  return 1000 + nextPortal++;
}

async function redisNow(): Promise<number> {
  const [seconds, micros] = await connections[0].time();
  return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The most grants inside any window-long span. */
function busiestWindow(times: number[]): number {
  const sorted = [...times].sort((a, b) => a - b);
  let most = 0;
  let start = 0;
  for (let end = 0; end < sorted.length; end++) {
    while (sorted[end] - sorted[start] >= WINDOW) start++;
    most = Math.max(most, end - start + 1);
  }
  return most;
}

/** Keeps acquiring (each grant standing for one HubSpot call) until stopped; answers every grant time. */
function saturate(budget: RateBudget, portalId: number, priority: 'live' | 'bulk', signal: AbortSignal): Promise<number[]> {
  const times: number[] = [];
  return (async () => {
    for (;;) {
      try {
        times.push((await budget.acquire(portalId, { priority, signal })).grantedAt);
      } catch (error) {
        if (signal.aborted) return times;
        throw error;
      }
    }
  })();
}

afterAll(async () => {
  const redis = loggingErrors(new Redis({ host: '127.0.0.1', port: 6379 }), 'Redis');
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    if (keys.length) await redis.del(...keys);
    cursor = next;
  } while (cursor !== '0');
  redis.disconnect();
  for (const connection of connections) connection.disconnect();
});

describe('RateBudget on a real Redis', () => {
  it('never grants more than the limit in any rolling window, whatever number of processes acquire at once', async () => {
    const id = portal();
    const fleet = processes(4, { requestsPer10s: N }, { liveReserve: 0 });
    const grants = await Promise.all(
      fleet.flatMap(({ budget }, p) =>
        Array.from({ length: 20 }, (_, i) => budget.acquire(id, { priority: (p + i) % 3 === 0 ? 'live' : 'bulk' })),
      ),
    );
    expect(grants).toHaveLength(80);
    const times = grants.map((grant) => grant.grantedAt);
    expect(busiestWindow(times)).toBe(N);
    // 80 grants at 20 per window need three full windows after the first burst.
    expect(Math.max(...times) - Math.min(...times)).toBeGreaterThanOrEqual(3 * WINDOW);
  });

  it('releases a waiter when the oldest grant leaves the window', async () => {
    const id = portal();
    const [a, b] = processes(2, { requestsPer10s: N });
    const burst = await Promise.all(Array.from({ length: N }, () => a.budget.acquire(id, { priority: 'bulk' })));
    const first = Math.min(...burst.map((grant) => grant.grantedAt));
    const before = b.commands();
    const late = await b.budget.acquire(id, { priority: 'bulk' });
    expect(late.grantedAt - first).toBeGreaterThanOrEqual(WINDOW);
    // denied, slept until the oldest grant left, granted: no polling meanwhile
    expect(late.attempts).toBeLessThanOrEqual(3);
    expect(b.commands() - before).toBe(late.attempts);
  });

  it('counts a request from its answer once settled, since HubSpot counts it from its arrival', async () => {
    const id = portal();
    const [a, b] = processes(2, { requestsPer10s: N });
    const burst = await Promise.all(Array.from({ length: N }, () => a.budget.acquire(id, { priority: 'bulk' })));
    const first = Math.min(...burst.map((grant) => grant.grantedAt));
    await sleep(300); // the requests are on their way; their answers arrive now
    const answeredAt = await redisNow();
    await Promise.all(burst.map((grant) => a.budget.settle(grant)));
    const late = await b.budget.acquire(id, { priority: 'bulk' });
    expect(late.grantedAt - first).toBeGreaterThanOrEqual(WINDOW + 300);
    expect(late.grantedAt - answeredAt).toBeGreaterThanOrEqual(WINDOW);
  });

  it('keeps the safety margin off the stated limit by default', async () => {
    const id = portal();
    const [p] = processes(1, { requestsPer10s: N }, { safetyMargin: undefined });
    const nineteen = await Promise.all(Array.from({ length: 19 }, () => p.budget.acquire(id, { priority: 'live' })));
    const twentieth = await p.budget.acquire(id, { priority: 'live' });
    // 95% of 20: the twentieth waits for the first of the nineteen to leave the window
    expect(twentieth.attempts).toBeGreaterThan(1);
    expect(twentieth.grantedAt - Math.min(...nineteen.map((grant) => grant.grantedAt))).toBeGreaterThanOrEqual(WINDOW);
  });

  it('rejects at once, in every process, when the day is spent, and grants again the next day', async () => {
    const id = portal();
    let clock = Date.parse('2026-05-04T23:00:00Z');
    const limits = { requestsPer10s: N, daily: 5 };
    const [a, b] = processes(2, limits, { now: () => clock });
    await Promise.all(Array.from({ length: 5 }, () => a.budget.acquire(id, { priority: 'live' })));
    const before = [a.commands(), b.commands()];
    const rejection = b.budget.acquire(id, { priority: 'live' });
    await expect(rejection).rejects.toBeInstanceOf(DailyBudgetExhaustedError);
    await expect(rejection).rejects.toMatchObject({ portalId: String(id), resetsAt: new Date('2026-05-05T00:00:00Z') });
    await expect(a.budget.acquire(id, { priority: 'bulk' })).rejects.toThrow(/daily API budget for portal \d+ is spent until/);
    // at once: one attempt each, no wait for a retry
    expect([a.commands() - before[0], b.commands() - before[1]]).toEqual([1, 1]);

    // just after midnight UTC: a new day
    clock = Date.parse('2026-05-05T00:00:00Z') + 1;
    await expect(b.budget.acquire(id, { priority: 'bulk' })).resolves.toMatchObject({ attempts: 1 });
  });

  it("honours HubSpot's own daily count from response headers, and its DAILY 429", async () => {
    const id = portal();
    const [a, b] = processes(2, { requestsPer10s: N, daily: 1000 });
    await a.budget.observe(id, { 'X-HubSpot-RateLimit-Daily': '1000', 'X-HubSpot-RateLimit-Daily-Remaining': '2' });
    await b.budget.acquire(id, { priority: 'live' });
    await b.budget.acquire(id, { priority: 'live' });
    await expect(b.budget.acquire(id, { priority: 'live' })).rejects.toBeInstanceOf(DailyBudgetExhaustedError);

    const other = portal();
    await a.budget.acquire(other, { priority: 'bulk' });
    const answer = { headers: {}, body: { status: 'error', errorType: 'RATE_LIMIT', policyName: 'DAILY' } };
    await expect(a.budget.recordRateLimited(other, answer)).resolves.toMatchObject({ daily: true });
    await expect(b.budget.acquire(other, { priority: 'live' })).rejects.toBeInstanceOf(DailyBudgetExhaustedError);
  });

  it('stops every process while paused after a 429, without polling Redis meanwhile', async () => {
    const id = portal();
    const fleet = processes(3, { requestsPer10s: N });
    const [a, b, c] = fleet;
    const pausedAt = await redisNow();
    const until = await a.budget.pause(id, 800);
    expect(until.getTime() - pausedAt).toBeGreaterThanOrEqual(799);
    // a shorter pause never cuts a longer one short
    expect((await c.budget.pause(id, 100)).getTime()).toBe(until.getTime());
    const before = fleet.map((p) => p.commands());
    const grants = await Promise.all([
      ...Array.from({ length: 5 }, () => b.budget.acquire(id, { priority: 'live' })),
      ...Array.from({ length: 5 }, () => c.budget.acquire(id, { priority: 'bulk' })),
    ]);
    for (const grant of grants) expect(grant.grantedAt).toBeGreaterThanOrEqual(until.getTime());
    // per process: one denied attempt for its line head, then one granting attempt per waiter
    expect(b.commands() - before[1]).toBeLessThanOrEqual(5 + 2);
    expect(c.commands() - before[2]).toBeLessThanOrEqual(5 + 2);

    const other = portal();
    const answer = { headers: { 'retry-after': '1' }, body: { policyName: 'TEN_SECONDLY_ROLLING' } };
    const recordedAt = await redisNow();
    const recorded = await a.budget.recordRateLimited(other, answer);
    if (recorded.daily) throw new Error('a ten-secondly 429 was taken for the daily limit');
    expect(recorded.pausedUntil.getTime() - recordedAt).toBeGreaterThanOrEqual(1000);
    const grant = await b.budget.acquire(other, { priority: 'live' });
    expect(grant.grantedAt).toBeGreaterThanOrEqual(recorded.pausedUntil.getTime());
  });

  it('serves live calls at the first freed slots while bulk calls saturate the budget, then holds bulk to its share', async () => {
    const id = portal();
    const fleet = processes(3, { requestsPer10s: N }, { liveReserve: 0.25 });
    const bulkPerWindow = 15;
    const stop = new AbortController();
    const bulk = fleet.flatMap(({ budget }) => Array.from({ length: 8 }, () => saturate(budget, id, 'bulk', stop.signal)));
    try {
      await sleep(1.5 * WINDOW);
      const burst = await Promise.all(Array.from({ length: 4 }, () => fleet[1].budget.acquire(id, { priority: 'live' })));
      // each live caller was denied at most once, then took the next slot that freed up: no bulk call got it first
      for (const grant of burst) expect(grant.attempts).toBeLessThanOrEqual(3);

      // live calls trickling in within the reserve (4 per window): bulk fills only its share, so they are never denied
      const trickle: Grant[] = [];
      const trickleStart = await redisNow();
      while ((await redisNow()) - trickleStart < 3 * WINDOW) {
        trickle.push(await fleet[2].budget.acquire(id, { priority: 'live' }));
        await sleep(WINDOW / 4);
      }
      stop.abort();
      const bulkTimes = (await Promise.all(bulk)).flat();

      const steady = (t: number) => t >= trickleStart + WINDOW;
      for (const grant of trickle.filter((g) => steady(g.grantedAt))) expect(grant.attempts).toBe(1);
      const steadyBulk = bulkTimes.filter(steady);
      expect(busiestWindow(steadyBulk)).toBeLessThanOrEqual(bulkPerWindow);
      expect(steadyBulk.length).toBeGreaterThan(0);
      const all = [...bulkTimes, ...burst.map((g) => g.grantedAt), ...trickle.map((g) => g.grantedAt)];
      expect(busiestWindow(all)).toBeLessThanOrEqual(N);
    } finally {
      stop.abort();
      await Promise.allSettled(bulk);
    }
  });

  it('gives bulk calls the whole budget when no live call is about', async () => {
    const id = portal();
    const [p] = processes(1, { requestsPer10s: N }, { liveReserve: 0.25 });
    const grants = await Promise.all(Array.from({ length: N }, () => p.budget.acquire(id, { priority: 'bulk' })));
    for (const grant of grants) expect(grant.attempts).toBe(1);
  });

  it('stops waiting when the signal aborts, wherever the waiter is in line, and the slot goes to the next', async () => {
    const id = portal();
    const [p, q] = processes(2, { requestsPer10s: N });
    await Promise.all(Array.from({ length: N }, () => q.budget.acquire(id, { priority: 'bulk' })));

    const aborted = new AbortController();
    aborted.abort();
    const before = p.commands();
    await expect(p.budget.acquire(id, { priority: 'bulk', signal: aborted.signal })).rejects.toMatchObject({ name: 'AbortError' });
    expect(p.commands()).toBe(before);

    const head = new AbortController();
    const middle = new AbortController();
    const first = p.budget.acquire(id, { priority: 'bulk', signal: head.signal });
    const second = p.budget.acquire(id, { priority: 'bulk', signal: middle.signal });
    const third = p.budget.acquire(id, { priority: 'bulk' });
    const settled: string[] = [];
    for (const [name, waiter] of [['head', first], ['middle', second], ['third', third]] as const) {
      waiter.then(
        () => settled.push(`${name} granted`),
        () => settled.push(`${name} gave up`),
      );
    }
    await sleep(100);
    middle.abort(new Error('job cancelled'));
    await expect(second).rejects.toThrow('job cancelled');
    head.abort();
    await expect(first).rejects.toMatchObject({ name: 'AbortError' });

    const granted = await third;
    expect(settled).toEqual(['middle gave up', 'head gave up', 'third granted']);
    // the aborted head's sleep ended with it: the third became head and took the first slot that freed up
    expect(granted.attempts).toBeLessThanOrEqual(3);
    const times = await connections[0].zrange(`${prefix}:hubspot-budget:{${id}}:window`, 0, -1);
    expect(times.length).toBeLessThanOrEqual(N);
  });

  it('makes about one Redis call per grant, however many callers wait', async () => {
    const id = portal();
    const fleet = processes(2, { requestsPer10s: N });
    await Promise.all(Array.from({ length: N }, () => fleet[0].budget.acquire(id, { priority: 'bulk' })));
    const before = fleet.map((p) => p.commands());
    const waiting = fleet.flatMap(({ budget }) => Array.from({ length: 25 }, () => budget.acquire(id, { priority: 'bulk' })));
    const grants = await Promise.all(waiting);
    expect(grants).toHaveLength(50);
    const sent = fleet.map((p, i) => p.commands() - before[i]);
    // 25 grants per process; a denied attempt costs one call and then sleeps until the slot it needs frees up
    for (const count of sent) expect(count).toBeLessThanOrEqual(25 * 3);
    const attempts = grants.reduce((total, grant) => total + grant.attempts, 0);
    expect(sent[0] + sent[1]).toBe(attempts);
  });
});
