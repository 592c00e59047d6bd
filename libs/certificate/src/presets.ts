// The API's defaults and named threat models: what a request may leave out (n0, n, alpha) or
// name (`preset`), in one place for the certifier, ListPresets and the CLI.
import { LAW_DISTRIBUTION, type certifyV1, type ThreatModel } from '@glcert/contracts';
import { PRESETS, TRANSFORMS, type Law, type ThreatModelSpec } from '@glcert/transforms';

/** Selection samples when a request's n0 is 0 (the paper's setting). */
export const DEFAULT_N0 = 200;
/** Estimation samples when a request's n is 0. */
export const DEFAULT_N = 1000;
/** Significance level when a request's alpha is 0. */
export const DEFAULT_ALPHA = 0.001;

/** The proto form of a threat model, parameters in the transform's order (as a request spells it). */
export function threatModelMessage(spec: ThreatModelSpec): ThreatModel {
  const t = TRANSFORMS[spec.transform];
  return {
    transform: spec.transform,
    box: t.params.map((p) => ({ name: p, min: spec.box[p]![0], max: spec.box[p]![1] })),
    smoothing: t.params.map((p, i) => ({ name: p, distribution: LAW_DISTRIBUTION[t.laws[i]!], sigma: spec.sigma[p]! })),
    note: '',
  };
}

/** Names of the presets, in their table order. */
export const PRESET_NAMES: readonly string[] = Object.keys(PRESETS);

/** The threat model of a preset, or undefined when no preset has that name. */
export function presetThreatModel(name: string): ThreatModel | undefined {
  return Object.prototype.hasOwnProperty.call(PRESETS, name) ? threatModelMessage(PRESETS[name]!) : undefined;
}

const LAW_NAME: Record<Law, string> = { normal: 'Normal', lognormal: 'LogNormal', rayleigh: 'Rayleigh' };

/** Every preset as ListPresets returns it, with a description derived from its threat model. */
export function presetMessages(): certifyV1.Preset[] {
  return PRESET_NAMES.map((name) => {
    const spec = PRESETS[name]!;
    const t = TRANSFORMS[spec.transform];
    const box = t.params.map((p) => `${p} in [${spec.box[p]![0]}, ${spec.box[p]![1]}]`).join(', ');
    const smoothing = t.params.map((p, i) => `${p} ~ ${LAW_NAME[t.laws[i]!]}(${spec.sigma[p]})`).join(', ');
    return { name, description: `${t.description}; attack ${box}; smoothing ${smoothing}`, threatModel: threatModelMessage(spec) };
  });
}
