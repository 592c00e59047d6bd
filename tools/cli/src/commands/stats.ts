// glcert stats <subcommand>: the statistics of @glcert/stats from the command line.
//   clopper-pearson --vectors FILE [--json]   one-sided Clopper-Pearson bounds for each
//                                             {successes, trials, alpha} of FILE

import { readFileSync } from 'node:fs';

import { clopperPearsonLower, clopperPearsonUpper } from '@glcert/stats';

import { UsageError, commandArgs, formatFlags } from '../args';
import type { FlagSpecs } from '../args';
import type { Command, Io } from '../command';

const CP_FLAGS = {
  vectors: { type: 'string', value: 'FILE', description: 'JSON {"vectors": [{"successes", "trials", "alpha"}, ...]} (as shared/reference/clopper-pearson.json)' },
  json: { type: 'boolean', description: 'print a JSON array of {lower, upper}, in order' },
  help: { type: 'boolean', description: 'show this help' },
} as const satisfies FlagSpecs;

const SUBCOMMANDS = 'clopper-pearson';

function help(): string {
  return [
    'usage: glcert stats clopper-pearson --vectors FILE [--json]',
    '',
    'One-sided Clopper-Pearson bounds at confidence 1 - alpha (ALGORITHM.md section 6):',
    'lower = BetaQuantile(alpha; k, n - k + 1), 0 when k = 0; upper = 1 - lower(n - k).',
    '',
    formatFlags(CP_FLAGS),
    '',
  ].join('\n');
}

interface Vector {
  successes: number;
  trials: number;
  alpha: number;
}

/** The vectors of FILE, checked; UsageError naming `--vectors` and the entry on any problem. */
export function readVectors(file: string): Vector[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new UsageError(`--vectors: cannot read '${file}': ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new UsageError(`--vectors: '${file}' is not JSON: ${(e as Error).message}`);
  }
  const list = (doc as { vectors?: unknown } | null)?.vectors;
  if (!Array.isArray(list)) throw new UsageError(`--vectors: '${file}' has no "vectors" array`);
  return list.map((v: unknown, i: number) => {
    const at = `--vectors: vectors[${i}]`;
    if (typeof v !== 'object' || v === null) throw new UsageError(`${at} must be an object`);
    const { successes, trials, alpha } = v as Record<string, unknown>;
    if (!Number.isSafeInteger(trials) || (trials as number) < 1) throw new UsageError(`${at}.trials must be an integer >= 1, got ${JSON.stringify(trials)}`);
    if (!Number.isSafeInteger(successes) || (successes as number) < 0 || (successes as number) > (trials as number)) {
      throw new UsageError(`${at}.successes must be an integer in [0, trials], got ${JSON.stringify(successes)}`);
    }
    if (typeof alpha !== 'number' || !(alpha > 0 && alpha < 1)) throw new UsageError(`${at}.alpha must be in (0, 1), got ${JSON.stringify(alpha)}`);
    return { successes: successes as number, trials: trials as number, alpha };
  });
}

function clopperPearson(argv: readonly string[], io: Io): number {
  const args = commandArgs(argv, CP_FLAGS, io, help);
  if (!args) return 0;
  const { flags } = args;
  if (flags.vectors === undefined) throw new UsageError('--vectors FILE is required');
  const rows = readVectors(flags.vectors).map((v) => ({
    lower: clopperPearsonLower(v.successes, v.trials, v.alpha),
    upper: clopperPearsonUpper(v.successes, v.trials, v.alpha),
    v,
  }));
  if (flags.json) {
    io.out(`${JSON.stringify(rows.map(({ lower, upper }) => ({ lower, upper })))}\n`);
  } else {
    for (const { v, lower, upper } of rows) io.out(`k=${v.successes} n=${v.trials} alpha=${v.alpha}: lower ${lower} upper ${upper}\n`);
  }
  return 0;
}

export const statsCommand: Command = {
  name: 'stats',
  summary: 'statistics helpers (clopper-pearson)',
  help,
  run(argv, io) {
    const [sub, ...rest] = argv;
    if (sub === undefined) {
      io.err(help());
      return 2;
    }
    if (sub === '--help' || sub === '-h' || sub === 'help') {
      io.out(help());
      return 0;
    }
    if (sub === 'clopper-pearson') return clopperPearson(rest, io);
    throw new UsageError(`stats: unknown subcommand '${sub}' (expected ${SUBCOMMANDS})`);
  },
};
