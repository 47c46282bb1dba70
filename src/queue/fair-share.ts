import { Injectable } from '@nestjs/common';
import { RedisService } from '../redis/redis.service';
import type { JobPriority } from '../jobs/job-record';

/** A portal's share of the workers of each job type: its weight against other portals', and how many of its runs may go at once. */
export interface PortalScheduling {
  weight: number;
  /** Runs of one job type at once, across every worker; null for no limit but the fair share. */
  maxConcurrency: number | null;
}

export const DEFAULT_SCHEDULING: PortalScheduling = { weight: 1, maxConcurrency: null };

/** How many jobs of a type may wait in the executor's queue: about a quarter second of starts, within these bounds. */
export interface Lookahead {
  least: number;
  most: number;
}

/** A job on its way to the scheduler. */
export interface ScheduledJob {
  id: string;
  portalId: string;
  priority: JobPriority;
}

/**
 * A job the scheduler let into the executor's queue: `capped` when its portal has a
 * maxConcurrency, so its run holds one of the portal's slots; `front` when it is the first of a
 * portal that had nothing waiting, which starts ahead of the lookahead (one slot at most per
 * portal, so a trickle is never held behind a backlog, and takes no more than its one slot).
 */
export interface Admission extends ScheduledJob {
  capped: boolean;
  front: boolean;
}

/** What a worker reports to the scheduler for one job type, with a feed: runs started, capped runs ended, jobs to put back in their portal's share. */
export interface Settlement {
  started: number;
  ended: ScheduledJob[];
  back: Array<{ job: ScheduledJob; dueAt: number }>;
  /** The executor's waiting jobs as counted just now: corrects the scheduler's own count. */
  waiting?: number;
}

/**
 * Everything the scripts share. Keys of one job type carry its hash tag, so each script touches one
 * hash slot; ARGV[1] is the type's key base, from which the per-portal keys are made:
 *   ring      LIST  portals with jobs waiting and a free slot, served from the head (deficit round-robin)
 *   credit    HASH  portal -> jobs left in its current turn; a field exists exactly while the portal is in the ring
 *   conf      HASH  portal -> "weight:maxConcurrency" for portals off the defaults; field "loaded" once restored
 *   admitted  STRING jobs let into the executor's queue and not started yet (the lookahead in use)
 *   delayed   ZSET  "class|portal|job" -> when a job put back (a retry) joins its portal's backlog again
 *   seq       STRING order of arrival, so each backlog is first in, first out within its class
 *   parked    ZSET  portal -> when to look again: portals with jobs waiting but every slot taken
 *   pace      HASH  runs started lately (n, decayed since `at`): what sizes the lookahead
 *   fresh     SET   ring portals that had nothing waiting when they joined: their first job goes to the front
 *   q:<portal> ZSET job -> class * 2^52 + arrival: the portal's backlog, live jobs before bulk ones
 *   f:<portal> ZSET job -> lease end: the portal's runs holding a slot (capped portals only)
 * A ring portal's turn is `weight` jobs; a cost per job that does not depend on how many portals wait.
 */
const PRELUDE = `
local ring, credit, conf, admittedKey, delayed, seqKey, parked, paceKey, fresh = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9]
local base = ARGV[1]
local BULK = 4503599627370496
local PACE_MS = 250

-- The lookahead holds about PACE_MS of starts (runs started, decayed with that time constant), within [least, most].
local function lookahead(now, started, least, most)
  local pace = redis.call('hmget', paceKey, 'n', 'at')
  local n = (tonumber(pace[1]) or 0) * math.exp(-math.max(0, now - (tonumber(pace[2]) or now)) / PACE_MS) + started
  if started > 0 then redis.call('hset', paceKey, 'n', n, 'at', now) end
  return math.max(least, math.min(most, math.ceil(n)))
end

local function settings(p)
  local s = redis.call('hget', conf, p)
  if not s then return 1, nil end
  local w, m = string.match(s, '^(%d+):(%d*)$')
  return tonumber(w), tonumber(m)
end

local function activate(p)
  if redis.call('hexists', credit, p) == 0 and not redis.call('zscore', parked, p) then
    redis.call('rpush', ring, p)
    redis.call('hset', credit, p, (settings(p)))
    redis.call('sadd', fresh, p)
  end
end

local function leave(p)
  redis.call('lpop', ring)
  redis.call('hdel', credit, p)
  redis.call('srem', fresh, p)
end

local function enqueue(p, class, id, seq)
  if redis.call('zadd', base .. 'q:' .. p, 'NX', (class == 'b' and BULK or 0) + seq, id) == 1 then activate(p) end
end

local function release(p, id)
  if redis.call('zrem', base .. 'f:' .. p, id) == 1 and redis.call('zrem', parked, p) == 1 and redis.call('exists', base .. 'q:' .. p) == 1 then
    activate(p)
  end
end

local function feed(now, lookahead, lease)
  local due = redis.call('zrangebyscore', delayed, '-inf', now, 'limit', 0, 1000)
  if #due > 0 then
    local seq = redis.call('incrby', seqKey, #due) - #due
    for i, member in ipairs(due) do
      local class, p, id = string.match(member, '^(%a)|([^|]+)|(.+)$')
      enqueue(p, class, id, seq + i)
    end
    redis.call('zrem', delayed, unpack(due))
  end
  for _, p in ipairs(redis.call('zrangebyscore', parked, '-inf', now, 'limit', 0, 100)) do
    redis.call('zrem', parked, p)
    if redis.call('exists', base .. 'q:' .. p) == 1 then activate(p) end
  end
  local admitted = tonumber(redis.call('get', admittedKey) or '0')
  local out = {}
  local room = lookahead - admitted
  while room > 0 do
    local p = redis.call('lindex', ring, 0)
    if not p then break end
    local q = base .. 'q:' .. p
    local weight, max = settings(p)
    local left = tonumber(redis.call('hget', credit, p) or weight)
    local take = math.min(left, room)
    local f
    if max then
      f = base .. 'f:' .. p
      redis.call('zremrangebyscore', f, '-inf', now)
      take = math.min(take, max - redis.call('zcard', f))
    end
    local popped = take > 0 and redis.call('zpopmin', q, take) or {}
    local front = #popped > 0 and redis.call('srem', fresh, p) == 1
    for i = 1, #popped, 2 do
      out[#out + 1] = popped[i]
      out[#out + 1] = p
      out[#out + 1] = tonumber(popped[i + 1]) >= BULK and 'b' or 'l'
      out[#out + 1] = (max and 'c' or '') .. ((front and i == 1) and 'f' or '')
      if max then redis.call('zadd', f, now + lease, popped[i]) end
    end
    local taken = #popped / 2
    room = room - taken
    left = left - taken
    if redis.call('exists', q) == 0 then
      leave(p)
    elseif max and redis.call('zcard', f) >= max then
      leave(p)
      redis.call('zadd', parked, redis.call('zrange', f, 0, 0, 'withscores')[2], p)
    elseif left <= 0 then
      redis.call('lmove', ring, ring, 'left', 'right')
      redis.call('hset', credit, p, weight)
    else
      redis.call('hset', credit, p, left)
    end
  end
  redis.call('set', admittedKey, admitted + #out / 4)
  return out
end
`;

/** ARGV: base, now, least, most, lease, then (portal, class, job) per job. New jobs join their portal's backlog; answers the feed. */
const PUSH = `${PRELUDE}
local now = tonumber(ARGV[2])
local n = (#ARGV - 5) / 3
if n > 0 then
  local seq = redis.call('incrby', seqKey, n) - n
  for i = 0, n - 1 do enqueue(ARGV[6 + 3 * i], ARGV[7 + 3 * i], ARGV[8 + 3 * i], seq + i + 1) end
end
return feed(now, lookahead(now, 0, tonumber(ARGV[3]), tonumber(ARGV[4])), tonumber(ARGV[5]))`;

/**
 * ARGV: base, now, least, most, lease, started, waiting ('' when not counted), ended count, then
 * (portal, job) per ended run, then (due, "class|portal|job") per job put back. Answers the feed.
 */
const SETTLE = `${PRELUDE}
local now, started, waiting, ended = tonumber(ARGV[2]), tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8])
local admitted = waiting or math.max(0, tonumber(redis.call('get', admittedKey) or '0') - started)
redis.call('set', admittedKey, admitted)
for i = 0, ended - 1 do release(ARGV[9 + 2 * i], ARGV[10 + 2 * i]) end
for i = 9 + 2 * ended, #ARGV, 2 do
  local member = ARGV[i + 1]
  local p, id = string.match(member, '^%a|([^|]+)|(.+)$')
  release(p, id)
  redis.call('zadd', delayed, ARGV[i], member)
end
return feed(now, lookahead(now, started, tonumber(ARGV[3]), tonumber(ARGV[4])), tonumber(ARGV[5]))`;

/** ARGV: base, now, lease, portal, job. 1 when the job's run may go: it holds one of its portal's slots (kept, or free and taken). */
const CONFIRM = `${PRELUDE}
local now, p, id = tonumber(ARGV[2]), ARGV[4], ARGV[5]
local _, max = settings(p)
if not max then return 1 end
local f = base .. 'f:' .. p
redis.call('zremrangebyscore', f, '-inf', now)
if not redis.call('zscore', f, id) and redis.call('zcard', f) >= max then return 0 end
redis.call('zadd', f, now + tonumber(ARGV[3]), id)
return 1`;

/** ARGV: base, portal, job, "class|portal|job". Takes a job out of its portal's backlog, the delayed jobs and its portal's slots. */
const WITHDRAW = `${PRELUDE}
redis.call('zrem', base .. 'q:' .. ARGV[2], ARGV[3])
redis.call('zrem', delayed, ARGV[4])
release(ARGV[2], ARGV[3])
return 0`;

/** ARGV: base, then (portal, job, "class|portal|job") per job. Answers the jobs that are neither in a backlog nor delayed. */
const UNKNOWN = `${PRELUDE}
local out = {}
for i = 2, #ARGV, 3 do
  if not redis.call('zscore', base .. 'q:' .. ARGV[i], ARGV[i + 1]) and not redis.call('zscore', delayed, ARGV[i + 2]) then
    out[#out + 1] = ARGV[i + 1]
  end
end
return out`;

/**
 * ARGV: base, restore ('1': these are every portal off the defaults, as PostgreSQL holds them), then
 * (portal, "weight:max" or '' for the defaults) per portal. A portal with a slot freed leaves the parked ones.
 */
const CONFIGURE = `${PRELUDE}
if ARGV[2] == '1' then
  redis.call('del', conf)
  redis.call('hset', conf, 'loaded', '1')
end
for i = 3, #ARGV, 2 do
  local p = ARGV[i]
  if ARGV[i + 1] == '' then redis.call('hdel', conf, p) else redis.call('hset', conf, p, ARGV[i + 1]) end
  if redis.call('zrem', parked, p) == 1 and redis.call('exists', base .. 'q:' .. p) == 1 then activate(p) end
end
return 0`;

const SCRIPTS = { fairPush: PUSH, fairSettle: SETTLE, fairConfirm: CONFIRM, fairWithdraw: WITHDRAW, fairUnknown: UNKNOWN, fairConfigure: CONFIGURE };
type ScriptName = keyof typeof SCRIPTS;
const KEY_NAMES = ['ring', 'credit', 'conf', 'admitted', 'delayed', 'seq', 'parked', 'pace', 'fresh'];

/**
 * Weighted fair share of each job type's workers across portals (deficit round-robin), kept in
 * Redis so every process serves one schedule, and moved by Lua so each step is atomic. Each
 * portal's backlog waits here; only a short lookahead waits in the executor's queue. See
 * docs/scheduling.md.
 */
@Injectable()
export class FairShare {
  constructor(private readonly redis: RedisService) {
    for (const [name, lua] of Object.entries(SCRIPTS)) redis.client.defineCommand(name, { numberOfKeys: KEY_NAMES.length, lua });
  }

  /** New jobs join their portal's backlog; answers the jobs the lookahead now has room for, fairly chosen. */
  async push(type: string, lookahead: Lookahead, leaseMs: number, jobs: ScheduledJob[]): Promise<Admission[]> {
    const args = jobs.flatMap((job) => [job.portalId, classOf(job.priority), job.id]);
    return admissions(await this.run('fairPush', type, [Date.now(), lookahead.least, lookahead.most, leaseMs, ...args]));
  }

  /** Records what workers report (see Settlement) and answers the jobs the lookahead now has room for. */
  async settle(type: string, lookahead: Lookahead, leaseMs: number, settlement: Settlement): Promise<Admission[]> {
    const { started, ended, back, waiting } = settlement;
    const args = [
      Date.now(),
      lookahead.least,
      lookahead.most,
      leaseMs,
      started,
      waiting ?? '',
      ended.length,
      ...ended.flatMap((job) => [job.portalId, job.id]),
      ...back.flatMap(({ job, dueAt }) => [dueAt, member(job)]),
    ];
    return admissions(await this.run('fairSettle', type, args));
  }

  /** Whether a capped job's run may start now: it keeps its portal's slot for leaseMs, or takes a free one. */
  async confirm(type: string, job: ScheduledJob, leaseMs: number): Promise<boolean> {
    return (await this.run('fairConfirm', type, [Date.now(), leaseMs, job.portalId, job.id])) === 1;
  }

  /** Takes a job out of the schedule (cancelled): from its portal's backlog, the delayed jobs, or its portal's slots. */
  async withdraw(type: string, job: ScheduledJob): Promise<void> {
    await this.run('fairWithdraw', type, [job.portalId, job.id, member(job)]);
  }

  /** The ids of these jobs that wait neither in a portal's backlog nor to be put back. */
  async unknown(type: string, jobs: ScheduledJob[]): Promise<string[]> {
    if (jobs.length === 0) return [];
    return (await this.run('fairUnknown', type, jobs.flatMap((job) => [job.portalId, job.id, member(job)]))) as string[];
  }

  /** Sets portals' scheduling for a job type; `restore` replaces every portal's with these (the rest get the defaults). */
  async configure(type: string, portals: Array<{ portalId: string; scheduling: PortalScheduling }>, restore = false): Promise<void> {
    const args = portals.flatMap(({ portalId, scheduling }) => [portalId, settingOf(scheduling)]);
    await this.run('fairConfigure', type, [restore ? '1' : '0', ...args]);
  }

  /** Whether the job type's portal settings are in Redis as restored from PostgreSQL (they are not after Redis lost them). */
  async restored(type: string): Promise<boolean> {
    return (await this.redis.client.hexists(this.keys(type)[2], 'loaded')) === 1;
  }

  private keys(type: string): string[] {
    const base = this.base(type);
    return KEY_NAMES.map((name) => base + name);
  }

  /** One hash tag per job type: a script never spans slots. */
  private base(type: string): string {
    return `${this.redis.key('fair', `{${type}}`)}:`;
  }

  private run(script: ScriptName, type: string, args: Array<string | number>): Promise<unknown> {
    const command = (this.redis.client as unknown as Record<ScriptName, (...args: Array<string | number>) => Promise<unknown>>)[script];
    return command.call(this.redis.client, ...this.keys(type), this.base(type), ...args);
  }
}

function classOf(priority: JobPriority): string {
  return priority === 'bulk' ? 'b' : 'l';
}

function member(job: ScheduledJob): string {
  return `${classOf(job.priority)}|${job.portalId}|${job.id}`;
}

function settingOf({ weight, maxConcurrency }: PortalScheduling): string {
  return weight === DEFAULT_SCHEDULING.weight && maxConcurrency === null ? '' : `${weight}:${maxConcurrency ?? ''}`;
}

function admissions(reply: unknown): Admission[] {
  const flat = reply as string[];
  const out: Admission[] = [];
  for (let i = 0; i < flat.length; i += 4) {
    out.push({ id: flat[i], portalId: flat[i + 1], priority: flat[i + 2] === 'b' ? 'bulk' : 'live', capped: flat[i + 3].includes('c'), front: flat[i + 3].includes('f') });
  }
  return out;
}
