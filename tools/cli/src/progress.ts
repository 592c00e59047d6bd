// Progress on stderr: a bar redrawn in place on a terminal, plain lines (every few seconds)
// otherwise, so logs and CI output stay readable.

export interface ProgressCounts {
  certified: number;
  abstained: number;
  errors: number;
}

export interface ProgressOptions {
  total: number;
  write: (text: string) => void;
  tty: boolean;
  label?: string;
  /** Plain-line interval. Default 5 s. */
  intervalMs?: number;
  now?: () => number;
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '--:--';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

export class Progress {
  private done = 0;
  private counts: ProgressCounts = { certified: 0, abstained: 0, errors: 0 };
  private readonly start: number;
  private lastPlain = 0;
  private lastDraw = 0;
  private drawn = false;
  private readonly now: () => number;

  constructor(private readonly o: ProgressOptions) {
    this.now = o.now ?? (() => Date.now());
    this.start = this.now();
    this.lastPlain = this.start;
  }

  /** One item finished. */
  tick(kind: keyof ProgressCounts): void {
    this.done++;
    this.counts[kind]++;
    const t = this.now();
    if (this.o.tty) {
      if (t - this.lastDraw >= 100 || this.done === this.o.total) {
        this.lastDraw = t;
        this.o.write(`\r${this.line(t, true)}\x1b[K`);
        this.drawn = true;
      }
    } else if (t - this.lastPlain >= (this.o.intervalMs ?? 5_000) || this.done === this.o.total) {
      this.lastPlain = t;
      this.o.write(`${this.line(t, false)}\n`);
    }
  }

  /** Ends the bar's line (terminal). */
  finish(): void {
    if (this.o.tty && this.drawn) this.o.write('\n');
    this.drawn = false;
  }

  line(t = this.now(), bar = false): string {
    const total = Math.max(this.o.total, this.done);
    const elapsed = (t - this.start) / 1000;
    const rate = elapsed > 0 ? this.done / elapsed : 0;
    const eta = rate > 0 ? (total - this.done) / rate : NaN;
    const frac = total > 0 ? this.done / total : 1;
    const width = 24;
    const filled = Math.round(frac * width);
    const head = bar ? `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ` : '';
    const c = this.counts;
    return (
      `${this.o.label ? `${this.o.label} ` : ''}${head}${this.done}/${total} ${(100 * frac).toFixed(0)}% ` +
      `${rate.toFixed(2)} img/s ETA ${formatDuration(eta)} elapsed ${formatDuration(elapsed)} | ` +
      `certified ${c.certified} abstained ${c.abstained} errors ${c.errors}`
    );
  }
}
