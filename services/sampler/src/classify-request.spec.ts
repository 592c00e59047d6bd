import { inferenceV1, encodeFloat32Tensor, decodeFloat32Tensor, DataType } from '@glcert/contracts';
import { ClassifyRequestBuffer, ClassifyRequestPool, classifyRequestHeader, GRPC_MESSAGE_PREFIX_BYTES } from './classify-request';

describe('ClassifyRequestBuffer', () => {
  const utf8 = (s: string) => new TextEncoder().encode(s);

  const cases = [
    ['cifar-resnet20-shape', [3, 32, 32] as const, 256, 256],
    ['cifar-resnet20-shape', [3, 32, 32] as const, 256, 7],
    ['m', [1, 28, 28] as const, 300, 1],
    ['mnist-cnn', [1, 28, 28] as const, 256, 200],
    ['a-long-model-name-'.repeat(12), [3, 224, 224] as const, 2, 2],
  ] as const;

  it.each(cases)('unaligned, its header is the bytes ts-proto writes (model %s, chw %j, max %i, n %i)', (model, chw, max, n) => {
    const elements = chw[0] * chw[1] * chw[2];
    const images = Float32Array.from({ length: n * elements }, (_, i) => Math.sin(i) * 3);
    const header = classifyRequestHeader(utf8(model), [n, ...chw], images.byteLength);
    const expected = inferenceV1.ClassifyRequest.encode({
      model,
      inputs: encodeFloat32Tensor(images, [n, ...chw]),
      returnLogits: false,
    }).finish();
    expect(Buffer.compare(Buffer.concat([header, Buffer.from(images.buffer)]), Buffer.from(expected))).toBe(0);
  });

  it.each(cases)('a message decodes to the same request and its images sit 4-byte aligned behind the gRPC prefix (model %s, chw %j, max %i, n %i)', (model, chw, max, n) => {
    const buf = new ClassifyRequestBuffer(utf8(model), chw, max);
    const elements = chw[0] * chw[1] * chw[2];
    for (let i = 0; i < n * elements; i++) buf.images[i] = Math.sin(i) * 3;
    const message = buf.message(n);
    const headerLength = message.byteLength - n * elements * 4;
    expect((GRPC_MESSAGE_PREFIX_BYTES + headerLength) % 4).toBe(0);

    const decoded = inferenceV1.ClassifyRequest.decode(message);
    expect(decoded.model).toBe(model);
    expect(decoded.returnLogits).toBe(false);
    expect(decoded.inputs?.dataType).toBe(DataType.DATA_TYPE_FLOAT32);
    const t = decodeFloat32Tensor(decoded.inputs);
    expect(t.shape).toEqual([n, ...chw]);
    const want = buf.images.subarray(0, n * elements);
    expect(Buffer.compare(Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength), Buffer.from(want.buffer, want.byteOffset, want.byteLength))).toBe(0);
    // and re-encoding the decoded request gives the canonical bytes
    expect(inferenceV1.ClassifyRequest.encode(decoded).finish().byteLength).toBeLessThanOrEqual(message.byteLength);
  });

  it('aligns every header length a batch size can give', () => {
    for (let n = 1; n <= 300; n++) {
      const raw = n * 784 * 4;
      const header = classifyRequestHeader(utf8('mnist-cnn'), [n, 1, 28, 28], raw, true);
      expect((GRPC_MESSAGE_PREFIX_BYTES + header.length) % 4).toBe(0);
      const bytes = Buffer.concat([header, Buffer.alloc(raw)]);
      expect(inferenceV1.ClassifyRequest.decode(bytes).inputs?.rawContents.byteLength).toBe(raw);
    }
  });

  it('a pool hands back released buffers of the same model and shape, up to its byte cap', () => {
    const pool = new ClassifyRequestPool(3 * (1024 + 4 * 4 * 3));
    const a = pool.acquire(utf8('abc'), [1, 2, 2], 3);
    pool.release(a);
    expect(pool.acquire(utf8('abc'), [1, 2, 2], 3)).toBe(a);
    expect(pool.acquire(utf8('abd'), [1, 2, 2], 3)).not.toBe(a);
    pool.release(a);
    expect(pool.acquire(utf8('abc'), [1, 2, 2], 4)).not.toBe(a);
    const many = Array.from({ length: 5 }, () => new ClassifyRequestBuffer(utf8('abc'), [1, 2, 2], 3));
    for (const b of many) pool.release(b);
    expect(pool.heldBytes).toBeLessThanOrEqual(3 * (1024 + 4 * 4 * 3));
  });

  it('the images view is 4-byte aligned and the message is a view, not a copy', () => {
    const buf = new ClassifyRequestBuffer(utf8('abc'), [1, 2, 2], 3);
    expect(buf.images.byteOffset % 4).toBe(0);
    buf.images.fill(1);
    const message = buf.message(2);
    expect(message.buffer).toBe(buf.images.buffer);
    expect(message.byteOffset + message.byteLength).toBe(buf.images.byteOffset + 2 * 4 * 4);
  });

  it('rejects counts outside [1, maxBatch]', () => {
    const buf = new ClassifyRequestBuffer(utf8('abc'), [1, 2, 2], 3);
    expect(() => buf.message(0)).toThrow(RangeError);
    expect(() => buf.message(4)).toThrow(RangeError);
  });
});
