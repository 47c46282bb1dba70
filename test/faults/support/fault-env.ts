import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client } from 'pg';
import { createHubSpotSimulator, HubSpotSimulator, HubSpotSimulatorOptions } from '../../../tools/simulators/hubspot';
import { envFor, HttpClient, isolate, Isolation, loggingErrors, newPortal } from '../../support/offload-harness';
import { createPgCluster, PgCluster } from '../../support/pg-cluster';
import { RedisServer, startRedisServer } from '../../support/redis-server';
import { firstAnswer, freePort, SpawnedOffload, spawnOffload, START_WITHIN_MS, stop } from '../../support/spawned-offload';

/** Where the processes' output goes, a folder per scenario. */
const LOGS = join(__dirname, '..', '..', '..', 'dist', 'fault-suite-logs');

/**
 * Polls (every 250 ms: each probe may open a connection) until the value is accepted; the
 * deadline only bounds a hang, and a busy machine may need much of it.
 */
export async function until<T>(probe: () => Promise<T>, accept: (value: T) => boolean, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (accept(value)) return value;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms; last value: ${JSON.stringify(value)}`);
    await sleep(250);
  }
}

/**
 * Every change of a job's status, run or attempts, in the order PostgreSQL made them: the suite's
 * record of each run's start (a claim, which a handler never runs without) and of how it ended.
 * Test instrumentation only, in the scenario's own database; Offload knows nothing of it.
 */
const RUN_LOG = `
  CREATE TABLE fault_run_log (
    seq bigserial PRIMARY KEY,
    job_id uuid NOT NULL,
    from_status text NOT NULL,
    to_status text NOT NULL,
    from_attempts int NOT NULL,
    to_attempts int NOT NULL,
    run_id uuid,
    at timestamptz NOT NULL DEFAULT clock_timestamp()
  );
  CREATE FUNCTION fault_log_job_change() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN
    INSERT INTO fault_run_log (job_id, from_status, to_status, from_attempts, to_attempts, run_id)
    VALUES (NEW.id, OLD.status, NEW.status, OLD.attempts, NEW.attempts, NEW.run_id);
    RETURN NULL;
  END $$;
  CREATE TRIGGER fault_log_job_change AFTER UPDATE ON jobs FOR EACH ROW
    WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.run_id IS DISTINCT FROM NEW.run_id OR OLD.attempts IS DISTINCT FROM NEW.attempts)
    EXECUTE FUNCTION fault_log_job_change();`;

export interface FaultEnvOptions {
  /** Worker processes started beside the API. Default 2. */
  workers?: number;
  /** Contacts 1..n in the simulated portal: a write-back job writes to one of its own. */
  contacts?: number;
  /** Settings of every Offload process, over the suite's own. */
  env?: Record<string, string>;
  simulator?: HubSpotSimulatorOptions;
}

/** A job as POST /v1/jobs/batch takes it. */
export interface JobSpec {
  type: string;
  input?: Record<string, unknown>;
  object?: { type: string; id: string };
  writeback?: boolean;
  idempotencyKey: string;
}

/** A noop job per contact in [from, from + count), writing its outputs back to that contact. */
export function writebackJobs(from: number, count: number, input: Record<string, unknown> = {}): JobSpec[] {
  return Array.from({ length: count }, (_, i) => ({
    type: 'noop',
    input,
    object: { type: 'contacts', id: String(from + i) },
    writeback: true,
    idempotencyKey: `contact-${from + i}`,
  }));
}

export interface ProbeAnswer {
  call: string;
  status: number;
  ms: number;
  code?: string;
}

/** How the probes were answered: a count per call and status, and the slowest answer. */
export function probeSummary(answers: ProbeAnswer[]): string {
  const counts: Record<string, number> = {};
  for (const { call, status } of answers) counts[`${call} ${status}`] = (counts[`${call} ${status}`] ?? 0) + 1;
  const slowest = Math.max(0, ...answers.map((answer) => answer.ms));
  return `${Object.entries(counts).map(([what, n]) => `${n} × ${what}`).join(', ')}; the slowest in ${(slowest / 1000).toFixed(1)} s`;
}

/** The job a probe of the API enqueues: a noop of its own key. */
const probeJob = (key: string): JobSpec => ({ type: 'noop', idempotencyKey: key });

/**
 * One scenario's world: a PostgreSQL cluster and a Redis server of its own on their own ports, the
 * HubSpot simulator in this process, and real Offload processes (the compiled entry point): one
 * API and `workers` workers, with a portal connected to the simulator. The machine's shared
 * PostgreSQL and Redis are never touched.
 */
export class FaultEnv {
  readonly workers: SpawnedOffload[] = [];
  api?: SpawnedOffload;
  /** The API as the portal's workflows call it, and as its administrator does. */
  client!: HttpClient;
  admin!: HttpClient;
  /** Offload's id of the portal. */
  portalId!: string;

  private constructor(
    readonly cluster: PgCluster,
    readonly redis: RedisServer,
    readonly sim: HubSpotSimulator,
    private readonly isolation: Isolation,
    private readonly options: FaultEnvOptions,
  ) {}

  static async start(options: FaultEnvOptions = {}): Promise<FaultEnv> {
    const cluster = await createPgCluster();
    let redis: RedisServer | undefined;
    let sim: HubSpotSimulator | undefined;
    let env: FaultEnv | undefined;
    try {
      const isolation = await isolate({ postgres: cluster.url });
      redis = await startRedisServer();
      sim = await createHubSpotSimulator({ seedContacts: options.contacts ?? 0, ...options.simulator });
      sim.defineProperties('contacts', ['ok', 'attempts']);
      env = new FaultEnv(cluster, redis, sim, isolation, options);
      await env.query(RUN_LOG);
      await env.boot();
      return env;
    } catch (error) {
      if (env) await env.stop();
      else {
        await sim?.close();
        await redis?.stop();
        await cluster.drop();
      }
      throw error;
    }
  }

  private async boot(): Promise<void> {
    // Every process that started is kept (for stop()), even when another did not.
    const started = await Promise.allSettled([
      this.spawn({ ROLE: 'api' }).then((api) => (this.api = api)),
      ...Array.from({ length: this.options.workers ?? 2 }, () => this.startWorker()),
    ]);
    const failed = started.find((result) => result.status === 'rejected');
    if (failed) throw failed.reason;
    const { portal, client, admin } = await newPortal(this.apiUrl, this.sim.portalId);
    const connected = await admin.request('PATCH', `/v1/admin/portals/${portal.id}`, { hubspotAccessToken: this.sim.token });
    if (connected.status !== 200) throw new Error(`the portal was not connected: ${connected.status} ${JSON.stringify(connected.body)}`);
    this.client = client;
    this.admin = admin;
    this.portalId = portal.id;
  }

  get databaseUrl(): string {
    return this.isolation.databaseUrl;
  }

  get apiUrl(): string {
    return `http://127.0.0.1:${this.api!.port}`;
  }

  /**
   * The settings of a process here: Offload's defaults, but for a reconciler that looks every 5 s
   * (15 s by default: the recovery figures of a Redis that lost its jobs scale with it) and a
   * 5 s shutdown grace.
   */
  private envOf(extra: Record<string, string>): Record<string, string> {
    return envFor(this.isolation, {
      REDIS_URL: this.redis.url,
      HUBSPOT_BASE_URL: this.sim.url,
      LOG_LEVEL: 'warn',
      RECONCILE_INTERVAL_MS: '5000',
      ...this.options.env,
      ...extra,
    });
  }

  /** Starts an Offload process and waits until it says it is ready. */
  async spawn(extra: Record<string, string>): Promise<SpawnedOffload> {
    const port = await freePort();
    const spawned = spawnOffload(this.envOf({ ...extra, PORT: String(port) }));
    const ready = await firstAnswer(spawned, '/health/ready', START_WITHIN_MS);
    if (ready?.status !== 200) {
      spawned.child.kill('SIGKILL');
      throw new Error(`${extra.ROLE} did not become ready (${ready?.status}): ${spawned.stderr().slice(-2000)}${spawned.stdout().slice(-2000)}`);
    }
    return spawned;
  }

  async startWorker(extra: Record<string, string> = {}): Promise<SpawnedOffload> {
    const worker = await this.spawn({ ROLE: 'worker', ...extra });
    this.workers.push(worker);
    return worker;
  }

  /** Kills a process at once, as a crash or a lost node would, and waits until it is gone. */
  async kill(spawned: SpawnedOffload): Promise<void> {
    spawned.child.kill('SIGKILL');
    await spawned.exited;
  }

  /** One statement on a connection of its own: the server may have been restarted since the last one. */
  async query<T = any>(text: string, values: unknown[] = []): Promise<T[]> {
    const pg = loggingErrors(new Client({ connectionString: this.databaseUrl }), 'PostgreSQL');
    await pg.connect();
    try {
      return (await pg.query(text, values)).rows;
    } finally {
      await pg.end().catch(() => undefined);
    }
  }

  /**
   * Enqueues through POST /v1/jobs/batch, 100 a request, four requests at a time; answers the job
   * ids in order. Every job must be accepted (202 new, or 200 the same request again).
   */
  async enqueue(jobs: JobSpec[]): Promise<string[]> {
    const ids: string[] = new Array(jobs.length);
    const chunks = Array.from({ length: Math.ceil(jobs.length / 100) }, (_, i) => i * 100);
    const send = async () => {
      for (let start = chunks.shift(); start !== undefined; start = chunks.shift()) {
        const answer = await this.client.post('/v1/jobs/batch', { jobs: jobs.slice(start, start + 100) });
        if (answer.status !== 200) throw new Error(`POST /v1/jobs/batch answered ${answer.status}: ${JSON.stringify(answer.body)}`);
        answer.body.results.forEach((result: { status: number; job?: { id: string }; error?: unknown }, i: number) => {
          if (result.status !== 202 && result.status !== 200) throw new Error(`an enqueue was refused: ${JSON.stringify(result)}`);
          ids[start + i] = result.job!.id;
        });
      }
    };
    await Promise.all([send(), send(), send(), send()]);
    return ids;
  }

  /**
   * Calls the API the way a workflow would while `going()` holds, one request after another:
   * POST /v1/jobs with a new key each time, then GET /v1/jobs/:id of `known`. Answers each call's
   * status (0 for no answer within 15 s), error code and time taken, and the keys of the POSTs.
   */
  async probeWhile(going: () => boolean, known: string): Promise<{ answers: ProbeAnswer[]; keys: string[] }> {
    const answers: ProbeAnswer[] = [];
    const keys: string[] = [];
    const call = async (name: string, path: string, body?: unknown) => {
      const started = Date.now();
      try {
        const response = await fetch(`${this.apiUrl}${path}`, {
          method: body === undefined ? 'GET' : 'POST',
          headers: { authorization: `Bearer ${this.client.token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
          body: body === undefined ? undefined : JSON.stringify(body),
          signal: AbortSignal.timeout(15_000),
        });
        const text = await response.text();
        let code: string | undefined;
        try {
          code = JSON.parse(text)?.error?.code;
        } catch {
          code = text.slice(0, 80);
        }
        answers.push({ call: name, status: response.status, ms: Date.now() - started, ...(code === undefined ? {} : { code }) });
      } catch {
        answers.push({ call: name, status: 0, ms: Date.now() - started });
      }
    };
    while (going()) {
      const key = `probe-${keys.length}`;
      keys.push(key);
      await call('POST /v1/jobs', '/v1/jobs', probeJob(key));
      await call('GET /v1/jobs/:id', `/v1/jobs/${known}`);
      await sleep(100);
    }
    return { answers, keys };
  }

  /** Sends the probes' POSTs again until each is accepted, as a workflow retrying them would; answers their job ids. */
  async acceptProbes(keys: string[], timeoutMs: number): Promise<string[]> {
    const ids: string[] = [];
    for (const key of keys) {
      const answer = await until(() => this.client.post('/v1/jobs', probeJob(key)), (a) => a.status === 202 || a.status === 200, timeoutMs);
      ids.push(answer.body.id);
    }
    return ids;
  }

  /** Counts of jobs by status. */
  async statuses(): Promise<Record<string, number>> {
    const rows = await this.query(`SELECT status, count(*)::int AS n FROM jobs GROUP BY status`);
    return Object.fromEntries(rows.map((row) => [row.status, row.n]));
  }

  /** Waits until `count` jobs exist and every one has ended; timeoutMs only bounds a hang. */
  async allEnded(count: number, timeoutMs: number): Promise<void> {
    await until(
      () => this.query(`SELECT count(*)::int AS jobs, count(*) FILTER (WHERE finished_at IS NULL)::int AS live FROM jobs`),
      ([row]) => row.jobs >= count && row.live === 0,
      timeoutMs,
    );
  }

  /** When (epoch ms) a run first took over a dead run's job after `since`, and when the last job ended. */
  async timeline(since: number): Promise<{ firstTakeover?: number; lastEnd?: number }> {
    const [row] = await this.query(
      `SELECT (SELECT min(at) FROM fault_run_log WHERE from_status = 'running' AND to_status = 'running' AND at > $1) AS first_takeover,
              (SELECT max(finished_at) FROM jobs) AS last_end`,
      [new Date(since)],
    );
    return { firstTakeover: row.first_takeover?.getTime(), lastEnd: row.last_end?.getTime() };
  }

  /**
   * Stops every process, the simulator and the servers, and deletes the cluster. What each process
   * wrote is kept in dist/fault-suite-logs/<scenario>/, for a scenario that failed.
   */
  async stop(): Promise<void> {
    const processes = new Map<string, SpawnedOffload>(this.workers.map((worker, i) => [`worker-${i + 1}`, worker]));
    if (this.api) processes.set('api', this.api);
    await Promise.all([...processes.values()].map((spawned) => stop(spawned, 1_000)));
    const folder = join(LOGS, (expect.getState().currentTestName ?? 'scenario').replace(/[^\w]+/g, '-').slice(0, 100));
    mkdirSync(folder, { recursive: true });
    for (const [name, spawned] of processes) writeFileSync(join(folder, `${name}.log`), spawned.stdout() + spawned.stderr());
    await this.sim.close();
    await this.redis.stop();
    await this.cluster.drop();
  }
}
