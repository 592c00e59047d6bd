// A ClassifyRequest serialized in place: the protobuf header is written just in front of the
// float32 raw contents, and the transforms write the images straight into the message bytes.
// The generated serializer would copy the tensor twice (BinaryWriter.finish, then Buffer.from)
// before grpc-js frames it (a third copy); here grpc-js' framing is the only copy.
//
// Wire layout (the same bytes ts-proto writes for the same message; checked in the spec):
//   ClassifyRequest { 1: model (string), 2: inputs (Tensor) }          return_logits omitted (false)
//   Tensor          { 1: shape (packed int64), 2: data_type = FLOAT32, 3: raw_contents (bytes) }
//
// Alignment: the sidecar reads the images in place, as float32, straight from the buffer grpc-js
// received them in, when they are 4-byte aligned there (services/inference classify-decode.ts).
// That buffer holds the 5-byte gRPC message prefix and then the message, so the header is
// padded to a length of 3 mod 4: the raw_contents length is written as a longer varint (extra
// 0x80 continuation bytes; varints may take up to 10 bytes and every protobuf parser reads
// them, the generated decoder included: the spec decodes every padding with it).
//
// A buffer may be refilled only once grpc-js no longer reads it: grpc-js frames the message
// (copies it) asynchronously in its filter stack, so the safe point is the end of the call that
// sent it. Callers keep one buffer per call in flight plus one being filled; a
// ClassifyRequestPool keeps the buffers of finished calls for the next ones (fresh
// megabyte-sized buffers per call were most of this process's garbage-collection work).
import { DataType, inferenceV1, type Tensor } from '@glcert/contracts';

const HOST_IS_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function varintLength(v: number): number {
  let n = 1;
  while (v >= 0x80) {
    v = Math.floor(v / 128);
    n++;
  }
  return n;
}

function writeVarint(out: Uint8Array, at: number, v: number, length = varintLength(v)): number {
  for (let i = 1; i < length; i++) {
    out[at++] = (v % 128) | 0x80;
    v = Math.floor(v / 128);
  }
  out[at++] = v;
  return at;
}

/** Bytes of the gRPC length-prefixed message framing in front of a message. */
export const GRPC_MESSAGE_PREFIX_BYTES = 5;
const MAX_VARINT_BYTES = 10;

/**
 * Header bytes of a ClassifyRequest for `dims` (NCHW) with `rawBytes` of raw contents; with
 * `align`, the raw contents start 4-byte aligned behind the gRPC message prefix.
 */
export function classifyRequestHeader(modelUtf8: Uint8Array, dims: readonly number[], rawBytes: number, align = false): Uint8Array {
  const plain = headerBytes(modelUtf8, dims, rawBytes, varintLength(rawBytes));
  if (!align) return plain;
  const pad = (4 - ((GRPC_MESSAGE_PREFIX_BYTES + plain.length) % 4)) % 4;
  const rawLenBytes = varintLength(rawBytes) + pad;
  // the tensor's own length varint may grow by a byte with it: pad again from the new length
  let header = headerBytes(modelUtf8, dims, rawBytes, Math.min(MAX_VARINT_BYTES, rawLenBytes));
  const more = (4 - ((GRPC_MESSAGE_PREFIX_BYTES + header.length) % 4)) % 4;
  if (more > 0 && rawLenBytes + more <= MAX_VARINT_BYTES) header = headerBytes(modelUtf8, dims, rawBytes, rawLenBytes + more);
  return header;
}

function headerBytes(modelUtf8: Uint8Array, dims: readonly number[], rawBytes: number, rawLenBytes: number): Uint8Array {
  const shapeLen = dims.reduce((a, d) => a + varintLength(d), 0);
  const tensorLen =
    1 + varintLength(shapeLen) + shapeLen + // 1: shape, packed
    2 + // 2: data_type (tag 0x10, value 1)
    1 + rawLenBytes + rawBytes; // 3: raw_contents
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
  at = writeVarint(out, at, rawBytes, rawLenBytes);
  if (at !== headerLen) throw new Error(`classify header: wrote ${at} bytes, expected ${headerLen}`);
  return out;
}

/** Room left in front of the images for the largest header (model name + a few varints). */
function headerRoom(modelUtf8: Uint8Array): number {
  const room = 1 + 10 + modelUtf8.length + 1 + 10 + 1 + 10 + 5 * 10 + 2 + 1 + MAX_VARINT_BYTES;
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
  /** Model, shape and size (ClassifyRequestPool). */
  readonly key: string;
  private readonly bytes: Uint8Array;
  private readonly room: number;

  constructor(
    private readonly modelUtf8: Uint8Array,
    private readonly chw: readonly [number, number, number],
    readonly maxBatch: number,
  ) {
    this.key = poolKey(modelUtf8, chw, maxBatch);
    if (!HOST_IS_LITTLE_ENDIAN) throw new Error('ClassifyRequestBuffer needs a little-endian host');
    const imageElements = chw[0] * chw[1] * chw[2];
    this.room = headerRoom(modelUtf8);
    const buffer = new ArrayBuffer(this.room + maxBatch * imageElements * 4);
    this.bytes = new Uint8Array(buffer);
    this.images = new Float32Array(buffer, this.room, maxBatch * imageElements);
  }

  get byteLength(): number {
    return this.bytes.byteLength;
  }

  /** The serialized ClassifyRequest for the first `count` images of `images`. */
  message(count: number): Buffer {
    if (!Number.isInteger(count) || count < 1 || count > this.maxBatch) {
      throw new RangeError(`count must be an integer in [1, ${this.maxBatch}], got ${count}`);
    }
    const rawBytes = count * this.images.length / this.maxBatch * 4;
    const header = classifyRequestHeader(this.modelUtf8, [count, ...this.chw], rawBytes, true);
    const start = this.room - header.length;
    this.bytes.set(header, start);
    return Buffer.from(this.bytes.buffer, start, header.length + rawBytes);
  }
}

/**
 * Buffers of finished calls, kept for the next calls of the same model and shape (at most
 * `maxBytes` in all). Release a buffer only once the call that sent it has settled.
 */
export class ClassifyRequestPool {
  private readonly free = new Map<string, ClassifyRequestBuffer[]>();
  private bytes = 0;

  constructor(private readonly maxBytes = 64 * 1024 * 1024) {}

  acquire(modelUtf8: Uint8Array, chw: readonly [number, number, number], maxBatch: number): ClassifyRequestBuffer {
    const list = this.free.get(poolKey(modelUtf8, chw, maxBatch));
    const reused = list?.pop();
    if (reused) {
      this.bytes -= reused.byteLength;
      return reused;
    }
    return new ClassifyRequestBuffer(modelUtf8, chw, maxBatch);
  }

  release(buffer: ClassifyRequestBuffer): void {
    if (this.bytes + buffer.byteLength > this.maxBytes) return;
    const key = buffer.key;
    let list = this.free.get(key);
    if (!list) this.free.set(key, (list = []));
    list.push(buffer);
    this.bytes += buffer.byteLength;
  }

  /** Bytes held for reuse. */
  get heldBytes(): number {
    return this.bytes;
  }
}

function poolKey(modelUtf8: Uint8Array, chw: readonly number[], maxBatch: number): string {
  return `${Buffer.from(modelUtf8).toString('hex')}/${chw.join('x')}/${maxBatch}`;
}

/**
 * The serialized ClassifyRequest of N transforms of one image, built by the sidecar
 * (`transformed`: the image once and the N x d parameters; a few kilobytes, so the generated
 * encoder is fine here).
 */
export function transformedClassifyRequest(model: string, image: Tensor, transform: string, params: Float64Array): Buffer {
  const bytes = inferenceV1.ClassifyRequest.encode({
    model,
    inputs: undefined,
    returnLogits: false,
    transformed: { image, transform, parameters: Array.from(params) },
  }).finish();
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
