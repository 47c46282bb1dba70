import type { WorkflowProgress } from './workflow';

const BAR_WIDTH = 24;
/** On a terminal the line is redrawn this often; elsewhere (a log, CI) a line is written at this longer interval. */
const REDRAW_MS = 200;
const LOG_INTERVAL_MS = 10_000;

function seconds(ms: number): string {
  const total = Math.floor(ms / 1000);
  return total >= 60 ? `${Math.floor(total / 60)}m${String(total % 60).padStart(2, '0')}s` : `${total}s`;
}

/** One line: contacts through the whole workflow out of N, each step's count, jobs per second and the time so far. */
export function progressLine(progress: WorkflowProgress, contacts: number, now = Date.now()): string {
  const counts = [...progress.done.values()];
  const finished = counts[counts.length - 1] ?? 0;
  const elapsedMs = now - progress.startedAt;
  const jobs = counts.reduce((sum, count) => sum + count, 0);
  const filled = Math.round((finished / contacts) * BAR_WIDTH);
  const steps = [...progress.done].map(([type, count]) => `${type} ${count}`).join(' · ');
  const rate = elapsedMs > 0 ? (jobs / elapsedMs) * 1000 : 0;
  return `[${'#'.repeat(filled)}${'.'.repeat(BAR_WIDTH - filled)}] ${finished}/${contacts} contacts | ${steps} | ${rate.toFixed(1)} jobs/s | ${seconds(elapsedMs)}`;
}

/** The progress of the workflow on standard error: redrawn in place on a terminal, a line now and then otherwise. */
export class ProgressBar {
  private latest: WorkflowProgress | undefined;
  private readonly timer: NodeJS.Timeout;
  private readonly terminal: boolean;

  constructor(
    private readonly contacts: number,
    private readonly stream: NodeJS.WriteStream = process.stderr,
  ) {
    this.terminal = stream.isTTY === true;
    this.timer = setInterval(() => this.draw(), this.terminal ? REDRAW_MS : LOG_INTERVAL_MS);
  }

  update(progress: WorkflowProgress): void {
    this.latest = progress;
  }

  finish(): void {
    clearInterval(this.timer);
    this.draw();
    if (this.terminal && this.latest) this.stream.write('\n');
  }

  private draw(): void {
    if (!this.latest) return;
    const line = progressLine(this.latest, this.contacts);
    this.stream.write(this.terminal ? `\r\x1b[2K${line}` : `${line}\n`);
  }
}
