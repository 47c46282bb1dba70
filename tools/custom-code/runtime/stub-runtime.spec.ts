import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { reportText } from './report-text';
import { checkSecrets, DEFAULT_LIMITS, hubspotRetries, runStub, StubRuntimePool } from './stub-runtime';

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
  'counts.js': `let runs = 0;
exports.main = async () => ({ outputFields: { pid: process.pid, runs: ++runs } });`,
  'counts.py': `import os
runs = 0
def main(event):
    global runs
    runs += 1
    return {"outputFields": {"pid": os.getpid(), "runs": runs}}`,
  'exits.py': `import os
def main(event):
    os._exit(3)`,
  'leaves-env.js': `exports.main = async (event) => {
  const names = Object.keys(process.env).sort().join(",");
  process.env.LEFT_BEHIND = "x";
  return { outputFields: { names, id: event.object.objectId } };
};`,
  'leaves-env.py': `import os
def main(event):
    names = ",".join(sorted(os.environ))
    os.environ["LEFT_BEHIND"] = "x"
    return {"outputFields": {"names": names, "id": event["object"]["objectId"]}}`,
};

/** Whether a process is still there. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

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


  it('passes the event, and reports what the stub printed, its duration and its peak memory', async () => {
    const report = await runStub({ file: stub('echo.js'), event: { object: { objectId: 17 } } });
    expect(report).toMatchObject({ outcome: 'returned', ok: true, outputFields: { id: 17 }, logs: 'seen 17\n', callbackStyle: false });
    expect(report.runtime).toBe(`Node.js ${process.version}`);
    expect(report.durationMs).toBeGreaterThanOrEqual(0); // whole milliseconds: a quick run rounds to 0
    expect(report.peakMemoryMb).toBeGreaterThan(10);
    expect(reportText(report)).toMatch(/echo\.js on Node\.js v\d+[\s\S]*outputFields:\n {2}id {2}17\n[\s\S]*\| seen 17/);
  });

  it.each(['buffers-300mb.js', 'heap-300mb.js', 'allocates-300mb.py'])('stops %s at 128 MB', async (name) => {
    const report = await runStub({ file: stub(name), event: {} });
    expect(report).toMatchObject({ outcome: 'out-of-memory', ok: false, error: { name: 'OutOfMemory', retryable: false } });
    expect(report.outputFields).toBeUndefined();
  });

  it.each(['echo.js', 'environment.py'])('counts the memory %s uses, not the memory of the process that started it', async (name) => {
    const ballast = Buffer.alloc(200 * 1024 * 1024, 1);
    const report = await runStub({ file: stub(name), event: { object: { objectId: 1 } } });
    expect(ballast.length).toBeGreaterThan(0);
    expect(report).toMatchObject({ outcome: 'returned', ok: true });
    expect(report.peakMemoryMb).toBeLessThan(DEFAULT_LIMITS.memoryMb);
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

  describe('in warm processes', () => {
    let pool: StubRuntimePool;
    const secrets = { OFFLOAD_URL: 'http://x' };

    beforeEach(() => {
      pool = new StubRuntimePool({ size: 1 });
    });

    afterEach(() => pool.close());

    it.each(['counts.js', 'counts.py'])('runs %s again in the same process, whose module state survives, as on HubSpot', async (name) => {
      const first = await pool.run({ file: stub(name), event: {}, secrets });
      const second = await pool.run({ file: stub(name), event: {}, secrets });
      expect(first).toMatchObject({ outcome: 'returned', ok: true, outputFields: { runs: 1 } });
      expect(second.outputFields).toEqual({ pid: first.outputFields!.pid, runs: 2 });
      expect(pool.stats().processesStarted).toBe(1);
    });

    it.each(['leaves-env.js', 'leaves-env.py'])('gives each execution of %s its own event and only its own secrets', async (name) => {
      const first = await pool.run({ file: stub(name), event: { object: { objectId: 1 } }, secrets: { FIRST_KEY: 'a', SHARED: 'b' } });
      const second = await pool.run({ file: stub(name), event: { object: { objectId: 2 } }, secrets: { SECOND_KEY: 'c' } });
      expect([first.outputFields, second.outputFields]).toEqual([
        { names: 'FIRST_KEY,SHARED', id: 1 },
        { names: 'SECOND_KEY', id: 2 },
      ]);
      expect(pool.stats().processesStarted).toBe(1);
    });

    it('gives each execution a fresh working folder', async () => {
      const first = await pool.run({ file: stub('leaves-a-file.js'), event: {} });
      const second = await pool.run({ file: stub('leaves-a-file.js'), event: {} });
      expect([first.outputFields, second.outputFields]).toEqual([{ found_state: false }, { found_state: false }]);
    });

    it.each([
      ['sleeps-25s.js', 'counts.js', 'timed-out'],
      ['sleeps-25s.py', 'counts.py', 'timed-out'],
      ['buffers-300mb.js', 'counts.js', 'out-of-memory'],
      ['allocates-300mb.py', 'counts.py', 'out-of-memory'],
      ['exits.js', 'counts.js', 'crashed'],
      ['exits.py', 'counts.py', 'crashed'],
    ])('ends the process that ran %s, reports it, and runs the next execution in a new one', async (name, counter, outcome) => {
      const short = new StubRuntimePool({ size: 1, timeoutMs: outcome === 'timed-out' ? 1_000 : undefined });
      try {
        const before = await short.run({ file: stub(counter), event: {} });
        const failed = await short.run({ file: stub(name), event: {} });
        const after = await short.run({ file: stub(counter), event: {} });
        expect(failed).toMatchObject({ outcome, ok: false });
        expect(alive(before.outputFields!.pid as number)).toBe(false);
        expect(after).toMatchObject({ outcome: 'returned', outputFields: { runs: 1 } });
        expect(after.outputFields!.pid).not.toBe(before.outputFields!.pid);
        expect(short.stats().processesStarted).toBe(2);
      } finally {
        await short.close();
      }
    });

    it('runs at most its size at once per language, the others waiting for a warm process', async () => {
      const pair = new StubRuntimePool({ size: 2 });
      try {
        const reports = await Promise.all(Array.from({ length: 6 }, () => pair.run({ file: stub('counts.js'), event: {} })));
        const pids = new Set(reports.map((report) => report.outputFields!.pid));
        expect(pids.size).toBe(2);
        expect(reports.every((report) => report.outcome === 'returned')).toBe(true);
        expect(pair.stats().processesStarted).toBe(2);
        expect(pair.stats().cpuMs).toBeGreaterThan(0);
      } finally {
        await pair.close();
      }
    });

    it('ends its processes when closed', async () => {
      const report = await pool.run({ file: stub('counts.js'), event: {} });
      await pool.close();
      expect(alive(report.outputFields!.pid as number)).toBe(false);
      await expect(pool.run({ file: stub('counts.js'), event: {} })).rejects.toThrow(/closed/);
    });
  });
});
