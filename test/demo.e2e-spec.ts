import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { DemoSummary } from '../tools/demo/demo-summary';
import { ADMIN_TOKEN, ENCRYPTION_KEY, isolate, Isolation } from './support/offload-harness';
import { freePort } from './support/spawned-offload';

const DEMO_JS = join(__dirname, '..', 'dist', 'tools', 'demo', 'main.js');
const CONTACTS = 30;

interface DemoRun {
  code: number | null;
  stdout: string;
  stderr: string;
  summary: DemoSummary;
}

/** Runs the built demo with --exit on the isolation's database and Redis prefix, and reads its final JSON line. */
async function runDemo(isolation: Isolation, flags: string[]): Promise<DemoRun> {
  if (!existsSync(DEMO_JS)) throw new Error(`${DEMO_JS} is missing: compile the app (npx nest build) first`);
  const port = await freePort();
  const child = spawn(process.execPath, [DEMO_JS, `--contacts=${CONTACTS}`, `--port=${port}`, '--exit', ...flags], {
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '/tmp',
      DATABASE_URL: isolation.databaseUrl,
      REDIS_URL: `redis://127.0.0.1:6379/${isolation.redisDb}`,
      REDIS_PREFIX: isolation.redisPrefix,
      ADMIN_TOKEN,
      ENCRYPTION_KEY,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  const line = stdout.split('\n').find((candidate) => candidate.startsWith('{"demoSummary":'));
  if (!line) throw new Error(`no summary line (exit ${code})\n${stdout}\n${stderr}`);
  return { code, stdout, stderr, summary: (JSON.parse(line) as { demoSummary: DemoSummary }).demoSummary };
}

function expectEveryContactThroughEveryStep(summary: DemoSummary): void {
  expect(summary.contacts).toBe(CONTACTS);
  expect(summary.problems).toEqual({});
  expect(summary.enrolled).toBe(CONTACTS);
  for (const type of ['enrichment', 'icp-score', 'lead-assignment']) {
    expect(summary.steps[type]).toEqual({ succeeded: CONTACTS, other: {} });
    expect(summary.jobs.byType[type]).toEqual({ succeeded: CONTACTS });
  }
  expect(summary.jobs).toMatchObject({ total: 3 * CONTACTS, duplicates: 0 });
  expect(summary.writtenBack).toBe(CONTACTS);
  expect(summary.outcomes.ownersAssigned).toBe(CONTACTS);
  expect(Object.values(summary.outcomes.tiers).reduce((sum, n) => sum + n, 0)).toBe(CONTACTS);
}

describe('npm run demo', () => {
  let isolation: Isolation;

  beforeAll(async () => {
    isolation = await isolate();
  });

  afterAll(async () => {
    await isolation.cleanup();
  });

  it('enrols every contact through the three generated actions, writes them back, and spends fewer HubSpot calls than one action per record', async () => {
    const run = await runDemo(isolation, []);

    expect(run.code).toBe(0);
    expectEveryContactThroughEveryStep(run.summary);
    expect(run.summary.outcomes.enriched).toBe(CONTACTS);
    // On a busy machine a slow answer is a retryable error HubSpot runs again: more executions, still one job per step.
    const { enqueueAndWait, polls, reruns } = run.summary.executions;
    expect({ enqueueAndWait: enqueueAndWait - reruns, polls }).toEqual({ enqueueAndWait: 3 * CONTACTS, polls: 0 });
    expect(run.summary.hubspot.naiveCalls).toBe(CONTACTS * 2 * 3);
    expect(run.summary.hubspot.calls).toBeGreaterThan(0);
    expect(run.summary.hubspot.calls).toBeLessThan(run.summary.hubspot.naiveCalls);
    expect(run.summary.hubspot.byEndpoint['crm.objects.batch.update']).toBeGreaterThan(0);
    expect(run.summary.hubspot.rateLimited).toBe(0);
    expect(run.summary.latencyMs.enrollment.p50).toBeGreaterThan(0);
    expect(run.stdout).toContain(`Enrolled ${CONTACTS} of ${CONTACTS} contacts`);
    expect(run.stderr).toContain(`${CONTACTS}/${CONTACTS} contacts`);
  });

  it('still enrols every contact once, on the same database, when HubSpot and the provider fail a share of their calls', async () => {
    const run = await runDemo(isolation, ['--hubspot-error-rate=0.2', '--enrichment-error-rate=0.2', '--enrichment-no-match-rate=0.2']);

    expect(run.code).toBe(0);
    expectEveryContactThroughEveryStep(run.summary);
    expect(run.summary.hubspot.injectedErrors).toBeGreaterThan(0);
    expect(run.summary.enrichmentProvider).toMatchObject({ failingCompanies: 2, unknownCompanies: 2 });
    expect(run.summary.outcomes.notEnriched.no_match).toBeGreaterThan(0);
    // A company's outage outlasts a lookup's retries only when one bulk call after another meets it: then the step still succeeds, not enriched.
    expect(Object.keys(run.summary.outcomes.notEnriched).every((reason) => ['no_match', 'provider_unavailable'].includes(reason))).toBe(true);
  });

  it('refuses a bad flag with a message and exit code 2', async () => {
    const child = spawn(process.execPath, [DEMO_JS, '--contacts=lots'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    const code = await new Promise<number | null>((resolve) => child.once('close', resolve));

    expect(code).toBe(2);
    expect(stderr).toContain('--contacts must be a whole number from 1 to 100000, not "lots"');
    expect(stderr).toContain('Usage: npm run demo');
  });
});
