import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { JobRepository } from '../src/jobs/job.repository';
import { IsolatedDatabase, isolateDatabase } from './support/offload-harness';

/** The job statements the reconciler and the workflow-step sweep depend on, against real PostgreSQL. */
describe('job repository', () => {
  let database: IsolatedDatabase;
  let pg: Client;
  let jobs: JobRepository;
  let portalId: string;

  /** A job row in the given state; ages are in seconds before now. */
  async function job(state: { status: string; createdAgo: number; updatedAgo: number; deadlineIn?: number; finishedAgo?: number }): Promise<string> {
    const id = randomUUID();
    await pg.query(
      `INSERT INTO jobs (id, portal_id, type, handler_version, status, idempotency_key, request_hash, input, max_attempts,
                         trace_id, span_id, created_at, updated_at, run_deadline_at, finished_at)
       VALUES ($1::uuid, $2, 'noop', '1.0.0', $3, $1::text, 'h', '{}', 3, 't', 's',
               now() - $4 * interval '1 s', now() - $5 * interval '1 s',
               now() + $6 * interval '1 s', now() - $7 * interval '1 s')`,
      [id, portalId, state.status, state.createdAgo, state.updatedAgo, state.deadlineIn ?? null, state.finishedAgo ?? null],
    );
    return id;
  }

  beforeAll(async () => {
    database = await isolateDatabase();
    ({ pg } = database);
    jobs = new JobRepository(database.db);
    ({
      rows: [{ id: portalId }],
    } = await pg.query(`INSERT INTO portals (hubspot_portal_id, name) VALUES (4242, 'repository') RETURNING id`));
  });

  afterAll(() => database?.close());

  it('finds live jobs left alone too long: queued ones, and running ones past their deadline, oldest first, page by page', async () => {
    const queuedLongAgo = await job({ status: 'queued', createdAgo: 120, updatedAgo: 120 });
    const runningPastDeadline = await job({ status: 'running', createdAgo: 90, updatedAgo: 60, deadlineIn: -30 });
    await job({ status: 'running', createdAgo: 100, updatedAgo: 60, deadlineIn: 30 }); // still within its run
    await job({ status: 'queued', createdAgo: 1, updatedAgo: 1 }); // just enqueued
    await job({ status: 'queued', createdAgo: 200, updatedAgo: 1 }); // retried a moment ago
    await job({ status: 'succeeded', createdAgo: 300, updatedAgo: 300, finishedAgo: 300 });

    const firstPage = await jobs.findStale(10_000, undefined, 1);
    expect(firstPage.items.map((row) => row.id)).toEqual([queuedLongAgo]);
    const secondPage = await jobs.findStale(10_000, firstPage.next, 10);
    expect(secondPage.items.map((row) => row.id)).toEqual([runningPastDeadline]);
    expect(secondPage.next).toBeUndefined();
  });

  it('pages on past a full page of jobs that one statement wrote, which share a timestamp to the microsecond', async () => {
    const ids = (
      await pg.query(
        `INSERT INTO jobs (id, portal_id, type, handler_version, status, idempotency_key, request_hash, input, max_attempts,
                           trace_id, span_id, created_at, updated_at, finished_at, completes_workflow_step)
         SELECT gen_random_uuid(), $1, 'noop', '1.0.0', 'succeeded', 'batch-' || n, 'h', '{}', 3, 't', 's',
                now() - interval '1 h', now() - interval '1 h', now() - interval '1 h', true
         FROM generate_series(1, 5) AS n RETURNING id`,
        [portalId],
      )
    ).rows.map((row) => row.id as string);
    const seen: string[] = [];
    let page = await jobs.findUnsettledWorkflowSteps(10_000, undefined, 2);
    for (let pages = 1; ; pages++) {
      seen.push(...page.items.map((job) => job.id));
      if (!page.next || pages > 5) break;
      page = await jobs.findUnsettledWorkflowSteps(10_000, page.next, 2);
    }
    expect(seen.sort()).toEqual(ids.sort());
  });

  it('refuses a row whose finished_at disagrees with its status, which the live-jobs index relies on', async () => {
    await expect(job({ status: 'succeeded', createdAgo: 5, updatedAgo: 5 })).rejects.toMatchObject({ code: '23514' });
    await expect(job({ status: 'running', createdAgo: 5, updatedAgo: 5, finishedAgo: 1 })).rejects.toMatchObject({ code: '23514' });
  });

  it('claims a run without new index entries: the claim is a HOT update', async () => {
    await pg.query('CREATE EXTENSION IF NOT EXISTS pageinspect');
    const id = await job({ status: 'queued', createdAgo: 5, updatedAgo: 5 });
    const {
      claimed: [claimed],
    } = await jobs.startRuns([{ id, runId: randomUUID(), deadlineMs: 1_000 }]);
    expect(claimed).toMatchObject({ id, status: 'running', attempts: 1 });
    // On the row's heap page: the queued version marked HOT-updated, the running one heap-only.
    const {
      rows: [page],
    } = await pg.query(
      `SELECT count(*) FILTER (WHERE t_infomask2 & 16384 <> 0)::int AS hot_updated,
              count(*) FILTER (WHERE t_infomask2 & 32768 <> 0)::int AS heap_only
       FROM heap_page_items(get_raw_page('jobs', (SELECT (ctid::text::point)[0]::int FROM jobs WHERE id = $1)))`,
      [id],
    );
    expect(page).toEqual({ hot_updated: 1, heap_only: 1 });
  });

  it('claims a running job only once its run is past its deadline, and records an end only for the run that holds the job', async () => {
    const held = await job({ status: 'running', createdAgo: 5, updatedAgo: 5, deadlineIn: 30 });
    const abandoned = await job({ status: 'running', createdAgo: 5, updatedAgo: 5, deadlineIn: -1 });
    const queued = await job({ status: 'queued', createdAgo: 5, updatedAgo: 5 });
    const ended = await job({ status: 'succeeded', createdAgo: 5, updatedAgo: 5, finishedAgo: 1 });
    const runs = [held, abandoned, queued, ended].map((id) => ({ id, runId: randomUUID(), deadlineMs: 60_000 }));

    const { claimed, heldUntil } = await jobs.startRuns(runs);
    expect(claimed.map((row) => row.id).sort()).toEqual([abandoned, queued].sort());
    expect([...heldUntil.keys()]).toEqual([held]);
    expect(heldUntil.get(held)!.getTime()).toBeGreaterThan(Date.now());

    const outcome = (id: string, runId: string) => ({ id, runId, status: 'succeeded' as const, output: {}, error: null, refund: 0 as const });
    const recorded = await jobs.finishRuns([outcome(abandoned, randomUUID()), outcome(queued, runs[2].runId)]);
    expect([...recorded]).toEqual([queued]);
    const { rows } = await pg.query(`SELECT id, status FROM jobs WHERE id = ANY($1::uuid[])`, [[abandoned, queued]]);
    expect(Object.fromEntries(rows.map((row) => [row.id, row.status]))).toEqual({ [abandoned]: 'running', [queued]: 'succeeded' });
  });

  it('gives a claim asked again by the same run (its answer was lost) the job back as one attempt, and a new run only the time it is held until', async () => {
    const id = await job({ status: 'queued', createdAgo: 5, updatedAgo: 5 });
    const run = { id, runId: randomUUID(), deadlineMs: 60_000 };
    expect((await jobs.startRuns([run])).claimed).toEqual([expect.objectContaining({ id, attempts: 1 })]);

    const again = await jobs.startRuns([run]);
    expect(again.claimed).toEqual([expect.objectContaining({ id, status: 'running', attempts: 1 })]);
    expect(again.heldUntil.size).toBe(0);

    const other = await jobs.startRuns([{ ...run, runId: randomUUID() }]);
    expect(other.claimed).toEqual([]);
    expect([...other.heldUntil.keys()]).toEqual([id]);
    const { rows } = await pg.query(`SELECT attempts, run_id FROM jobs WHERE id = $1`, [id]);
    expect(rows).toEqual([{ attempts: 1, run_id: run.runId }]);
  });

  it('answers an outcome asked again by its run (its answer was lost) as recorded, without recording it or its event twice', async () => {
    const id = await job({ status: 'queued', createdAgo: 5, updatedAgo: 5 });
    const run = { id, runId: randomUUID(), deadlineMs: 60_000 };
    await jobs.startRuns([run]);
    const outcome = { id, runId: run.runId, status: 'succeeded' as const, output: { n: 1 }, error: null, refund: 0 as const };
    expect([...(await jobs.finishRuns([outcome]))]).toEqual([id]);
    expect([...(await jobs.finishRuns([outcome]))]).toEqual([id]);
    expect([...(await jobs.finishRuns([{ ...outcome, runId: randomUUID() }]))]).toEqual([]);
    const { rows } = await pg.query(`SELECT count(*)::int AS n FROM outbox_events WHERE payload->>'jobId' = $1 AND payload->>'status' = 'succeeded'`, [id]);
    expect(rows).toEqual([{ n: 1 }]);
  });
});
