import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import {
  DatasetError,
  FASHION_MNIST_CLASSES,
  fashionMnistAvailable,
  parseIdx,
  readFashionMnistTest,
  readIdxImages,
  readIdxLabels,
} from '../index';

function idx(dims: number[], data: number[], type = 0x08): Buffer {
  const header = Buffer.alloc(4 + 4 * dims.length);
  header[2] = type;
  header[3] = dims.length;
  dims.forEach((d, i) => header.writeUInt32BE(d, 4 + 4 * i));
  return Buffer.concat([header, Buffer.from(data)]);
}

describe('IDX readers', () => {
  let dir: string;
  // 3 images of 2x3
  const pixels = Array.from({ length: 18 }, (_, i) => i * 15);
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'glcert-idx-'));
    writeFileSync(join(dir, 't10k-images-idx3-ubyte.gz'), gzipSync(idx([3, 2, 3], pixels)));
    writeFileSync(join(dir, 't10k-labels-idx1-ubyte.gz'), gzipSync(idx([3], [7, 0, 9])));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads gzip IDX images and labels', async () => {
    const images = await readIdxImages(join(dir, 't10k-images-idx3-ubyte.gz'));
    expect([images.count, images.rows, images.cols]).toEqual([3, 2, 3]);
    expect(Array.from(images.pixels)).toEqual(pixels);
    expect(Array.from(await readIdxLabels(join(dir, 't10k-labels-idx1-ubyte.gz')))).toEqual([7, 0, 9]);
  });

  it('reads uncompressed IDX too', async () => {
    expect(await parseIdx(idx([2], [1, 2]))).toEqual({ dims: [2], data: new Uint8Array([1, 2]) });
  });

  it('reads a Fashion-MNIST-style test folder into [1,H,W] tensors in [0,1]', async () => {
    expect(fashionMnistAvailable(dir)).toBe(true);
    const items = await readFashionMnistTest(dir);
    expect(items.map((i) => [i.id, i.label])).toEqual([
      ['t10k-0', 7],
      ['t10k-1', 0],
      ['t10k-2', 9],
    ]);
    expect(items[1].shape).toEqual([1, 2, 3]);
    expect(Array.from(items[1].tensor)).toEqual(pixels.slice(6, 12).map((v) => Math.fround(v / 255)));
    expect(await readFashionMnistTest(dir, { limit: 2 })).toHaveLength(2);
    expect(FASHION_MNIST_CLASSES).toHaveLength(10);
  });

  it.each([
    ['bad magic', Buffer.from([1, 2, 3, 4, 5]), /bad magic/],
    ['non-byte type', idx([1], [0, 0, 0, 0], 0x0d), /type 0xd is not unsigned byte/],
    ['short data', idx([2, 2], [1, 2, 3]), /3 data bytes, dimensions \[2, 2\] need 4/],
    ['long data', idx([1], [1, 2]), /2 data bytes/],
    ['truncated header', Buffer.from([0, 0, 8, 3, 0, 0]), /truncated header/],
    ['corrupt gzip', gzipSync(idx([4], [1, 2, 3, 4])).subarray(0, 12), /gzip data is corrupt or truncated/],
  ])('rejects %s', async (_name, bytes, message) => {
    const err = await parseIdx(bytes, 'f.idx').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DatasetError);
    expect((err as DatasetError).reason).toBe('IDX_INVALID');
    expect((err as Error).message).toMatch(message);
  });

  it('rejects mismatched image and label counts, wrong ranks, and missing folders', async () => {
    const bad = mkdtempSync(join(tmpdir(), 'glcert-idx-'));
    try {
      writeFileSync(join(bad, 't10k-images-idx3-ubyte.gz'), gzipSync(idx([2, 1, 1], [1, 2])));
      writeFileSync(join(bad, 't10k-labels-idx1-ubyte.gz'), gzipSync(idx([3], [1, 2, 3])));
      await expect(readFashionMnistTest(bad)).rejects.toThrow(/has 3 labels, .* has 2 images/);
      await expect(readIdxImages(join(bad, 't10k-labels-idx1-ubyte.gz'))).rejects.toThrow(/image files have 3 dimensions/);
      await expect(readIdxLabels(join(bad, 'missing.gz'))).rejects.toMatchObject({ reason: 'DATASET_NOT_FOUND' });
    } finally {
      rmSync(bad, { recursive: true, force: true });
    }
    expect(fashionMnistAvailable(join(dir, 'nope'))).toBe(false);
    await expect(readFashionMnistTest(join(dir, 'nope'))).rejects.toThrow(/dataset-fashion-mnist/);
  });

  const real = fashionMnistAvailable();
  (real ? it : it.skip)('reads the Debian Fashion-MNIST test set (first 100)', async () => {
    const items = await readFashionMnistTest(undefined, { limit: 100 });
    expect(items).toHaveLength(100);
    expect(items[0].shape).toEqual([1, 28, 28]);
    expect(items[0].id).toBe('t10k-0000');
    for (const it of items) expect(it.label).toBeLessThan(10);
  });
});
