// A tiny strict flag parser: `--name value`, `--name=value` and boolean `--name`. Anything it
// does not know, a missing or malformed value, or a repeated flag is a UsageError naming it;
// main prints it as one line and exits with status 2.

export class UsageError extends Error {
  readonly exitCode = 2;
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export type FlagType = 'string' | 'number' | 'integer' | 'boolean';

export interface FlagSpec {
  readonly type: FlagType;
  /** Value placeholder for help, e.g. FILE. */
  readonly value?: string;
  readonly description: string;
  /** Allowed values (string flags). */
  readonly choices?: readonly string[];
  /** A string flag that may be given several times; its value is the list, in order. */
  readonly repeat?: boolean;
}

export type FlagSpecs = Readonly<Record<string, FlagSpec>>;

type ValueOf<S extends FlagSpec> = S extends { readonly repeat: true }
  ? string[]
  : S['type'] extends 'boolean'
    ? boolean
    : S['type'] extends 'string'
      ? string
      : number;
export type ParsedFlags<S extends FlagSpecs> = { -readonly [K in keyof S]?: ValueOf<S[K]> };

export interface ParsedArgs<S extends FlagSpecs> {
  readonly flags: ParsedFlags<S>;
  readonly positionals: string[];
}

function convert(name: string, spec: FlagSpec, raw: string): string | number {
  switch (spec.type) {
    case 'string':
      if (spec.choices && !spec.choices.includes(raw)) {
        throw new UsageError(`--${name}: expected one of ${spec.choices.join(', ')}, got '${raw}'`);
      }
      return raw;
    case 'number': {
      const v = raw.trim() === '' ? NaN : Number(raw);
      if (!Number.isFinite(v)) throw new UsageError(`--${name}: expected a number, got '${raw}'`);
      return v;
    }
    case 'integer': {
      if (!/^[+-]?\d+$/.test(raw.trim())) throw new UsageError(`--${name}: expected an integer, got '${raw}'`);
      const v = Number(raw);
      if (!Number.isSafeInteger(v)) throw new UsageError(`--${name}: integer out of range, got '${raw}'`);
      return v;
    }
    default:
      throw new UsageError(`--${name}: unexpected value '${raw}'`);
  }
}

/**
 * Parses argv against `specs`. Positionals are whatever does not start with `--`; a lone `--`
 * makes the rest positional. `-h` is read as `--help` when the specs have one.
 */
export function parseArgs<S extends FlagSpecs>(argv: readonly string[], specs: S): ParsedArgs<S> {
  const flags: Record<string, string | number | boolean | string[]> = {};
  const positionals: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (arg === '-h' && Object.prototype.hasOwnProperty.call(specs, 'help')) {
      flags.help = true;
      continue;
    }
    if (!arg.startsWith('--')) {
      if (arg.startsWith('-') && arg.length > 1 && !/^-\d|^-\./.test(arg)) throw new UsageError(`unknown flag ${arg}`);
      positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = eq < 0 ? arg.slice(2) : arg.slice(2, eq);
    if (!Object.prototype.hasOwnProperty.call(specs, name)) throw new UsageError(`unknown flag --${name}`);
    const spec = specs[name];
    if (Object.prototype.hasOwnProperty.call(flags, name) && !spec.repeat) throw new UsageError(`--${name} given more than once`);
    if (spec.type === 'boolean') {
      if (eq >= 0) {
        const v = arg.slice(eq + 1);
        if (v !== 'true' && v !== 'false') throw new UsageError(`--${name}: expected no value (or =true/=false), got '${v}'`);
        flags[name] = v === 'true';
      } else {
        flags[name] = true;
      }
      continue;
    }
    let raw: string;
    if (eq >= 0) {
      raw = arg.slice(eq + 1);
    } else {
      if (i + 1 >= argv.length) throw new UsageError(`--${name}: missing value${spec.value ? ` (${spec.value})` : ''}`);
      raw = argv[++i];
      if (raw.startsWith('--')) throw new UsageError(`--${name}: missing value${spec.value ? ` (${spec.value})` : ''}, got flag ${raw}`);
    }
    const value = convert(name, spec, raw);
    if (spec.repeat) ((flags[name] ??= []) as string[]).push(String(value));
    else flags[name] = value;
  }
  return { flags: flags as ParsedFlags<S>, positionals };
}

/** Help lines for `specs`, aligned. */
export function formatFlags(specs: FlagSpecs): string {
  const rows = Object.entries(specs).map(([name, s]) => [
    `--${name}${s.type === 'boolean' ? '' : ` ${s.value ?? name.toUpperCase()}`}${s.repeat ? ' ...' : ''}`,
    s.description,
  ]);
  const width = Math.max(...rows.map((r) => r[0].length));
  return rows.map(([a, b]) => `  ${a.padEnd(width)}  ${b}`).join('\n');
}

export interface PositionalRule {
  /** Fewest positionals (default 0); fewer is a UsageError saying `missing`. */
  min?: number;
  /** Most positionals (default 0); the first one past it is named as unexpected. */
  max?: number;
  /** The message when fewer than `min` are given. */
  missing?: string;
}

/**
 * The preamble every command shares: argv parsed against `specs`; with --help the help is
 * printed and undefined returned (the command then returns 0); the number of positionals checked.
 */
export function commandArgs<S extends FlagSpecs>(
  argv: readonly string[],
  specs: S,
  io: { out(text: string): void },
  help: () => string,
  rule: PositionalRule = {},
): ParsedArgs<S> | undefined {
  const args = parseArgs(argv, specs);
  if ((args.flags as Record<string, unknown>)['help']) {
    io.out(help());
    return undefined;
  }
  const { min = 0, max = 0, missing } = rule;
  if (args.positionals.length < min) throw new UsageError(missing ?? `${min} argument(s) required`);
  if (args.positionals.length > max) throw new UsageError(`unexpected argument '${args.positionals[max]}'`);
  return args;
}
