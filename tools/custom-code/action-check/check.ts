import { readdir, readFile, stat } from 'node:fs/promises';
import { extname, join, resolve } from 'node:path';
import { findingsFromFacts } from './facts';
import { byPosition, Finding, Language } from './finding';
import { analyzeJavaScript } from './javascript-analyzer';
import { DeclaredOutput } from './outputs';
import { analyzePython } from './python-analyzer';

/** Wrong arguments, or files that cannot be read: the run stops with exit code 2. */
export class UsageError extends Error {}

const LANGUAGES: Readonly<Record<string, Language>> = { '.js': 'javascript', '.mjs': 'javascript', '.cjs': 'javascript', '.py': 'python' };
const SKIPPED_FOLDERS = new Set(['node_modules', '__pycache__']);

export interface SourceFile {
  path: string;
  language: Language;
  text: string;
}

export interface CheckOptions {
  declaration?: DeclaredOutput[];
}

export interface CheckResult {
  findings: Finding[];
  checked: string[];
  skipped: { file: string; reason: string }[];
}

export function languageOf(path: string): Language | undefined {
  const extension = extname(path).toLowerCase();
  return Object.hasOwn(LANGUAGES, extension) ? LANGUAGES[extension] : undefined;
}

async function walk(folder: string): Promise<string[]> {
  const entries = await readdir(folder, { withFileTypes: true });
  const found: string[] = [];
  for (const entry of entries) {
    const path = join(folder, entry.name);
    if (entry.isDirectory() && !entry.name.startsWith('.') && !SKIPPED_FOLDERS.has(entry.name)) found.push(...(await walk(path)));
    else if (entry.isFile() && languageOf(entry.name)) found.push(path);
  }
  return found;
}

/** The action files named, folders walked for .js, .mjs, .cjs and .py files; absolute and sorted. */
export async function collectFiles(paths: string[]): Promise<string[]> {
  const files = new Set<string>();
  for (const given of paths) {
    const path = resolve(given);
    const info = await stat(path).catch(() => undefined);
    if (!info) throw new UsageError(`${given}: no such file or folder`);
    if (info.isDirectory()) {
      const found = await walk(path);
      if (found.length === 0) throw new UsageError(`${given}: no .js, .mjs, .cjs or .py files in this folder`);
      found.forEach((file) => files.add(file));
    } else if (languageOf(path)) {
      files.add(path);
    } else {
      throw new UsageError(`${given}: not a JavaScript (.js, .mjs, .cjs) or Python (.py) file`);
    }
  }
  return [...files].sort();
}

export async function readSources(files: string[]): Promise<SourceFile[]> {
  return Promise.all(
    files.map(async (path) => {
      const text = await readFile(path, 'utf8').catch((error: Error) => {
        throw new UsageError(`${path}: cannot be read (${error.message})`);
      });
      return { path, language: languageOf(path) as Language, text };
    }),
  );
}

export async function checkSources(sources: SourceFile[], options: CheckOptions = {}): Promise<CheckResult> {
  const result: CheckResult = { findings: [], checked: [], skipped: [] };
  const python = sources.filter((source) => source.language === 'python');
  const pythonAnalysis = python.length > 0 ? await analyzePython(python.map(({ path, text }) => ({ path, source: text }))) : undefined;
  for (const source of sources) {
    let analysis;
    let pythonStandardLibrary: ReadonlySet<string> | undefined;
    if (source.language === 'javascript') {
      analysis = analyzeJavaScript(source.text, source.path);
    } else if (pythonAnalysis?.ran === false) {
      result.skipped.push({ file: source.path, reason: pythonAnalysis.reason });
      continue;
    } else {
      analysis = pythonAnalysis?.results.get(source.path);
      pythonStandardLibrary = pythonAnalysis?.standardLibrary;
    }
    if (!analysis) throw new Error(`no analysis came back for ${source.path}`);
    const findings = [...analysis.findings, ...findingsFromFacts(analysis.facts, { language: source.language, declaration: options.declaration, pythonStandardLibrary })];
    result.findings.push(...findings.sort(byPosition).map((finding) => ({ file: source.path, ...finding })));
    result.checked.push(source.path);
  }
  return result;
}
