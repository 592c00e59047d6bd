// glcert bounds: solve the GL certification threshold of a threat model (ALGORITHM.md 4-5).

import { BOUND_METHODS, DEFAULT_NS, DEFAULT_SEED, InvalidBoundRequestError, solveBound } from '@glcert/bounds';
import type { BoundMethodName, BoundResult } from '@glcert/bounds';

import { UsageError, commandArgs, formatFlags } from '../args';
import type { FlagSpecs } from '../args';
import type { Command } from '../command';
import { THREAT_FLAGS, fieldToFlag, threatModelFromFlags } from '../threat-args';

const FLAGS = {
  ...THREAT_FLAGS,
  ns: { type: 'integer', value: 'N', description: `score samples (default ${DEFAULT_NS})` },
  grid: { type: 'string', value: 'N[,N...]', description: 'attack-grid points per axis: one for all, one per parameter, or P=N,... (default 11; integer axes use integers)' },
  seed: { type: 'string', value: 'S', description: `seed of the score normals, 0 <= S < 2^64 (default ${DEFAULT_SEED})` },
  method: { type: 'string', value: 'M', choices: BOUND_METHODS, description: 'auto (smaller of numeric and closed form), numeric, closed-form (default auto)' },
  json: { type: 'boolean', description: 'print the result as one JSON object' },
  help: { type: 'boolean', description: 'show this help' },
} as const satisfies FlagSpecs;

function parseGrid(text: string): number[] | Record<string, number> {
  const parts = text.split(',').map((s) => s.trim());
  const named = parts.some((p) => p.includes('='));
  const toInt = (raw: string, label: string): number => {
    if (!/^\d+$/.test(raw)) throw new UsageError(`--grid: ${label}expected a positive integer, got '${raw}'`);
    return Number(raw);
  };
  if (!named) return parts.map((p) => toInt(p, ''));
  const out: Record<string, number> = {};
  for (const p of parts) {
    const m = /^([a-z]+)=(.*)$/.exec(p);
    if (!m) throw new UsageError(`--grid: expected N[,N...] or NAME=N[,NAME=N...], got '${p}'`);
    out[m[1]] = toInt(m[2], `${m[1]}: `);
  }
  return out;
}

function boundFieldToFlag(field: string): string {
  const settings: Record<string, string> = {
    'bound_settings.ns': '--ns',
    'bound_settings.grid_points': '--grid',
    'bound_settings.seed': '--seed',
    'bound_settings.method': '--method',
  };
  return settings[field] ?? fieldToFlag(field);
}

function fmt(x: number, digits = 6): string {
  return Number.isInteger(x) ? String(x) : x.toPrecision(digits);
}

export function formatBoundSummary(r: BoundResult): string {
  const box = r.params.map((p) => `${p} in [${r.box[p][0]}, ${r.box[p][1]}]`).join(', ');
  const sigma = r.params.map((p) => `${p} ${r.sigma[p]}`).join(', ');
  const lines = [
    `transform ${r.transform}: ${box}; smoothing sigma ${sigma}`,
    r.certifiable
      ? `threshold h* = ${fmt(r.threshold)} (${r.method}): certified iff pA > ${fmt(Math.max(r.threshold, 0.5))}`
      : `threshold h* = 1 (${r.method}): this box cannot be certified at this smoothing`,
    `  numeric      ${r.numericThreshold === undefined ? '-' : fmt(r.numericThreshold)}`,
    `  closed form  ${r.closedFormThreshold === undefined ? '-' : fmt(r.closedFormThreshold)}`,
    `ns ${r.ns}, grid ${r.grid.join(' x ')} (${r.attackPoints} attack points), seed ${r.seed}, ${r.seconds.toFixed(2)} s, ` +
      `${r.scoreEvaluations.toLocaleString('en-US')} score evaluations`,
    `solver ${r.solverVersion}`,
    `cache key ${r.cacheKey}`,
    'notes:',
    ...r.notes.map((n) => `  - ${n}`),
  ];
  return `${lines.join('\n')}\n`;
}

export const boundsCommand: Command = {
  name: 'bounds',
  summary: 'solve the certification threshold h* of a threat model',
  help: () =>
    [
      'usage: glcert bounds (--transform KEY --box P=LO:HI,... --sigma P=S,... | --preset NAME) [options]',
      '',
      'Solves the General Lipschitz bound (ALGORITHM.md section 4) and, where one exists, the closed',
      'form (section 5). An image is certified iff pA > max(h*, 1/2).',
      '',
      formatFlags(FLAGS),
      '',
      'example: glcert bounds --transform cb --box k=0.6:1.4,b=-0.4:0.4 --sigma k=0.3,b=0.3 --json',
      '',
    ].join('\n'),
  run(argv, io) {
    const args = commandArgs(argv, FLAGS, io, () => boundsCommand.help());
    if (!args) return 0;
    const { flags } = args;
    const { spec } = threatModelFromFlags(flags);
    let result: BoundResult;
    try {
      result = solveBound({
        ...spec,
        ns: flags.ns,
        grid: flags.grid === undefined ? undefined : parseGrid(flags.grid),
        seed: flags.seed,
        method: flags.method as BoundMethodName | undefined,
      });
    } catch (e) {
      if (e instanceof InvalidBoundRequestError) throw new UsageError(`${boundFieldToFlag(e.field)}: ${e.message.replace(`${e.field}: `, '')}`);
      throw e;
    }
    io.out(flags.json ? `${JSON.stringify(result)}\n` : formatBoundSummary(result));
    return 0;
  },
};
