// Threat models: which transform, the attack box (per parameter, inclusive) and the smoothing
// sigma (per parameter, in the law's own units: Normal std, LogNormal log-std, Rayleigh scale).
// The validator is used by the CLI and the services; errors name the offending field with the
// `threat_model.` prefix so they map onto INVALID_ARGUMENT field violations.

import { TRANSFORMS, TRANSFORM_KEYS, TransformKey, TransformSpec, isTransformKey, type ParamName } from './transform-spec';

export interface ThreatModelSpec {
  transform: TransformKey;
  box: Record<string, [number, number]>;
  sigma: Record<string, number>;
}

export interface NormalizedThreatModel {
  transform: TransformKey;
  spec: TransformSpec;
  /** Box lower bounds, in `spec.params` order. */
  lo: number[];
  /** Box upper bounds, in `spec.params` order. */
  hi: number[];
  /** Smoothing sigma, in `spec.params` order. */
  sigma: number[];
}

/** Where a problem lies: the box or sigma entry of `param` (`unknownParam`: the name itself is the problem). */
export interface ThreatModelProblem {
  ok: false;
  field: string;
  message: string;
  part?: 'box' | 'sigma';
  param?: string;
  unknownParam?: boolean;
}

export type ThreatModelResult = { ok: true; value: NormalizedThreatModel } | ThreatModelProblem;

// ---- Numeric domains (docs/numeric-domains.md) -------------------------------------------------
//
// Every number a caller can put in a threat model or an image has a domain in which all the
// arithmetic stays finite: the resolving function and the scores (float64, in the bound solver,
// even at normals of |z| ~ 40 from its quantile strata), and the transforms applied to the image
// (float32, at the sampler's normals, |z| <= NORMAL_ABS_MAX). The sampler applies
// gamma(identity, z) only, so the box never reaches the image; the worst image outputs are
//   cb/gc   |x| e^(Z s_k) + Z s_b          <= 1e3 * e^17.3 + 8.7e3          ~ 3.3e10
//   g/gc    |x|^(Z s_g) e^(Z s_k)          <= (1e3)^8.66 * e^17.3            ~ 3.2e33
// (Z = NORMAL_ABS_MAX, float32 max 3.4e38); blur and translation only average or move pixels.
// In the solver: scores are at most ~ 40 |b| e^(40 s_k) / (k s_b) ~ 2e48 (cb), so squares and sums
// of them stay far below 1e308.

/**
 * Largest |z| of any standard normal the sampler draws: Box-Muller with u >= 2^-54 (libs/stats
 * generator) gives sqrt(-2 ln 2^-54) = 8.652; it also bounds the radius sqrt(z0^2 + z1^2) of a pair.
 */
export const NORMAL_ABS_MAX = Math.sqrt(108 * Math.LN2);
/** Largest |pixel| of an image tensor: covers [0, 1], [-1, 1], standardised and [0, 255] inputs. */
export const PIXEL_ABS_MAX = 1e3;
/** Smallest smoothing sigma of every law (scores scale as 1/sigma). */
export const SIGMA_MIN = 1e-6;

export interface ParamDomain {
  /** Box bounds must lie in [lo, hi]. */
  readonly lo: number;
  readonly hi: number;
  /** Smoothing sigma must lie in [SIGMA_MIN, sigmaMax]. */
  readonly sigmaMax: number;
}

/** Per-parameter domains of box bounds and smoothing sigma (in the law's own units). */
export const PARAM_DOMAINS: Readonly<Record<ParamName, ParamDomain>> = Object.freeze({
  /** brightness offset, pixel units */
  b: Object.freeze({ lo: -1e3, hi: 1e3, sigmaMax: 1e3 }),
  /** contrast factor; LogNormal log-std: e^(Z * 2) ~ 3.3e7 */
  k: Object.freeze({ lo: 1e-3, hi: 1e3, sigmaMax: 2 }),
  /** gamma exponent; Rayleigh scale: exponent up to Z * 1 ~ 8.7 on |x| <= 1e3 */
  g: Object.freeze({ lo: 1e-3, hi: 1e3, sigmaMax: 1 }),
  /** translation, pixels (integers in the box) */
  tx: Object.freeze({ lo: -1e4, hi: 1e4, sigmaMax: 1e4 }),
  ty: Object.freeze({ lo: -1e4, hi: 1e4, sigmaMax: 1e4 }),
  /** blur kernel variance, px^2; Rayleigh scale: radius <= 4 sqrt(Z * 1e6) ~ 11800 taps to fold */
  r: Object.freeze({ lo: 0, hi: 1e6, sigmaMax: 1e6 }),
});

/**
 * Domains of resolved parameters y = gamma(identity, z), the values that reach the images (what
 * the inference sidecar accepts in ClassifyRequest.transformed): wide enough for everything the
 * sampler draws (sigma <= sigmaMax and |z|, or a Rayleigh radius, <= NORMAL_ABS_MAX: |b| <= 8.7e3,
 * k in [3e-8, 3.3e7], g <= 8.7, |t| <= 8.7e4, r <= 8.7e6), narrow enough that every transformed
 * pixel of an image in [-PIXEL_ABS_MAX, PIXEL_ABS_MAX] is a finite float32 (the worst, gc:
 * 1e8 * (1e3)^10 = 1e38 < 3.4e38) and a blur costs at most ~13 000 taps per output.
 * `openLo`: the lower bound itself is excluded (g = 0 is no gamma).
 */
export const RESOLVED_DOMAINS: Readonly<Record<ParamName, { readonly lo: number; readonly hi: number; readonly openLo?: boolean }>> = Object.freeze({
  b: Object.freeze({ lo: -1e4, hi: 1e4 }),
  k: Object.freeze({ lo: 1e-8, hi: 1e8 }),
  g: Object.freeze({ lo: 0, hi: 10, openLo: true }),
  tx: Object.freeze({ lo: -1e5, hi: 1e5 }),
  ty: Object.freeze({ lo: -1e5, hi: 1e5 }),
  r: Object.freeze({ lo: 0, hi: 1e7 }),
});

/**
 * null when `params` (row-major count x d resolved parameters of family `key`) all lie in
 * RESOLVED_DOMAINS, else the first offending value: its flat index and a message naming the
 * parameter (never the caller's whole input).
 */
export function resolvedParamsProblem(key: TransformKey, params: ArrayLike<number>): { index: number; message: string } | null {
  const names = TRANSFORMS[key].params;
  const d = names.length;
  if (params.length === 0 || params.length % d !== 0) {
    return { index: 0, message: `must hold N x ${d} values (${names.join(', ')} per transform, N >= 1), got ${params.length}` };
  }
  for (let i = 0; i < params.length; i++) {
    const v = params[i]!;
    const name = names[i % d]!;
    const dom = RESOLVED_DOMAINS[name];
    // also false for NaN
    const inside = (dom.openLo ? v > dom.lo : v >= dom.lo) && v <= dom.hi;
    if (!inside) {
      const range = `${dom.openLo ? '(' : '['}${dom.lo}, ${dom.hi}]`;
      return { index: i, message: `${name} of transform ${Math.floor(i / d)} must be in ${range}, got ${show(v)}` };
    }
  }
  return null;
}

/** A caller's value shown in a message: numbers as they are, anything else as a short prefix. */
function show(v: unknown): string {
  if (typeof v === 'number') return String(v);
  const s = typeof v === 'string' ? JSON.stringify(v.length > 32 ? `${v.slice(0, 32)}...` : v) : typeof v;
  return s;
}

/** null when every value of an image tensor is in the domain, else the first offending element. */
export function imageValueProblem(data: ArrayLike<number>): { index: number; message: string } | null {
  for (let i = 0; i < data.length; i++) {
    const x = data[i]!;
    // also false for NaN
    if (!(x >= -PIXEL_ABS_MAX && x <= PIXEL_ABS_MAX)) {
      return { index: i, message: `must hold finite values in [-${PIXEL_ABS_MAX}, ${PIXEL_ABS_MAX}]; element ${i} is ${x}` };
    }
  }
  return null;
}

const ROOT = 'threat_model';

function fail(field: string, message: string, where?: Omit<ThreatModelProblem, 'ok' | 'field' | 'message'>): ThreatModelProblem {
  return { ok: false, field, message, ...where };
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function own(o: Record<string, unknown>, key: string): unknown {
  return Object.prototype.hasOwnProperty.call(o, key) ? o[key] : undefined;
}

/** Domain of a parameter value as a box bound; null when fine. */
function boundProblem(name: ParamName, v: number): string | null {
  if (!Number.isFinite(v)) return 'must be finite';
  const d = PARAM_DOMAINS[name];
  if (!(v >= d.lo && v <= d.hi)) return `${name} must be in [${d.lo}, ${d.hi}]`;
  if ((name === 'tx' || name === 'ty') && !Number.isInteger(v)) return `${name} must be an integer (translations are certified on integer shifts)`;
  return null;
}

/** Domain of a smoothing sigma; null when fine. */
function sigmaProblem(name: ParamName, s: unknown): string | null {
  const max = PARAM_DOMAINS[name].sigmaMax;
  if (typeof s !== 'number' || !Number.isFinite(s) || !(s >= SIGMA_MIN && s <= max)) {
    return `must be a finite number in [${SIGMA_MIN}, ${max}], got ${show(s)}`;
  }
  return null;
}

/**
 * Check a threat model and put it in `params` order. Rejects: an unknown transform, a missing or
 * malformed box/sigma entry, unknown parameter names (own keys only: `__proto__` or `constructor`
 * are unknown names like any other), non-finite values, lo > hi, and bounds or sigmas outside
 * PARAM_DOMAINS (non-integer translation bounds too). `boxOptional`: an absent or empty box is
 * accepted (lo and hi are then empty); the sampler needs only the smoothing.
 */
export function validateThreatModel(input: unknown, options: { boxOptional?: boolean } = {}): ThreatModelResult {
  if (!isPlainObject(input)) return fail(ROOT, 'must be an object with transform, box and sigma');
  for (const key of Object.keys(input)) {
    if (key !== 'transform' && key !== 'box' && key !== 'sigma') return fail(`${ROOT}.${key}`, 'unknown field (expected transform, box, sigma)');
  }
  const transform = own(input, 'transform');
  if (!isTransformKey(transform)) {
    return fail(`${ROOT}.transform`, `unknown transform ${show(transform)} (expected one of ${TRANSFORM_KEYS.join(', ')})`);
  }
  const spec = TRANSFORMS[transform];
  const names: readonly ParamName[] = spec.params;
  const expected = `expected ${names.join(', ')} for transform '${transform}'`;
  const known = (key: string): boolean => (names as readonly string[]).includes(key);

  const rawBox = own(input, 'box');
  let box: Record<string, unknown> | undefined;
  if (options.boxOptional && (rawBox === undefined || (isPlainObject(rawBox) && Object.keys(rawBox).length === 0))) box = undefined;
  else if (isPlainObject(rawBox)) box = rawBox;
  else return fail(`${ROOT}.box`, `must be an object mapping each parameter to [lo, hi] (${expected})`);
  if (box !== undefined) {
    for (const key of Object.keys(box)) {
      if (!known(key)) return fail(`${ROOT}.box.${key}`, `unknown parameter (${expected})`, { part: 'box', param: key, unknownParam: true });
    }
  }
  const sigma = own(input, 'sigma');
  if (!isPlainObject(sigma)) return fail(`${ROOT}.sigma`, `must be an object mapping each parameter to a positive number (${expected})`);
  for (const key of Object.keys(sigma)) {
    if (!known(key)) return fail(`${ROOT}.sigma.${key}`, `unknown parameter (${expected})`, { part: 'sigma', param: key, unknownParam: true });
  }

  const lo: number[] = [];
  const hi: number[] = [];
  const sig: number[] = [];
  for (const name of names) {
    if (box !== undefined) {
      const field = `${ROOT}.box.${name}`;
      const at = { part: 'box', param: name } as const;
      const range = own(box, name);
      if (range === undefined) return fail(field, 'missing', at);
      if (!Array.isArray(range) || range.length !== 2 || typeof range[0] !== 'number' || typeof range[1] !== 'number') {
        return fail(field, 'must be a pair of numbers [lo, hi]', at);
      }
      const [a, b] = range as [number, number];
      const pa = boundProblem(name, a);
      if (pa) return fail(field, `lo ${a}: ${pa}`, at);
      const pb = boundProblem(name, b);
      if (pb) return fail(field, `hi ${b}: ${pb}`, at);
      if (a > b) return fail(field, `lo ${a} exceeds hi ${b}`, at);
      lo.push(a);
      hi.push(b);
    }

    const sField = `${ROOT}.sigma.${name}`;
    const s = own(sigma, name);
    if (s === undefined) return fail(sField, 'missing', { part: 'sigma', param: name });
    const ps = sigmaProblem(name, s);
    if (ps) return fail(sField, ps, { part: 'sigma', param: name });
    sig.push(s as number);
  }
  return { ok: true, value: { transform, spec, lo, hi, sigma: sig } };
}

/** One attack-box entry as the wire carries it. */
export interface BoxEntry {
  name: string;
  min: number;
  max: number;
}

/** One smoothing entry as the wire carries it (the law is checked by the caller, which knows its enum). */
export interface SmoothingEntry {
  name: string;
  sigma: number;
}

export interface ThreatModelEntries {
  transform: string;
  box: readonly BoxEntry[];
  smoothing: readonly SmoothingEntry[];
}

export type EntriesResult =
  | {
      ok: true;
      value: NormalizedThreatModel;
      /** Index of each parameter's box entry (`spec.params` order; empty when no box was given). */
      boxAt: number[];
      /** Index of each parameter's smoothing entry (`spec.params` order). */
      smoothingAt: number[];
    }
  | { ok: false; violations: { field: string; message: string }[] };

function shortName(name: string): string {
  return name.length > 32 ? `${name.slice(0, 32)}...` : name;
}

/**
 * validateThreatModel for the wire form (lists of named entries), with the violations named by
 * their wire paths under `root`: `threat_model.box[i]`, `threat_model.box[i].name` (unknown or
 * repeated name), `threat_model.smoothing[i].sigma`, `threat_model.smoothing[i].name`, or the
 * list itself when an entry is missing. Names are parsed into null-prototype maps, so no name
 * (`__proto__`, `constructor`, ...) can alias anything: every service refuses them the same way.
 */
export function validateThreatModelEntries(input: ThreatModelEntries, options: { root?: string; boxOptional?: boolean } = {}): EntriesResult {
  const root = options.root ?? ROOT;
  const violations: { field: string; message: string }[] = [];
  const box: Record<string, [number, number]> = Object.create(null);
  const boxIndex = new Map<string, number>();
  input.box.forEach((r, i) => {
    if (boxIndex.has(r.name)) violations.push({ field: `${root}.box[${i}].name`, message: `parameter '${shortName(r.name)}' appears more than once` });
    else {
      boxIndex.set(r.name, i);
      box[r.name] = [r.min, r.max];
    }
  });
  const sigma: Record<string, number> = Object.create(null);
  const smoothIndex = new Map<string, number>();
  input.smoothing.forEach((s, i) => {
    if (smoothIndex.has(s.name)) violations.push({ field: `${root}.smoothing[${i}].name`, message: `parameter '${shortName(s.name)}' appears more than once` });
    else {
      smoothIndex.set(s.name, i);
      sigma[s.name] = s.sigma;
    }
  });
  if (violations.length > 0) return { ok: false, violations };

  const res = validateThreatModel({ transform: input.transform, box, sigma }, { boxOptional: options.boxOptional });
  if (!res.ok) {
    let field: string;
    let message = res.message;
    if (res.part !== undefined && res.param !== undefined) {
      const at = (res.part === 'box' ? boxIndex : smoothIndex).get(res.param);
      const list = res.part === 'box' ? 'box' : 'smoothing';
      if (at === undefined) field = `${root}.${list}`;
      else if (res.unknownParam) field = `${root}.${list}[${at}].name`;
      else field = res.part === 'box' ? `${root}.box[${at}]` : `${root}.smoothing[${at}].sigma`;
      message = `${shortName(res.param)}: ${res.message}`;
    } else if (res.field === `${ROOT}.sigma`) {
      field = `${root}.smoothing`;
    } else {
      field = root + res.field.slice(ROOT.length);
    }
    return { ok: false, violations: [{ field, message }] };
  }
  const params = res.value.spec.params;
  return {
    ok: true,
    value: res.value,
    boxAt: res.value.lo.length === 0 ? [] : params.map((p) => boxIndex.get(p)!),
    smoothingAt: params.map((p) => smoothIndex.get(p)!),
  };
}

/**
 * Paper settings (ALGORITHM.md sections 5 and 7). Sigma units: Normal std (b, pixels for tx/ty),
 * LogNormal log-std (k), Rayleigh scale (g; r in pixel^2 of kernel variance).
 *
 * 'blur' is our choice (the paper gives no number): Rayleigh scale 2 px^2 and attacks up to kernel
 * variance 2 (std sqrt(2) ~ 1.41 px). The blur score does not depend on r, so the section-4 bound
 * depends only on r_max / s_r; at r_max / s_r = 1 the threshold is h* ~ 0.907 (measured with the
 * section-4 procedure, ns = 2e5), comparable to the brightness preset (0.909) and reachable at
 * n = 1000. The smoothing blur has mean variance 2.5 px^2 (kernel radius ~7-9 at 32x32).
 */
export const PRESETS: Record<string, ThreatModelSpec> = {
  brightness: { transform: 'b', box: { b: [-0.4, 0.4] }, sigma: { b: 0.3 } },
  contrast: { transform: 'c', box: { k: [0.6, 1.4] }, sigma: { k: 0.3 } },
  'contrast-brightness': { transform: 'cb', box: { k: [0.6, 1.4], b: [-0.4, 0.4] }, sigma: { k: 0.3, b: 0.3 } },
  gamma: { transform: 'g', box: { g: [0.5, 2.0] }, sigma: { g: 0.1 } },
  /** MNIST, 28 x 28 */
  translation: { transform: 't', box: { tx: [-3, 3], ty: [-3, 3] }, sigma: { tx: 3, ty: 3 } },
  /** CIFAR, 32 x 32 */
  'translation-cifar': { transform: 't', box: { tx: [-14, 14], ty: [-14, 14] }, sigma: { tx: 15, ty: 15 } },
  blur: { transform: 'r', box: { r: [0, 2] }, sigma: { r: 2 } },
};

/** A preset by name, validated; throws RangeError naming the preset when unknown. */
export function getPreset(name: string): NormalizedThreatModel {
  if (!Object.prototype.hasOwnProperty.call(PRESETS, name)) {
    throw new RangeError(`unknown threat-model preset '${name}' (expected one of ${Object.keys(PRESETS).join(', ')})`);
  }
  const res = validateThreatModel(PRESETS[name]);
  if (!res.ok) throw new Error(`preset '${name}' is invalid: ${res.field}: ${res.message}`);
  return res.value;
}
