import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { collectFiles, readSources, UsageError } from './check';
import { parseArguments } from './main';

describe('action:check arguments', () => {
  it('takes paths, a format and one output declaration', () => {
    expect(parseArguments(['a.js', 'folder', '--format=json', '--outputs', 'score:number'])).toEqual({
      paths: ['a.js', 'folder'],
      format: 'json',
      help: false,
      declaration: [{ name: 'score', type: 'number' }],
    });
  });

  it('refuses what it cannot use, as usage errors', () => {
    const usage = (argv: string[]) => () => parseArguments(argv);
    expect(usage([])).toThrow(new UsageError('name a file or folder to check'));
    expect(usage(['a.js', '--format', 'xml'])).toThrow('--format must be text or json, not "xml"');
    expect(usage(['a.js', '--outputs'])).toThrow('--outputs needs a value');
    expect(usage(['a.js', '--outputs', 'a:text'])).toThrow(UsageError);
    expect(usage(['a.js', '--declaration', '/nonexistent/outputs.json'])).toThrow('--declaration /nonexistent/outputs.json: cannot be read');
    expect(usage(['a.js', '--outputs', 'a:string', '--outputs', 'b:string'])).toThrow('--outputs and --outputs both declare the outputs');
    expect(usage(['a.js', '--verbose'])).toThrow('unknown option --verbose');
  });
});

describe('action files', () => {
  let folder: string;

  beforeEach(() => {
    folder = mkdtempSync(join(tmpdir(), 'action-check-'));
    mkdirSync(join(folder, 'nested'));
    mkdirSync(join(folder, 'node_modules'));
    for (const file of ['b.js', 'a.py', 'notes.md', 'nested/c.mjs', 'nested/d.cjs', 'node_modules/e.js']) writeFileSync(join(folder, file), '');
  });

  afterEach(() => rmSync(folder, { recursive: true, force: true }));

  it('walks folders for .js, .mjs, .cjs and .py files, skipping node_modules, in order', async () => {
    await expect(collectFiles([folder])).resolves.toEqual(['a.py', 'b.js', 'nested/c.mjs', 'nested/d.cjs'].map((f) => join(folder, f)));
  });

  it('refuses missing paths, other kinds of files, empty folders and files it cannot read', async () => {
    await expect(collectFiles([join(folder, 'missing.js')])).rejects.toThrow(`${join(folder, 'missing.js')}: no such file or folder`);
    await expect(collectFiles([join(folder, 'notes.md')])).rejects.toThrow('not a JavaScript (.js, .mjs, .cjs) or Python (.py) file');
    mkdirSync(join(folder, 'empty'));
    await expect(collectFiles([join(folder, 'empty')])).rejects.toThrow('no .js, .mjs, .cjs or .py files in this folder');
    mkdirSync(join(folder, 'folder.js'));
    await expect(readSources([join(folder, 'folder.js')])).rejects.toThrow(/folder\.js: cannot be read \(EISDIR/);
  });
});
