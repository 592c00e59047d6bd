import { applyTransformBatch } from './apply';
import {
  NORMAL_ABS_MAX,
  PARAM_DOMAINS,
  PIXEL_ABS_MAX,
  PRESETS,
  SIGMA_MIN,
  getPreset,
  imageValueProblem,
  RESOLVED_DOMAINS,
  resolvedParamsProblem,
  validateThreatModel,
  validateThreatModelEntries,
} from './threat-model';
import { TRANSFORMS, TRANSFORM_KEYS, type ParamName } from './transform-spec';

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

describe('numeric domains (issue 11, finding 5)', () => {
  const one = (transform: string, name: string, lo: number, hi: number, sigma: number) => ({ transform, box: { [name]: [lo, hi] }, sigma: { [name]: sigma } });

  it.each([
    ['brightness sigma 1e300', one('b', 'b', -0.4, 0.4, 1e300), 'threat_model.sigma.b'],
    ['contrast sigma 1e3 (exp(1e3 z) = Infinity)', one('c', 'k', 0.6, 1.4, 1e3), 'threat_model.sigma.k'],
    ['box b +-1.7e308', one('b', 'b', -1.7e308, 1.7e308, 0.3), 'threat_model.box.b'],
    ['blur sigma 1e-300', one('r', 'r', 0, 2, 1e-300), 'threat_model.sigma.r'],
    ['blur sigma 1e300', one('r', 'r', 0, 2, 1e300), 'threat_model.sigma.r'],
    ['blur sigma 1e12', one('r', 'r', 0, 2, 1e12), 'threat_model.sigma.r'],
    ['denormal sigma', one('b', 'b', -0.4, 0.4, 5e-324), 'threat_model.sigma.b'],
    ['gamma sigma 10', one('g', 'g', 0.5, 2, 10), 'threat_model.sigma.g'],
    ['contrast 1e-300', one('c', 'k', 1e-300, 1, 0.3), 'threat_model.box.k'],
    ['gamma 1e300', one('g', 'g', 1, 1e300, 0.1), 'threat_model.box.g'],
    ['translation 1e15', { transform: 't', box: { tx: [-1e15, 1e15], ty: [0, 0] }, sigma: { tx: 1, ty: 1 } }, 'threat_model.box.tx'],
  ])('rejects %s naming the field', (_name, tm, field) => {
    const res = validateThreatModel(tm);
    expect(res).toMatchObject({ ok: false, field });
    if (!res.ok) expect(res.message).toMatch(/must be/);
  });

  it('accepts every corner of every domain and refuses just outside it', () => {
    for (const key of TRANSFORM_KEYS) {
      const spec = TRANSFORMS[key];
      for (const p of spec.params) {
        const d = PARAM_DOMAINS[p];
        const base = { transform: key, box: {} as Record<string, number[]>, sigma: {} as Record<string, number> };
        for (const q of spec.params) {
          base.box[q] = [PARAM_DOMAINS[q].lo, PARAM_DOMAINS[q].hi];
          base.sigma[q] = PARAM_DOMAINS[q].sigmaMax;
        }
        expect(validateThreatModel(base)).toMatchObject({ ok: true });
        expect(validateThreatModel({ ...base, sigma: { ...base.sigma, [p]: SIGMA_MIN } })).toMatchObject({ ok: true });
        const bigger = d.hi + Math.max(1, Math.abs(d.hi)) * 1e-9;
        const smaller = d.lo - Math.max(1e-9, Math.abs(d.lo) * 1e-9);
        expect(validateThreatModel({ ...base, box: { ...base.box, [p]: [d.lo, bigger] } })).toMatchObject({ ok: false, field: `threat_model.box.${p}` });
        expect(validateThreatModel({ ...base, box: { ...base.box, [p]: [smaller, d.hi] } })).toMatchObject({ ok: false, field: `threat_model.box.${p}` });
        expect(validateThreatModel({ ...base, sigma: { ...base.sigma, [p]: d.sigmaMax * (1 + 1e-9) } })).toMatchObject({ ok: false, field: `threat_model.sigma.${p}` });
        expect(validateThreatModel({ ...base, sigma: { ...base.sigma, [p]: SIGMA_MIN * (1 - 1e-9) } })).toMatchObject({ ok: false, field: `threat_model.sigma.${p}` });
      }
    }
  });

  it('NORMAL_ABS_MAX is the largest Box-Muller radius of the generator (u >= 2^-54)', () => {
    expect(NORMAL_ABS_MAX).toBeCloseTo(Math.sqrt(-2 * Math.log(2 ** -54)), 12);
    expect(NORMAL_ABS_MAX).toBeGreaterThan(8.65);
  });

  // the value grid the arithmetic is checked on: every domain corner of every field
  const corners = (p: ParamName): number[] => {
    const d = PARAM_DOMAINS[p];
    return [...new Set([d.lo, d.hi, p === 'k' || p === 'g' ? 1 : 0, Math.max(d.lo, Math.min(d.hi, 1e-3))])];
  };
  const sigmaCorners = (p: ParamName): number[] => [SIGMA_MIN, PARAM_DOMAINS[p].sigmaMax];
  function* product(lists: number[][]): Generator<number[]> {
    if (lists.length === 0) {
      yield [];
      return;
    }
    for (const head of lists[0]!) for (const rest of product(lists.slice(1))) yield [head, ...rest];
  }

  it.each(TRANSFORM_KEYS.map((k) => [k]))('%s: resolve and score stay finite in float64 over the whole domain, even at |z| = 40', (key) => {
    const spec = TRANSFORMS[key];
    const m = spec.normalsPerSample;
    // all sign/size combinations; with 4 normals the extremes only (keeps the grid ~3e5 points)
    const zs = m >= 4 ? [40, -40, 1e-8] : [40, -40, NORMAL_ABS_MAX, -NORMAL_ABS_MAX, 1e-8, 0.5];
    const y = new Float64Array(spec.params.length);
    const g = new Float64Array(spec.params.length);
    let checked = 0;
    for (const beta of product(spec.params.map(corners))) {
      for (const sigma of product(spec.params.map(sigmaCorners))) {
        for (const zv of product(Array.from({ length: m }, () => zs))) {
          spec.resolve(beta, sigma, zv, y);
          spec.score(beta, sigma, zv, g);
          for (let i = 0; i < y.length; i++) {
            if (!Number.isFinite(y[i]!) || !Number.isFinite(g[i]!) || !Number.isFinite(g[i]! * g[i]! * 1e7)) {
              throw new Error(`${key} beta ${beta} sigma ${sigma} z ${zv}: y ${Array.from(y)} score ${Array.from(g)}`);
            }
          }
          checked++;
        }
      }
    }
    expect(checked).toBeGreaterThan(0);
  });

  it.each(TRANSFORM_KEYS.map((k) => [k]))('%s: the sampled transforms of any image in the pixel domain stay well inside float32', (key) => {
    const spec = TRANSFORMS[key];
    const m = spec.normalsPerSample;
    const shape = { channels: 1, height: 3, width: 4 };
    const image = Float32Array.from([PIXEL_ABS_MAX, -PIXEL_ABS_MAX, 1, -1, 1e-3, 0, 2.5e-45, -3e-8, 255, 0.5, -17, 999]);
    const zs = [NORMAL_ABS_MAX, -NORMAL_ABS_MAX, 1e-8];
    const identity = spec.identity;
    const y = new Float64Array(spec.params.length);
    const out = new Float32Array(image.length);
    for (const sigma of product(spec.params.map(sigmaCorners))) {
      for (const zv of product(Array.from({ length: m }, () => zs))) {
        // the sampler's Rayleigh pairs share one Box-Muller radius <= NORMAL_ABS_MAX
        const z = zv.slice();
        if (spec.laws.includes('rayleigh') && Math.hypot(z[0]!, z[1]!) > NORMAL_ABS_MAX) z[1] = 0;
        spec.resolve(identity, sigma, z, y);
        applyTransformBatch(key, image, shape, y, 1, out);
        for (let i = 0; i < out.length; i++) {
          if (!(Math.abs(out[i]!) < 1e34)) throw new Error(`${key} sigma ${sigma} z ${z}: y ${Array.from(y)} -> out[${i}] = ${out[i]}`);
        }
      }
    }
  });

  it.each(TRANSFORM_KEYS.map((k) => [k]))('%s: every parameter the sampler draws lies in RESOLVED_DOMAINS (what the sidecar builds from)', (key) => {
    const spec = TRANSFORMS[key];
    const m = spec.normalsPerSample;
    const zs = [NORMAL_ABS_MAX, -NORMAL_ABS_MAX, NORMAL_ABS_MAX / Math.SQRT2, 1e-8, 0];
    const y = new Float64Array(spec.params.length);
    for (const sigma of product(spec.params.map(sigmaCorners))) {
      for (const zv of product(Array.from({ length: m }, () => zs))) {
        const z = zv.slice();
        if (spec.laws.includes('rayleigh') && Math.hypot(z[0]!, z[1]!) > NORMAL_ABS_MAX) z[1] = 0;
        // a Rayleigh radius of exactly 0 gives g = 0, which no transform takes (the generator never draws it)
        if (spec.laws.includes('rayleigh') && z[0] === 0 && z[1] === 0) z[0] = 1e-8;
        spec.resolve(spec.identity, sigma, z, y);
        const problem = resolvedParamsProblem(key, y);
        if (problem) throw new Error(`${key} sigma ${sigma} z ${z}: ${problem.message}`);
      }
    }
  });

  it.each(TRANSFORM_KEYS.map((k) => [k]))('%s: every corner of RESOLVED_DOMAINS gives finite float32 pixels on the pixel domain, and just outside is refused', (key) => {
    const spec = TRANSFORMS[key];
    const shape = { channels: 1, height: 3, width: 4 };
    const image = Float32Array.from([PIXEL_ABS_MAX, -PIXEL_ABS_MAX, 1, -1, 1e-3, 0, 2.5e-45, -3e-8, 255, 0.5, -17, 999]);
    const out = new Float32Array(image.length);
    const lowest = (p: ParamName): number => (RESOLVED_DOMAINS[p].openLo ? Number.MIN_VALUE : RESOLVED_DOMAINS[p].lo);
    const grid = (p: ParamName): number[] => [lowest(p), RESOLVED_DOMAINS[p].hi, Math.min(RESOLVED_DOMAINS[p].hi, 1)];
    for (const row of product(spec.params.map(grid))) {
      const y = Float64Array.from(row);
      expect(resolvedParamsProblem(key, y)).toBeNull();
      applyTransformBatch(key, image, shape, y, 1, out);
      for (let i = 0; i < out.length; i++) {
        if (!Number.isFinite(out[i]!)) throw new Error(`${key} y ${row} -> out[${i}] = ${out[i]}`);
      }
    }
    spec.params.forEach((p, i) => {
      const d = RESOLVED_DOMAINS[p];
      const inside = spec.params.map((q) => Math.min(RESOLVED_DOMAINS[q].hi, 1));
      for (const v of [d.hi * (1 + 1e-9), d.openLo ? d.lo : d.lo - Math.max(1e-9, Math.abs(d.lo) * 1e-9), NaN, Infinity]) {
        const bad = Float64Array.from([...inside, ...inside]);
        bad[spec.params.length + i] = v;
        const problem = resolvedParamsProblem(key, bad);
        expect(problem).toMatchObject({ index: spec.params.length + i });
        expect(problem!.message).toContain(`${p} of transform 1 must be in`);
      }
    });
    expect(resolvedParamsProblem(key, new Float64Array(0))).not.toBeNull();
    if (spec.params.length > 1) expect(resolvedParamsProblem(key, new Float64Array(spec.params.length + 1).fill(0.5))!.message).toMatch(/N x \d/);
  });

  it('imageValueProblem refuses non-finite and out-of-range pixels, naming the first', () => {
    expect(imageValueProblem(Float32Array.from([0, 1, -PIXEL_ABS_MAX, PIXEL_ABS_MAX]))).toBeNull();
    expect(imageValueProblem(Float32Array.from([0, 3.4e38, NaN]))).toMatchObject({ index: 1 });
    expect(imageValueProblem(Float32Array.from([0, 0, NaN]))).toMatchObject({ index: 2 });
    expect(imageValueProblem(Float32Array.from([-Infinity]))!.message).toMatch(/element 0 is -Infinity/);
    expect(imageValueProblem([PIXEL_ABS_MAX * 1.001])).not.toBeNull();
  });
});

describe('validateThreatModelEntries (wire form)', () => {
  const box = [
    { name: 'k', min: 0.6, max: 1.4 },
    { name: 'b', min: -0.4, max: 0.4 },
  ];
  const smoothing = [
    { name: 'b', sigma: 0.3 },
    { name: 'k', sigma: 0.3 },
  ];

  it('puts the entries in parameter order and says where each came from', () => {
    const res = validateThreatModelEntries({ transform: 'cb', box, smoothing });
    expect(res).toMatchObject({ ok: true, value: { lo: [0.6, -0.4], hi: [1.4, 0.4], sigma: [0.3, 0.3] }, boxAt: [0, 1], smoothingAt: [1, 0] });
  });

  it.each(['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf'])('refuses a box or smoothing entry named %s (finding 7)', (name) => {
    const extraBox = validateThreatModelEntries({ transform: 'cb', box: [...box, { name, min: 0, max: 1 }], smoothing });
    expect(extraBox).toEqual({ ok: false, violations: [{ field: 'threat_model.box[2].name', message: expect.stringMatching(/unknown parameter/) }] });
    const extraSmoothing = validateThreatModelEntries({ transform: 'cb', box, smoothing: [{ name, sigma: 0.3 }, ...smoothing] });
    expect(extraSmoothing).toEqual({ ok: false, violations: [{ field: 'threat_model.smoothing[0].name', message: expect.stringMatching(/unknown parameter/) }] });
    // as the only entry too: nothing may alias a real parameter's value
    const only = validateThreatModelEntries({ transform: 'b', box: [{ name, min: -0.1, max: 0.1 }], smoothing: [{ name: 'b', sigma: 0.3 }] });
    expect(only).toMatchObject({ ok: false, violations: [{ field: 'threat_model.box[0].name' }] });
    expect(Object.prototype).not.toHaveProperty('b');
  });

  it('a JSON object with an own __proto__ key is refused by validateThreatModel as well', () => {
    const tm = JSON.parse('{"transform":"b","box":{"b":[-0.1,0.1],"__proto__":[0,1]},"sigma":{"b":0.3}}');
    expect(validateThreatModel(tm)).toMatchObject({ ok: false, field: 'threat_model.box.__proto__' });
  });

  it('names wire paths: repeated names, domains, missing entries, the root', () => {
    expect(validateThreatModelEntries({ transform: 'cb', box: [...box, box[0]!], smoothing })).toMatchObject({
      ok: false,
      violations: [{ field: 'threat_model.box[2].name' }],
    });
    expect(validateThreatModelEntries({ transform: 'cb', box, smoothing: [smoothing[0]!, { name: 'k', sigma: 1e3 }] }, { root: 'config.threat_model' })).toMatchObject({
      ok: false,
      violations: [{ field: 'config.threat_model.smoothing[1].sigma', message: expect.stringMatching(/^k: must be a finite number in/) }],
    });
    expect(validateThreatModelEntries({ transform: 'cb', box: [box[0]!, { name: 'b', min: -1.7e308, max: 1.7e308 }], smoothing })).toMatchObject({
      ok: false,
      violations: [{ field: 'threat_model.box[1]' }],
    });
    expect(validateThreatModelEntries({ transform: 'cb', box: [box[0]!], smoothing })).toMatchObject({ ok: false, violations: [{ field: 'threat_model.box' }] });
    expect(validateThreatModelEntries({ transform: 'cb', box, smoothing: [smoothing[1]!] })).toMatchObject({ ok: false, violations: [{ field: 'threat_model.smoothing' }] });
    expect(validateThreatModelEntries({ transform: 'x'.repeat(5000), box, smoothing })).toMatchObject({ ok: false, violations: [{ field: 'threat_model.transform' }] });
    const long = validateThreatModelEntries({ transform: 'x'.repeat(5000), box, smoothing });
    if (!long.ok) expect(long.violations[0]!.message.length).toBeLessThan(200);
  });

  it('boxOptional: no box is fine (the sampler), a given box is still checked', () => {
    expect(validateThreatModelEntries({ transform: 'cb', box: [], smoothing }, { boxOptional: true })).toMatchObject({ ok: true, value: { lo: [], hi: [] }, boxAt: [] });
    expect(validateThreatModelEntries({ transform: 'cb', box: [], smoothing })).toMatchObject({ ok: false, violations: [{ field: 'threat_model.box' }] });
    expect(validateThreatModelEntries({ transform: 'cb', box: [box[0]!], smoothing }, { boxOptional: true })).toMatchObject({ ok: false });
  });
});
