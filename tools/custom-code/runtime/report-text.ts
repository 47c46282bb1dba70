import { basename } from 'node:path';
import type { StubRunReport } from './stub-runtime';

/** A stub run's report as a person reads it. */
export function reportText(report: StubRunReport): string {
  const lines = [
    `${basename(report.file)} on ${report.runtime} (limits: ${report.limits.timeoutMs / 1000} s, ${report.limits.memoryMb} MB)`,
    `${report.outcome} after ${report.durationMs} ms; peak memory ${report.peakMemoryMb} MB`,
  ];
  if (report.outputFields) {
    const width = Math.max(...Object.keys(report.outputFields).map((name) => name.length));
    lines.push('outputFields:', ...Object.entries(report.outputFields).map(([name, value]) => `  ${name.padEnd(width)}  ${JSON.stringify(value)}`));
  }
  if (report.error) {
    const status = report.error.status === undefined ? '' : ` (status ${report.error.status})`;
    lines.push(`error: ${report.error.name}${status}: ${report.error.message}`);
    if (report.outcome === 'threw') {
      lines.push(
        report.error.retryable
          ? 'HubSpot would run the step again later: a thrown 429 or 5xx error is retried for up to 3 days.'
          : 'HubSpot would fail the step: only a thrown 429 or 5xx error is retried.',
      );
    }
  }
  if (report.problems.length > 0) lines.push('problems:', ...report.problems.map((problem) => `  - ${problem}`));
  if (report.logs.trim()) lines.push('logs:', ...report.logs.trimEnd().split('\n').map((line) => `  | ${line}`));
  return lines.join('\n');
}
