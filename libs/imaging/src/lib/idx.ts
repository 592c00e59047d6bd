import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import { DatasetError } from './errors';

const gunzipAsync = promisify(gunzip);

/** Where Debian's `dataset-fashion-mnist` puts the files. */
export const FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist';
export const FASHION_MNIST_CLASSES: readonly string[] = [
  'T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot',
];
const FASHION_TEST_IMAGES = 't10k-images-idx3-ubyte.gz';
const FASHION_TEST_LABELS = 't10k-labels-idx1-ubyte.gz';

export interface IdxArray {
  dims: number[];
  data: Uint8Array;
}

/**
 * Parses an IDX file (LeCun's MNIST format: 0x00 0x00, type, ndims, big-endian uint32 dims,
 * data), gzip-compressed or not. Only unsigned-byte data (type 0x08) is accepted, and the data
 * must be exactly as long as the dimensions say.
 */
export async function parseIdx(bytes: Uint8Array, source = 'idx'): Promise<IdxArray> {
  let buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.length >= 2 && buf[0] === 0x1f && buf[1] === 0x8b) {
    try {
      buf = await gunzipAsync(buf);
    } catch (err) {
      throw new DatasetError('IDX_INVALID', `${source}: gzip data is corrupt or truncated: ${(err as Error).message}`, { cause: err });
    }
  }
  if (buf.length < 4 || buf[0] !== 0 || buf[1] !== 0) throw new DatasetError('IDX_INVALID', `${source}: not an IDX file (bad magic)`);
  if (buf[2] !== 0x08) throw new DatasetError('IDX_INVALID', `${source}: IDX data type 0x${buf[2].toString(16)} is not unsigned byte (0x08)`);
  const ndims = buf[3];
  if (ndims < 1 || ndims > 4) throw new DatasetError('IDX_INVALID', `${source}: ${ndims} dimensions`);
  const headerLen = 4 + 4 * ndims;
  if (buf.length < headerLen) throw new DatasetError('IDX_INVALID', `${source}: truncated header`);
  const dims: number[] = [];
  for (let i = 0; i < ndims; i++) dims.push(buf.readUInt32BE(4 + 4 * i));
  const count = dims.reduce((a, b) => a * b, 1);
  if (buf.length - headerLen !== count) {
    throw new DatasetError('IDX_INVALID', `${source}: ${buf.length - headerLen} data bytes, dimensions [${dims.join(', ')}] need ${count}`);
  }
  return { dims, data: new Uint8Array(buf.buffer, buf.byteOffset + headerLen, count) };
}

async function readIdx(path: string): Promise<IdxArray> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (err) {
    throw new DatasetError('DATASET_NOT_FOUND', `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err });
  }
  return parseIdx(bytes, path);
}

export interface IdxImages {
  count: number;
  rows: number;
  cols: number;
  /** count x rows x cols bytes, row-major. */
  pixels: Uint8Array;
}

/** An IDX image file (3 dimensions: count, rows, cols). */
export async function readIdxImages(path: string): Promise<IdxImages> {
  const { dims, data } = await readIdx(path);
  if (dims.length !== 3) throw new DatasetError('IDX_INVALID', `${path}: image files have 3 dimensions, got [${dims.join(', ')}]`);
  return { count: dims[0], rows: dims[1], cols: dims[2], pixels: data };
}

/** An IDX label file (1 dimension). */
export async function readIdxLabels(path: string): Promise<Uint8Array> {
  const { dims, data } = await readIdx(path);
  if (dims.length !== 1) throw new DatasetError('IDX_INVALID', `${path}: label files have 1 dimension, got [${dims.join(', ')}]`);
  return data;
}

export interface TensorItem {
  /** e.g. `t10k-00042` */
  id: string;
  index: number;
  label: number;
  /** CHW float32 in [0, 1] (byte / 255). */
  tensor: Float32Array;
  shape: [number, number, number];
}

/** Whether the Fashion-MNIST test files are present (Debian package `dataset-fashion-mnist`). */
export function fashionMnistAvailable(dir = FASHION_MNIST_DIR): boolean {
  return existsSync(join(dir, FASHION_TEST_IMAGES)) && existsSync(join(dir, FASHION_TEST_LABELS));
}

/** Reads images and labels of an IDX pair as [1, rows, cols] tensors in [0, 1]. */
export async function readIdxDataset(imagesPath: string, labelsPath: string, idPrefix: string, limit?: number): Promise<TensorItem[]> {
  const [images, labels] = await Promise.all([readIdxImages(imagesPath), readIdxLabels(labelsPath)]);
  if (labels.length !== images.count) {
    throw new DatasetError('IDX_INVALID', `${labelsPath} has ${labels.length} labels, ${imagesPath} has ${images.count} images`);
  }
  const n = limit === undefined ? images.count : Math.min(limit, images.count);
  const hw = images.rows * images.cols;
  const width = String(images.count - 1).length;
  const items: TensorItem[] = [];
  for (let i = 0; i < n; i++) {
    const tensor = new Float32Array(hw);
    for (let p = 0; p < hw; p++) tensor[p] = images.pixels[i * hw + p] / 255;
    items.push({ id: `${idPrefix}-${String(i).padStart(width, '0')}`, index: i, label: labels[i], tensor, shape: [1, images.rows, images.cols] });
  }
  return items;
}

/** The 10,000 Fashion-MNIST test images (standard split), in file order. */
export async function readFashionMnistTest(dir = FASHION_MNIST_DIR, options: { limit?: number } = {}): Promise<TensorItem[]> {
  if (!fashionMnistAvailable(dir)) {
    throw new DatasetError('DATASET_NOT_FOUND', `Fashion-MNIST test files not found in ${dir} (install the Debian package dataset-fashion-mnist)`);
  }
  return readIdxDataset(join(dir, FASHION_TEST_IMAGES), join(dir, FASHION_TEST_LABELS), 't10k', options.limit);
}
