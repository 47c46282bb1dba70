import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Browser, BrowserContext, chromium, Page } from 'playwright-core';
import { discoverHandlerClasses } from '../src/registry/handler-discovery';
import { ADMIN_TOKEN, configFor, eventually, HttpClient, isolate, Isolation, newPortal, RunningOffload, startOffload } from './support/offload-harness';
import { CHROMIUM, findOnPath } from './support/prerequisites';
import { CrashyHandler } from './support/test-handlers';

/** Debian's chromium, headless, with nothing of its own reaching out (updates, sync, first-run pages). */
const CHROMIUM_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];
const ARTIFACTS = join(__dirname, 'artifacts');

describe('operator pages in a browser', () => {
  let isolation: Isolation;
  let offload: RunningOffload;
  let browser: Browser;
  let context: BrowserContext;
  const requested: string[] = [];
  const problems: string[] = [];

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    isolation = await isolate();
    offload = await startOffload(configFor(isolation), [...discoverHandlerClasses(), CrashyHandler]);
    const executablePath = findOnPath(CHROMIUM.binary, process.env.PATH ?? '');
    if (!executablePath) throw new Error('chromium is missing: the test prerequisites install it');
    browser = await chromium.launch({ executablePath, headless: true, args: CHROMIUM_FLAGS });
    context = await browser.newContext({ httpCredentials: { username: 'ops', password: ADMIN_TOKEN } });
    context.on('request', (request) => requested.push(request.url()));
    context.on('response', (response) => {
      if (response.status() >= 400 && !response.url().includes('/ops/queues/api/')) problems.push(`${response.status()} ${response.url()}`);
    });
    context.on('console', (message) => {
      if (message.type() === 'error' && !message.text().startsWith('Failed to load resource')) problems.push(message.text());
    });
  });

  afterAll(async () => {
    await browser?.close();
    await offload?.close();
    await isolation?.cleanup();
  });

  async function open(path: string): Promise<Page> {
    const page = await context.newPage();
    page.on('pageerror', (error) => problems.push(error.message));
    const response = await page.goto(`${offload.url}${path}`);
    expect(response?.status()).toBe(200);
    return page;
  }

  it('lists failed jobs by type, error and portal at /ops, and retries a group after counting it', async () => {
    const { portal, client } = await newPortal(offload.url);
    const admin = new HttpClient(offload.url, ADMIN_TOKEN);
    const noop = await Promise.all([1, 2, 3].map((n) => client.post('/v1/jobs', { type: 'noop', input: { fatal: true }, idempotencyKey: `n${n}` })));
    const crashy = await client.post('/v1/jobs', { type: 'crashy', input: {} });
    const ids = [...noop.map((answer) => answer.body.id), crashy.body.id];
    await eventually(
      () => admin.get(`/v1/admin/jobs?status=failed&portalId=${portal.id}`),
      (answer) => answer.body.jobs.length === ids.length,
    );

    const page = await open('/ops');
    const groups = page.locator('#groups tbody tr');
    await groups.first().waitFor();
    expect(await groups.count()).toBe(2);
    const noopRow = page.locator('#groups tbody tr[data-type="noop"]');
    expect(await noopRow.locator('td').nth(2).textContent()).toBe(portal.id);
    expect(await noopRow.locator('td').nth(3).textContent()).toBe('3');
    expect(await page.locator('#groups tbody tr[data-type="crashy"] td').nth(1).textContent()).toBe('handler_error');
    expect(await page.locator('#jobs tbody tr').count()).toBe(4);
    expect(await page.locator(`#jobs tbody tr[data-job-id="${crashy.body.id}"] td.message`).textContent()).toBe('kaboom');

    const retry = noopRow.locator('button[data-action="retry"]');
    await retry.click();
    await eventually(() => retry.textContent(), (text) => text === 'Retry 3 jobs?', 10_000);
    await page.screenshot({ path: join(ARTIFACTS, 'ops-page.png'), fullPage: true });
    await retry.click();
    await noopRow.getByText('retried 3 of 3').waitFor();
    const { actions } = (await admin.get('/v1/admin/actions?limit=1')).body;
    expect(actions[0]).toMatchObject({ actor: 'ops page', action: 'jobs.retry', matched: 3, done: 3 });
    await page.close();
  });

  it('shows the queues read-only at /ops/queues', async () => {
    const page = await open('/ops/queues');
    await page.getByText('jobs.noop').first().waitFor();
    await page.screenshot({ path: join(ARTIFACTS, 'queue-dashboard.png'), fullPage: true });
    const write = await page.request.put(`${offload.url}/ops/queues/api/queues/jobs.noop/retry/failed`);
    expect(write.status()).toBeGreaterThanOrEqual(400);
    const clean = await page.request.put(`${offload.url}/ops/queues/api/queues/jobs.noop/clean/completed`);
    expect(clean.status()).toBeGreaterThanOrEqual(400);
    await page.close();
  });

  it('loaded nothing from anywhere but Offload, and met no script error or blocked asset', () => {
    expect(requested.length).toBeGreaterThan(0);
    expect(requested.filter((url) => new URL(url).origin !== offload.url)).toEqual([]);
    expect(problems).toEqual([]);
  });

  it('asks a browser without the admin token to log in', async () => {
    const anonymous = await browser.newContext();
    for (const path of ['/ops', '/ops/ops.js', '/ops/queues']) {
      const answer = await anonymous.request.get(`${offload.url}${path}`);
      expect({ path, status: answer.status(), challenge: answer.headers()['www-authenticate'] }).toEqual({ path, status: 401, challenge: 'Basic realm="Offload ops"' });
    }
    await anonymous.close();
  });
});
