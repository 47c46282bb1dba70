import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { reportText } from './report-text';
import { checkSecrets, DEFAULT_LIMITS, hubspotRetries, runStub } from './stub-runtime';

const STUBS: Record<string, string> = {
  'environment.js': `exports.main = async () => ({ outputFields: { names: Object.keys(process.env).sort().join(","), cwd: process.cwd() } });`,
  'environment.py': `import os
def main(event):
    return {"outputFields": {"names": ",".join(sorted(os.environ)), "cwd": os.getcwd()}}`,
  'leaves-a-file.js': `const fs = require("node:fs");
exports.main = async () => {
  const found = fs.existsSync("state.txt");
  fs.writeFileSync("state.txt", "from an earlier run");
  return { outputFields: { found_state: found } };
};`,
  'echo.js': `exports.main = async (event) => { console.log("seen", event.object.objectId); return { outputFields: { id: event.object.objectId } }; };`,
  'buffers-300mb.js': `exports.main = async () => {
  const chunks = [];
  for (let i = 0; i < 30; i++) chunks.push(Buffer.alloc(10 * 1024 * 1024, 1));
  return { outputFields: { chunks: chunks.length } };
};`,
  'heap-300mb.js': `exports.main = async () => {
  const rows = [];
  for (let i = 0; i < 3e7; i++) rows.push({ i, text: "row " + i });
  return { outputFields: { rows: rows.length } };
};`,
  'allocates-300mb.py': `def main(event):
    data = bytearray(300 * 1024 * 1024)
    return {"outputFields": {"size": len(data)}}`,
  'sleeps-25s.js': `exports.main = () => new Promise((resolve) => setTimeout(() => resolve({ outputFields: {} }), 25000));`,
  'sleeps-25s.py': `import time
def main(event):
    time.sleep(25)
    return {"outputFields": {}}`,
  'throws-429.js': `exports.main = async () => { const error = new Error("slow down"); error.response = { status: 429 }; throw error; };`,
  'throws-400.js': `exports.main = async () => { const error = new Error("bad request"); error.code = 400; throw error; };`,
  'throws-plain.js': `exports.main = async () => { throw new TypeError("x is undefined"); };`,
  'raises-503.py': `import requests
def main(event):
    response = requests.Response()
    response.status_code = 503
    raise requests.HTTPError("unavailable", response=response)`,
  'callback.js': `exports.main = (event, callback) => { setTimeout(() => callback({ outputFields: { legacy: true } }), 10); };`,
  'too-long.js': `exports.main = async () => ({ outputFields: { text: "x".repeat(65001), nested: { a: 1 } } });`,
  'no-outputs.py': `def main(event):
    return {"fields": {}}`,
  'exits.js': `exports.main = async () => { process.exit(3); };`,
};

describe('the local custom code runtime', () => {
  let folder: string;
  const stub = (name: string) => join(folder, name);

  beforeAll(() => {
    folder = mkdtempSync(join(tmpdir(), 'stub-runtime-spec-'));
    for (const [name, code] of Object.entries(STUBS)) writeFileSync(join(folder, name), code);
  });

  afterAll(() => rmSync(folder, { recursive: true, force: true }));

  it("defaults to HubSpot's limits: 20 seconds and 128 MB", () => {
    expect(DEFAULT_LIMITS).toEqual({ timeoutMs: 20_000, memoryMb: 128 });
  });

  it.each(['environment.js', 'environment.py'])('gives %s its secrets as its only environment, in a folder of its own', async (name) => {
    const report = await runStub({ file: stub(name), event: {}, secrets: { OFFLOAD_URL: 'http://x', OFFLOAD_API_KEY: 'k' } });
    expect(report).toMatchObject({ outcome: 'returned', ok: true, outputFields: { names: 'OFFLOAD_API_KEY,OFFLOAD_URL' } });
    expect(report.outputFields!.cwd).not.toBe(process.cwd());
    expect(existsSync(report.outputFields!.cwd as string)).toBe(false);
  });

  it('keeps no files between runs', async () => {
    const first = await runStub({ file: stub('leaves-a-file.js'), event: {} });
    const second = await runStub({ file: stub('leaves-a-file.js'), event: {} });
    expect([first.outputFields, second.outputFields]).toEqual([{ found_state: false }, { found_state: false }]);
  });

  it('passes the event, and reports what the stub printed, its duration and its peak memory', async () => {
    const report = await runStub({ file: stub('echo.js'), event: { object: { objectId: 17 } } });
    expect(report).toMatchObject({ outcome: 'returned', ok: true, outputFields: { id: 17 }, logs: 'seen 17\n', callbackStyle: false });
    expect(report.runtime).toBe(`Node.js ${process.version}`);
    expect(report.durationMs).toBeGreaterThan(0);
    expect(report.peakMemoryMb).toBeGreaterThan(10);
    expect(reportText(report)).toMatch(/echo\.js on Node\.js v\d+[\s\S]*outputFields:\n {2}id {2}17\n[\s\S]*\| seen 17/);
  });

  it.each(['buffers-300mb.js', 'heap-300mb.js', 'allocates-300mb.py'])('stops %s at 128 MB', async (name) => {
    const report = await runStub({ file: stub(name), event: {} });
    expect(report).toMatchObject({ outcome: 'out-of-memory', ok: false, error: { name: 'OutOfMemory', retryable: false } });
    expect(report.outputFields).toBeUndefined();
  });

  it.each(['sleeps-25s.js', 'sleeps-25s.py'])('kills %s at the time limit', async (name) => {
    const report = await runStub({ file: stub(name), event: {}, timeoutMs: 1_000 });
    expect(report).toMatchObject({ outcome: 'timed-out', ok: false, error: { name: 'Timeout', message: 'stopped after 1 s' } });
  });

  it.each([
    ['throws-429.js', 429, true],
    ['raises-503.py', 503, true],
    ['throws-400.js', 400, false],
    ['throws-plain.js', undefined, false],
  ])('reports what %s threw, and whether HubSpot would retry it', async (name, status, retryable) => {
    const report = await runStub({ file: stub(name), event: {} });
    expect(report).toMatchObject({ outcome: 'threw', ok: false, error: { retryable } });
    expect(report.error!.status).toBe(status);
    expect(reportText(report)).toContain(retryable ? 'HubSpot would run the step again later' : 'HubSpot would fail the step');
  });

  it('runs a callback-style handler to show its outputs, and says Node.js 24 no longer runs it', async () => {
    const report = await runStub({ file: stub('callback.js'), event: {} });
    expect(report).toMatchObject({ outcome: 'returned', ok: false, callbackStyle: true, outputFields: { legacy: true } });
    expect(report.problems).toEqual([expect.stringContaining('Node.js 24 no longer runs exports.main(event, callback)')]);
  });

  it('names the outputs HubSpot would refuse', async () => {
    const long = await runStub({ file: stub('too-long.js'), event: {} });
    expect(long.ok).toBe(false);
    expect(long.problems).toEqual([
      expect.stringContaining('output text is 65001 characters'),
      'output nested is not a string, number or boolean',
    ]);
    const shapeless = await runStub({ file: stub('no-outputs.py'), event: {} });
    expect(shapeless).toMatchObject({ outcome: 'returned', ok: false, problems: ['main must return { outputFields: { name: value, ... } }'] });
  });

  it('reports a process that ends without a result', async () => {
    const report = await runStub({ file: stub('exits.js'), event: {} });
    expect(report).toMatchObject({ outcome: 'crashed', ok: false, error: { message: expect.stringContaining('exit code 3') } });
  });

  it('refuses secrets HubSpot would not take, and files it cannot run', async () => {
    expect(() => checkSecrets({ LONG: 'x'.repeat(1_001) })).toThrow(/1001 characters; HubSpot takes at most 1000/);
    expect(() => checkSecrets({ 'NOT-A-NAME': 'x' })).toThrow(/secret name "NOT-A-NAME"/);
    await expect(runStub({ file: stub('environment.js'), event: {}, secrets: { A: 'x'.repeat(600), B: 'y'.repeat(500) } })).rejects.toThrow(
      /1100 characters/,
    );
    await expect(runStub({ file: join(folder, 'stub.rb'), event: {} })).rejects.toThrow(/a \.js \(Node\.js\) or \.py \(Python\) file/);
  });

  it('retries what HubSpot retries: 429 and 5xx', () => {
    expect([429, 500, 503, 599].map(hubspotRetries)).toEqual([true, true, true, true]);
    expect([undefined, 200, 400, 404, 409, 600].map(hubspotRetries)).toEqual([false, false, false, false, false, false]);
  });
});
