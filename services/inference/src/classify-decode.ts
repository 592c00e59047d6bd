// Classify's request deserializer without copying the images. The generated decoder copies
// `raw_contents` out of the message (Buffer.from), and validation used to copy it again into a
// Float32Array: two fresh megabyte-sized buffers per batch on the main thread, whose churn
// ("external memory pressure") drove most of its garbage collections. Here `raw_contents` is a
// view into the message grpc-js received (a buffer of its own per message, dropped by grpc-js
// once deserialized), which validation reads as float32 in place when it is 4-byte aligned (the
// sampler aligns it: ../../sampler/src/classify-request.ts) and which the worker pool then moves
// to a worker thread.
//
// Same result as the generated ClassifyRequest.decode for every input (classify-decode.spec.ts):
// fields 1-4 of ClassifyRequest and 1-3 of Tensor, packed or unpacked shape, later scalars win,
// a repeated `inputs` replaces the earlier one (as the generated code does), unknown fields skipped.
// `transformed` (one image and N x d numbers, small) goes through the generated decoder.
import { BinaryReader, WireType } from '@bufbuild/protobuf/wire';
import { DataType, inferenceV1, type Tensor } from '@glcert/contracts';

function decodeTensor(reader: BinaryReader, length: number): Tensor {
  const end = reader.pos + length;
  const tensor: Tensor = { shape: [], dataType: DataType.DATA_TYPE_UNSPECIFIED, rawContents: Buffer.alloc(0) };
  while (reader.pos < end) {
    const tag = reader.uint32();
    const field = tag >>> 3;
    const wire = tag & 7;
    if (field === 1 && wire === WireType.Varint) {
      tensor.shape.push(BigInt(reader.int64()));
      continue;
    }
    if (field === 1 && wire === WireType.LengthDelimited) {
      const packedEnd = reader.uint32() + reader.pos;
      while (reader.pos < packedEnd) tensor.shape.push(BigInt(reader.int64()));
      continue;
    }
    if (field === 2 && wire === WireType.Varint) {
      tensor.dataType = reader.int32() as DataType;
      continue;
    }
    if (field === 3 && wire === WireType.LengthDelimited) {
      const bytes = reader.bytes();
      tensor.rawContents = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      continue;
    }
    if (wire === WireType.EndGroup || tag === 0) break;
    reader.skip(wire);
  }
  return tensor;
}

/** ClassifyRequest from its wire bytes; `inputs.rawContents` is a view into `bytes` (no copy). */
export function decodeClassifyRequest(bytes: Uint8Array): inferenceV1.ClassifyRequest {
  const reader = new BinaryReader(bytes);
  const message: inferenceV1.ClassifyRequest = { model: '', inputs: undefined, returnLogits: false, transformed: undefined };
  while (reader.pos < reader.len) {
    const tag = reader.uint32();
    const field = tag >>> 3;
    const wire = tag & 7;
    if (field === 1 && wire === WireType.LengthDelimited) {
      message.model = reader.string();
      continue;
    }
    if (field === 2 && wire === WireType.LengthDelimited) {
      message.inputs = decodeTensor(reader, reader.uint32());
      continue;
    }
    if (field === 3 && wire === WireType.Varint) {
      message.returnLogits = reader.bool();
      continue;
    }
    if (field === 4 && wire === WireType.LengthDelimited) {
      message.transformed = inferenceV1.TransformedInputs.decode(reader, reader.uint32());
      continue;
    }
    if (wire === WireType.EndGroup || tag === 0) break;
    reader.skip(wire);
  }
  return message;
}

/**
 * `raw` as float32 values without copying when it is 4-byte aligned and holds exactly `count`
 * of them (little-endian host); undefined otherwise (then decode with a copy).
 */
export function float32View(raw: Uint8Array, count: number): Float32Array | undefined {
  if (!HOST_IS_LITTLE_ENDIAN || raw.byteOffset % 4 !== 0 || raw.byteLength !== count * 4) return undefined;
  if (typeof SharedArrayBuffer !== 'undefined' && raw.buffer instanceof SharedArrayBuffer) return undefined;
  return new Float32Array(raw.buffer, raw.byteOffset, count);
}

const HOST_IS_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
