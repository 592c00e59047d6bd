// Child-process log lines for `glcert up`: `[certifier] 05:08:37.123 info  listening address=...`,
// with a colour per process and per level on a terminal. The services write one JSON object per
// line (@glcert/telemetry's logger); anything else passes through unchanged.

const PALETTE = [36, 35, 33, 32, 34, 96, 95, 93, 92, 94]; // cyan, magenta, yellow, green, blue, bright ...
const LEVEL_COLOUR: Record<string, number> = { debug: 90, info: 0, warn: 33, error: 31 };

const colour = (code: number, text: string, on: boolean): string => (on && code !== 0 ? `\x1b[${code}m${text}\x1b[0m` : text);

function fieldValue(v: unknown): string {
  if (typeof v === 'string') return /[\s"=]/.test(v) || v === '' ? JSON.stringify(v) : v;
  return JSON.stringify(v);
}

/** A JSON log line as `time level msg key=value ...`; other lines unchanged. */
export function formatLogLine(line: string, colours: boolean): string {
  const trimmed = line.trim();
  if (!trimmed.startsWith('{')) return line;
  let obj: Record<string, unknown>;
  try {
    obj = JSON.parse(trimmed) as Record<string, unknown>;
  } catch {
    return line;
  }
  if (typeof obj['msg'] !== 'string') return line;
  const { time, level, msg, logger: _logger, ...fields } = obj;
  void _logger;
  const t = typeof time === 'string' && time.length >= 23 ? time.slice(11, 23) : '';
  const lvl = typeof level === 'string' ? level : 'info';
  const rest = Object.entries(fields)
    .map(([k, v]) => `${k}=${fieldValue(v)}`)
    .join(' ');
  return `${t ? `${colour(90, t, colours)} ` : ''}${colour(LEVEL_COLOUR[lvl] ?? 0, lvl.padEnd(5), colours)} ${msg}${rest ? ` ${colour(90, rest, colours)}` : ''}`;
}

/** Prefixes for process names, padded to one width, coloured in turn. */
export class Prefixer {
  private readonly width: number;
  private readonly colours = new Map<string, number>();

  constructor(
    names: readonly string[],
    private readonly on: boolean,
  ) {
    this.width = Math.max(...names.map((n) => n.length + 2));
    names.forEach((n, i) => this.colours.set(n, PALETTE[i % PALETTE.length]));
  }

  prefix(name: string): string {
    const p = `[${name}]`.padEnd(this.width);
    return colour(this.colours.get(name) ?? 0, p, this.on);
  }

  line(name: string, text: string): string {
    return `${this.prefix(name)} ${formatLogLine(text, this.on)}\n`;
  }
}
