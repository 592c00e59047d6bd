// The samples of one (image, transform, smoothing, seed, stream): sample i's parameters are
// y_i = gamma(beta0, z_i), with beta0 the transform's identity and z_i the normalsPerSample
// standard normals of (seed, stream, i) from the counter-based generator (ALGORITHM.md
// sections 2 and 6). They depend on (seed, stream, i) only, never on batch boundaries or on how
// a range is split, so counts merge by addition across calls and replicas.
//
// Pure CPU code, no gRPC: `fill` writes a batch of transformed images into a caller-owned
// Float32Array; every buffer it needs is allocated once here and reused for every batch.
// `fillInSlices` does the same in time-budgeted sub-batches with yields in between.
import { fillNormals } from '@glcert/stats';
import { applyTransformBatch, TransformScratch, type ImageShape, type TransformSpec } from '@glcert/transforms';

export interface SampleSourceOptions {
  spec: TransformSpec;
  /** Smoothing sigma per parameter, in `spec.params` order. */
  sigma: readonly number[];
  /** The image, float32 CHW. Not copied: do not modify it while the source is in use. */
  image: Float32Array;
  shape: ImageShape;
  seed: bigint;
  stream: number;
  /** Most samples one `fill` call produces (sizes the scratch buffers). */
  maxBatch: number;
}

/** How `fillInSlices` shares the thread: transform for at most `budgetMs`, then yield. */
export interface SliceBudget {
  /** Longest stretch of transform work between two yields, in ms (one sample may exceed it). */
  budgetMs: number;
  /** Lets I/O run (health checks, other calls, HTTP/2 writes), e.g. one setImmediate turn. */
  yieldToIo: () => Promise<void>;
  /** Called after every yield; throws to stop the work (caller gone, deadline passed). */
  checkpoint: () => void;
  /** Clock in ms (tests inject one); default performance.now. */
  now?: () => number;
}

export class SampleSource {
  readonly spec: TransformSpec;
  /** Float32 elements per image (C * H * W). */
  readonly imageElements: number;
  /** Resolved parameters y of the last `fill`, row-major count x d. */
  readonly params: Float64Array;
  private readonly sigma: Float64Array;
  private readonly identity: Float64Array;
  private readonly normals: Float64Array;
  private readonly z: Float64Array;
  private readonly y: Float64Array;
  private readonly scratch = new TransformScratch();

  constructor(private readonly options: SampleSourceOptions) {
    const { spec, sigma, shape, maxBatch } = options;
    if (sigma.length !== spec.params.length) {
      throw new RangeError(`transform '${spec.key}' needs ${spec.params.length} sigmas, got ${sigma.length}`);
    }
    if (!Number.isSafeInteger(maxBatch) || maxBatch < 1) throw new RangeError(`maxBatch must be a positive integer, got ${maxBatch}`);
    this.spec = spec;
    this.imageElements = shape.channels * shape.height * shape.width;
    if (options.image.length !== this.imageElements) {
      throw new RangeError(`image has ${options.image.length} values, shape needs ${this.imageElements}`);
    }
    const d = spec.params.length;
    this.sigma = Float64Array.from(sigma);
    this.identity = Float64Array.from(spec.identity);
    this.normals = new Float64Array(maxBatch * spec.normalsPerSample);
    this.params = new Float64Array(maxBatch * d);
    this.z = new Float64Array(spec.normalsPerSample);
    this.y = new Float64Array(d);
  }

  /**
   * Resolved parameters of samples [start, start + count) into `this.params` (count x d):
   * normals from the generator, then gamma(beta0, z) per sample.
   */
  resolve(start: number, count: number): Float64Array {
    const { spec, seed, stream, maxBatch } = this.options;
    if (count > maxBatch) throw new RangeError(`count ${count} exceeds maxBatch ${maxBatch}`);
    const m = spec.normalsPerSample;
    const d = spec.params.length;
    fillNormals(seed, stream, start, count, m, this.normals);
    const { normals, z, y, params, identity, sigma } = this;
    for (let i = 0; i < count; i++) {
      for (let j = 0; j < m; j++) z[j] = normals[i * m + j];
      spec.resolve(identity, sigma, z, y);
      for (let j = 0; j < d; j++) params[i * d + j] = y[j];
    }
    return params;
  }

  /**
   * Samples [start, start + count): resolves their parameters and writes the transformed
   * images (count x C x H x W) into out[0 .. count * imageElements).
   */
  fill(start: number, count: number, out: Float32Array): void {
    this.resolve(start, count);
    applyTransformBatch(this.spec.key, this.options.image, this.options.shape, this.params, count, out, this.scratch);
  }

  /**
   * `fill` of any count, in sub-batches sized so that each takes about `budget.budgetMs` (the
   * size adapts to the measured cost: one costly sample per sub-batch, many cheap ones), yielding
   * to the event loop whenever the budget is spent and checking `budget.checkpoint` after every
   * yield, so health checks keep answering and a cancelled call stops at the next sub-batch.
   * The images are the same as one `fill`: each sample depends on its index only (`params` then
   * holds the last sub-batch's parameters; `resolve` gives any range's).
   */
  async fillInSlices(start: number, count: number, out: Float32Array, budget: SliceBudget): Promise<void> {
    const now = budget.now ?? (() => performance.now());
    const { budgetMs } = budget;
    const e = this.imageElements;
    const max = this.options.maxBatch;
    let chunk = 1;
    let since = now();
    for (let at = 0; at < count; ) {
      const c = Math.min(chunk, max, count - at);
      const t0 = now();
      this.fill(start + at, c, out.subarray(at * e, (at + c) * e));
      const took = now() - t0;
      at += c;
      if (took < budgetMs / 2) chunk = Math.min(max, c * 2);
      else if (took > budgetMs) chunk = Math.max(1, Math.floor((c * budgetMs) / took));
      if (at < count && now() - since >= budgetMs) {
        await budget.yieldToIo();
        budget.checkpoint();
        since = now();
      }
    }
  }
}
