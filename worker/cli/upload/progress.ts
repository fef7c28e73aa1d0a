// A one-line progress bar on stderr, only when stderr is a terminal (logs and CI output stay clean).
export class Progress {
  #label: string;
  #total: number;
  #done = 0;
  #started = performance.now();
  #lastDraw = 0;
  #tty: boolean;
  #out: NodeJS.WriteStream;

  constructor(label: string, total: number, out: NodeJS.WriteStream = process.stderr) {
    this.#label = label;
    this.#total = total;
    this.#out = out;
    this.#tty = Boolean(out.isTTY);
  }

  add(bytes: number): void {
    this.#done += bytes;
    const now = performance.now();
    if (now - this.#lastDraw >= 100) this.#draw(now);
  }

  // A part that failed and will be retried gives its bytes back.
  sub(bytes: number): void {
    this.#done = Math.max(0, this.#done - bytes);
  }

  finish(): void {
    if (!this.#tty) return;
    this.#draw(performance.now());
    this.#out.write("\n");
  }

  #draw(now: number): void {
    if (!this.#tty) return;
    this.#lastDraw = now;
    const frac = this.#total > 0 ? Math.min(1, this.#done / this.#total) : 1;
    const width = Math.max(10, Math.min(40, (this.#out.columns ?? 80) - 60));
    const filled = Math.round(frac * width);
    const secs = (now - this.#started) / 1000;
    const rate = secs > 0 ? this.#done / secs : 0;
    const eta = rate > 0 ? (this.#total - this.#done) / rate : 0;
    this.#out.write(
      `\r${this.#label} [${"#".repeat(filled)}${"-".repeat(width - filled)}] ${(frac * 100).toFixed(1).padStart(5)}% ` +
        `${mib(this.#done)}/${mib(this.#total)} MiB ${mib(rate)} MiB/s ETA ${Math.ceil(eta)}s\x1b[K`,
    );
  }
}

const mib = (n: number) => (n / 1024 ** 2).toFixed(1);
