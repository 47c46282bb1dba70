import { isAbsolute, relative } from 'node:path';
import { CheckResult } from './check';

export type ReportFormat = 'text' | 'json';

export interface Summary {
  files: number;
  skipped: number;
  errors: number;
  warnings: number;
  filesWithFindings: number;
}

export function summarize(result: CheckResult): Summary {
  return {
    files: result.checked.length,
    skipped: result.skipped.length,
    errors: result.findings.filter((f) => f.severity === 'error').length,
    warnings: result.findings.filter((f) => f.severity === 'warning').length,
    filesWithFindings: new Set(result.findings.map((f) => f.file)).size,
  };
}

/** Paths under the working folder are shown relative to it. */
function displayPath(file: string, cwd: string): string {
  const inside = relative(cwd, file);
  return inside.startsWith('..') || isAbsolute(inside) ? file : inside;
}

const plural = (count: number, word: string): string => `${count} ${word}${count === 1 ? '' : 's'}`;

function summaryLine(summary: Summary): string {
  const checked = `Checked ${plural(summary.files, 'file')}${summary.skipped > 0 ? ` (${summary.skipped} skipped)` : ''}`;
  if (summary.errors + summary.warnings === 0) return `${checked}: no findings.`;
  return `${checked}: ${plural(summary.errors, 'error')}, ${plural(summary.warnings, 'warning')} in ${plural(summary.filesWithFindings, 'file')}.`;
}

export function formatText(result: CheckResult, cwd: string): string {
  const lines: string[] = [];
  const files = [...new Set(result.findings.map((f) => f.file))];
  for (const file of files) {
    const findings = result.findings.filter((f) => f.file === file);
    const width = Math.max(...findings.map((f) => `${f.line}:${f.column}`.length));
    lines.push(displayPath(file, cwd));
    for (const finding of findings) {
      const at = `${finding.line}:${finding.column}`.padEnd(width);
      lines.push(`  ${at}  ${finding.severity.padEnd(7)}  ${finding.rule}  ${finding.message}`);
      lines.push(`  ${' '.repeat(width)}  fix: ${finding.fix}`);
    }
    lines.push('');
  }
  if (result.skipped.length > 0) {
    const reasons = [...new Set(result.skipped.map((s) => s.reason))];
    for (const reason of reasons) {
      const skipped = result.skipped.filter((s) => s.reason === reason).map((s) => displayPath(s.file, cwd));
      lines.push(`Skipped ${plural(skipped.length, 'Python file')}, not checked: ${reason}.`, ...skipped.map((file) => `  ${file}`), '');
    }
  }
  lines.push(summaryLine(summarize(result)));
  return `${lines.join('\n')}\n`;
}

export function formatJson(result: CheckResult, cwd: string): string {
  const report = {
    findings: result.findings.map((finding) => ({ ...finding, file: displayPath(finding.file, cwd) })),
    checked: result.checked.map((file) => displayPath(file, cwd)),
    skipped: result.skipped.map((skipped) => ({ ...skipped, file: displayPath(skipped.file, cwd) })),
    summary: summarize(result),
  };
  return `${JSON.stringify(report, null, 2)}\n`;
}
