import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import type { PostgresDriver } from 'typeorm/driver/postgres/PostgresDriver';
import { JobRepository } from '../src/jobs/job.repository';
import { JobSearch } from '../src/jobs/job-search';
import { WritebackJournal } from '../src/jobs/writeback-journal';
import { RetentionRepository } from '../src/retention/retention.repository';
import { IsolatedDatabase, isolateDatabase } from './support/offload-harness';

/** Enough rows that the planner's costs are those of a real table, not of a few pages it may as well read whole. */
const ENDED_JOBS = 200_000;
const LIVE_JOBS = 2_000;
const WRITES = 50_000;
/** The tables that grow with the work: no statement of the job path, the writer, the reconciler or an operator's listing reads them whole. */
const LARGE_TABLES = ['jobs', 'writebacks', 'outbox_events'];

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  Plans?: PlanNode[];
}

interface Statement {
  text: string;
  values: unknown[];
}

/** The large tables a plan reads with a sequential scan. */
function sequentialScans(node: PlanNode): string[] {
  const own = node['Node Type'] === 'Seq Scan' && LARGE_TABLES.includes(node['Relation Name'] ?? '') ? [node['Relation Name']!] : [];
  return [...own, ...(node.Plans ?? []).flatMap(sequentialScans)];
}

/**
 * Every statement the code sends through `db` while `work` runs: TypeORM queries and the named
 * prepared statements sent straight on its pool.
 */
async function statementsOf(db: DataSource, work: () => Promise<unknown>): Promise<Statement[]> {
  const seen: Statement[] = [];
  const pool = (db.driver as PostgresDriver).master as { query: (...args: any[]) => Promise<unknown> };
  const poolQuery = pool.query;
  const dataSourceQuery = db.query;
  pool.query = function (this: unknown, config: any, values?: unknown[]) {
    if (typeof config === 'object') seen.push({ text: config.text, values: config.values ?? values ?? [] });
    return poolQuery.call(this, config, values);
  };
  db.query = function (this: DataSource, text: string, values?: unknown[]) {
    seen.push({ text, values: values ?? [] });
    return dataSourceQuery.call(this, text, values);
  } as DataSource['query'];
  try {
    await work();
  } finally {
    pool.query = poolQuery;
    db.query = dataSourceQuery;
  }
  return seen;
}

/**
 * The plans of the statements that run per job, per write, per reconciler page and per operator
 * listing, on a jobs table of 200,000 rows: none reads a large table whole. A statement that lost
 * its index (or a new one that never had one) shows here as a sequential scan, long before a
 * production table of millions makes it slow (npm run bench:scale measures that).
 */
describe('the plans of the hot statements on a large table', () => {
  let database: IsolatedDatabase;
  let pg: Client;
  let portalId: string;
  let liveIds: string[];

  beforeAll(async () => {
    database = await isolateDatabase();
    ({ pg } = database);
    ({
      rows: [{ id: portalId }],
    } = await pg.query(`INSERT INTO portals (hubspot_portal_id, name) VALUES (5151, 'plans') RETURNING id`));
    await pg.query(
      `INSERT INTO jobs (id, portal_id, type, handler_version, status, idempotency_key, request_hash, input, output, error, object_type, object_id,
                         max_attempts, attempts, trace_id, span_id, created_at, updated_at, started_at, finished_at)
       SELECT gen_random_uuid(), $1, (ARRAY['enrichment', 'icp-score', 'noop'])[1 + g % 3], '1', CASE WHEN g % 50 = 0 THEN 'failed' ELSE 'succeeded' END,
              'ended-' || g, repeat('0', 64), '{}', '{}', CASE WHEN g % 50 = 0 THEN '{"code": "provider_unavailable"}'::jsonb END, 'contacts', g::text,
              3, 1, md5(g::text), left(md5(g::text), 16), t.at, t.at, t.at, t.at + interval '1 second'
       FROM generate_series(1, $2) g, LATERAL (SELECT now() - interval '20 days' + g * interval '1 second' AS at) t`,
      [portalId, ENDED_JOBS],
    );
    liveIds = (
      await pg.query(
        `INSERT INTO jobs (id, portal_id, type, handler_version, status, idempotency_key, request_hash, input, max_attempts, trace_id, span_id, created_at, updated_at)
         SELECT gen_random_uuid(), $1, 'noop', '1', 'queued', 'live-' || g, repeat('0', 64), '{}', 3, md5(g::text), left(md5(g::text), 16),
                now() - interval '1 hour', now() - interval '1 hour'
         FROM generate_series(1, $2) g RETURNING id`,
        [portalId, LIVE_JOBS],
      )
    ).rows.map((row) => row.id);
    await pg.query(
      `INSERT INTO writebacks (job_id, portal_id, object_type, object_id, priority, job_order, properties, status, handler_type, handler_version, settled_at)
       SELECT id, portal_id, 'contacts', object_id, 'live', created_at, '{"score": "1"}', 'written', type, '1', finished_at
       FROM jobs WHERE status = 'succeeded' LIMIT $1`,
      [WRITES],
    );
    await pg.query(
      `INSERT INTO outbox_events (topic, key, headers, payload, published_at)
       SELECT 'offload.job-events', g::text, '{}', '{}', now() FROM generate_series(1, $1) g`,
      [WRITES],
    );
    await pg.query('ANALYZE');
  }, 120_000);

  afterAll(() => database?.close());

  it('reads no large table whole on the job path, the writer, the reconciler, retention or an operator listing', async () => {
    const jobs = new JobRepository(database.db);
    const search = new JobSearch(database.db);
    const writes = new WritebackJournal(database.db);
    const retention = new RetentionRepository(database.db);
    const lane = { portalId, objectType: 'contacts', priority: 'live' as const };
    const cursor = { at: new Date(Date.now() - 86_400_000).toISOString(), id: randomUUID() };
    const statements = await statementsOf(database.db, async () => {
      const id = randomUUID();
      await jobs.insertMany([
        {
          id,
          portal_id: portalId,
          type: 'noop',
          handler_version: '1',
          idempotency_key: `plan-${id}`,
          request_hash: '0'.repeat(64),
          input: {},
          object_type: 'contacts',
          object_id: '7',
          object_properties: null,
          callback_id: null,
          writeback: true,
          dry_run: false,
          priority: 'live',
          completes_workflow_step: true,
          max_attempts: 3,
          trace_id: '0'.repeat(32),
          span_id: '0'.repeat(16),
        },
      ]);
      await jobs.findByKeys([{ portalId, idempotencyKey: 'ended-7' }]);
      await jobs.findById(portalId, liveIds[0]);
      const runs = liveIds.slice(0, 50).map((jobId) => ({ id: jobId, runId: randomUUID(), deadlineMs: 8_000 }));
      await jobs.startRuns(runs);
      await jobs.renewRuns(runs, 8_000);
      await jobs.finishRuns(runs.map((run) => ({ id: run.id, runId: run.runId, status: 'succeeded' as const, output: {}, error: null, refund: 0 as const })));
      await jobs.cancelMany(liveIds.slice(50, 60), portalId);
      await jobs.findStale(60_000, undefined, 500);
      await jobs.findStale(60_000, cursor, 500);
      await jobs.waitingByPortal(20, 'oldest');
      await jobs.findUnsettledWorkflowSteps(60_000, undefined, 500);
      await writes.dueLanes(100);
      await writes.claimWrites(lane, randomUUID(), 100, 30_000);
      await writes.reclaimLapsed();
      await search.list({}, undefined, 50);
      await search.list({}, cursor, 50);
      await search.list({ portalId }, undefined, 50);
      await search.list({ type: 'enrichment', status: ['succeeded'] }, undefined, 50);
      await search.list({ status: ['failed'] }, undefined, 50);
      await search.list({ from: new Date(Date.now() - 3_600_000) }, undefined, 50);
      await search.failures({ from: new Date(Date.now() - 86_400_000) }, 20);
      await retention.purgeEndedJobs(30, 500);
    });

    // Each distinct statement once, planned with the values it was sent with (EXPLAIN plans, it does not run).
    const distinct = [...new Map(statements.map((statement) => [`${statement.text}\u0000${JSON.stringify(statement.values)}`, statement])).values()];
    expect(distinct.length).toBeGreaterThan(20);
    const scans: Array<{ statement: string; tables: string[] }> = [];
    for (const { text, values } of distinct) {
      const [{ 'QUERY PLAN': [plan] }] = (await pg.query(`EXPLAIN (FORMAT JSON) ${text}`, values)).rows;
      const tables = sequentialScans(plan.Plan);
      if (tables.length > 0) scans.push({ statement: text.replace(/\s+/g, ' ').slice(0, 160), tables });
    }
    expect(scans).toEqual([]);
  }, 120_000);

  it('notices a statement that reads a large table whole', async () => {
    const [{ 'QUERY PLAN': [plan] }] = (await pg.query(`EXPLAIN (FORMAT JSON) SELECT * FROM jobs WHERE input->>'email' = $1`, ['a@example.com'])).rows;
    expect(sequentialScans(plan.Plan)).toEqual(['jobs']);
  });
});
