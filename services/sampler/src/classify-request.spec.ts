import { inferenceV1, encodeFloat32Tensor, decodeFloat32Tensor, DataType } from '@glcert/contracts';
import { ClassifyRequestBuffer } from './classify-request';

describe('ClassifyRequestBuffer', () => {
  const utf8 = (s: string) => new TextEncoder().encode(s);

  it.each([
    ['cifar-resnet20-shape', [3, 32, 32] as const, 256, 256],
    ['cifar-resnet20-shape', [3, 32, 32] as const, 256, 7],
    ['m', [1, 28, 28] as const, 300, 1],
    ['a-long-model-name-'.repeat(12), [3, 224, 224] as const, 2, 2],
  ])('writes the bytes ts-proto writes (model %s, chw %j, max %i, n %i)', (model, chw, max, n) => {
    const buf = new ClassifyRequestBuffer(utf8(model), chw, max);
    const elements = chw[0] * chw[1] * chw[2];
    for (let i = 0; i < n * elements; i++) buf.images[i] = Math.sin(i) * 3;
    const message = buf.message(n);
    const expected = inferenceV1.ClassifyRequest.encode({
      model,
      inputs: encodeFloat32Tensor(buf.images.subarray(0, n * elements), [n, ...chw]),
      returnLogits: false,
    }).finish();
    expect(Buffer.compare(message, Buffer.from(expected))).toBe(0);

    const decoded = inferenceV1.ClassifyRequest.decode(message);
    expect(decoded.model).toBe(model);
    expect(decoded.inputs?.dataType).toBe(DataType.DATA_TYPE_FLOAT32);
    const t = decodeFloat32Tensor(decoded.inputs);
    expect(t.shape).toEqual([n, ...chw]);
    expect(t.data).toEqual(buf.images.subarray(0, n * elements));
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
