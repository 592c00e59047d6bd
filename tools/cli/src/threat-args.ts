// Threat-model flags shared by every command that takes one:
//   --transform cb --box k=0.6:1.4,b=-0.4:0.4 --sigma k=0.3,b=0.3
//   --preset contrast-brightness            (a named preset; --box/--sigma entries override it)
// The result is validated with @glcert/transforms' validateThreatModel; its errors are reported
// against the flag that carried the value.

import { PRESETS, validateThreatModel } from '@glcert/transforms';
import type { NormalizedThreatModel, ThreatModelSpec } from '@glcert/transforms';

import { UsageError } from './args';
import type { FlagSpecs } from './args';

export const THREAT_FLAGS = {
  transform: { type: 'string', value: 'KEY', description: 'transform: b, c, cb, g, gc, t, bt, ct, cbt, r' },
  box: { type: 'string', value: 'P=LO:HI,...', description: 'attack box per parameter, e.g. k=0.6:1.4,b=-0.4:0.4' },
  sigma: { type: 'string', value: 'P=S,...', description: 'smoothing scale per parameter, e.g. k=0.3,b=0.3' },
  preset: { type: 'string', value: 'NAME', description: `named threat model (${Object.keys(PRESETS).join(', ')})` },
} as const satisfies FlagSpecs;

export interface ThreatFlagValues {
  transform?: string;
  box?: string;
  sigma?: string;
  preset?: string;
}

const NAME = /^[a-z]+$/;

function parseNumber(flag: string, name: string, raw: string, what: string): number {
  const v = raw.trim() === '' ? NaN : Number(raw);
  if (!Number.isFinite(v)) throw new UsageError(`--${flag} ${name}: ${what} must be a number, got '${raw}'`);
  return v;
}

function entries(flag: string, text: string, syntax: string): Array<[string, string]> {
  if (text.trim() === '') throw new UsageError(`--${flag}: empty (expected ${syntax})`);
  const seen = new Set<string>();
  return text.split(',').map((part) => {
    const eq = part.indexOf('=');
    const name = eq < 0 ? '' : part.slice(0, eq).trim();
    if (eq < 0 || !NAME.test(name)) throw new UsageError(`--${flag}: expected ${syntax}, got '${part}'`);
    if (seen.has(name)) throw new UsageError(`--${flag}: parameter ${name} given twice`);
    seen.add(name);
    return [name, part.slice(eq + 1).trim()];
  });
}

/** `k=0.6:1.4,b=-0.4:0.4` -> { k: [0.6, 1.4], b: [-0.4, 0.4] } */
export function parseBox(text: string): Record<string, [number, number]> {
  const syntax = 'NAME=LO:HI[,NAME=LO:HI...]';
  const box: Record<string, [number, number]> = {};
  for (const [name, range] of entries('box', text, syntax)) {
    // the separator is the first ':' (numbers never contain one)
    const parts = range.split(':');
    if (parts.length !== 2) throw new UsageError(`--box: expected ${syntax}, got '${name}=${range}'`);
    box[name] = [parseNumber('box', name, parts[0], 'lo'), parseNumber('box', name, parts[1], 'hi')];
  }
  return box;
}

/** `k=0.3,b=0.3` -> { k: 0.3, b: 0.3 } */
export function parseSigma(text: string): Record<string, number> {
  const sigma: Record<string, number> = {};
  for (const [name, value] of entries('sigma', text, 'NAME=S[,NAME=S...]')) sigma[name] = parseNumber('sigma', name, value, 'sigma');
  return sigma;
}

/** A validator field (`threat_model.box.k`) as the flag the user typed (`--box k`). */
export function fieldToFlag(field: string): string {
  const m = /^threat_model\.(transform|box|sigma)(?:\.(\w+))?/.exec(field);
  if (!m) return field;
  return m[2] ? `--${m[1]} ${m[2]}` : `--${m[1]}`;
}

/** The threat model given by the flags; UsageError naming the flag on any problem. */
export function threatModelFromFlags(flags: ThreatFlagValues): { spec: ThreatModelSpec; model: NormalizedThreatModel } {
  let base: ThreatModelSpec | undefined;
  if (flags.preset !== undefined) {
    if (!Object.prototype.hasOwnProperty.call(PRESETS, flags.preset)) {
      throw new UsageError(`--preset: unknown preset '${flags.preset}' (expected one of ${Object.keys(PRESETS).join(', ')})`);
    }
    base = PRESETS[flags.preset];
    if (flags.transform !== undefined && flags.transform !== base.transform) {
      throw new UsageError(`--transform: '${flags.transform}' contradicts --preset ${flags.preset} (transform '${base.transform}')`);
    }
  } else {
    if (flags.transform === undefined) throw new UsageError('--transform is required (or --preset NAME)');
    if (flags.box === undefined) throw new UsageError('--box is required, e.g. --box k=0.6:1.4,b=-0.4:0.4');
    if (flags.sigma === undefined) throw new UsageError('--sigma is required, e.g. --sigma k=0.3,b=0.3');
  }
  const candidate = {
    transform: flags.transform ?? base!.transform,
    box: { ...(base?.box ?? {}), ...(flags.box !== undefined ? parseBox(flags.box) : {}) },
    sigma: { ...(base?.sigma ?? {}), ...(flags.sigma !== undefined ? parseSigma(flags.sigma) : {}) },
  };
  const res = validateThreatModel(candidate);
  if (!res.ok) throw new UsageError(`${fieldToFlag(res.field)}: ${res.message}`);
  return { spec: candidate as ThreatModelSpec, model: res.value };
}
