// Float32 tensors in the Open Inference Protocol raw layout: row-major little-endian bytes
// plus an explicit shape. Encoding copies, so later writes to the source array never change an
// encoded message; decoding returns a fresh, aligned Float32Array.
import { DataType, type Tensor } from './gen/glcert/common/v1/common';

const BYTES_PER_FLOAT32 = 4;
const HOST_IS_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** A malformed tensor; `field` names the offending Tensor field (for BadRequest details). */
export class TensorFormatError extends Error {
  readonly field: 'shape' | 'data_type' | 'raw_contents';

  constructor(field: TensorFormatError['field'], message: string) {
    super(message);
    this.name = 'TensorFormatError';
    this.field = field;
  }
}

/** A shape dimension as accepted by the helpers: a number, a bigint (as decoded), or null/-1
 * as a wildcard in an expected shape. */
export type Dim = number | bigint;

/** Converts a shape to safe non-negative integers; throws TensorFormatError otherwise. */
export function shapeToNumbers(shape: readonly Dim[]): number[] {
  return shape.map((d, i) => {
    const n = typeof d === 'bigint' ? Number(d) : d;
    if (!Number.isSafeInteger(n) || n < 0 || (typeof d === 'bigint' && BigInt(n) !== d)) {
      throw new TensorFormatError('shape', `shape[${i}] must be a non-negative integer, got ${String(d)}`);
    }
    return n;
  });
}

/** The number of elements of a shape (1 for a scalar shape []). */
export function elementCount(shape: readonly Dim[]): number {
  const count = shapeToNumbers(shape).reduce((a, b) => a * b, 1);
  if (!Number.isSafeInteger(count)) {
    throw new TensorFormatError('shape', `shape [${shape.join(', ')}] has too many elements`);
  }
  return count;
}

/** Checks `actual` against `expected`, where null or -1 in `expected` matches any size. */
export function assertShape(actual: readonly Dim[], expected: readonly (Dim | null)[]): void {
  const a = shapeToNumbers(actual);
  const ok =
    a.length === expected.length &&
    expected.every((e, i) => e === null || e === -1 || e === BigInt(-1) || Number(e) === a[i]);
  if (!ok) {
    const want = expected.map((e) => (e === null || Number(e) === -1 ? '?' : String(e))).join(', ');
    throw new TensorFormatError('shape', `shape [${a.join(', ')}] does not match expected [${want}]`);
  }
}

/** Encodes float32 values with the given shape into a Tensor (little-endian raw contents). */
export function encodeFloat32Tensor(values: Float32Array | readonly number[], shape: readonly Dim[]): Tensor {
  const count = elementCount(shape);
  if (values.length !== count) {
    throw new TensorFormatError('shape', `shape [${shape.join(', ')}] needs ${count} values, got ${values.length}`);
  }
  const data = values instanceof Float32Array ? values : Float32Array.from(values);
  const raw = Buffer.allocUnsafe(count * BYTES_PER_FLOAT32);
  if (HOST_IS_LITTLE_ENDIAN) {
    raw.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  } else {
    for (let i = 0; i < count; i++) raw.writeFloatLE(data[i], i * BYTES_PER_FLOAT32);
  }
  return { shape: shapeToNumbers(shape).map(BigInt), dataType: DataType.DATA_TYPE_FLOAT32, rawContents: raw };
}

/** A decoded float32 tensor. */
export interface Float32TensorData {
  /** A fresh copy of the values, row-major. */
  data: Float32Array;
  /** The shape as numbers. */
  shape: number[];
}

/**
 * Decodes a float32 Tensor, validating data type, shape and byte length; with `expectedShape`
 * also checks the shape (null or -1 match any size). Throws TensorFormatError.
 */
export function decodeFloat32Tensor(
  tensor: Tensor | undefined,
  expectedShape?: readonly (Dim | null)[],
): Float32TensorData {
  if (!tensor) throw new TensorFormatError('shape', 'tensor is missing');
  if (tensor.dataType !== DataType.DATA_TYPE_FLOAT32) {
    throw new TensorFormatError('data_type', `data_type must be DATA_TYPE_FLOAT32, got ${String(tensor.dataType)}`);
  }
  const shape = shapeToNumbers(tensor.shape);
  if (expectedShape) assertShape(shape, expectedShape);
  const count = elementCount(shape);
  const raw = tensor.rawContents;
  if (raw.byteLength !== count * BYTES_PER_FLOAT32) {
    throw new TensorFormatError(
      'raw_contents',
      `raw_contents has ${raw.byteLength} bytes; shape [${shape.join(', ')}] needs ${count * BYTES_PER_FLOAT32}`,
    );
  }
  const data = new Float32Array(count);
  if (HOST_IS_LITTLE_ENDIAN) {
    new Uint8Array(data.buffer).set(raw);
  } else {
    const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    for (let i = 0; i < count; i++) data[i] = view.getFloat32(i * BYTES_PER_FLOAT32, true);
  }
  return { data, shape };
}

/**
 * [C, H, W] of a model whose ModelMetadata input_shape is [N, C, H, W] with C, H, W positive
 * integers; undefined for any other shape (the caller refuses it, FAILED_PRECONDITION).
 */
export function modelInputChw(meta: { inputShape: readonly Dim[] }): [number, number, number] | undefined {
  const shape = meta.inputShape.map(Number);
  if (shape.length !== 4 || shape.slice(1).some((d) => !Number.isSafeInteger(d) || d < 1)) return undefined;
  return [shape[1]!, shape[2]!, shape[3]!];
}
