// Request validation. Every problem is a field violation named by its proto path (`n`,
// `threat_model.box[0]`, `config.alpha`, `item.image`, ...), and all of a message's problems
// are reported at once as one INVALID_ARGUMENT.
import { BoundMethod, LAW_DISTRIBUTION, Sampling, smoothingLawViolations, type BoundSettings, type ThreatModel } from '@glcert/contracts';
import { DEFAULT_ALPHA, DEFAULT_N, DEFAULT_N0, PRESET_NAMES, presetThreatModel } from '@glcert/certificate';
import { identifierViolation, preview, threatModelIdentifierViolations, Violations, type FieldViolation } from '@glcert/runtime';
import type { InputOneof } from '@glcert/imaging';
import { validateThreatModelEntries, type TransformSpec } from '@glcert/transforms';
import { SEED_MAX } from './seeds';

/** Caveat recorded with every threat model (ALGORITHM.md section 1). */
export const NO_CLIPPING_NOTE = 'no clipping; values may leave [0,1]';
/** Added for blur, whose discretisation composes only approximately. */
export const BLUR_NOTE = 'discretised blur is approximately resolvable';


/** A threat model checked and put in the transform's parameter order, with its note. */
export interface CheckedThreatModel {
  spec: TransformSpec;
  /** What goes to the bounds service, the samplers and the certificate. */
  message: ThreatModel;
}

/** Settings shared by a Certify request and a stream's config. */
export interface CertifySettings {
  model: string;
  threatModel: CheckedThreatModel;
  /** As requested (zero values: server defaults); the certificate records the ones used. */
  boundSettings: BoundSettings;
  /** FIXED: exactly n0 and n; SEQUENTIAL (the default): n0 and n are maxima (ALGORITHM.md section 9). */
  sampling: 'fixed' | 'sequential';
  n0: number;
  n: number;
  alpha: number;
}

export interface SettingsInput {
  model: string;
  threatModel?: ThreatModel | undefined;
  boundSettings?: BoundSettings | undefined;
  n0: bigint;
  n: bigint;
  alpha: number;
  /** UNSPECIFIED (absent, 0): SEQUENTIAL. */
  sampling?: Sampling;
  /** A named threat model (ListPresets) instead of threat_model; empty: none. */
  preset?: string;
}

function join(prefix: string, field: string): string {
  return prefix === '' ? field : `${prefix}.${field}`;
}

/**
 * The identifiers of a request's settings (Certify, or a stream's config under `prefix`), checked
 * at the edge: a 1 MB name is refused before it is parsed further or sent anywhere.
 */
export function settingsIdentifierViolations(
  given: { model: string; preset?: string; threatModel?: ThreatModel },
  prefix = '',
): Array<FieldViolation | undefined> {
  return [
    identifierViolation(given.model, join(prefix, 'model'), 'name'),
    identifierViolation(given.preset ?? '', join(prefix, 'preset'), 'name'),
    ...threatModelIdentifierViolations(given.threatModel, join(prefix, 'threat_model')),
  ];
}

/** The input of a Certify call or a stream item (`prefix` item): present, and an image not empty. */
export function checkInput(input: InputOneof, v: Violations, prefix = ''): void {
  if (input === undefined) v.add(join(prefix, 'input'), 'is required: an encoded image (PNG, JPEG, WebP) or a float32 CHW tensor');
  else if (input.$case === 'image' && input.image.length === 0) v.add(join(prefix, 'image'), 'is empty (0 bytes)');
}

/** The note of a threat model: the no-clipping caveat, plus the blur caveat when it applies. */
export function threatModelNote(spec: TransformSpec): string {
  return spec.exactlyResolvable ? NO_CLIPPING_NOTE : `${NO_CLIPPING_NOTE}; ${BLUR_NOTE}`;
}

/**
 * Checks a proto ThreatModel with the transforms' shared validator (names, duplicates, box per
 * parameter, lo <= hi, the numeric domains) plus each parameter's smoothing law (a proto enum).
 * Field names follow the proto: `threat_model.box[i]`, `threat_model.smoothing[i].sigma`.
 */
export function checkThreatModel(tm: ThreatModel | undefined, v: Violations, prefix = ''): CheckedThreatModel | undefined {
  const root = join(prefix, 'threat_model');
  if (tm === undefined) {
    v.add(root, 'is required (transform, box and smoothing)');
    return undefined;
  }
  // the shared validator: names, domains (docs/numeric-domains.md), wire paths
  const res = validateThreatModelEntries(tm, { root });
  if (!res.ok) {
    for (const { field, message } of res.violations) v.add(field, message);
    return undefined;
  }
  const { spec, lo, hi, sigma: sig } = res.value;
  const wrongLaws = smoothingLawViolations(tm, spec.key, spec.params, spec.laws, res.smoothingAt, root);
  for (const w of wrongLaws) v.add(w.field, w.description);
  if (wrongLaws.length > 0) return undefined;
  return {
    spec,
    message: {
      transform: spec.key,
      box: spec.params.map((name, i) => ({ name, min: lo[i]!, max: hi[i]! })),
      smoothing: spec.params.map((name, i) => ({ name, distribution: LAW_DISTRIBUTION[spec.laws[i]!], sigma: sig[i]! })),
      note: threatModelNote(spec),
    },
  };
}

function checkCount(value: bigint, field: string, maxN: number, v: Violations): number {
  if (value < 1n || value > BigInt(maxN)) {
    v.add(field, `must be in [1, ${maxN}] (CERTIFIER_MAX_N), got ${value}`);
    return 0;
  }
  return Number(value);
}

/** model, threat_model, bound_settings, n0, n, alpha (fields under `prefix`). */
export function checkSettings(given: SettingsInput, limits: { maxN: number }, v: Violations, prefix = ''): CertifySettings | undefined {
  const before = v.list.length;
  if (given.model.trim() === '') v.add(join(prefix, 'model'), 'is required (a model name served by the samplers)');
  // zero means the server default (proto comments, ListPresets), as for bound_settings
  const input = applyRequestDefaults(given, v, prefix);
  // a bad preset is its own violation, not also a missing threat_model
  const badPreset = input.threatModel === undefined && (given.preset ?? '') !== '';
  const threatModel = badPreset ? undefined : checkThreatModel(input.threatModel, v, prefix);
  const n0 = checkCount(input.n0, join(prefix, 'n0'), limits.maxN, v);
  const n = checkCount(input.n, join(prefix, 'n'), limits.maxN, v);
  if (!(Number.isFinite(input.alpha) && input.alpha > 0 && input.alpha < 1)) {
    v.add(join(prefix, 'alpha'), `must be in (0, 1), got ${input.alpha}`);
  }
  const sampling = input.sampling ?? Sampling.SAMPLING_UNSPECIFIED;
  if (sampling !== Sampling.SAMPLING_UNSPECIFIED && sampling !== Sampling.SAMPLING_SEQUENTIAL && sampling !== Sampling.SAMPLING_FIXED) {
    v.add(join(prefix, 'sampling'), `must be SAMPLING_FIXED, SAMPLING_SEQUENTIAL or unspecified (sequential), got ${Number(sampling)}`);
  }
  const bs = input.boundSettings;
  if (bs && (bs.ns < 0n || bs.seed < 0n)) v.add(join(prefix, 'bound_settings'), 'ns and seed must be >= 0 (0: server default)');
  if (v.list.length > before || !threatModel) return undefined;
  return {
    model: input.model,
    threatModel,
    boundSettings: {
      ns: bs?.ns ?? 0n,
      gridPoints: [...(bs?.gridPoints ?? [])],
      seed: bs?.seed ?? 0n,
      method: bs?.method || BoundMethod.BOUND_METHOD_AUTO,
    },
    sampling: sampling === Sampling.SAMPLING_FIXED ? 'fixed' : 'sequential',
    n0,
    n,
    alpha: input.alpha,
  };
}

/** n0, n, alpha of 0 replaced by the defaults; a preset replaced by its threat model (or a violation). */
export function applyRequestDefaults(input: SettingsInput, v: Violations, prefix = ''): SettingsInput {
  let threatModel = input.threatModel;
  const preset = input.preset ?? '';
  if (preset !== '') {
    const named = presetThreatModel(preset);
    if (input.threatModel !== undefined) v.add(join(prefix, 'preset'), 'and threat_model are exclusive: give one of them');
    else if (!named) v.add(join(prefix, 'preset'), `unknown preset ${preview(preset)} (ListPresets: ${PRESET_NAMES.join(', ')})`);
    else threatModel = named;
  }
  return {
    ...input,
    threatModel,
    n0: input.n0 === 0n ? BigInt(DEFAULT_N0) : input.n0,
    n: input.n === 0n ? BigInt(DEFAULT_N) : input.n,
    alpha: input.alpha === 0 ? DEFAULT_ALPHA : input.alpha,
  };
}

export function checkSeed(seed: bigint | undefined, field: string, v: Violations): void {
  if (seed !== undefined && (seed < 0n || seed > SEED_MAX)) v.add(field, `must be in [0, 2^63 - 1], got ${seed}`);
}
