import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import ts from 'typescript';

const ROOT = resolve(__dirname, '..', '..');

interface Import {
  file: string;
  line: number;
  specifier: string;
  /** The imported path relative to the repository root, for a relative specifier. */
  target?: string;
}

function typeScriptFiles(folder: string): string[] {
  return readdirSync(join(ROOT, folder), { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.ts'))
    .map((entry) => relative(ROOT, join(entry.parentPath, entry.name)).split(sep).join('/'));
}

/** Every module a file names: `import … from`, `export … from`, `import x = require()`, `import()` and `require()`. */
function importsOf(file: string, source = readFileSync(join(ROOT, file), 'utf8')): Import[] {
  const { importedFiles } = ts.preProcessFile(source, true, true);
  return importedFiles.map(({ fileName, pos }) => ({
    file,
    line: source.slice(0, pos).split('\n').length,
    specifier: fileName,
    target: fileName.startsWith('.') ? relative(ROOT, resolve(ROOT, dirname(file), fileName)).split(sep).join('/') : undefined,
  }));
}

const inside = (folder: string) => (target: string | undefined) => target !== undefined && (target === folder || target.startsWith(`${folder}/`));
const described = (found: Import[]) => found.map(({ file, line, specifier }) => `${file}:${line} imports ${specifier}`);

describe('import boundaries', () => {
  it('reads static, re-exported, dynamic and require imports, resolving relative paths', () => {
    const source = [
      "import { a } from '../../tools/a';",
      "import type { B } from './b';",
      "export { c } from '../c';",
      "export * from 'pg';",
      "import d = require('../d');",
      'const e = await import("./e");',
      "const f = require('../../test/f');",
      "import './side-effect';",
    ].join('\n');
    expect(importsOf('src/jobs/x.ts', source).map(({ line, target, specifier }) => [line, target ?? specifier])).toEqual([
      [1, 'tools/a'],
      [2, 'src/jobs/b'],
      [3, 'src/c'],
      [4, 'pg'],
      [5, 'src/d'],
      [6, 'src/jobs/e'],
      [7, 'test/f'],
      [8, 'src/jobs/side-effect'],
    ]);
  });

  // Unit specs included: a spec in src/ proves the service with the service's own code and fakes.
  it('keeps the service apart from the tooling and the tests: nothing in src/ imports tools/ or test/', () => {
    const imports = typeScriptFiles('src').flatMap((file) => importsOf(file));
    expect(described(imports.filter(({ target }) => inside('tools')(target) || inside('test')(target)))).toEqual([]);
  });

  it('keeps the jobs module free of HubSpot: nothing in src/jobs/ imports src/hubspot/', () => {
    const imports = typeScriptFiles('src/jobs').flatMap((file) => importsOf(file));
    expect(described(imports.filter(({ target }) => inside('src/hubspot')(target)))).toEqual([]);
  });
});
