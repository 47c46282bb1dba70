import { appendFileSync } from 'node:fs';
import { join } from 'node:path';

/** Where the suite's recovery figures go, besides the console: one line per scenario, newest last. */
export const SUMMARY_FILE = join(__dirname, '..', '..', '..', 'dist', 'fault-suite.txt');

/** Prints a scenario's figures and adds them to the summary file. They are reported, never asserted. */
export function report(scenario: string, figures: string): void {
  const line = `[fault suite] ${scenario}: ${figures}`;
  process.stdout.write(`${line}\n`);
  appendFileSync(SUMMARY_FILE, `${new Date().toISOString()} ${line}\n`);
}

/** Seconds from `from` to `to` (epoch ms), for the figures. */
export const seconds = (from: number, to: number | undefined) => (to === undefined ? 'never' : `${((to - from) / 1000).toFixed(1)} s`);
