import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { ADMIN_TOKEN, configFor, eventually, isolate, Isolation, newPortal, RunningOffload, startOffload } from './support/offload-harness';

const BIN = join(__dirname, '..', 'bin', 'offload.js');

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** `npx offload ...` as an operator runs it: the package's bin, the compiled CLI, the admin API over HTTP. */
function offloadCli(args: string[], env: Record<string, string>): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { env: { PATH: process.env.PATH, ...env } }, (error, stdout, stderr) =>
      resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

describe('the offload CLI', () => {
  let isolation: Isolation;
  let offload: RunningOffload;
  let cli: (...args: string[]) => Promise<Run>;

  beforeAll(async () => {
    isolation = await isolate();
    offload = await startOffload(configFor(isolation));
    cli = (...args) => offloadCli(args, { OFFLOAD_URL: offload.url, OFFLOAD_ADMIN_TOKEN: ADMIN_TOKEN, USER: 'tester' });
  });

  afterAll(async () => {
    await offload?.close();
    await isolation?.cleanup();
  });

  it('manages portals and their keys', async () => {
    const created = await cli('--json', 'portals', 'create', '--hubspot-portal-id', '4242', '--name', 'CLI portal');
    expect(created.code).toBe(0);
    const portal = JSON.parse(created.stdout);
    expect(portal).toMatchObject({ hubspotPortalId: 4242, name: 'CLI portal', apiKey: expect.stringMatching(/^ofk_/) });
    expect(JSON.parse((await cli('--json', 'portals', 'show', portal.id)).stdout)).toMatchObject({ id: portal.id, name: 'CLI portal' });

    const key = JSON.parse((await cli('--json', 'keys', 'create', portal.id)).stdout);
    const listed = await cli('keys', 'list', portal.id);
    expect(listed.stdout).toContain(key.id);
    expect((await cli('keys', 'revoke', portal.id, key.id)).code).toBe(0);
    expect((await cli('keys', 'list', portal.id)).stdout).not.toContain(key.id);

    const budget = await cli('portals', 'budget', portal.id);
    expect(budget.stdout).toMatch(/^window: 0\/\d+ requests in the last 10 s \(stated limit 100\)$/m);
  });

  it('lists jobs and failures, and retries thousands by filter with a progress bar, audited', async () => {
    const { portal, client } = await newPortal(offload.url);
    const jobs = Array.from({ length: 1200 }, (_, n) => ({ type: 'noop', input: { fatal: true }, idempotencyKey: `cli-${n}` }));
    for (let i = 0; i < jobs.length; i += 100) expect((await client.post('/v1/jobs/batch', { jobs: jobs.slice(i, i + 100) })).status).toBe(200);
    const failedCount = async () => JSON.parse((await cli('--json', 'jobs', 'retry', '--portal', portal.id, '--dry-run')).stdout).matched as number;
    await eventually(failedCount, (count) => count === 1200, 120_000);

    const list = await cli('jobs', 'list', '--portal', portal.id, '--status', 'failed', '--limit', '5');
    expect(list.stdout.trim().split('\n')).toHaveLength(6);
    expect(list.stdout).toMatch(/^id\s+type\s+status\s+portalId/);
    const failures = await cli('jobs', 'failures', '--portal', portal.id);
    expect(failures.stdout).toMatch(new RegExp(`noop\\s+\\S+\\s+${portal.id}\\s+1200`));

    const retried = await cli('jobs', 'retry', '--portal', portal.id, '--type', 'noop', '--reason', 'provider back');
    expect(retried.code).toBe(0);
    expect(retried.stdout.trim()).toBe('retry: 1200 of 1200 jobs');
    // Not a terminal: one progress line per step, ending at the total.
    const steps = retried.stderr.trim().split('\n');
    expect(steps[0]).toBe('Retrying: 0/1200');
    expect(steps.at(-1)).toBe('Retrying: 1200/1200');
    expect(steps.length).toBeGreaterThanOrEqual(4);

    const actions = await cli('--json', 'actions', '--limit', '3');
    expect(JSON.parse(actions.stdout)[0]).toMatchObject({ actor: 'cli:tester', action: 'jobs.retry', reason: 'provider back', target: { ids: expect.any(Array) } });
  });

  it('cancels by ids and by filter, and refuses to act on everything without --yes', async () => {
    const { portal, client } = await newPortal(offload.url);
    const slow = await Promise.all([1, 2].map((n) => client.post('/v1/jobs', { type: 'noop', input: { sleepMs: 10_000 }, idempotencyKey: `slow-${n}` })));
    const one = await cli('jobs', 'cancel', '--ids', slow[0].body.id);
    expect(one.stdout.trim()).toBe('cancel: 1 of 1 jobs');
    expect((await cli('jobs', 'cancel', '--portal', portal.id, '--dry-run')).stdout.trim()).toBe('1 jobs would be cancelled');
    expect((await cli('jobs', 'cancel', '--portal', portal.id)).stdout.trim()).toBe('cancel: 1 of 1 jobs');
    const everything = await cli('jobs', 'cancel');
    expect(everything.code).toBe(2);
    expect(everything.stderr).toMatch(/needs --ids or a filter/);
  });

  it('reads the outbox backlog, and says what went wrong', async () => {
    expect((await cli('outbox')).stdout).toMatch(/^\d+ events wait for Kafka \(oldest \d+ s\); \d+ published kept$/m);
    const unknown = await cli('portals', 'show', '00000000-0000-4000-8000-000000000000');
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/404 not_found/);
    expect((await offloadCli(['jobs', 'list'], { OFFLOAD_URL: offload.url })).stderr).toMatch(/No admin token/);
    expect((await cli('bogus')).code).toBe(2);
    expect((await cli('--help')).stdout).toMatch(/^offload: operate an Offload deployment/);
  });

  it('pauses and resumes a portal, all its work or some job types, audited with who and why', async () => {
    const { portal } = await newPortal(offload.url);
    const paused = await cli('portals', 'pause', portal.id, '--types', 'noop, enrichment', '--reason', 'runaway');
    expect(paused.stdout.trim()).toBe(`portal ${portal.id}: paused for enrichment (runaway), noop (runaway)`);
    expect((await cli('portals', 'pause', portal.id, '--reason', 'maintenance')).stdout.trim()).toBe(`portal ${portal.id}: all work paused (maintenance)`);
    // Resuming one type of a paused portal leaves the others paused, type by type.
    const partly = JSON.parse((await cli('--json', 'portals', 'resume', portal.id, '--types', 'noop')).stdout);
    expect(partly.status).toBe('active');
    expect(partly.pausedTypes.map((pause: { type: string }) => pause.type)).toEqual(['enrichment', 'icp-score', 'lead-assignment']);
    expect((await cli('portals', 'resume', portal.id, '--reason', 'done')).stdout.trim()).toBe(`portal ${portal.id}: running`);

    const unknown = await cli('portals', 'pause', portal.id, '--types', 'nope');
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/400 unknown_job_type/);

    const actions = JSON.parse((await cli('--json', 'actions', '--limit', '4')).stdout);
    expect(actions.map(({ actor, action, reason, target }: Record<string, unknown>) => ({ actor, action, reason, target }))).toEqual([
      { actor: 'cli:tester', action: 'portal.resume', reason: 'done', target: { portalId: portal.id } },
      { actor: 'cli:tester', action: 'portal.resume', reason: undefined, target: { portalId: portal.id, types: ['noop'] } },
      { actor: 'cli:tester', action: 'portal.pause', reason: 'maintenance', target: { portalId: portal.id } },
      { actor: 'cli:tester', action: 'portal.pause', reason: 'runaway', target: { portalId: portal.id, types: ['noop', 'enrichment'] } },
    ]);
  });
});
