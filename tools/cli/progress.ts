/**
 * A progress bar on a terminal (redrawn in place); elsewhere (a pipe, a log) one line per step,
 * so a long run still shows that it moves.
 */
export class Progress {
  private readonly tty: boolean;

  constructor(
    private readonly label: string,
    private readonly total: number,
    private readonly out: NodeJS.WriteStream = process.stderr,
  ) {
    this.tty = Boolean(out.isTTY);
  }

  update(done: number): void {
    const share = this.total === 0 ? 1 : Math.min(1, done / this.total);
    if (!this.tty) {
      this.out.write(`${this.label}: ${done}/${this.total}\n`);
      return;
    }
    const width = 30;
    const filled = Math.round(share * width);
    this.out.write(`\r${this.label} [${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${done}/${this.total} ${Math.round(share * 100)}%`);
  }

  finish(): void {
    if (this.tty) this.out.write('\n');
  }
}
