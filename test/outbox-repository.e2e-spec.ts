import { Client } from 'pg';
import { OutboxRepository } from '../src/outbox/outbox.repository';
import { IsolatedDatabase, isolateDatabase } from './support/offload-harness';

const HOUR_MS = 3_600_000;

/** The outbox statements the relay's retention depends on, against real PostgreSQL. */
describe('outbox repository', () => {
  let database: IsolatedDatabase;
  let pg: Client;
  let outbox: OutboxRepository;

  /** An event; publishedHoursAgo null leaves it unpublished. Answers its id. */
  async function event(publishedHoursAgo: number | null): Promise<string> {
    const { rows } = await pg.query(
      `INSERT INTO outbox_events (topic, key, payload, published_at)
       VALUES ('offload.job-events', 'k', '{}', now() - $1 * interval '1 hour') RETURNING id::text`,
      [publishedHoursAgo],
    );
    return rows[0].id;
  }

  const remaining = async () => (await pg.query(`SELECT id::text FROM outbox_events ORDER BY id`)).rows.map((row) => row.id);

  beforeAll(async () => {
    database = await isolateDatabase();
    ({ pg } = database);
    outbox = new OutboxRepository(database.db);
  });

  beforeEach(() => pg.query('TRUNCATE outbox_events'));

  afterAll(() => database?.close());

  it('deletes only events Kafka acknowledged longer ago than the retention, oldest first, a chunk at a time', async () => {
    const old = [await event(200), await event(190), await event(180)];
    const recent = await event(1);
    const unpublished = await event(null);

    expect(await outbox.prunePublished(168 * HOUR_MS, 2)).toBe(2);
    expect(await remaining()).toEqual([old[2], recent, unpublished]);
    expect(await outbox.prunePublished(168 * HOUR_MS, 2)).toBe(1);
    expect(await outbox.prunePublished(168 * HOUR_MS, 2)).toBe(0);
    expect(await remaining()).toEqual([recent, unpublished]);
    expect(await outbox.oldestUnpublishedAgeSeconds()).toBeLessThan(60);
  });

  it('deletes nothing while another worker holds the pruning lock', async () => {
    const old = await event(500);
    await pg.query('BEGIN');
    await pg.query(`SELECT pg_advisory_xact_lock(hashtext('offload.outbox-prune'))`);
    expect(await outbox.prunePublished(168 * HOUR_MS, 10)).toBe(0);
    await pg.query('ROLLBACK');
    expect(await outbox.prunePublished(168 * HOUR_MS, 10)).toBe(1);
    expect(await remaining()).not.toContain(old);
  });
});
