import { PRESETS, getPreset, validateThreatModel } from './threat-model';
import { TRANSFORMS } from './transform-spec';

describe('validateThreatModel', () => {
  it.each(Object.keys(PRESETS).map((k) => [k]))('preset %s is valid', (name) => {
    const res = validateThreatModel(PRESETS[name]);
    expect(res.ok).toBe(true);
    if (res.ok) {
      const { spec, lo, hi, sigma } = res.value;
      expect(spec).toBe(TRANSFORMS[PRESETS[name].transform]);
      expect(lo).toHaveLength(spec.params.length);
      expect(hi).toHaveLength(spec.params.length);
      expect(sigma).toHaveLength(spec.params.length);
    }
  });

  it('normalizes to params order and keeps the paper settings', () => {
    const cb = getPreset('contrast-brightness');
    expect(cb.transform).toBe('cb');
    expect(cb.lo).toEqual([0.6, -0.4]);
    expect(cb.hi).toEqual([1.4, 0.4]);
    expect(cb.sigma).toEqual([0.3, 0.3]);
    expect(getPreset('brightness')).toMatchObject({ lo: [-0.4], hi: [0.4], sigma: [0.3] });
    expect(getPreset('contrast')).toMatchObject({ lo: [0.6], hi: [1.4], sigma: [0.3] });
    expect(getPreset('gamma')).toMatchObject({ lo: [0.5], hi: [2], sigma: [0.1] });
    expect(getPreset('translation')).toMatchObject({ lo: [-3, -3], hi: [3, 3], sigma: [3, 3] });
    expect(getPreset('translation-cifar')).toMatchObject({ lo: [-14, -14], hi: [14, 14], sigma: [15, 15] });
    expect(getPreset('blur')).toMatchObject({ transform: 'r', lo: [0], hi: [2], sigma: [2] });
    const gc = validateThreatModel({ transform: 'gc', box: { k: [0.8, 1.2], g: [0.7, 1.5] }, sigma: { k: 0.3, g: 0.1 } });
    expect(gc).toMatchObject({ ok: true, value: { lo: [0.7, 0.8], hi: [1.5, 1.2], sigma: [0.1, 0.3] } });
    expect(() => getPreset('nope')).toThrow(/'nope'/);
  });

  const good = () => ({ transform: 'cbt', box: { k: [0.6, 1.4], b: [-0.4, 0.4], tx: [-3, 3], ty: [0, 0] }, sigma: { k: 0.3, b: 0.3, tx: 3, ty: 3 } }) as Record<string, unknown> & {
    box: Record<string, unknown>;
    sigma: Record<string, unknown>;
  };

  const cases: [string, (m: ReturnType<typeof good>) => unknown, string][] = [
    ['not an object', () => 42, 'threat_model'],
    ['null', () => null, 'threat_model'],
    ['an array', () => [], 'threat_model'],
    ['unknown top-level field', (m) => ({ ...m, extra: 1 }), 'threat_model.extra'],
    ['unknown transform', (m) => ({ ...m, transform: 'zoom' }), 'threat_model.transform'],
    ['missing transform', (m) => ({ box: m.box, sigma: m.sigma }), 'threat_model.transform'],
    ['box not an object', (m) => ({ ...m, box: [[0, 1]] }), 'threat_model.box'],
    ['sigma not an object', (m) => ({ ...m, sigma: 0.3 }), 'threat_model.sigma'],
    ['unknown box name', (m) => ({ ...m, box: { ...m.box, g: [1, 2] } }), 'threat_model.box.g'],
    ['unknown sigma name', (m) => ({ ...m, sigma: { ...m.sigma, r: 1 } }), 'threat_model.sigma.r'],
    ['missing box entry', (m) => ({ ...m, box: { k: [0.6, 1.4], b: [-0.4, 0.4], tx: [-3, 3] } }), 'threat_model.box.ty'],
    ['missing sigma entry', (m) => ({ ...m, sigma: { k: 0.3, tx: 3, ty: 3 } }), 'threat_model.sigma.b'],
    ['box entry not a pair', (m) => ({ ...m, box: { ...m.box, b: [0.4] } }), 'threat_model.box.b'],
    ['box entry with strings', (m) => ({ ...m, box: { ...m.box, b: ['-0.4', '0.4'] } }), 'threat_model.box.b'],
    ['lo > hi', (m) => ({ ...m, box: { ...m.box, b: [0.4, -0.4] } }), 'threat_model.box.b'],
    ['non-finite bound', (m) => ({ ...m, box: { ...m.box, b: [-Infinity, 0.4] } }), 'threat_model.box.b'],
    ['NaN bound', (m) => ({ ...m, box: { ...m.box, k: [0.6, NaN] } }), 'threat_model.box.k'],
    ['k out of domain', (m) => ({ ...m, box: { ...m.box, k: [0, 1.4] } }), 'threat_model.box.k'],
    ['non-integer translation', (m) => ({ ...m, box: { ...m.box, tx: [-2.5, 3] } }), 'threat_model.box.tx'],
    ['zero sigma', (m) => ({ ...m, sigma: { ...m.sigma, tx: 0 } }), 'threat_model.sigma.tx'],
    ['negative sigma', (m) => ({ ...m, sigma: { ...m.sigma, k: -0.3 } }), 'threat_model.sigma.k'],
    ['infinite sigma', (m) => ({ ...m, sigma: { ...m.sigma, b: Infinity } }), 'threat_model.sigma.b'],
    ['string sigma', (m) => ({ ...m, sigma: { ...m.sigma, ty: '3' } }), 'threat_model.sigma.ty'],
  ];

  it('accepts the base case used below', () => {
    expect(validateThreatModel(good()).ok).toBe(true);
  });

  it.each(cases)('rejects %s naming the field', (_name, mutate, field) => {
    const res = validateThreatModel(mutate(good()));
    expect(res.ok).toBe(false);
    if (!res.ok) {
      expect(res.field).toBe(field);
      expect(res.message.length).toBeGreaterThan(0);
    }
  });

  it('rejects domain violations of gamma and blur boxes', () => {
    expect(validateThreatModel({ transform: 'g', box: { g: [-1, 2] }, sigma: { g: 0.1 } })).toMatchObject({ ok: false, field: 'threat_model.box.g' });
    expect(validateThreatModel({ transform: 'r', box: { r: [-1, 2] }, sigma: { r: 2 } })).toMatchObject({ ok: false, field: 'threat_model.box.r' });
    expect(validateThreatModel({ transform: 'r', box: { r: [0, 0] }, sigma: { r: 2 } }).ok).toBe(true);
  });
});
