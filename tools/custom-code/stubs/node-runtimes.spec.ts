import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runInNewContext } from 'node:vm';
import ts from 'typescript';
import { scoringDeclaration } from '../../../test/support/stub-declarations';
import { generateStub } from './generate-stub';
import { STUB_MODES } from './stub-spec';

/**
 * HubSpot has run custom code on Node.js 12 (2020), 16, 18, 20 and now 24. Actions still run on 16
 * and 20 until they are moved to 24, so the generated JavaScript is held to both ends: Node.js 16's
 * language level and globals, and Node.js 24's.
 */
interface NodeRuntime {
  target: ts.ScriptTarget;
  lib: string;
  /** The globals Node.js adds to the language's own built-ins. */
  hostGlobals: Set<string>;
}

/** Node.js 16's globals, from its documentation (fetch, structuredClone and DOMException came in 17 and 18). */
const NODE_16: NodeRuntime = {
  target: ts.ScriptTarget.ES2021,
  lib: 'lib.es2021.d.ts',
  hostGlobals: new Set(
    [
      'AbortController AbortSignal Buffer Event EventTarget MessageChannel MessageEvent MessagePort TextDecoder TextEncoder',
      'URL URLSearchParams WebAssembly atob btoa clearImmediate clearInterval clearTimeout console global performance',
      'process queueMicrotask setImmediate setInterval setTimeout',
    ]
      .join(' ')
      .split(' '),
  ),
};

/** Node.js 24's globals, read from the Node.js 24 that runs these tests. */
function node24(): NodeRuntime {
  const script = 'JSON.stringify([process.version, Object.getOwnPropertyNames(globalThis)])';
  const [version, globals] = JSON.parse(execFileSync(process.execPath, ['-p', script], { encoding: 'utf8' })) as [string, string[]];
  if (!version.startsWith('v24.')) throw new Error(`these checks read the globals of Node.js 24, but run on ${version}`);
  return { target: ts.ScriptTarget.ES2024, lib: 'lib.es2024.d.ts', hostGlobals: new Set(globals) };
}

interface Compatibility {
  /** Syntax the runtime's language level does not have. */
  syntax: string[];
  /** Globals the code uses that the runtime does not have. */
  missingGlobals: string[];
  /** Anything else the type checker finds at that level: built-in methods added later, for one. */
  problems: string[];
  /** Globals the code only uses after checking `typeof name`. */
  featureDetected: Set<string>;
}

function compatibility(code: string, runtime: NodeRuntime, folder: string): Compatibility {
  const emitted = (target: ts.ScriptTarget) =>
    ts.transpileModule(code, { compilerOptions: { target, module: ts.ModuleKind.CommonJS, allowJs: true }, fileName: 'stub.js', reportDiagnostics: true });
  const atLevel = emitted(runtime.target);
  const syntax = (atLevel.diagnostics ?? []).map((diagnostic) => ts.flattenDiagnosticMessageText(diagnostic.messageText, ' '));
  // What the compiler had to rewrite for this level is syntax the level does not have.
  if (atLevel.outputText !== emitted(ts.ScriptTarget.ESNext).outputText) syntax.push(`syntax newer than ${ts.ScriptTarget[runtime.target]}`);

  const file = join(folder, 'stub.js');
  writeFileSync(file, code);
  const program = ts.createProgram([file], {
    target: runtime.target,
    lib: [runtime.lib],
    allowJs: true,
    checkJs: true,
    noEmit: true,
    types: [],
    module: ts.ModuleKind.CommonJS,
  });
  const missingGlobals = new Set<string>();
  const problems: string[] = [];
  for (const diagnostic of ts.getPreEmitDiagnostics(program)) {
    const message = ts.flattenDiagnosticMessageText(diagnostic.messageText, ' ');
    const unknownName = /^Cannot find name '([^']+)'/.exec(message)?.[1];
    if (!unknownName) problems.push(message);
    else if (!runtime.hostGlobals.has(unknownName)) missingGlobals.add(unknownName);
  }

  const featureDetected = new Set<string>();
  const visit = (node: ts.Node): void => {
    if (ts.isTypeOfExpression(node) && ts.isIdentifier(node.expression)) featureDetected.add(node.expression.text);
    ts.forEachChild(node, visit);
  };
  visit(program.getSourceFile(file)!);
  return { syntax, missingGlobals: [...missingGlobals].sort(), problems, featureDetected };
}

describe("generated JavaScript on HubSpot's oldest and newest Node.js runtimes", () => {
  let folder: string;
  let node24Runtime: NodeRuntime;

  beforeAll(() => {
    folder = mkdtempSync(join(tmpdir(), 'node-runtimes-spec-'));
    node24Runtime = node24();
  });

  afterAll(() => rmSync(folder, { recursive: true, force: true }));

  it.each(STUB_MODES)('keeps to Node.js 24 (%s)', (mode) => {
    const result = compatibility(generateStub(scoringDeclaration, 'js', mode).code, node24Runtime, folder);
    expect(result).toMatchObject({ syntax: [], missingGlobals: [], problems: [] });
  });

  it.each(STUB_MODES)("keeps to Node.js 16's language, and detects the one global it lacks (%s)", (mode) => {
    const result = compatibility(generateStub(scoringDeclaration, 'js', mode).code, NODE_16, folder);
    expect(result).toMatchObject({ syntax: [], problems: [], missingGlobals: ['fetch'] });
    expect(result.featureDetected.has('fetch')).toBe(true);
  });

  it('tells the user to choose Node.js 24 where there is no fetch, instead of failing', async () => {
    const context = { exports: {} as { main: (event: unknown) => Promise<unknown> }, process: { env: { OFFLOAD_URL: 'https://o.test', OFFLOAD_API_KEY: 'k' } } };
    runInNewContext(generateStub(scoringDeclaration, 'js', 'enqueue-and-wait').code, context);
    await expect(context.exports.main({ origin: { portalId: 1 }, callbackId: 'ap-1', inputFields: { count: '1' } })).resolves.toMatchObject({
      outputFields: { job_status: 'error', offload_error: expect.stringContaining("needs HubSpot's Node.js 24 runtime (fetch is missing)") },
    });
  });

  it('finds syntax, built-ins and globals newer than Node.js 16', () => {
    const newer = `class Counter { #count = 0; static { this.ready = true; } }
exports.main = async () => [[1, 2].at(-1), Object.hasOwn({}, "a"), structuredClone({}), new Counter()];`;
    const result = compatibility(newer, NODE_16, folder);
    expect(result.syntax).toEqual(['syntax newer than ES2021']);
    expect(result.problems).toEqual([expect.stringContaining("Property 'at' does not exist"), expect.stringContaining("Property 'hasOwn' does not exist")]);
    expect(result.missingGlobals).toEqual(['structuredClone']);
  });
});
