import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';

const ROOT = join(__dirname, '..');
const CLI = join(ROOT, 'dist', 'tools', 'custom-code', 'action-check', 'main.js');
const CORPUS = 'test/corpus/custom-code-actions';
const EXPECTED: Record<string, string[]> = JSON.parse(readFileSync(join(ROOT, CORPUS, 'expected-findings.json'), 'utf8'));

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** The compiled checker, as `npm run action:check` runs it, from the repository root. */
function actionCheck(args: string[], env: Record<string, string> = { PATH: process.env.PATH ?? '' }): Run {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: compile the app (npx nest build) first`);
  const run = spawnSync(process.execPath, [CLI, ...args], { cwd: ROOT, env, encoding: 'utf8' });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

interface JsonReport {
  findings: { file: string; line: number; column: number; severity: string; rule: string; message: string; fix: string }[];
  checked: string[];
  skipped: { file: string; reason: string }[];
  summary: { files: number; errors: number; warnings: number };
}

describe('npm run action:check', () => {
  it('reports exactly the expected findings for every file of the corpus, and exits 1 on errors', () => {
    const run = actionCheck([CORPUS, '--format', 'json']);
    expect(run.stderr).toBe('');
    expect(run.status).toBe(1);
    const report = JSON.parse(run.stdout) as JsonReport;
    const byFile: Record<string, string[]> = Object.fromEntries(report.checked.map((file) => [basename(file), []]));
    for (const f of report.findings) byFile[basename(f.file)].push(`${f.line}:${f.column} ${f.severity} ${f.rule}`);
    expect(byFile).toEqual(EXPECTED);
    expect(report.checked.length).toBeGreaterThanOrEqual(12);
    expect(report.skipped).toEqual([]);
    const all = Object.values(EXPECTED).flat();
    expect(report.summary).toMatchObject({
      files: report.checked.length,
      errors: all.filter((f) => f.includes(' error ')).length,
      warnings: all.filter((f) => f.includes(' warning ')).length,
    });
    for (const finding of report.findings) expect(finding.fix.length).toBeGreaterThan(10);
  });

  it('prints findings grouped by file with their fixes, a summary line, and never a secret', () => {
    const run = actionCheck([CORPUS]);
    expect(run.status).toBe(1);
    expect(run.stdout).toContain(
      [
        `${CORPUS}/legacy-enrichment-callback.js`,
        '  4:25   error    unavailable-library  `request` is bundled with the Node.js 16 and 20 runtimes but not with Node.js 24',
        '         fix: use the global fetch (with signal: AbortSignal.timeout(ms)) or axios (with a timeout)',
      ].join('\n'),
    );
    const all = Object.values(EXPECTED).flat();
    const filesWithFindings = Object.values(EXPECTED).filter((f) => f.length > 0).length;
    const errors = all.filter((f) => f.includes(' error ')).length;
    const warnings = all.filter((f) => f.includes(' warning ')).length;
    expect(run.stdout.trimEnd().split('\n').at(-1)).toBe(`Checked ${Object.keys(EXPECTED).length} files: ${errors} errors, ${warnings} warnings in ${filesWithFindings} files.`);
    const secrets = ['pat-na1-1b2c3d4e-5f60-4a7b-8c9d-0e1f2a3b4c5d', 'sk_enrich_9f8e7d6c5b4a39281706', 'f3a9c2e71b5d4c08a6e2'];
    const corpus = ['legacy-enrichment-callback.js', 'enrich_company_missing_timeout.py'].map((file) => readFileSync(join(ROOT, CORPUS, file), 'utf8')).join('');
    for (const secret of secrets) {
      expect(corpus).toContain(secret);
      expect(run.stdout).not.toContain(secret);
      expect(run.stdout).not.toContain(secret.slice(-12));
    }
    expect(run.stdout).toContain('a HubSpot private app token (pat-na1-****, 44 characters)');
  });

  it('checks outputs against a declaration file', () => {
    const run = actionCheck([`${CORPUS}/deal-scoring-outputs.js`, '--declaration', `${CORPUS}/deal-scoring-outputs.declaration.json`, '--format', 'json']);
    expect(run.status).toBe(1);
    const report = JSON.parse(run.stdout) as JsonReport;
    expect(report.findings.map((f) => `${f.line}:${f.column} ${f.severity} ${f.message.split(' is ')[0]}`)).toEqual([
      '4:26 error output `dealScore`',
      '6:3 warning output `next_review`',
      '7:3 warning output `is_large`',
      '8:12 error output `deal_score` (number)',
      '8:12 error output `scored_at` (datetime)',
    ]);
  });

  it('exits 0 on clean actions whose outputs match their declaration', () => {
    const javascript = actionCheck([`${CORPUS}/clean-node24-enrichment.js`, '--outputs', 'enriched:bool,industry:string']);
    expect(javascript).toEqual({ status: 0, stdout: 'Checked 1 file: no findings.\n', stderr: '' });
    const python = actionCheck([`${CORPUS}/clean_python_action.py`, '--outputs', 'score:number,enriched:bool']);
    expect(python).toEqual({ status: 0, stdout: 'Checked 1 file: no findings.\n', stderr: '' });
  });

  it('skips Python files with a clear message when python3 is missing, and still checks the JavaScript', () => {
    const run = actionCheck([`${CORPUS}/clean_python_action.py`, `${CORPUS}/legacy-enrichment-callback.js`], { PATH: '/nonexistent' });
    expect(run.status).toBe(1);
    expect(run.stdout).toContain(`Skipped 1 Python file, not checked: python3 was not found on PATH.\n  ${CORPUS}/clean_python_action.py\n`);
    expect(run.stdout).toContain('Checked 1 file (1 skipped): ');
  });

  it('exits 2 with a clear message on bad usage', () => {
    expect(actionCheck([])).toMatchObject({ status: 2, stdout: '', stderr: 'action:check: name a file or folder to check (see --help)\n' });
    expect(actionCheck([`${CORPUS}/missing.js`])).toMatchObject({ status: 2, stderr: `action:check: ${CORPUS}/missing.js: no such file or folder (see --help)\n` });
    expect(actionCheck([CORPUS, '--format', 'xml'])).toMatchObject({ status: 2, stderr: 'action:check: --format must be text or json, not "xml" (see --help)\n' });
    expect(actionCheck([`${CORPUS}/expected-findings.json`]).status).toBe(2);
    expect(actionCheck(['--help'])).toMatchObject({ status: 0, stderr: '' });
  });
});
