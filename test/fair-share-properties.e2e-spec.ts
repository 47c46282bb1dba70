import fc from 'fast-check';
import { randomBytes } from 'node:crypto';
import type { AppConfig } from '../src/config/app-config';
import { Admission, FairShare, PortalScheduling, ScheduledJob } from '../src/queue/fair-share';
import { RedisService } from '../src/redis/redis.service';

const TYPE = 'noop';
const LOOKAHEAD = { least: 2, most: 6 };
const LEASE_MS = 60_000;
const PORTALS = ['p0', 'p1', 'p2', 'p3'];

type Command =
  | { kind: 'push'; portal: number; count: number; bulk: boolean }
  | { kind: 'start'; count: number }
  | { kind: 'finish'; count: number; retry: boolean }
  | { kind: 'cancel'; pick: number };

const command: fc.Arbitrary<Command> = fc.oneof(
  fc.record({ kind: fc.constant('push' as const), portal: fc.nat(PORTALS.length - 1), count: fc.integer({ min: 1, max: 12 }), bulk: fc.boolean() }),
  fc.record({ kind: fc.constant('start' as const), count: fc.integer({ min: 1, max: 8 }) }),
  fc.record({ kind: fc.constant('finish' as const), count: fc.integer({ min: 1, max: 8 }), retry: fc.boolean() }),
  fc.record({ kind: fc.constant('cancel' as const), pick: fc.nat() }),
);

const scheduling: fc.Arbitrary<PortalScheduling> = fc.record({
  weight: fc.integer({ min: 1, max: 3 }),
  maxConcurrency: fc.option(fc.integer({ min: 1, max: 3 }), { nil: null }),
});

/**
 * The schedule against a model of its executor and workers: jobs in the schedule (backlogs and
 * put back), let through and waiting in the executor, running. Whatever the commands, no job is
 * let through twice for one entry into the schedule, no capped portal ever has more than its
 * maxConcurrency let through and running, and once the workers keep taking, every job still in
 * the schedule comes out (none starves).
 */
describe('the fair share schedule (property-based, on Redis)', () => {
  let redis: RedisService;

  beforeAll(() => {
    redis = new RedisService({ redis: { host: '127.0.0.1', port: 6379, db: 0 }, redisPrefix: 'unused' } as AppConfig);
  });

  afterAll(() => redis.client.disconnect());

  it('lets every job through once, keeps capped portals within their slots, and starves none', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(scheduling, { minLength: PORTALS.length, maxLength: PORTALS.length }), fc.array(command, { maxLength: 60 }), async (settings, commands) => {
        const prefix = `offload-test-${randomBytes(5).toString('hex')}`;
        const fairShare = new FairShare(new RedisService({ redis: { host: '127.0.0.1', port: 6379, db: 0 }, redisPrefix: prefix } as AppConfig));
        const service = (fairShare as unknown as { redis: RedisService }).redis;
        try {
          const maxOf = new Map(PORTALS.map((portal, i) => [portal, settings[i].maxConcurrency]));
          await fairShare.configure(TYPE, PORTALS.map((portalId, i) => ({ portalId, scheduling: settings[i] })), true);
          const scheduled = new Map<string, ScheduledJob>();
          const waiting: Admission[] = [];
          const running: Admission[] = [];
          let next = 0;

          const take = (admissions: Admission[]) => {
            for (const admission of admissions) {
              expect(scheduled.has(admission.id)).toBe(true);
              scheduled.delete(admission.id);
              waiting.push(admission);
            }
            for (const portal of PORTALS) {
              const max = maxOf.get(portal);
              const inFlight = [...waiting, ...running].filter((job) => job.portalId === portal).length;
              if (max !== null && max !== undefined) expect(inFlight).toBeLessThanOrEqual(max);
            }
          };
          const start = async (count: number) => {
            const starting = waiting.splice(0, count);
            for (const job of starting) {
              if (job.capped) expect(await fairShare.confirm(TYPE, job, LEASE_MS)).toBe(true);
              running.push(job);
            }
            take(await fairShare.settle(TYPE, LOOKAHEAD, LEASE_MS, { started: starting.length, ended: [], back: [] }));
          };
          const finish = async (count: number, retry: boolean) => {
            const ending = running.splice(0, count);
            const back = retry ? ending.map((job) => ({ job, dueAt: Date.now() })) : [];
            for (const { job } of back) scheduled.set(job.id, job);
            take(await fairShare.settle(TYPE, LOOKAHEAD, LEASE_MS, { started: 0, ended: ending.filter((job) => job.capped), back }));
          };

          for (const step of commands) {
            if (step.kind === 'push') {
              const jobs = Array.from({ length: step.count }, (): ScheduledJob => ({ id: `job-${next++}`, portalId: PORTALS[step.portal], priority: step.bulk ? 'bulk' : 'live' }));
              for (const job of jobs) scheduled.set(job.id, job);
              take(await fairShare.push(TYPE, LOOKAHEAD, LEASE_MS, jobs));
            } else if (step.kind === 'start') {
              await start(step.count);
            } else if (step.kind === 'finish') {
              await finish(step.count, step.retry);
            } else if (scheduled.size > 0) {
              const job = [...scheduled.values()][step.pick % scheduled.size];
              await fairShare.withdraw(TYPE, job);
              scheduled.delete(job.id);
            }
          }

          // The workers now take everything: every job left in the schedule comes through.
          for (let round = 0; scheduled.size + waiting.length + running.length > 0; round++) {
            expect(round).toBeLessThan(10_000);
            await start(waiting.length);
            await finish(running.length, false);
          }
        } finally {
          const keys = await service.client.keys(`${prefix}:*`);
          if (keys.length > 0) await service.client.del(...keys);
          service.client.disconnect();
        }
      }),
      { numRuns: 60 },
    );
  });
});
