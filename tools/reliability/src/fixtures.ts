// Shared inputs of the reliability tests and the load run: the shipped MNIST digits, the
// brightness threat model (closed-form bound: no solver run), and small tensor helpers.
import { readFileSync } from 'node:fs';
import { crc32, deflateSync } from 'node:zlib';
import * as path from 'node:path';
import { BoundMethod, DataType, Distribution, type BoundSettings, type Tensor, type ThreatModel } from '@glcert/contracts';

export const ROOT = path.resolve(__dirname, '..', '..', '..');
export const MODELS_DIR = path.join(ROOT, 'models');
export const MNIST_DIR = path.join(ROOT, 'data', 'mnist-test');
export const MNIST_MODEL = 'mnist-cnn';
/** [C, H, W] of mnist-cnn. */
export const MNIST_CHW = [1, 28, 28] as const;

export interface Digit {
  file: string;
  label: number;
}

/** data/mnist-test files with their labels (labels.csv order). */
export function digits(): Digit[] {
  return readFileSync(path.join(MNIST_DIR, 'labels.csv'), 'utf8')
    .trim()
    .split('\n')
    .slice(1)
    .map((line) => {
      const [file, label] = line.split(',');
      return { file: file!, label: Number(label) };
    });
}

export const png = (file: string): Buffer => readFileSync(path.join(MNIST_DIR, file));

/** Brightness b in [-0.05, 0.05] smoothed with Normal(0, 0.3^2): threshold Phi(1/6). */
export function brightness(over: Partial<{ min: number; max: number; sigma: number }> = {}): ThreatModel {
  return {
    transform: 'b',
    box: [{ name: 'b', min: over.min ?? -0.05, max: over.max ?? 0.05 }],
    smoothing: [{ name: 'b', distribution: Distribution.DISTRIBUTION_NORMAL, sigma: over.sigma ?? 0.3 }],
    note: '',
  };
}

/** The closed form only: no numeric solve, so no test waits for the solver. */
export const CLOSED_FORM: BoundSettings = { ns: 0n, gridPoints: [], seed: 0n, method: BoundMethod.BOUND_METHOD_CLOSED_FORM };

/** A float32 tensor of `shape` filled with `value` (little-endian raw contents). */
export function tensor(shape: readonly number[], value = 0.5, dataType: DataType = DataType.DATA_TYPE_FLOAT32): Tensor {
  const count = shape.reduce((a, b) => a * b, 1);
  const raw = Buffer.alloc(Math.max(0, count) * 4);
  for (let i = 0; i < count; i++) raw.writeFloatLE(value, i * 4);
  return { shape: shape.map(BigInt), dataType, rawContents: raw };
}

/** `t` with element `index` set to `value` (NaN, Infinity, ...). */
export function withElement(t: Tensor, index: number, value: number): Tensor {
  const raw = Buffer.from(t.rawContents);
  raw.writeFloatLE(value, index * 4);
  return { ...t, rawContents: raw };
}

/** `t` with its raw contents cut to `bytes`. */
export function truncatedTensor(t: Tensor, bytes: number): Tensor {
  return { ...t, rawContents: Buffer.from(t.rawContents.subarray(0, bytes)) };
}

function pngChunk(type: string, data: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])) >>> 0, 0);
  return Buffer.concat([head, data, crc]);
}

/**
 * `png` made an animated PNG (APNG) of two frames: the first is `png`'s own image (what a
 * decoder that ignores animation shows), the second all white (8-bit PNGs; otherwise a copy).
 */
export function animatedPng(png: Buffer): Buffer {
  const chunks: { type: string; data: Buffer }[] = [];
  for (let at = 8; at < png.length; ) {
    const length = png.readUInt32BE(at);
    chunks.push({ type: png.toString('latin1', at + 4, at + 8), data: png.subarray(at + 8, at + 8 + length) });
    at += 12 + length;
  }
  const ihdr = chunks.find((c) => c.type === 'IHDR')!.data;
  const [width, height, bitDepth, colorType] = [ihdr.readUInt32BE(0), ihdr.readUInt32BE(4), ihdr[8]!, ihdr[9]!];
  const channels = ({ 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 } as Record<number, number>)[colorType] ?? 1;
  const idat = Buffer.concat(chunks.filter((c) => c.type === 'IDAT').map((c) => c.data));
  const white = bitDepth === 8 ? deflateSync(Buffer.concat(Array.from({ length: height }, () => Buffer.concat([Buffer.from([0]), Buffer.alloc(width * channels, 0xff)])))) : idat;
  const u32 = (...v: number[]): Buffer => Buffer.concat(v.map((x) => Buffer.from([x >>> 24, (x >>> 16) & 255, (x >>> 8) & 255, x & 255])));
  // fcTL: sequence, width, height, x, y, delay 1/10 s, dispose none, blend source
  const fctl = (seq: number): Buffer => pngChunk('fcTL', Buffer.concat([u32(seq, width, height, 0, 0), Buffer.from([0, 1, 0, 10, 0, 0])]));
  const out: Buffer[] = [png.subarray(0, 8)];
  for (const c of chunks) {
    if (c.type === 'IDAT' || c.type === 'IEND') continue;
    out.push(pngChunk(c.type, c.data));
    if (c.type === 'IHDR') out.push(pngChunk('acTL', u32(2, 0)));
  }
  out.push(fctl(0), pngChunk('IDAT', idat), fctl(1), pngChunk('fdAT', Buffer.concat([u32(2), white])), pngChunk('IEND', Buffer.alloc(0)));
  return Buffer.concat(out);
}
