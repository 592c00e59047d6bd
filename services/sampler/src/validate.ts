// Request validation: every problem becomes a field violation named by its proto path
// (`image.shape`, `threat_model.smoothing[1].sigma`, `end_index`, ...); all of a request's
// problems are reported at once as one INVALID_ARGUMENT.
import {
  decodeFloat32Tensor,
  smoothingLawViolations,
  TensorFormatError,
  type samplingV1,
  type Tensor,
  type ThreatModel,
} from '@glcert/contracts';
import { Violations } from '@glcert/runtime';
import { imageValueProblem, validateThreatModelEntries, type ImageShape, type TransformSpec } from '@glcert/transforms';

/** Largest sample index the generator and the JS number maths take exactly. */
const INDEX_MAX = BigInt(Number.MAX_SAFE_INTEGER);
const SEED_MAX = (1n << 63n) - 1n;
const STREAM_MAX = 0x7fffffff;
/** Most CountSamplesRequest.more_ranges (the proto's domain). */
export const MORE_RANGES_MAX = 7;

/** Most images SampleTransforms returns; larger requests are capped. */
export const SAMPLE_TRANSFORMS_MAX = 16;

/** The generator's key and the image to transform: what every sampling RPC needs. */
export interface SamplingInput {
  image: Float32Array;
  shape: ImageShape;
  spec: TransformSpec;
  /** Sigma per parameter, in `spec.params` order. */
  sigma: number[];
  seed: bigint;
  stream: number;
}

/** Samples [start, end) of one generator stream. */
export interface CountRange {
  stream: number;
  start: number;
  end: number;
}

export interface CountInput extends SamplingInput {
  model: string;
  /** The first range (`stream` is its stream): what callers without more_ranges send. */
  start: number;
  end: number;
  /** Every range counted, the first one (stream, start, end above) first, then more_ranges in order. */
  ranges: CountRange[];
  /** Requested batch size; 0 means the server default. */
  batchSize: number;
}

export interface SampleTransformsInput extends SamplingInput {
  start: number;
  count: number;
}

function checkImage(tensor: Tensor | undefined, v: Violations): { image: Float32Array; shape: ImageShape } | undefined {
  if (tensor === undefined) {
    v.add('image', 'is required (a float32 CHW tensor)');
    return undefined;
  }
  let decoded;
  try {
    decoded = decodeFloat32Tensor(tensor);
  } catch (err) {
    if (err instanceof TensorFormatError) {
      v.add(`image.${err.field}`, err.message);
      return undefined;
    }
    throw err;
  }
  const dims = decoded.shape;
  if (dims.length !== 3 || dims.some((d) => d < 1)) {
    v.add('image.shape', `must be [C, H, W] with positive sizes, got [${dims.join(', ')}]`);
    return undefined;
  }
  const data = decoded.data;
  // the pixel domain (PIXEL_ABS_MAX) keeps every transform's output finite in float32
  const bad = imageValueProblem(data);
  if (bad) {
    v.add('image.raw_contents', bad.message);
    return undefined;
  }
  return { image: data, shape: { channels: dims[0]!, height: dims[1]!, width: dims[2]! } };
}

function checkThreatModel(tm: ThreatModel | undefined, v: Violations): { spec: TransformSpec; sigma: number[] } | undefined {
  if (tm === undefined) {
    v.add('threat_model', 'is required (transform and smoothing)');
    return undefined;
  }
  // the shared validator (names, domains: docs/numeric-domains.md); sampling needs only the
  // smoothing, so the box may be left out, but a box that is sent is checked like everywhere else
  const res = validateThreatModelEntries(tm, { boxOptional: true });
  if (!res.ok) {
    for (const { field, message } of res.violations) v.add(field, message);
    return undefined;
  }
  const { spec, sigma } = res.value;
  const wrongLaws = smoothingLawViolations(tm, spec.key, spec.params, spec.laws, res.smoothingAt);
  for (const w of wrongLaws) v.add(w.field, w.description);
  return wrongLaws.length === 0 ? { spec, sigma } : undefined;
}

function checkSeedStream(seed: bigint, stream: number, v: Violations): void {
  if (seed < 0n || seed > SEED_MAX) v.add('seed', `must be in [0, 2^63 - 1], got ${seed}`);
  checkStream(stream, 'stream', v);
}

/** A generator stream number (the request's own, or one of more_ranges); true when valid. */
function checkStream(stream: number, field: string, v: Violations): boolean {
  if (Number.isInteger(stream) && stream >= 0 && stream <= STREAM_MAX) return true;
  v.add(field, `must be in [0, 2^31 - 1], got ${stream}`);
  return false;
}

export interface CountLimits {
  /** Most samples in one CountSamples call. */
  maxRange: number;
}

/** Checks a CountSamplesRequest; throws one INVALID_ARGUMENT naming every bad field. */
export function validateCountRequest(req: samplingV1.CountSamplesRequest, limits: CountLimits): CountInput {
  const v = new Violations();
  if (req.model.trim() === '') v.add('model', 'is required (a model name served by the inference sidecar)');
  const image = checkImage(req.image, v);
  const tm = checkThreatModel(req.threatModel, v);
  checkSeedStream(req.seed, req.stream, v);
  const { startIndex, endIndex } = req;
  const firstOk = checkRangeIndices(startIndex, endIndex, '', v);
  if (endIndex > startIndex && endIndex <= INDEX_MAX && endIndex - startIndex > BigInt(limits.maxRange)) {
    v.add('end_index', `end_index - start_index must be <= ${limits.maxRange} (SAMPLER_MAX_RANGE), got ${endIndex - startIndex}; split the range`);
  }
  const more = req.moreRanges ?? [];
  let allOk = firstOk;
  if (more.length > MORE_RANGES_MAX) {
    // a long list is not walked (nor echoed): its count says enough
    v.add('more_ranges', `at most ${MORE_RANGES_MAX} more ranges, got ${more.length}`);
    allOk = false;
  } else {
    more.forEach((r, i) => {
      const at = `more_ranges[${i}].`;
      if (!checkStream(r.stream, `${at}stream`, v)) allOk = false;
      if (!checkRangeIndices(r.startIndex, r.endIndex, at, v)) allOk = false;
    });
  }
  if (allOk && more.length > 0) {
    // the first range alone was checked above (named end_index); here the sum of them all
    const total = more.reduce((acc, r) => acc + (r.endIndex - r.startIndex), endIndex - startIndex);
    if (total > BigInt(limits.maxRange) && endIndex - startIndex <= BigInt(limits.maxRange)) {
      v.add(
        'more_ranges',
        `all ranges together (end_index - start_index plus every more_ranges size) must be <= ${limits.maxRange} (SAMPLER_MAX_RANGE), got ${total}; split the call`,
      );
    }
  }
  if (!Number.isInteger(req.batchSize) || req.batchSize < 0) v.add('batch_size', `must be >= 0 (0: server default), got ${req.batchSize}`);
  v.throwIfAny();
  const ranges: CountRange[] = [
    { stream: req.stream, start: Number(startIndex), end: Number(endIndex) },
    ...more.map((r) => ({ stream: r.stream, start: Number(r.startIndex), end: Number(r.endIndex) })),
  ];
  return {
    model: req.model,
    ...image!,
    ...tm!,
    seed: req.seed,
    stream: req.stream,
    start: Number(startIndex),
    end: Number(endIndex),
    ranges,
    batchSize: req.batchSize,
  };
}

/** start_index and end_index of one range (`at`: '' for the request's own, 'more_ranges[i].'); true when valid. */
function checkRangeIndices(startIndex: bigint, endIndex: bigint, at: string, v: Violations): boolean {
  let ok = true;
  if (startIndex < 0n) {
    v.add(`${at}start_index`, `must be >= 0, got ${startIndex}`);
    ok = false;
  }
  if (endIndex <= startIndex) {
    v.add(`${at}end_index`, `must be greater than ${at}start_index (${startIndex}), got ${endIndex}`);
    ok = false;
  } else if (endIndex > INDEX_MAX) {
    v.add(`${at}end_index`, `must be <= 2^53 - 1, got ${endIndex}`);
    ok = false;
  }
  return ok;
}

/** Checks a SampleTransformsRequest; `count` is capped at SAMPLE_TRANSFORMS_MAX. */
export function validateSampleTransformsRequest(req: samplingV1.SampleTransformsRequest): SampleTransformsInput {
  const v = new Violations();
  const image = checkImage(req.image, v);
  const tm = checkThreatModel(req.threatModel, v);
  checkSeedStream(req.seed, req.stream, v);
  if (req.startIndex < 0n || req.startIndex > INDEX_MAX - BigInt(SAMPLE_TRANSFORMS_MAX)) {
    v.add('start_index', `must be in [0, 2^53 - 1 - ${SAMPLE_TRANSFORMS_MAX}], got ${req.startIndex}`);
  }
  if (!Number.isInteger(req.count) || req.count < 1) v.add('count', `must be >= 1, got ${req.count}`);
  v.throwIfAny();
  return {
    ...image!,
    ...tm!,
    seed: req.seed,
    stream: req.stream,
    start: Number(req.startIndex),
    count: Math.min(req.count, SAMPLE_TRANSFORMS_MAX),
  };
}
