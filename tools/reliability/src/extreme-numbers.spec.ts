// Random extreme numbers at every numeric field of Certify, GetThreshold and CountSamples, one
// field at a time (the rest a valid, cheap request), against the real services in-process.
// Whatever the value: never INTERNAL or UNKNOWN (nor a hang), a refusal names the field it
// changed, an answer is sound (no certificate or threshold below the smallest threshold a sound
// bound may give, closed-form.ts; counts that add up), and the services stay healthy.
import fc from 'fast-check';
import {
  BoundMethod,
  Distribution,
  encodeFloat32Tensor,
  Outcome,
  type BoundSettings,
  type boundsV1,
  type certifyV1,
  type samplingV1,
  type Tensor,
  type ThreatModel,
} from '@glcert/contracts';
import { decodeImage } from '@glcert/imaging';
import { checkHealth, createHealthClient, deadlineIn, type HealthClient } from '@glcert/runtime';
import { goodCertify, goodCount, goodThreshold } from './bad-input-cases';
import { settle, unary, type Answer } from './calls';
import { falseCertificate, thresholdFloor } from './closed-form';
import { digits, MNIST_CHW, png } from './fixtures';
import { startInProcess, type InProcess } from './in-process';

// ---- the values ----------------------------------------------------------------------------

const MIN_NORMAL = 2.2250738585072014e-308;
const EDGES = [
  0, -0, 5e-324, -5e-324, MIN_NORMAL, 1e-300, -1e-300, 1e-155, 1e-20, 1e-9, 1e-6, 1e6, 1e12, 1e155, 1e300, -1e300,
  Number.MAX_VALUE, -Number.MAX_VALUE, Infinity, -Infinity, NaN, 3.4e38, 3.5e38, -3.4e38, Number.EPSILON, 1 - Number.EPSILON / 2, 1 + Number.EPSILON,
  0.5, 1, -1, 2 ** 31, 2 ** 53, 709.8, -745.2,
];
/** Denormals, 1e-300, 1e300, +-max, NaN, -0, +-Infinity, domain edges, and any double at all. */
const extremeDouble = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...EDGES) },
  { weight: 2, arbitrary: fc.double() },
  { weight: 1, arbitrary: fc.double({ min: -1e-300, max: 1e-300 }) },
  { weight: 1, arbitrary: fc.oneof(fc.double({ min: 1e300, max: Number.MAX_VALUE }), fc.double({ min: -Number.MAX_VALUE, max: -1e300 })) },
);
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const extremeInt64 = fc.oneof(
  fc.constantFrom(INT64_MIN, INT64_MAX, -1n, 0n, 1n, 2n ** 31n, 2n ** 32n, 2n ** 53n + 1n, 2n ** 62n, 10n ** 9n),
  fc.bigInt({ min: INT64_MIN, max: INT64_MAX }),
);
const extremeInt32 = fc.oneof(fc.constantFrom(-(2 ** 31), 2 ** 31 - 1, -1, 0, 1, 2 ** 16, 10 ** 6), fc.integer());

// ---- the requests --------------------------------------------------------------------------

const N = Distribution.DISTRIBUTION_NORMAL;
const LN = Distribution.DISTRIBUTION_LOG_NORMAL;
const RAY = Distribution.DISTRIBUTION_RAYLEIGH;
const model = (transform: string, params: [string, Distribution, number, number, number][]): ThreatModel => ({
  transform,
  box: params.map(([name, , min, max]) => ({ name, min, max })),
  smoothing: params.map(([name, distribution, , , sigma]) => ({ name, distribution, sigma })),
  note: '',
});
/** One small valid threat model per smoothing law and shape of bound (closed form or not, 1-3 dims). */
const THREAT_MODELS: ThreatModel[] = [
  model('b', [['b', N, -0.05, 0.05, 0.3]]),
  model('c', [['k', LN, 0.9, 1.1, 0.3]]),
  model('g', [['g', RAY, 0.9, 1.1, 0.1]]),
  model('t', [['tx', N, -1, 1, 3], ['ty', N, -1, 1, 3]]),
  model('cb', [['k', LN, 0.9, 1.1, 0.3], ['b', N, -0.05, 0.05, 0.3]]),
  model('r', [['r', RAY, 0, 0.5, 2]]),
];
/** A numeric bound small enough to solve in milliseconds: the solver runs on every request. */
const settingsFor = (tm: ThreatModel, method: BoundMethod): BoundSettings => ({ ns: 2000n, gridPoints: tm.box.map(() => 3), seed: 0n, method });

/** `tm` with box[i].min, box[i].max or smoothing[i].sigma set to `v`. */
function withTmValue(tm: ThreatModel, at: number, part: 'min' | 'max' | 'sigma', v: number): ThreatModel {
  if (part === 'sigma') return { ...tm, smoothing: tm.smoothing.map((s, i) => (i === at ? { ...s, sigma: v } : s)) };
  return { ...tm, box: tm.box.map((r, i) => (i === at ? { ...r, [part]: v } : r)) };
}
const tmField = (at: number, part: 'min' | 'max' | 'sigma'): string => (part === 'sigma' ? `threat_model.smoothing[${at}].sigma` : `threat_model.box[${at}]`);

/** `t` (float32 CHW) with element `index` set to `v` (as float32: 1e300 becomes Infinity). */
function withPixel(t: Tensor, index: number, v: number): Tensor {
  const raw = Buffer.from(t.rawContents);
  raw.writeFloatLE(v, index * 4);
  return { ...t, rawContents: raw };
}
/** Every pixel `v`. */
function allPixels(t: Tensor, v: number): Tensor {
  const raw = Buffer.alloc(t.rawContents.length);
  for (let i = 0; i < raw.length; i += 4) raw.writeFloatLE(v, i);
  return { ...t, rawContents: raw };
}

/** One field changed: what it is called, the request, and the fields a refusal may name. */
interface Mutation {
  field: string;
  request: unknown;
  /** A refusal must name a field starting with one of these (the changed one, or its threat model as a whole). */
  names: string[];
}

// ---- the checks ----------------------------------------------------------------------------

/** Codes a hostile number may get; INTERNAL, UNKNOWN, UNAVAILABLE or DEADLINE_EXCEEDED are bugs. */
const ALLOWED = new Set(['OK', 'INVALID_ARGUMENT', 'RESOURCE_EXHAUSTED', 'OUT_OF_RANGE', 'FAILED_PRECONDITION']);

const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Answers per property, by code: each property must have seen answers as well as refusals. */
const seen = new Map<string, number>();

function checkRefusal(answer: Answer, m: Mutation): void {
  seen.set(answer.code, (seen.get(answer.code) ?? 0) + 1);
  if (!ALLOWED.has(answer.code)) throw new Error(`${m.field}: ${answer.code} (${answer.message.slice(0, 200)})`);
  if (answer.code === 'INVALID_ARGUMENT') {
    // the refusal names what was changed (or the threat model it sits in)
    const named = new RegExp(`^(${m.names.map(escape).join('|')})`);
    if (!answer.fields.some((f) => named.test(f))) throw new Error(`${m.field}: INVALID_ARGUMENT names [${answer.fields.join(', ')}], not ${m.names.join(' or ')}`);
  }
  // caller input is never echoed at length
  expect(answer.message.length).toBeLessThan(2000);
}

function expectBothAnswered(): void {
  const codes = Object.fromEntries(seen);
  seen.clear();
  expect(codes).toEqual(expect.objectContaining({ OK: expect.any(Number), INVALID_ARGUMENT: expect.any(Number) }));
}

describe('extreme numbers at every numeric field', () => {
  let sys: InProcess;
  let image: Buffer;
  let chw: Tensor;
  let health: HealthClient[];
  // 30 s per call: far above any legitimate answer here, far below a service left blocked
  const call = <Res>(client: keyof InProcess['clients'], method: string, request: unknown): Promise<Res> =>
    unary<Res>(sys.clients[client], method, request, { deadline: deadlineIn(30_000) });

  beforeAll(async () => {
    sys = await startInProcess();
    image = png(digits().find((d) => d.label === 3)!.file);
    const decoded = await decodeImage(image, { channels: 1, height: 28, width: 28 });
    chw = encodeFloat32Tensor(decoded.tensor, MNIST_CHW);
    health = [sys.certifier, sys.sampler, sys.bounds, sys.verifier, sys.inference].map((s) => createHealthClient(s.address));
  });

  afterAll(async () => {
    for (const h of health ?? []) h.close();
    await sys?.close();
  });

  /** Every service SERVING, and a good Certify certifies (whatever came before). */
  async function healthy(): Promise<void> {
    for (const h of health) expect(await checkHealth(h, '', 5_000)).toBe('SERVING');
    const res = await call<certifyV1.CertifyResponse>('certifier', 'certify', goodCertify({ png: image }));
    expect(res.certificate?.outcome).toBe(Outcome.OUTCOME_CERTIFIED);
  }

  /**
   * One run: a transform, one extreme double and one extreme integer; every numeric field of the
   * request gets the value in turn (one request per field, the rest valid).
   */
  const run = fc.record({
    t: fc.nat({ max: THREAT_MODELS.length - 1 }),
    m: fc.constantFrom(BoundMethod.BOUND_METHOD_AUTO, BoundMethod.BOUND_METHOD_NUMERIC),
    v: extremeDouble,
    i64: extremeInt64,
    i32: extremeInt32,
    at: fc.nat({ max: 783 }),
  });
  type Run = typeof run extends fc.Arbitrary<infer R> ? R : never;
  const T = (key: string): number => THREAT_MODELS.findIndex((tm) => tm.transform === key);
  /** The values that once broke a service (issue 11), always tried first. */
  const EXAMPLES: [Run][] = (
    [
      ['b', 1e-300],
      ['c', 1e-300],
      ['t', 1e-300],
      ['b', 1e300],
      ['c', 1e3],
      ['b', 1.7e308],
      ['c', 3.4e38],
      ['r', 1e300],
      ['r', 1e12],
      ['r', 1e-300],
      ['g', 5e-324],
    ] as const
  ).map(([key, v]) => [{ t: T(key), m: BoundMethod.BOUND_METHOD_AUTO, v, i64: -1n, i32: -1, at: 300 }]);

  /** The threat-model fields of `tm` set to `v` one at a time. */
  function* tmMutations<R>(tm: ThreatModel, v: number, build: (tm: ThreatModel) => R): Generator<Mutation & { tm: ThreatModel }> {
    for (let i = 0; i < tm.box.length; i++) {
      for (const part of ['min', 'max', 'sigma'] as const) {
        const changed = withTmValue(tm, i, part, v);
        const field = tmField(i, part);
        yield { field: `${tm.transform} ${field}${part === 'sigma' ? '' : `.${part}`} = ${v}`, request: build(changed), names: [field, 'threat_model'], tm: changed };
      }
    }
  }

  // ---- Certify -------------------------------------------------------------------------------

  function* certifyMutations(r: Run): Generator<Mutation> {
    const tm = THREAT_MODELS[r.t]!;
    const base = (over: Partial<certifyV1.CertifyRequest> = {}, t: ThreatModel = tm): certifyV1.CertifyRequest =>
      // n = 30 still certifies (pA >= 0.858 against thresholds near 0.57), in a third of the time
      goodCertify({ png: image }, { threatModel: t, boundSettings: settingsFor(t, r.m), n0: 10n, n: 30n, ...over });
    yield* tmMutations(tm, r.v, (t) => base({}, t));
    yield { field: `alpha = ${r.v}`, request: base({ alpha: r.v }), names: ['alpha'] };
    yield { field: `${tm.transform} pixel ${r.at} = ${r.v}`, request: base({ input: { $case: 'tensor', tensor: withPixel(chw, r.at, r.v) } }), names: ['tensor.raw_contents'] };
    yield { field: `${tm.transform} every pixel = ${r.v}`, request: base({ input: { $case: 'tensor', tensor: allPixels(chw, r.v) } }), names: ['tensor.raw_contents'] };
    for (const f of ['n0', 'n', 'seed'] as const) yield { field: `${f} = ${r.i64}`, request: base({ [f]: r.i64 }), names: [f] };
    const bs = settingsFor(tm, r.m);
    // bound_settings as a whole is an acceptable name for one of its fields
    yield { field: `${tm.transform} bound_settings.ns = ${r.i64}`, request: base({ boundSettings: { ...bs, ns: r.i64 } }), names: ['bound_settings'] };
    yield { field: `${tm.transform} bound_settings.seed = ${r.i64}`, request: base({ boundSettings: { ...bs, seed: r.i64 } }), names: ['bound_settings'] };
    yield { field: `${tm.transform} bound_settings.grid_points = ${r.i32}`, request: base({ boundSettings: { ...bs, gridPoints: tm.box.map(() => r.i32) } }), names: ['bound_settings'] };
  }

  it('Certify: no INTERNAL, refusals name the field, no certificate below the threshold floor', async () => {
    await fc.assert(
      fc.asyncProperty(run, async (r) => {
        for (const m of certifyMutations(r)) {
          const { answer, response } = await settle(call<certifyV1.CertifyResponse>('certifier', 'certify', m.request));
          checkRefusal(answer, m);
          if (answer.code !== 'OK') continue;
          const cert = response!.certificate!;
          const wrong = falseCertificate(cert);
          if (wrong) throw new Error(`${m.field}: ${wrong}`);
          expect(cert.paLower).toBeGreaterThanOrEqual(0);
          expect(cert.paLower).toBeLessThanOrEqual(1);
          if (cert.outcome === Outcome.OUTCOME_CERTIFIED) expect(cert.paLower).toBeGreaterThan(cert.threshold);
        }
      }),
      { numRuns: 12, examples: EXAMPLES },
    );
    expectBothAnswered();
    await healthy();
  });

  // ---- GetThreshold --------------------------------------------------------------------------

  function* thresholdMutations(r: Run): Generator<Mutation & { tm: ThreatModel }> {
    const tm = THREAT_MODELS[r.t]!;
    const base = (t: ThreatModel, bs: BoundSettings = settingsFor(t, r.m)): boundsV1.GetThresholdRequest => goodThreshold({ threatModel: t, boundSettings: bs });
    yield* tmMutations(tm, r.v, (t) => base(t));
    const bs = settingsFor(tm, BoundMethod.BOUND_METHOD_NUMERIC);
    yield { field: `${tm.transform} bound_settings.ns = ${r.i64}`, request: base(tm, { ...bs, ns: r.i64 }), names: ['bound_settings'], tm };
    yield { field: `${tm.transform} bound_settings.seed = ${r.i64}`, request: base(tm, { ...bs, seed: r.i64 }), names: ['bound_settings'], tm };
    yield { field: `${tm.transform} bound_settings.grid_points = ${r.i32}`, request: base(tm, { ...bs, gridPoints: tm.box.map(() => r.i32) }), names: ['bound_settings'], tm };
  }

  it('GetThreshold: no INTERNAL, refusals name the field, no threshold below the floor or outside [1/2, 1]', async () => {
    await fc.assert(
      fc.asyncProperty(run, async (r) => {
        for (const m of thresholdMutations(r)) {
          const { answer, response } = await settle(call<boundsV1.GetThresholdResponse>('bounds', 'getThreshold', m.request));
          checkRefusal(answer, m);
          if (answer.code !== 'OK') continue;
          const t = response!.bound!.threshold;
          const cf = thresholdFloor(m.tm);
          if (!(t >= 0.5 && t <= 1)) throw new Error(`${m.field}: threshold ${t} outside [1/2, 1]`);
          if (cf !== undefined && t < cf - 1e-9) throw new Error(`${m.field}: threshold ${t} below the floor ${cf}`);
        }
      }),
      { numRuns: 25, examples: EXAMPLES },
    );
    expectBothAnswered();
    await healthy();
  });

  // ---- CountSamples --------------------------------------------------------------------------

  const SAMPLES = 20n;
  function* countMutations(r: Run): Generator<Mutation> {
    const tm = THREAT_MODELS[r.t]!;
    const base = (over: Partial<samplingV1.CountSamplesRequest> = {}, t: ThreatModel = tm): samplingV1.CountSamplesRequest =>
      goodCount({ chw }, { threatModel: t, startIndex: 0n, endIndex: SAMPLES, ...over });
    yield* tmMutations(tm, r.v, (t) => base({}, t));
    yield { field: `${tm.transform} pixel ${r.at} = ${r.v}`, request: base({ image: withPixel(chw, r.at, r.v) }), names: ['image.raw_contents'] };
    yield { field: `${tm.transform} every pixel = ${r.v}`, request: base({ image: allPixels(chw, r.v) }), names: ['image.raw_contents'] };
    // a bad start or end may be named by either end of the range
    yield { field: `seed = ${r.i64}`, request: base({ seed: r.i64 }), names: ['seed'] };
    yield { field: `start_index = ${r.i64}`, request: base({ startIndex: r.i64 }), names: ['start_index', 'end_index'] };
    yield { field: `end_index = ${r.i64}`, request: base({ endIndex: r.i64 }), names: ['start_index', 'end_index'] };
    yield { field: `stream = ${r.i32}`, request: base({ stream: r.i32 }), names: ['stream'] };
    yield { field: `batch_size = ${r.i32}`, request: base({ batchSize: r.i32 }), names: ['batch_size'] };
  }

  it('CountSamples: no INTERNAL, refusals name the field, counts add up', async () => {
    await fc.assert(
      fc.asyncProperty(run, async (r) => {
        for (const m of countMutations(r)) {
          const req = m.request as samplingV1.CountSamplesRequest;
          const { answer, response } = await settle(call<samplingV1.CountSamplesResponse>('sampler', 'countSamples', req));
          checkRefusal(answer, m);
          if (answer.code !== 'OK') continue;
          const total = req.endIndex - req.startIndex;
          if (response!.samplesCount !== total) throw new Error(`${m.field}: ${response!.samplesCount} samples counted, ${total} asked`);
          expect(response!.classCounts.reduce((a, b) => a + b, 0n)).toBe(total);
        }
      }),
      { numRuns: 30, examples: EXAMPLES },
    );
    expectBothAnswered();
    await healthy();
  });

  it('no extreme number was logged as an internal error', () => {
    expect(sys.errors.filter((l) => /internal error/.test(l))).toEqual([]);
  });
});
