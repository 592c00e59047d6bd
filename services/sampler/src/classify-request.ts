// A ClassifyRequest serialized in place: the protobuf header is written just in front of the
// float32 raw contents, and the transforms write the images straight into the message bytes.
// The generated serializer would copy the tensor twice (BinaryWriter.finish, then Buffer.from)
// before grpc-js frames it (a third copy); here grpc-js' framing is the only copy.
//
// Wire layout (the same bytes ts-proto writes for the same message; checked in the spec):
//   ClassifyRequest { 1: model (string), 2: inputs (Tensor) }          return_logits omitted (false)
//   Tensor          { 1: shape (packed int64), 2: data_type = FLOAT32, 3: raw_contents (bytes) }
//
// A buffer may be refilled only once grpc-js no longer reads it: grpc-js frames the message
// (copies it) asynchronously in its filter stack, so the safe point is the end of the call that
// sent it. Callers keep one buffer per call in flight plus one being filled.
import { DataType } from '@glcert/contracts';

const HOST_IS_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function varintLength(v: number): number {
  let n = 1;
  while (v >= 0x80) {
    v = Math.floor(v / 128);
    n++;
  }
  return n;
}

function writeVarint(out: Uint8Array, at: number, v: number): number {
  while (v >= 0x80) {
    out[at++] = (v % 128) | 0x80;
    v = Math.floor(v / 128);
  }
  out[at++] = v;
  return at;
}

/** Header bytes of a ClassifyRequest for `dims` (NCHW) with `rawBytes` of raw contents. */
export function classifyRequestHeader(modelUtf8: Uint8Array, dims: readonly number[], rawBytes: number): Uint8Array {
  const shapeLen = dims.reduce((a, d) => a + varintLength(d), 0);
  const tensorLen =
    1 + varintLength(shapeLen) + shapeLen + // 1: shape, packed
    2 + // 2: data_type (tag 0x10, value 1)
    1 + varintLength(rawBytes) + rawBytes; // 3: raw_contents
  const modelLen = modelUtf8.length > 0 ? 1 + varintLength(modelUtf8.length) + modelUtf8.length : 0;
  const headerLen = modelLen + 1 + varintLength(tensorLen) + (tensorLen - rawBytes);
  const out = new Uint8Array(headerLen);
  let at = 0;
  if (modelUtf8.length > 0) {
    out[at++] = 0x0a;
    at = writeVarint(out, at, modelUtf8.length);
    out.set(modelUtf8, at);
    at += modelUtf8.length;
  }
  out[at++] = 0x12;
  at = writeVarint(out, at, tensorLen);
  out[at++] = 0x0a;
  at = writeVarint(out, at, shapeLen);
  for (const d of dims) at = writeVarint(out, at, d);
  out[at++] = 0x10;
  out[at++] = DataType.DATA_TYPE_FLOAT32;
  out[at++] = 0x1a;
  at = writeVarint(out, at, rawBytes);
  if (at !== headerLen) throw new Error(`classify header: wrote ${at} bytes, expected ${headerLen}`);
  return out;
}

/** Room left in front of the images for the largest header (model name + a few varints). */
function headerRoom(modelUtf8: Uint8Array): number {
  const room = 1 + 10 + modelUtf8.length + 1 + 10 + 1 + 10 + 5 * 10 + 2 + 1 + 10;
  return Math.ceil(room / 8) * 8;
}

/**
 * One reusable ClassifyRequest message for batches of up to `maxBatch` images of
 * `imageElements` floats: `images` is where the transforms write; `message(n)` is the serialized
 * request for the first n images (a view over the same memory, no copy).
 */
export class ClassifyRequestBuffer {
  /** Where the batch's images go (maxBatch x imageElements floats, NCHW). */
  readonly images: Float32Array;
  private readonly bytes: Uint8Array;
  private readonly room: number;

  constructor(
    private readonly modelUtf8: Uint8Array,
    private readonly chw: readonly [number, number, number],
    readonly maxBatch: number,
  ) {
    if (!HOST_IS_LITTLE_ENDIAN) throw new Error('ClassifyRequestBuffer needs a little-endian host');
    const imageElements = chw[0] * chw[1] * chw[2];
    this.room = headerRoom(modelUtf8);
    const buffer = new ArrayBuffer(this.room + maxBatch * imageElements * 4);
    this.bytes = new Uint8Array(buffer);
    this.images = new Float32Array(buffer, this.room, maxBatch * imageElements);
  }

  /** The serialized ClassifyRequest for the first `count` images of `images`. */
  message(count: number): Buffer {
    if (!Number.isInteger(count) || count < 1 || count > this.maxBatch) {
      throw new RangeError(`count must be an integer in [1, ${this.maxBatch}], got ${count}`);
    }
    const rawBytes = count * this.images.length / this.maxBatch * 4;
    const header = classifyRequestHeader(this.modelUtf8, [count, ...this.chw], rawBytes);
    const start = this.room - header.length;
    this.bytes.set(header, start);
    return Buffer.from(this.bytes.buffer, start, header.length + rawBytes);
  }
}
