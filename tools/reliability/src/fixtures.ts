// Shared inputs of the reliability tests and the load run: the shipped MNIST digits, the
// brightness threat model (closed-form bound: no solver run), and small tensor helpers.
import { readFileSync } from 'node:fs';
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
