// Empirical attack on the real model (issue 7 part 3, second bullet), in process, no gRPC:
// models/mnist-cnn/model.onnx through onnxruntime-node, held-out images from data/mnist-test.
//
// 1. Certify every image locally with the maths of the service (ALGORITHM.md section 6):
//    selection n0 samples (stream 0) -> cA, estimation n samples (stream 1) -> nA,
//    pA = Clopper-Pearson lower bound at alpha, threshold h* from `solveBound` (the portfolio),
//    CERTIFIED iff pA > max(h*, 1/2). Samples: @glcert/stats fillNormals, resolved at the
//    identity (spec.resolve(beta0, sigma, z)) and applied with @glcert/transforms
//    applyTransformBatch, exactly as the sampler does.
// 2. Attack every certified image: for each point beta1 of a grid over the certified box
//    (corners included, the identity skipped), the attacked image phi(x, beta1), then the smoothed
//    classifier on top of it (smoothing resolved at the identity, as for any input) with a large
//    sample. Corners are evaluated with --attack-n samples (stream 4); interior points are
//    screened with --screen-n samples (stream 3) and re-evaluated with --attack-n when they look
//    worse than the corners. The smoothed prediction CHANGES when the class with the most votes
//    differs from cA; SIGNIFICANTLY when the Clopper-Pearson upper bound (1e-3) of P(cA) is below
//    the lower bound of the runner-up. A sound certificate fails with probability <= alpha.
// 3. The same for the box of the public reference implementation at the same threshold: its
//    bound certifies about twice the radius (ALGORITHM.md section 8): b in +-0.8 for brightness,
//    ln k doubled (k in [0.36, 1.96]) for contrast.
// 4. Per-image radius (closed-form presets b, c): the largest box this image's pA certifies,
//    R = sigma Phi^-1(pA) in b or ln k (Cohen et al.), and the reference implementation's 2R.
//    Corners only (the smoothed prediction is monotone enough along one axis to make them the
//    natural worst case), --attack-n samples each.
//
//   node --import tsx tools/soundness/attack.ts [--images 100] [--n 1000] [--n0 200]
//     [--attack-n 10000] [--screen-n 1000] [--grid 5] [--alpha 0.001] [--seed 0]
//     [--presets brightness,contrast] [--json]
//
// Any preset of @glcert/transforms works (e.g. --presets translation: MNIST shifts, sigma 3 px,
// box +-3 px, reference box +-6 px; integer axes are attacked on integers).

import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';

import * as ort from 'onnxruntime-node';

import { certifies, solveBound } from '@glcert/bounds';
import type { BoundRequest } from '@glcert/bounds';
import { decodeImage, readImageFolder } from '@glcert/imaging';
import { clopperPearsonLower, clopperPearsonUpper, fillNormals, normalQuantile } from '@glcert/stats';
import { applyTransformBatch, getPreset, PRESETS, TransformScratch } from '@glcert/transforms';
import type { ImageShape, TransformSpec } from '@glcert/transforms';

const ROOT = resolve(__dirname, '../..');
const MODEL = join(ROOT, 'models/mnist-cnn/model.onnx');
const DATA = join(ROOT, 'data/mnist-test');
const SHAPE: ImageShape = { channels: 1, height: 28, width: 28 };
const PIXELS = 28 * 28;
const CLASSES = 10;
const STREAM_SELECTION = 0;
const STREAM_ESTIMATION = 1;
const STREAM_SCREEN = 3;
const STREAM_ATTACK = 4;

interface Args {
  images: number;
  n: number;
  n0: number;
  attackN: number;
  screenN: number;
  grid: number;
  alpha: number;
  seed: bigint;
  presets: string[];
  batch: number;
  json: boolean;
}

function parseArgs(argv: string[]): Args {
  const get = (name: string, fallback: string) => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 && i + 1 < argv.length ? argv[i + 1] : fallback;
  };
  const attackN = Number(get('attack-n', '10000'));
  return {
    images: Number(get('images', '100')),
    n: Number(get('n', '1000')),
    n0: Number(get('n0', '200')),
    attackN,
    screenN: Number(get('screen-n', String(Math.max(200, Math.round(attackN / 10))))),
    grid: Number(get('grid', '5')),
    alpha: Number(get('alpha', '0.001')),
    seed: BigInt(get('seed', '0')),
    presets: get('presets', 'brightness,contrast').split(','),
    batch: Number(get('batch', '1024')),
    json: argv.includes('--json'),
  };
}

/** Counts of the base classifier's classes over samples [start, start + count) of (seed, stream). */
class SmoothedClassifier {
  private readonly input: Float32Array;
  private readonly normals: Float64Array;
  private readonly params: Float64Array;
  private readonly z: Float64Array;
  private readonly y: Float64Array;
  private readonly scratch = new TransformScratch();
  forwardPasses = 0;

  constructor(
    private readonly session: ort.InferenceSession,
    private readonly spec: TransformSpec,
    private readonly sigma: readonly number[],
    private readonly batch: number,
  ) {
    this.input = new Float32Array(batch * PIXELS);
    this.normals = new Float64Array(batch * spec.normalsPerSample);
    this.params = new Float64Array(batch * spec.params.length);
    this.z = new Float64Array(spec.normalsPerSample);
    this.y = new Float64Array(spec.params.length);
  }

  async counts(image: Float32Array, seed: bigint, stream: number, count: number): Promise<Int32Array> {
    const { spec, sigma, batch } = this;
    const m = spec.normalsPerSample;
    const d = spec.params.length;
    const tally = new Int32Array(CLASSES);
    for (let start = 0; start < count; start += batch) {
      const b = Math.min(batch, count - start);
      fillNormals(seed, stream, start, b, m, this.normals);
      for (let i = 0; i < b; i++) {
        for (let j = 0; j < m; j++) this.z[j] = this.normals[i * m + j];
        spec.resolve(spec.identity, sigma, this.z, this.y);
        for (let j = 0; j < d; j++) this.params[i * d + j] = this.y[j];
      }
      applyTransformBatch(spec.key, image, SHAPE, this.params, b, this.input, this.scratch);
      const tensor = new ort.Tensor('float32', this.input.subarray(0, b * PIXELS), [b, 1, 28, 28]);
      const out = await this.session.run({ input: tensor });
      const logits = out.logits.data as Float32Array;
      for (let i = 0; i < b; i++) {
        let best = 0;
        for (let c = 1; c < CLASSES; c++) if (logits[i * CLASSES + c] > logits[i * CLASSES + best]) best = c;
        tally[best]++;
      }
      this.forwardPasses += b;
    }
    return tally;
  }
}

function argmax(counts: Int32Array): number {
  let best = 0;
  for (let c = 1; c < counts.length; c++) if (counts[c] > counts[best]) best = c;
  return best;
}

/** Grid over [lo, hi] per axis (n points, ends included), the identity point skipped. */
function gridPoints(spec: TransformSpec, lo: number[], hi: number[], n: number): { point: number[]; corner: boolean }[] {
  // integer axes (translation) on integers: the rounded grid, deduplicated
  const axes = lo.map((l, i) => {
    const pts = Array.from({ length: n }, (_, j) => (n === 1 ? l : l + ((hi[i] - l) * j) / (n - 1)));
    return spec.integerParams[i] ? [...new Set(pts.map((v) => Math.round(v)))] : pts;
  });
  const out: { point: number[]; corner: boolean }[] = [];
  const walk = (i: number, acc: number[], corner: boolean) => {
    if (i === axes.length) {
      if (acc.every((v, k) => Math.abs(v - spec.identity[k]) < 1e-12)) return;
      out.push({ point: acc.slice(), corner });
      return;
    }
    axes[i].forEach((v, j) => walk(i + 1, [...acc, v], corner && (j === 0 || j === axes[i].length - 1)));
  };
  walk(0, [], true);
  return out;
}

/** The box the reference implementation certifies at the same threshold: offsets doubled (ln k for k, g). */
function doubledBox(spec: TransformSpec, lo: number[], hi: number[]): { lo: number[]; hi: number[] } {
  const f = (v: number, i: number) => {
    const name = spec.params[i];
    return name === 'k' || name === 'g' ? v * v : 2 * v - spec.identity[i];
  };
  return { lo: lo.map(f), hi: hi.map(f) };
}

interface PointEvaluation {
  point: number[];
  samples: number;
  counts: number[];
  top: number;
  pA: number;
  pAUpper: number;
  runnerUpLower: number;
  changed: boolean;
  significant: boolean;
}

async function evaluatePoint(sc: SmoothedClassifier, image: Float32Array, spec: TransformSpec, point: number[], cA: number, seed: bigint, stream: number, samples: number): Promise<PointEvaluation> {
  const attacked = new Float32Array(PIXELS);
  applyTransformBatch(spec.key, image, SHAPE, Float64Array.from(point), 1, attacked);
  const counts = await sc.counts(attacked, seed, stream, samples);
  const top = argmax(counts);
  let runnerUp = -1;
  for (let c = 0; c < CLASSES; c++) if (c !== cA && (runnerUp < 0 || counts[c] > counts[runnerUp])) runnerUp = c;
  const pAUpper = clopperPearsonUpper(counts[cA], samples, 1e-3);
  const runnerUpLower = clopperPearsonLower(counts[runnerUp], samples, 1e-3);
  return {
    point,
    samples,
    counts: Array.from(counts),
    top,
    pA: counts[cA] / samples,
    pAUpper,
    runnerUpLower,
    changed: top !== cA,
    significant: pAUpper < runnerUpLower,
  };
}

/** Worst point of a box for one certified image: corners at attackN, interior screened first. */
async function attackBox(sc: SmoothedClassifier, image: Float32Array, spec: TransformSpec, lo: number[], hi: number[], cA: number, seed: bigint, args: Args) {
  const points = gridPoints(spec, lo, hi, args.grid);
  const evaluated: PointEvaluation[] = [];
  for (const p of points.filter((q) => q.corner)) evaluated.push(await evaluatePoint(sc, image, spec, p.point, cA, seed, STREAM_ATTACK, args.attackN));
  const cornerMin = Math.min(...evaluated.map((e) => e.pA));
  for (const p of points.filter((q) => !q.corner)) {
    const screen = await evaluatePoint(sc, image, spec, p.point, cA, seed, STREAM_SCREEN, args.screenN);
    evaluated.push(screen.changed || screen.pA < cornerMin ? await evaluatePoint(sc, image, spec, p.point, cA, seed, STREAM_ATTACK, args.attackN) : screen);
  }
  const full = evaluated.filter((e) => e.samples === args.attackN);
  const worst = full.reduce((a, b) => (b.pA < a.pA ? b : a));
  return {
    points: points.length,
    worst,
    changed: full.some((e) => e.changed),
    significant: full.some((e) => e.significant),
  };
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const started = performance.now();
  const session = await ort.InferenceSession.create(await readFile(MODEL), { intraOpNumThreads: 2, interOpNumThreads: 1 });

  // Held-out images, spread over labels.csv (it is sorted by class): every k-th entry.
  const all: { id: string; label: number; bytes: Buffer }[] = [];
  for await (const item of readImageFolder(DATA)) all.push({ id: item.id, label: item.label, bytes: item.bytes });
  const stride = Math.max(1, Math.floor(all.length / args.images));
  const chosen = all.filter((_, i) => i % stride === 0).slice(0, args.images);
  const images: { id: string; label: number; tensor: Float32Array }[] = [];
  for (const it of chosen) images.push({ id: it.id, label: it.label, tensor: (await decodeImage(it.bytes, { channels: 1, height: 28, width: 28 })).tensor });

  const report: Record<string, unknown>[] = [];
  for (const name of args.presets) {
    const tm = getPreset(name);
    const preset = PRESETS[name];
    const bound = solveBound({ transform: preset.transform, box: preset.box, sigma: preset.sigma } as BoundRequest);
    const threshold = bound.threshold;
    const sc = new SmoothedClassifier(session, tm.spec, tm.sigma, args.batch);
    const doubled = doubledBox(tm.spec, tm.lo, tm.hi);
    let certified = 0;
    let certifiedCorrect = 0;
    let correct = 0;
    const tally = () => ({ attacked: 0, changed: 0, significant: 0, minWorstPA: 1, failures: [] as unknown[] });
    const sound = tally();
    const reference = tally();
    const radius = tally();
    const radiusReference = tally();
    const radiusOk = tm.spec.params.length === 1 && (tm.spec.params[0] === 'b' || tm.spec.params[0] === 'k');
    const t0 = performance.now();
    for (let idx = 0; idx < images.length; idx++) {
      const img = images[idx];
      const seed = args.seed * 1_000_003n + BigInt(idx);
      const selection = await sc.counts(img.tensor, seed, STREAM_SELECTION, args.n0);
      const cA = argmax(selection);
      const estimation = await sc.counts(img.tensor, seed, STREAM_ESTIMATION, args.n);
      const nA = estimation[cA];
      const pA = clopperPearsonLower(nA, args.n, args.alpha);
      if (cA === img.label) correct++;
      if (!certifies(pA, threshold)) continue;
      certified++;
      if (cA === img.label) certifiedCorrect++;
      const boxes: [{ lo: number[]; hi: number[] }, ReturnType<typeof tally>, boolean][] = [
        [{ lo: tm.lo, hi: tm.hi }, sound, false],
        [doubled, reference, false],
      ];
      if (radiusOk) {
        // this image's certified radius in b or ln k: R = sigma Phi^-1(pA); reference 2R
        const R = tm.sigma[0] * normalQuantile(pA);
        const box = (r: number) => (tm.spec.params[0] === 'k' ? { lo: [Math.exp(-r)], hi: [Math.exp(r)] } : { lo: [-r], hi: [r] });
        boxes.push([box(R), radius, true], [box(2 * R), radiusReference, true]);
      }
      for (const [box, acc, cornersOnly] of boxes) {
        const r = await attackBox(sc, img.tensor, tm.spec, box.lo, box.hi, cA, seed, cornersOnly ? { ...args, grid: 2 } : args);
        acc.attacked++;
        acc.minWorstPA = Math.min(acc.minWorstPA, r.worst.pA);
        if (r.changed) acc.changed++;
        if (r.significant) acc.significant++;
        if (r.changed || r.significant) {
          acc.failures.push({ image: img.id, label: img.label, cA, nA, pALower: pA, worstPoint: r.worst.point, worstTop: r.worst.top, worstPA: r.worst.pA, worstCounts: r.worst.counts, significant: r.significant });
        }
      }
      if (!args.json && (idx + 1) % 10 === 0) {
        process.stderr.write(`${name}: ${idx + 1}/${images.length} images, ${certified} certified, ${((performance.now() - t0) / 1000).toFixed(0)} s\n`);
      }
    }
    const falseRateUpper = sound.attacked > 0 ? clopperPearsonUpper(sound.significant, sound.attacked, 0.05) : null;
    report.push({
      preset: name,
      transform: tm.transform,
      box: Object.fromEntries(tm.spec.params.map((p, i) => [p, [tm.lo[i], tm.hi[i]]])),
      referenceBox: Object.fromEntries(tm.spec.params.map((p, i) => [p, [doubled.lo[i], doubled.hi[i]]])),
      sigma: Object.fromEntries(tm.spec.params.map((p, i) => [p, tm.sigma[i]])),
      threshold,
      thresholdMethod: bound.method,
      numericThreshold: bound.numericThreshold ?? null,
      images: images.length,
      accuracy: correct / images.length,
      certified,
      certifiedCorrect,
      certifiedRobustAccuracy: certifiedCorrect / images.length,
      expectedFalseCertificatesAtMost: certified * args.alpha,
      soundBox: { ...sound, falseRateUpper95: falseRateUpper },
      referenceDoubledBox: reference,
      ...(radiusOk ? { perImageRadius: radius, perImageRadiusReferenceDoubled: radiusReference } : {}),
      forwardPasses: sc.forwardPasses,
      seconds: Number(((performance.now() - t0) / 1000).toFixed(1)),
    });
  }
  const out = {
    attack: 'empirical attack on certified images (grid over the box, smoothed classifier re-estimated on the attacked image)',
    model: 'models/mnist-cnn/model.onnx',
    data: 'data/mnist-test',
    settings: { images: args.images, n0: args.n0, n: args.n, alpha: args.alpha, attackN: args.attackN, screenN: args.screenN, grid: args.grid, seed: args.seed.toString() },
    results: report,
    seconds: Number(((performance.now() - started) / 1000).toFixed(1)),
  };
  if (args.json) {
    process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
    return;
  }
  for (const r of report) {
    const s = r.soundBox as typeof r.soundBox & { attacked: number; changed: number; significant: number; minWorstPA: number };
    const d = r.referenceDoubledBox as { attacked: number; changed: number; significant: number; minWorstPA: number };
    console.log(
      `${r.preset}: h* = ${(r.threshold as number).toFixed(5)}, certified ${r.certified}/${r.images} (CRA ${(r.certifiedRobustAccuracy as number).toFixed(3)}); ` +
        `sound box ${JSON.stringify(r.box)}: changed ${s.changed}, significant ${s.significant}, min worst P(cA) ${s.minWorstPA.toFixed(4)}; ` +
        `reference doubled box ${JSON.stringify(r.referenceBox)}: changed ${d.changed}, significant ${d.significant}, min worst P(cA) ${d.minWorstPA.toFixed(4)}`,
    );
    for (const key of ['perImageRadius', 'perImageRadiusReferenceDoubled'] as const) {
      const t = r[key] as { attacked: number; changed: number; significant: number; minWorstPA: number } | undefined;
      if (t) console.log(`  ${key}: attacked ${t.attacked}, changed ${t.changed}, significant ${t.significant}, min worst P(cA) ${t.minWorstPA.toFixed(4)}`);
    }
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
