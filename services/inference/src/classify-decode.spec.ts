import { BinaryWriter } from '@bufbuild/protobuf/wire';
import fc from 'fast-check';
import { DataType, inferenceV1 } from '@glcert/contracts';
import { decodeClassifyRequest, float32View } from './classify-decode';

/** The wire bytes of a ClassifyRequest, with the variations a foreign encoder may use. */
function encode(m: {
  model?: string;
  shape?: bigint[];
  packed?: boolean;
  dataType?: number;
  raw?: Uint8Array;
  returnLogits?: boolean;
  unknown?: boolean;
  twice?: boolean;
  transformed?: { params: number[]; key: string; first: boolean };
}): Uint8Array {
  const tensor = new BinaryWriter();
  if (m.shape) {
    if (m.packed) {
      tensor.uint32(10).fork();
      for (const d of m.shape) tensor.int64(d);
      tensor.join();
    } else {
      for (const d of m.shape) tensor.uint32(8).int64(d);
    }
  }
  if (m.dataType !== undefined) tensor.uint32(16).int32(m.dataType);
  if (m.unknown) tensor.uint32((9 << 3) | 2).bytes(new Uint8Array([1, 2, 3]));
  if (m.raw) tensor.uint32(26).bytes(m.raw);
  const t = tensor.finish();
  const w = new BinaryWriter();
  const transformed = (): void => {
    if (!m.transformed) return;
    const { params, key } = m.transformed;
    const image = { shape: [1n, 2n], dataType: DataType.DATA_TYPE_FLOAT32, rawContents: Buffer.from([0, 0, 128, 63, 0, 0, 0, 0]) };
    inferenceV1.TransformedInputs.encode({ image, transform: key, parameters: params }, w.uint32(34).fork()).join();
  };
  if (m.transformed?.first) transformed();
  if (m.unknown) w.uint32((7 << 3) | 0).uint64(12345n);
  if (m.model !== undefined) w.uint32(10).string(m.model);
  if (m.twice) w.uint32(18).bytes(new BinaryWriter().uint32(16).int32(3).finish());
  w.uint32(18).bytes(t);
  if (m.returnLogits !== undefined) w.uint32(24).bool(m.returnLogits);
  if (m.unknown) w.uint32((8 << 3) | 5).fixed32(7);
  if (m.transformed && !m.transformed.first) transformed();
  return w.finish();
}

describe('decodeClassifyRequest', () => {
  it('decodes as the generated decoder does, for any encoding of any message', () => {
    fc.assert(
      fc.property(
        fc.record({
          model: fc.option(fc.string(), { nil: undefined }),
          shape: fc.option(fc.array(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }), { maxLength: 5 }), { nil: undefined }),
          packed: fc.boolean(),
          dataType: fc.option(fc.integer({ min: 0, max: 20 }), { nil: undefined }),
          raw: fc.option(fc.uint8Array({ maxLength: 64 }), { nil: undefined }),
          returnLogits: fc.option(fc.boolean(), { nil: undefined }),
          unknown: fc.boolean(),
          twice: fc.boolean(),
          transformed: fc.option(fc.record({ params: fc.array(fc.double(), { maxLength: 8 }), key: fc.string({ maxLength: 4 }), first: fc.boolean() }), { nil: undefined }),
        }),
        (m) => {
          const bytes = encode(m);
          const ours = decodeClassifyRequest(bytes);
          const theirs = inferenceV1.ClassifyRequest.decode(bytes);
          expect(ours.model).toBe(theirs.model);
          expect(ours.returnLogits).toBe(theirs.returnLogits);
          expect(ours.inputs?.shape).toEqual(theirs.inputs?.shape);
          expect(ours.inputs?.dataType).toBe(theirs.inputs?.dataType);
          expect(Buffer.compare(ours.inputs!.rawContents, theirs.inputs!.rawContents)).toBe(0);
          expect(ours.transformed).toEqual(theirs.transformed);
          if (m.transformed) expect(ours.transformed?.parameters).toEqual(m.transformed.params);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('reads a length written as a longer varint (the sampler pads it to align the images)', () => {
    const raw = new Uint8Array([0, 0, 128, 63]); // 1.0f
    // ClassifyRequest { inputs (18) len 11: Tensor { data_type 1, raw_contents (26) len 4 as 0x84 0x80 0x80 0x00 } }
    const bytes = new Uint8Array([18, 11, 16, 1, 26, 0x84, 0x80, 0x80, 0x00, ...raw]);
    const ours = decodeClassifyRequest(bytes);
    const theirs = inferenceV1.ClassifyRequest.decode(bytes);
    expect(ours).toEqual({ model: '', inputs: { shape: [], dataType: DataType.DATA_TYPE_FLOAT32, rawContents: Buffer.from(raw) }, returnLogits: false });
    expect(theirs.inputs?.rawContents).toEqual(Buffer.from(raw));
  });

  it('raw_contents is a view into the message, not a copy', () => {
    const raw = new Uint8Array(new Float32Array([1, 2, 3, 4]).buffer);
    const bytes = encode({ model: 'm', shape: [1n, 1n, 2n, 2n], packed: true, dataType: DataType.DATA_TYPE_FLOAT32, raw });
    const decoded = decodeClassifyRequest(bytes);
    expect(decoded.inputs!.rawContents.buffer).toBe(bytes.buffer);
    bytes[bytes.length - 1] ^= 0xff;
    expect(decoded.inputs!.rawContents[15]).toBe(bytes[bytes.length - 1]);
  });
});

describe('float32View', () => {
  it('views aligned bytes of the right length, refuses the rest', () => {
    const buffer = new ArrayBuffer(24);
    new Float32Array(buffer, 8, 2).set([1.5, -2]);
    expect(Array.from(float32View(new Uint8Array(buffer, 8, 8), 2)!)).toEqual([1.5, -2]);
    expect(float32View(new Uint8Array(buffer, 8, 8), 3)).toBeUndefined();
    expect(float32View(new Uint8Array(buffer, 6, 8), 2)).toBeUndefined();
  });
});
