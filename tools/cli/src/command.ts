// The command contract: each command lives in src/commands/<name>.ts, exports a `Command`, and
// is listed in src/commands/index.ts. `run` returns the exit status (0 ok, 1 failure, 2 usage);
// throwing a UsageError is the same as printing it and returning 2.

export interface Io {
  /** Writes to stdout (add the newline yourself). */
  out(text: string): void;
  /** Writes to stderr. */
  err(text: string): void;
  /** stdout is a terminal (colours). Default false. */
  readonly outIsTTY?: boolean;
  /** stderr is a terminal (a redrawn progress bar instead of plain lines). Default false. */
  readonly errIsTTY?: boolean;
}

export interface Command {
  readonly name: string;
  /** One line for `glcert help`. */
  readonly summary: string;
  /** Full help text for `glcert help <name>` / `glcert <name> --help`. */
  help(): string;
  run(argv: readonly string[], io: Io): number | Promise<number>;
}

export const processIo: Io = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
  get outIsTTY() {
    return process.stdout.isTTY === true && !process.env.NO_COLOR;
  },
  get errIsTTY() {
    return process.stderr.isTTY === true;
  },
};
