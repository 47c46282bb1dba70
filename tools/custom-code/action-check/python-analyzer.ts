import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { projectRoot } from '../../project-root';
import { Analysis, noFacts, SourceFacts } from './facts';
import { FileFinding } from './finding';

/** Beside this module's source; the build (dist/tools) runs it from there. */
const ANALYZER_SCRIPT = join(projectRoot(), 'tools', 'custom-code', 'action-check', 'python_analyzer.py');
const PYTHON = 'python3';
/** The analyzer's exit code when the interpreter is too old to analyze with. */
const UNSUPPORTED_PYTHON = 3;

export interface PythonSource {
  path: string;
  source: string;
}

export type PythonAnalysis =
  | { ran: true; standardLibrary: ReadonlySet<string>; results: Map<string, Analysis> }
  | { ran: false; reason: string };

interface AnalyzerOutput {
  standardLibrary: string[];
  results: Record<string, { findings: FileFinding[]; facts: SourceFacts | null }>;
}

/** Analyzes the files in one python3 process; `ran: false` when there is no usable python3. */
export function analyzePython(files: PythonSource[]): Promise<PythonAnalysis> {
  return new Promise((resolve, reject) => {
    const child = spawn(PYTHON, [ANALYZER_SCRIPT], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let failedToStart = false;
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.on('error', (error: NodeJS.ErrnoException) => {
      failedToStart = true;
      resolve({ ran: false, reason: error.code === 'ENOENT' ? `${PYTHON} was not found on PATH` : `${PYTHON} could not be started (${error.message})` });
    });
    // A process that never started closes its stdin under the write: the 'error' event above reports that.
    child.stdin.on('error', () => undefined);
    child.on('close', (code) => {
      if (failedToStart) return;
      if (code === UNSUPPORTED_PYTHON) return resolve({ ran: false, reason: stderr.trim() });
      if (code !== 0) return reject(new Error(`the Python analyzer failed (exit ${code}): ${stderr.trim()}`));
      const output = JSON.parse(stdout) as AnalyzerOutput;
      const results = new Map(Object.entries(output.results).map(([path, result]) => [path, { findings: result.findings, facts: result.facts ?? noFacts() }]));
      resolve({ ran: true, standardLibrary: new Set(output.standardLibrary), results });
    });
    child.stdin.end(JSON.stringify({ files }));
  });
}
