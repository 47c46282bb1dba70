import { Type } from '@sinclair/typebox';
import { Client } from 'pg';
import { JobContext, JobHandlerOf } from '../src/registry/job-handler';
import { createHubSpotSimulator, HubSpotSimulator } from '../tools/simulators/hubspot';
import { ADMIN_TOKEN, configFor, eventually, HttpClient, isolate, Isolation, loggingErrors, RunningOffload, startOffload } from './support/offload-harness';

/** A gate the test opens: runs that reach it wait until then. */
class Latch {
  private open!: () => void;
  readonly opened = new Promise<void>((resolve) => (this.open = resolve));
  release(): void {
    this.open();
  }
}

const TIERS = ['A', 'B', 'C', 'D'];
/** The bad release's switch: on, every score is D. */
const badRelease = { on: false, burst: new Latch() };

/** An ICP-like score per contact: version 1 and the good version 2 spread the tiers; version 2 with the switch on writes D everywhere. */
function scorer(version: '1.0.0' | '2.0.0') {
  @JobHandlerOf({
    type: 'scorer',
    version,
    owner: 'tests',
    description: 'scores a contact into a tier',
    input: Type.Object({}),
    outputs: { tier: { hubspotType: 'string', description: 'the tier' }, scored: { hubspotType: 'bool', description: 'true' } },
    concurrency: 600,
  })
  class Scorer {
    async run({ job }: JobContext<unknown>) {
      const id = Number(job.object!.id);
      if (version === '2.0.0' && badRelease.on) {
        await badRelease.burst.opened;
        return { tier: 'D', scored: true };
      }
      return { tier: TIERS[(id + (version === '2.0.0' ? 1 : 0)) % 4], scored: true };
    }
  }
  return Scorer;
}
const tierOf = (version: '1.0.0' | '2.0.0', id: number) => TIERS[(id + (version === '2.0.0' ? 1 : 0)) % 4];

/** Reads its record (unless told not to), waits for the test, then writes a tier and a note. */
const review = { read: new Latch(), go: new Latch() };
@JobHandlerOf({
  type: 'reviewer',
  version: '1.0.0',
  owner: 'tests',
  description: 'reads the contact, thinks for a while, writes its verdict',
  input: Type.Object({ read: Type.Boolean() }),
  outputs: { tier: { hubspotType: 'string', description: 'the tier' }, note: { hubspotType: 'string', description: 'a note' } },
})
class Reviewer {
  async run({ input, job, hubspot }: JobContext<{ read: boolean }>) {
    if (input.read) await hubspot.readProperties(job.object!, ['firstname', 'tier']);
    review.read.release();
    await review.go.opened;
    return { tier: 'A', note: 'reviewed' };
  }
}

/** Writes a property the simulated portals do not define: HubSpot refuses every write of it. */
@JobHandlerOf({
  type: 'labeller',
  version: '1.0.0',
  owner: 'tests',
  description: 'labels a contact, in a property HubSpot does not know',
  input: Type.Object({}),
  outputs: { label: { hubspotType: 'string', description: 'a label' } },
})
class Labeller {
  async run() {
    return { label: 'vip' };
  }
}

const range = (from: number, count: number) => Array.from({ length: count }, (_, i) => from + i);

async function query(isolation: Isolation, text: string, values: unknown[] = []): Promise<any[]> {
  const pg = loggingErrors(new Client({ connectionString: isolation.databaseUrl }), 'PostgreSQL');
  await pg.connect();
  try {
    return (await pg.query(text, values)).rows;
  } finally {
    await pg.end();
  }
}

/** The records HubSpot's answers to batch updates say it wrote, for a portal. */
const recordsUpdated = (sim: HubSpotSimulator, portalId: number) =>
  sim
    .listCalls({ endpoint: 'crm.objects.batch.update', portalId })
    .filter((call) => call.status === 200)
    .reduce((sum, call) => sum + Number(call.summary?.inputs ?? 0), 0);

/** Connects an Offload portal to a HubSpot account of the simulator with `contacts` contacts, each with tier "seed". */
async function connected(sim: HubSpotSimulator, admin: HttpClient, url: string, hubspotPortalId: number, contacts: number[]) {
  sim.addPortal({ portalId: hubspotPortalId, privateAppTokens: [`pat-${hubspotPortalId}`], rateLimit: 1_000 });
  sim.defineProperties('contacts', ['tier', 'scored', 'note'], hubspotPortalId);
  sim.seed('contacts', contacts.map((id) => ({ id, properties: { firstname: `Contact ${id}`, tier: 'seed' } })), hubspotPortalId);
  const created = await admin.post('/v1/admin/portals', {
    hubspotPortalId,
    name: `Portal ${hubspotPortalId}`,
    hubspotAccessToken: `pat-${hubspotPortalId}`,
    rateLimit: { requestsPer10s: 1_000 },
  });
  expect(created.status).toBe(201);
  return { id: created.body.id as string, client: new HttpClient(url, created.body.apiKey), hubspotPortalId };
}

async function enqueue(client: HttpClient, type: string, ids: number[], tag: string, extra: Record<string, unknown> = {}): Promise<string[]> {
  const jobIds: string[] = [];
  for (let i = 0; i < ids.length; i += 100) {
    const jobs = ids.slice(i, i + 100).map((id) => ({ type, object: { type: 'contacts', id }, writeback: true, idempotencyKey: `${tag}-${id}`, ...extra }));
    const answer = await client.post('/v1/jobs/batch', { jobs });
    expect(answer.status).toBe(200);
    for (const result of answer.body.results) {
      expect(result.status).toBe(202);
      jobIds.push(result.job.id);
    }
  }
  return jobIds;
}

async function statuses(isolation: Isolation, portalId: string, tag = ''): Promise<Record<string, number>> {
  const rows = await query(isolation, `SELECT status, count(*)::int AS n FROM jobs WHERE portal_id = $1 AND idempotency_key LIKE $2 GROUP BY status`, [portalId, `${tag}%`]);
  return Object.fromEntries(rows.map((row) => [row.status, row.n]));
}

describe('safe write-back (end to end, through the official client, against the simulator)', () => {
  let isolation: Isolation;
  let sim: HubSpotSimulator;
  let offload: RunningOffload;
  let admin: HttpClient;

  beforeAll(async () => {
    sim = await createHubSpotSimulator({ rateLimit: 1_000 });
    isolation = await isolate();
    offload = await startOffload(configFor(isolation, { HUBSPOT_BASE_URL: sim.url }), [scorer('1.0.0'), Reviewer, Labeller]);
    admin = new HttpClient(offload.url, ADMIN_TOKEN);
  });

  afterAll(async () => {
    await offload?.close();
    await sim?.close();
    await isolation?.cleanup();
  });

  const ended = (client: HttpClient, id: string) =>
    eventually(() => client.get(`/v1/jobs/${id}?wait=5`), (answer) => ['succeeded', 'failed'].includes(answer.body.status), 60_000).then((answer) => answer.body);

  describe('dry runs', () => {
    it('write nothing and report the exact change, property by property, old to new', async () => {
      const { client, hubspotPortalId } = await connected(sim, admin, offload.url, 6_100_001, [1, 2]);
      sim.editAsPerson('contacts', 2, { tier: 'C' }, { portalId: hubspotPortalId });
      const dryRuns = await client.post('/v1/jobs/batch', { jobs: [1, 2].map((id) => ({ type: 'scorer', object: { type: 'contacts', id }, writeback: true, dryRun: true })) });
      const [first, second] = dryRuns.body.results.map((result: { job: { id: string } }) => result.job.id);

      expect(await ended(client, first)).toMatchObject({
        status: 'succeeded',
        dryRun: true,
        output: { tier: 'B', scored: true },
        changes: [
          { property: 'tier', old: 'seed', new: 'B' },
          { property: 'scored', old: null, new: 'true' },
        ],
      });
      // Contact 2 holds C already: only `scored` would change.
      expect((await ended(client, second)).changes).toEqual([{ property: 'scored', old: null, new: 'true' }]);
      expect(sim.listCalls({ endpoint: 'crm.objects.batch.update', portalId: hubspotPortalId })).toEqual([]);
      expect(sim.getObject('contacts', 1, hubspotPortalId)!.properties.tier).toBe('seed');
      expect(sim.getObject('contacts', 1, hubspotPortalId)!.properties.scored ?? null).toBeNull();
      // A dry run of a record does not take the key of the job that then writes it.
      const real = await client.post('/v1/jobs', { type: 'scorer', object: { type: 'contacts', id: 1 }, writeback: true });
      expect(real.status).toBe(202);
      expect(await ended(client, real.body.id)).toMatchObject({ status: 'succeeded' });
      expect(sim.getObject('contacts', 1, hubspotPortalId)!.properties).toMatchObject({ tier: 'B', scored: 'true' });
    });

    it('are all a handler version writes to a portal that keeps it to dry runs', async () => {
      const { id, client, hubspotPortalId } = await connected(sim, admin, offload.url, 6_100_002, [1]);
      const set = await admin.request('PUT', `/v1/admin/portals/${id}/writebacks/releases/scorer/1.0.0`, { dryRunOnly: true });
      expect(set.status).toBe(200);
      expect(set.body).toMatchObject({ type: 'scorer', version: '1.0.0', dryRunOnly: true });
      const [job] = await enqueue(client, 'scorer', [1], 'only');
      expect(await ended(client, job)).toMatchObject({ status: 'succeeded', dryRun: true, changes: [{ property: 'tier', old: 'seed', new: 'B' }, { property: 'scored' }] });
      expect(sim.getObject('contacts', 1, hubspotPortalId)!.properties.tier).toBe('seed');
    });

    it('need an object', async () => {
      const { client } = await connected(sim, admin, offload.url, 6_100_003, []);
      const answer = await client.post('/v1/jobs', { type: 'scorer', dryRun: true });
      expect(answer.status).toBe(400);
      expect(answer.body.error).toMatchObject({ code: 'validation_failed', details: [{ path: 'object', message: 'is required when dryRun is true' }] });
    });
  });

  describe('a person’s edit', () => {
    beforeEach(() => {
      review.read = new Latch();
      review.go = new Latch();
    });

    it('made between the job’s read and its write is kept, and the job reports the property it skipped', async () => {
      const { client, hubspotPortalId } = await connected(sim, admin, offload.url, 6_200_001, [1]);
      const answer = await client.post('/v1/jobs', { type: 'reviewer', input: { read: true }, object: { type: 'contacts', id: 1 }, writeback: true });
      await review.read.opened;
      sim.editAsPerson('contacts', 1, { tier: 'Hand-picked' }, { portalId: hubspotPortalId });
      review.go.release();

      expect(await ended(client, answer.body.id)).toMatchObject({ status: 'succeeded', output: { tier: 'A', note: 'reviewed' }, skipped_stale: ['tier'] });
      expect(sim.getObject('contacts', 1, hubspotPortalId)!.properties).toMatchObject({ tier: 'Hand-picked', note: 'reviewed' });
    });

    it('made after a job that read nothing was enqueued is kept too', async () => {
      const { client, hubspotPortalId } = await connected(sim, admin, offload.url, 6_200_002, [1]);
      const answer = await client.post('/v1/jobs', { type: 'reviewer', input: { read: false }, object: { type: 'contacts', id: 1 }, writeback: true });
      await review.read.opened;
      sim.editAsPerson('contacts', 1, { tier: 'Hand-picked', note: 'mine' }, { portalId: hubspotPortalId });
      review.go.release();

      const job = await ended(client, answer.body.id);
      expect(job).toMatchObject({ status: 'succeeded' });
      expect(job.skipped_stale.sort()).toEqual(['note', 'tier']);
      expect(sim.getObject('contacts', 1, hubspotPortalId)!.properties).toMatchObject({ tier: 'Hand-picked', note: 'mine' });
      // Every property was stale: nothing was sent.
      expect(recordsUpdated(sim, hubspotPortalId)).toBe(0);
    });

    it('made before the job read the record is the job’s to overwrite', async () => {
      const { client, hubspotPortalId } = await connected(sim, admin, offload.url, 6_200_003, [1]);
      sim.editAsPerson('contacts', 1, { tier: 'Hand-picked' }, { portalId: hubspotPortalId });
      const answer = await client.post('/v1/jobs', { type: 'reviewer', input: { read: true }, object: { type: 'contacts', id: 1 }, writeback: true });
      review.go.release();
      const job = await ended(client, answer.body.id);
      expect(job.status).toBe('succeeded');
      expect(job.skipped_stale).toBeUndefined();
      expect(sim.getObject('contacts', 1, hubspotPortalId)!.properties.tier).toBe('A');
    });
  });

  describe('the automatic pause', () => {
    it('holds a version’s writes once HubSpot refuses half of its latest ones, and says why', async () => {
      const { id, client, hubspotPortalId } = await connected(sim, admin, offload.url, 6_500_001, range(1, 40));
      await enqueue(client, 'labeller', range(1, 30), 'refused');
      await eventually(() => statuses(isolation, id, 'refused'), (counts) => counts.failed === 30, 60_000);

      const [later] = await enqueue(client, 'labeller', [31], 'later');
      const release = await eventually(() => admin.get(`/v1/admin/portals/${id}/writebacks/releases/labeller/1.0.0`), (answer) => answer.body.held === 1, 60_000);
      expect(release.body.paused.reason).toMatchObject({ code: 'failure_rate', share: 1 });
      expect(release.body.paused.reason.message).toMatch(/HubSpot refused 30 of the latest 30 writes/);
      // Audited as Offload's own act, with the guard's reason.
      const { actions } = (await admin.get('/v1/admin/actions?limit=100')).body;
      expect(actions.filter((action: { target: { portalId?: string } }) => action.target.portalId === id)).toEqual([
        expect.objectContaining({
          actor: 'offload',
          action: 'writeback.pause',
          reason: release.body.paused.reason.message,
          target: { portalId: id, type: 'labeller', version: '1.0.0', guard: 'failure_rate' },
        }),
      ]);
      expect((await client.get(`/v1/jobs/${later}`)).body.status).toBe('writing');
      const refusedCalls = sim.listCalls({ endpoint: 'crm.objects.batch.update', portalId: hubspotPortalId }).length;

      // Released, its write is tried (and refused: the property still does not exist), and the next claim pauses it again.
      const released = await admin.post(`/v1/admin/portals/${id}/writebacks/releases/labeller/1.0.0/release`, { actor: 'carol', reason: 'checked the property' });
      expect(released.body.paused).toBeNull();
      expect(await ended(client, later)).toMatchObject({ status: 'failed', error: { code: 'writeback_rejected' } });
      expect(sim.listCalls({ endpoint: 'crm.objects.batch.update', portalId: hubspotPortalId }).length).toBe(refusedCalls + 1);
      const after = (await admin.get('/v1/admin/actions?limit=100')).body.actions;
      expect(after.find((action: { action: string; target: { portalId?: string } }) => action.action === 'writeback.release' && action.target.portalId === id)).toMatchObject({
        actor: 'carol',
        reason: 'checked the property',
        target: { portalId: id, type: 'labeller', version: '1.0.0', ended: 'pause' },
      });
    });
  });

  describe('the admin API', () => {
    it('keeps a portal’s settings, and refuses what it cannot do with the contract’s errors', async () => {
      const { id } = await connected(sim, admin, offload.url, 6_600_001, []);
      const at = (path: string) => `/v1/admin/portals/${id}/writebacks${path}`;
      expect((await admin.get(at('/settings'))).body).toEqual({ readBeforeWrite: true });
      expect((await admin.request('PUT', at('/settings'), { readBeforeWrite: false })).body).toEqual({ readBeforeWrite: false });
      expect((await admin.get(at('/settings'))).body).toEqual({ readBeforeWrite: false });

      const refusals: Array<[string, string, unknown, number, string, string?]> = [
        ['PUT', at('/settings'), { readBeforeWrite: 'yes' }, 400, 'validation_failed', 'readBeforeWrite'],
        ['PUT', at('/releases/scorer/1.0.0'), { rollout: { stages: [10, 1] } }, 400, 'validation_failed', 'rollout.stages'],
        ['PUT', at('/releases/scorer/1.0.0'), {}, 400, 'validation_failed'],
        ['PUT', at('/releases/scorer/1%20x'), { dryRunOnly: true }, 400, 'validation_failed', 'version'],
        ['POST', at('/revert'), {}, 400, 'validation_failed'],
        ['POST', at('/revert'), { version: '1.0.0' }, 400, 'validation_failed', 'type'],
        ['POST', at('/revert'), { from: '2026-12-02T00:00:00Z', to: '2026-12-01T00:00:00Z' }, 400, 'validation_failed', 'to'],
        ['POST', at('/revert'), { from: 'yesterday' }, 400, 'validation_failed', 'from'],
        ['GET', at('/reverts/999'), undefined, 404, 'not_found'],
        ['GET', at('/reverts/not-a-number'), undefined, 404, 'not_found'],
        ['POST', at('/releases/scorer/1.0.0/release'), undefined, 409, 'conflict'],
        ['GET', '/v1/admin/portals/00000000-0000-0000-0000-000000000000/writebacks/releases', undefined, 404, 'not_found'],
        ['GET', '/v1/admin/portals/nope/writebacks/settings', undefined, 404, 'not_found'],
      ];
      for (const [method, path, body, status, code, field] of refusals) {
        const answer = await admin.request(method, path, body);
        expect({ path, status: answer.status, code: answer.body.error?.code }).toEqual({ path, status, code });
        if (field) expect(answer.body.error.details.map((detail: { path: string }) => detail.path)).toContain(field);
      }
      expect((await new HttpClient(offload.url).get(at('/settings'))).status).toBe(401);
      // A time range alone is a revert of its own; with nothing written in it, it is done at once.
      const empty = await admin.post(at('/revert'), { from: '2026-12-01T00:00:00Z' });
      expect(empty.status).toBe(202);
      expect(empty.body).toMatchObject({ filter: { from: '2026-12-01T00:00:00.000Z' }, writes: 0, records: 0 });
    });
  });

  describe('a staged rollout', () => {
    it('writes 1, then 10, then 100 records, no more until released, and then all; held writes wait, not failed', async () => {
      const { id, client, hubspotPortalId } = await connected(sim, admin, offload.url, 6_300_001, range(1, 200));
      const release = `/v1/admin/portals/${id}/writebacks/releases/scorer/1.0.0`;
      const set = await admin.request('PUT', release, { rollout: { stages: [1, 10, 100] } });
      expect(set.body.rollout).toEqual({ stages: [1, 10, 100], stage: 0, allowance: 1, admitted: 0, autoReleaseAfter: null, clean: 0 });
      await enqueue(client, 'scorer', range(1, 200), 'staged');

      for (const [written, next] of [
        [1, 1],
        [10, 2],
        [100, 3],
      ]) {
        // Held until released: every write of the version is either written or held, none is waiting to be sent.
        const state = await eventually(
          () => admin.get(release),
          (answer) => answer.body.held === 200 - written && answer.body.rollout.admitted === written,
          60_000,
        );
        expect(state.body.rollout.allowance).toBe(written);
        await eventually(() => statuses(isolation, id, 'staged'), (counts) => counts.succeeded === written, 60_000);
        expect(await statuses(isolation, id, 'staged')).toEqual({ succeeded: written, writing: 200 - written });
        expect(recordsUpdated(sim, hubspotPortalId)).toBe(written);
        const pending = await query(isolation, `SELECT count(*)::int AS n FROM writebacks WHERE portal_id = $1 AND status IN ('pending', 'sent')`, [id]);
        expect(pending).toEqual([{ n: 0 }]);

        const released = await admin.post(`${release}/release`);
        expect(released.status).toBe(200);
        expect(released.body.rollout.stage).toBe(next);
      }
      await eventually(() => statuses(isolation, id, 'staged'), (counts) => counts.succeeded === 200, 60_000);
      expect(recordsUpdated(sim, hubspotPortalId)).toBe(200);
      expect((await admin.post(`${release}/release`)).status).toBe(409);
    }, 180_000);

    it('releases its stages by itself after clean writes', async () => {
      const { id, client } = await connected(sim, admin, offload.url, 6_300_002, range(1, 20));
      const release = `/v1/admin/portals/${id}/writebacks/releases/scorer/1.0.0`;
      expect((await admin.request('PUT', release, { rollout: { stages: [1, 5], autoReleaseAfter: 3 } })).status).toBe(200);
      await enqueue(client, 'scorer', range(1, 20), 'auto');
      await eventually(() => statuses(isolation, id, 'auto'), (counts) => counts.succeeded === 20, 90_000);
      expect((await admin.get(release)).body.rollout).toMatchObject({ stage: 2, allowance: null, admitted: 5 });
    }, 120_000);
  });
});

describe('a bad release of a handler (version 2.0.0 with its switch on)', () => {
  let isolation: Isolation;
  let sim: HubSpotSimulator;
  let offload: RunningOffload | undefined;
  const CONTACTS = 1_100;
  const EDITED = range(1, 100);
  const BAD = range(101, 500);

  beforeAll(async () => {
    sim = await createHubSpotSimulator({ rateLimit: 1_000 });
    isolation = await isolate();
  });

  afterAll(async () => {
    await offload?.close();
    await sim?.close();
    await isolation?.cleanup();
  });

  it('is paused by drift with its writes waiting, then reverted: 1,000 records restored, those a person edited since left alone', async () => {
    const config = configFor(isolation, { HUBSPOT_BASE_URL: sim.url });
    offload = await startOffload(config, [scorer('1.0.0')]);
    let admin = new HttpClient(offload.url, ADMIN_TOKEN);
    const portal = await connected(sim, admin, offload.url, 6_400_001, range(1, CONTACTS));
    const at = (path: string) => `/v1/admin/portals/${portal.id}/writebacks${path}`;
    const tiers = (ids: number[]) => ids.map((id) => sim.getObject('contacts', id, portal.hubspotPortalId)!.properties.tier);

    // Version 1 scores every contact.
    await enqueue(portal.client, 'scorer', range(1, CONTACTS), 'v1');
    await eventually(() => statuses(isolation, portal.id, 'v1'), (counts) => counts.succeeded === CONTACTS, 120_000);

    // The release: version 2, good at first, scores them again.
    await offload.close();
    offload = await startOffload(config, [scorer('2.0.0')]);
    admin = new HttpClient(offload.url, ADMIN_TOKEN);
    const v2 = new HttpClient(offload.url, portal.client.token);
    await enqueue(v2, 'scorer', range(1, CONTACTS), 'v2');
    await eventually(() => statuses(isolation, portal.id, 'v2'), (counts) => counts.succeeded === CONTACTS, 120_000);
    expect(tiers(range(1, CONTACTS))).toEqual(range(1, CONTACTS).map((id) => tierOf('2.0.0', id)));

    // People fix some records by hand.
    for (const id of EDITED) sim.editAsPerson('contacts', id, { tier: 'Hand-picked' }, { portalId: portal.hubspotPortalId });

    // Then its quiet bug: every score is D. The runs end together, as a backfill's do.
    badRelease.on = true;
    const updatesBefore = recordsUpdated(sim, portal.hubspotPortalId);
    await enqueue(v2, 'scorer', BAD, 'bad');
    await eventually(() => statuses(isolation, portal.id, 'bad'), (counts) => counts.running === BAD.length, 60_000);
    badRelease.burst.release();

    const paused = await eventually(() => admin.get(at('/releases/scorer/2.0.0')), (answer) => answer.body.held === BAD.length, 60_000);
    expect(paused.body.paused.reason).toMatchObject({ code: 'drift', property: 'tier', value: 'D', share: 1, previousVersion: '1.0.0' });
    expect(paused.body.paused.reason.message).toMatch(/100% of the latest 100 writes set tier to "D"/);
    expect(await statuses(isolation, portal.id, 'bad')).toEqual({ writing: BAD.length });
    expect(recordsUpdated(sim, portal.hubspotPortalId)).toBe(updatesBefore);
    expect(tiers(BAD)).toEqual(BAD.map((id) => tierOf('2.0.0', id)));
    const metrics = await new HttpClient(offload.url).get('/metrics');
    expect(metrics.body).toContain(`offload_writeback_paused{portal="${portal.id}",type="scorer",version="2.0.0",reason="drift"} 1`);
    expect(metrics.body).toMatch(/offload_writeback_pauses_total\{type="scorer",reason="drift"\} 1/);

    // Revert the release.
    const started = await admin.post(at('/revert'), { type: 'scorer', version: '2.0.0' });
    expect(started.status).toBe(202);
    expect(started.body).toMatchObject({ status: 'running', filter: { type: 'scorer', version: '2.0.0' }, writes: CONTACTS, records: CONTACTS, withdrawn: BAD.length });
    const done = await eventually(() => admin.get(at(`/reverts/${started.body.id}`)), (answer) => answer.body.status === 'done', 120_000);
    expect(done.body).toMatchObject({ records: CONTACTS, done: CONTACTS, restored: 1_000, skipped: EDITED.length, unrestorable: 0, failed: 0 });

    expect(tiers(range(101, 1_000))).toEqual(range(101, 1_000).map((id) => tierOf('1.0.0', id)));
    expect(tiers(EDITED)).toEqual(EDITED.map(() => 'Hand-picked'));
    // The bad release's writes were never made: withdrawn, their jobs failed as reverted.
    await eventually(() => statuses(isolation, portal.id, 'bad'), (counts) => counts.failed === BAD.length, 60_000);
    const [failed] = await query(isolation, `SELECT error FROM jobs WHERE portal_id = $1 AND idempotency_key = 'bad-101'`, [portal.id]);
    expect(failed.error).toMatchObject({ code: 'writeback_reverted', retryable: false });
    expect(tiers(BAD)).toEqual(BAD.map((id) => tierOf('1.0.0', id)));
    const reverted = await admin.get(at('/releases/scorer/2.0.0'));
    expect(reverted.body).toMatchObject({ paused: null, reverted: { at: expect.any(String) }, held: 0 });
  }, 400_000);
});
