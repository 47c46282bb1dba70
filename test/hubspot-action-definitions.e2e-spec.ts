import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createHubSpotSimulator, DEFAULT_DEVELOPER_API_KEY, HubSpotSimulator } from '../tools/simulators/hubspot';
import type { ActionDefinitions } from '../tools/hubspot-actions/action-definition';
import { definitionProblems } from '../tools/hubspot-actions/documented-fields';
import { loadHandlerDeclarations } from '../tools/custom-code/handler-declarations';

const ROOT = join(__dirname, '..');
const CLI = join(ROOT, 'dist', 'tools', 'hubspot-actions', 'main.js');
const PUBLIC_BASE_URL = 'https://offload.example.com';

/** `npm run action:definition -- ...`, compiled, run as its own process (the simulator answers from this one). */
async function actionDefinition(args: string[], env: Record<string, string> = {}) {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: npm run build:all first`);
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [CLI, ...args], { cwd: ROOT, env: { PATH: process.env.PATH ?? '', PUBLIC_BASE_URL, ...env } });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

describe('npm run action:definition', () => {
  let sim: HubSpotSimulator;
  let folder: string;
  const types = loadHandlerDeclarations().map((declaration) => declaration.type);

  beforeAll(async () => {
    sim = await createHubSpotSimulator();
    folder = mkdtempSync(join(tmpdir(), 'offload-definitions-'));
  });

  afterAll(async () => {
    await sim?.close();
    rmSync(folder, { recursive: true, force: true });
  });

  it.each(types)('prints the definition of %s in both forms, keeping to the fields HubSpot documents', async (type) => {
    const hsmeta = await actionDefinition([type]);
    expect(hsmeta.code).toBe(0);
    const out = join(folder, `${type}.api.json`);
    expect((await actionDefinition([type, '--form', 'api', '--out', out])).code).toBe(0);
    const definitions: ActionDefinitions = { hsmeta: JSON.parse(hsmeta.stdout), api: JSON.parse(readFileSync(out, 'utf8')) };
    expect(definitionProblems(definitions)).toEqual([]);
    expect(definitions.api.actionUrl).toBe(`${PUBLIC_BASE_URL}/v1/hubspot/actions/${type}`);
  });

  it('publishes to the app through the dated actions API: created the first time, updated after', async () => {
    const env = { HUBSPOT_BASE_URL: sim.url, HUBSPOT_DEVELOPER_API_KEY: DEFAULT_DEVELOPER_API_KEY };
    const first = await actionDefinition(['icp-score', '--publish', '--app-id', '4242'], env);
    expect(first).toMatchObject({ code: 0, stdout: expect.stringMatching(/^Created action definition \d+ of app 4242/) });
    const again = await actionDefinition(['icp-score', '--publish', '--app-id', '4242'], env);
    expect(again.stdout).toMatch(/^Updated action definition \d+ of app 4242/);
    expect(sim.app.definitions.get('4242')).toEqual([
      expect.objectContaining({ actionUrl: `${PUBLIC_BASE_URL}/v1/hubspot/actions/icp-score`, objectTypes: ['CONTACT', 'COMPANY'], revisionId: '2' }),
    ]);
    const paths = sim.listCalls({}).map((call) => `${call.method} ${call.path.split('?')[0]}`);
    expect(paths).toEqual(expect.arrayContaining(['POST /automation/actions/2026-03/4242', 'PATCH /automation/actions/2026-03/4242/1000']));

    const refused = await actionDefinition(['noop', '--publish', '--app-id', '4242'], { ...env, HUBSPOT_DEVELOPER_API_KEY: 'wrong' });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/developer API key/);
  });

  it('names what is wrong: an unknown type, no PUBLIC_BASE_URL, no app id', async () => {
    expect((await actionDefinition(['no-such-type'])).stderr).toMatch(/Unknown job type "no-such-type"/);
    expect((await actionDefinition(['noop'], { PUBLIC_BASE_URL: '' })).stderr).toMatch(/PUBLIC_BASE_URL is required/);
    expect((await actionDefinition(['noop', '--publish'])).stderr).toMatch(/--app-id/);
    expect((await actionDefinition([])).code).toBe(2);
  });
});
