// Validation of Classify inputs against a model. Every rejection is INVALID_ARGUMENT naming
// the offending request field (AIP-193 BadRequest field violation): `inputs`,
// `inputs.data_type`, `inputs.shape` or `inputs.raw_contents`; for transformed inputs
// `transformed.image.*`, `transformed.transform` or `transformed.parameters`.
import { DataType, decodeFloat32Tensor, type inferenceV1, type Tensor, TensorFormatError } from '@glcert/contracts';
import { InvalidArgumentError } from '@glcert/runtime';
import { imageValueProblem, isTransformKey, resolvedParamsProblem, TRANSFORM_KEYS, TRANSFORMS, type TransformKey } from '@glcert/transforms';
import type { TransformedImages } from './batcher';
import { float32View } from './classify-decode';
import type { ModelEntry } from './model-repository';

/**
 * A validated batch of images: a view into the request's own bytes when they are 4-byte
 * aligned (no copy; see classify-decode.ts), else a fresh aligned copy owning its whole buffer.
 */
export interface DecodedImages {
  data: Float32Array;
  images: number;
}

const EXPONENT = 0x7f800000;

/**
 * Index of the first NaN or infinite value, or -1. On the bits: a float32 is NaN or infinite
 * exactly when its exponent bits are all ones; four at a time with integer tests is about twice
 * as fast as float arithmetic per value (every image of every batch passes here).
 */
export function firstNonFinite(values: Float32Array): number {
  const bits = new Int32Array(values.buffer, values.byteOffset, values.length);
  const n = bits.length;
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    if ((bits[i] & EXPONENT) === EXPONENT || (bits[i + 1] & EXPONENT) === EXPONENT || (bits[i + 2] & EXPONENT) === EXPONENT || (bits[i + 3] & EXPONENT) === EXPONENT) break;
  }
  for (; i < n; i++) if ((bits[i] & EXPONENT) === EXPONENT) return i;
  return -1;
}

/** Checks `inputs` against `model`'s [N, C, H, W] input and decodes it (in place when aligned, else one copy). */
export function decodeClassifyInputs(inputs: Tensor | undefined, model: ModelEntry): DecodedImages {
  if (!inputs) throw new InvalidArgumentError('inputs', 'is required: a float32 NCHW tensor');
  if (inputs.dataType !== DataType.DATA_TYPE_FLOAT32) {
    throw new InvalidArgumentError('inputs.data_type', `must be DATA_TYPE_FLOAT32, got ${DataType[inputs.dataType] ?? String(inputs.dataType)}`);
  }
  const { channels, height, width } = model;
  const want = `[N, ${channels}, ${height}, ${width}]`;
  const shape = inputs.shape;
  const shown = `[${shape.join(', ')}]`;
  if (shape.length !== 4) {
    throw new InvalidArgumentError('inputs.shape', `model '${model.name}' takes ${want} (NCHW, N >= 1), got ${shown} (rank ${shape.length})`);
  }
  const [n, c, h, w] = shape;
  if (BigInt(c) !== BigInt(channels) || BigInt(h) !== BigInt(height) || BigInt(w) !== BigInt(width)) {
    throw new InvalidArgumentError('inputs.shape', `model '${model.name}' takes ${want}, got ${shown}`);
  }
  if (BigInt(n) < 1n) throw new InvalidArgumentError('inputs.shape', `batch dimension N must be >= 1, got ${shown}`);
  let decoded;
  const count = Number(n) * channels * height * width;
  const view = Number.isSafeInteger(count) ? float32View(inputs.rawContents, count) : undefined;
  if (view) {
    decoded = { data: view, shape: [Number(n), channels, height, width] };
  } else {
    try {
      decoded = decodeFloat32Tensor(inputs, [-1, channels, height, width]);
    } catch (err) {
      if (err instanceof TensorFormatError) throw new InvalidArgumentError(`inputs.${err.field}`, err.message);
      throw err;
    }
  }
  const bad = firstNonFinite(decoded.data);
  if (bad >= 0) {
    const perImage = channels * height * width;
    throw new InvalidArgumentError(
      'inputs.raw_contents',
      `values must be finite: element ${bad} (image ${Math.floor(bad / perImage)}) is ${decoded.data[bad]}`,
    );
  }
  return { data: decoded.data, images: decoded.shape[0] };
}

/**
 * The families the sidecar builds itself (ModelMetadata.transforms): each costs a bounded
 * amount per pixel. Not blur: its cost grows with the sampled variance, and a worker cannot stop
 * inside a batch once it started, so the sampler builds blurs in slices it can stop between.
 */
export const SIDECAR_TRANSFORMS: readonly TransformKey[] = Object.freeze(TRANSFORM_KEYS.filter((k) => k !== 'r'));

/** What Classify runs: images as sent, or N transforms of one image built in a worker. */
export type ClassifyInputs = { kind: 'pixels'; data: Float32Array; images: number } | { kind: 'transformed'; transformed: TransformedImages; images: number };

/** Exactly one of `inputs` and `transformed`, checked against `model`. */
export function decodeClassifyRequestInputs(request: inferenceV1.ClassifyRequest, model: ModelEntry): ClassifyInputs {
  if (request.transformed !== undefined) {
    if (request.inputs !== undefined) throw new InvalidArgumentError('transformed', 'set either inputs or transformed, not both');
    const transformed = decodeTransformedInputs(request.transformed, model);
    return { kind: 'transformed', transformed, images: transformed.params.length / TRANSFORMS[transformed.key].params.length };
  }
  return { kind: 'pixels', ...decodeClassifyInputs(request.inputs, model) };
}

/**
 * Checks `transformed` against `model`: the image is one [C, H, W] (or [1, C, H, W]) float32
 * image in the pixel domain, the family is known, and the N x d parameters lie in
 * RESOLVED_DOMAINS, so every pixel the worker builds is a finite float32 (libs/transforms).
 */
export function decodeTransformedInputs(t: inferenceV1.TransformedInputs, model: ModelEntry): TransformedImages {
  if (!t.image) throw new InvalidArgumentError('transformed.image', 'is required: one float32 [C, H, W] image');
  const { channels, height, width } = model;
  const dims = t.image.shape.length === 4 && BigInt(t.image.shape[0]) === 1n ? t.image.shape.slice(1) : t.image.shape;
  if (dims.length !== 3 || BigInt(dims[0]) !== BigInt(channels) || BigInt(dims[1]) !== BigInt(height) || BigInt(dims[2]) !== BigInt(width)) {
    throw new InvalidArgumentError('transformed.image.shape', `model '${model.name}' takes one image of [${channels}, ${height}, ${width}], got [${t.image.shape.slice(0, 5).join(', ')}]`);
  }
  let image: Float32Array;
  try {
    // a copy: the image is small, and it outlives the message (it is posted to a worker per batch)
    image = decodeFloat32Tensor({ ...t.image, shape: dims }, [channels, height, width]).data.slice();
  } catch (err) {
    if (err instanceof TensorFormatError) throw new InvalidArgumentError(`transformed.image.${err.field}`, err.message);
    throw err;
  }
  const pixel = imageValueProblem(image);
  if (pixel) throw new InvalidArgumentError('transformed.image.raw_contents', pixel.message);
  const key = t.transform;
  if (!isTransformKey(key) || !SIDECAR_TRANSFORMS.includes(key)) {
    throw new InvalidArgumentError('transformed.transform', `must be one of ${SIDECAR_TRANSFORMS.join(', ')}, got '${key.slice(0, 16)}${key.length > 16 ? '...' : ''}'`);
  }
  const params = Float64Array.from(t.parameters);
  const problem = resolvedParamsProblem(key, params);
  if (problem) throw new InvalidArgumentError('transformed.parameters', problem.message);
  return { key, image, params };
}
