// Threat models: which transform, the attack box (per parameter, inclusive) and the smoothing
// sigma (per parameter, in the law's own units: Normal std, LogNormal log-std, Rayleigh scale).
// The validator is used by the CLI and the services; errors name the offending field with the
// `threat_model.` prefix so they map onto INVALID_ARGUMENT field violations.

import { TRANSFORMS, TRANSFORM_KEYS, TransformKey, TransformSpec, isTransformKey } from './transform-spec';

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

export type ThreatModelResult = { ok: true; value: NormalizedThreatModel } | { ok: false; field: string; message: string };

const ROOT = 'threat_model';

function fail(field: string, message: string): ThreatModelResult {
  return { ok: false, field, message };
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Domain of a parameter value as a box bound; null when fine. */
function boundProblem(name: string, v: number): string | null {
  if (!Number.isFinite(v)) return 'must be finite';
  if ((name === 'k' || name === 'g') && !(v > 0)) return `${name} must be > 0`;
  if (name === 'r' && !(v >= 0)) return 'r must be >= 0';
  if ((name === 'tx' || name === 'ty') && !Number.isInteger(v)) return `${name} must be an integer (translations are certified on integer shifts)`;
  return null;
}

/**
 * Check a threat model and put it in `params` order. Rejects: an unknown transform, a missing or
 * malformed box/sigma entry, unknown parameter names, non-finite values, lo > hi, bounds outside the
 * domain (k, g > 0; r >= 0), non-integer translation bounds, and sigma that is not finite and > 0.
 */
export function validateThreatModel(input: unknown): ThreatModelResult {
  if (!isPlainObject(input)) return fail(ROOT, 'must be an object with transform, box and sigma');
  for (const key of Object.keys(input)) {
    if (key !== 'transform' && key !== 'box' && key !== 'sigma') return fail(`${ROOT}.${key}`, 'unknown field (expected transform, box, sigma)');
  }
  const transform = input.transform;
  if (!isTransformKey(transform)) {
    return fail(`${ROOT}.transform`, `unknown transform ${JSON.stringify(transform)} (expected one of ${TRANSFORM_KEYS.join(', ')})`);
  }
  const spec = TRANSFORMS[transform];
  const names: readonly string[] = spec.params;
  const expected = `expected ${names.join(', ')} for transform '${transform}'`;

  const box = input.box;
  if (!isPlainObject(box)) return fail(`${ROOT}.box`, `must be an object mapping each parameter to [lo, hi] (${expected})`);
  for (const key of Object.keys(box)) {
    if (!names.includes(key)) return fail(`${ROOT}.box.${key}`, `unknown parameter (${expected})`);
  }
  const sigma = input.sigma;
  if (!isPlainObject(sigma)) return fail(`${ROOT}.sigma`, `must be an object mapping each parameter to a positive number (${expected})`);
  for (const key of Object.keys(sigma)) {
    if (!names.includes(key)) return fail(`${ROOT}.sigma.${key}`, `unknown parameter (${expected})`);
  }

  const lo: number[] = [];
  const hi: number[] = [];
  const sig: number[] = [];
  for (const name of names) {
    const field = `${ROOT}.box.${name}`;
    const range = box[name];
    if (range === undefined) return fail(field, 'missing');
    if (!Array.isArray(range) || range.length !== 2 || typeof range[0] !== 'number' || typeof range[1] !== 'number') {
      return fail(field, 'must be a pair of numbers [lo, hi]');
    }
    const [a, b] = range as [number, number];
    const pa = boundProblem(name, a);
    if (pa) return fail(field, `lo ${a}: ${pa}`);
    const pb = boundProblem(name, b);
    if (pb) return fail(field, `hi ${b}: ${pb}`);
    if (a > b) return fail(field, `lo ${a} exceeds hi ${b}`);
    lo.push(a);
    hi.push(b);

    const sField = `${ROOT}.sigma.${name}`;
    const s = sigma[name];
    if (s === undefined) return fail(sField, 'missing');
    if (typeof s !== 'number' || !Number.isFinite(s) || !(s > 0)) return fail(sField, `must be a finite number > 0, got ${JSON.stringify(s)}`);
    sig.push(s);
  }
  return { ok: true, value: { transform, spec, lo, hi, sigma: sig } };
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
