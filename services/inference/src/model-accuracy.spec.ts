// The committed models keep their promises: each card's SHA-256 matches its file, each trained
// model reaches (through onnxruntime-node, the runtime the service uses) the held-out accuracy
// its card claims and the floor the project requires, and the shape-only ResNet-20 loads and
// answers [N, 10] for any batch size. Cards are also parsed by the service's own card parser.
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { decodeImage, fashionMnistAvailable, readFashionMnistTest, readImageFolder, sha256Hex, FASHION_MNIST_DIR } from '@glcert/imaging';
import { loadModelRepository } from './model-repository';

const ROOT = path.resolve(__dirname, '..', '..', '..');
const MODELS = path.join(ROOT, 'models');
const MNIST_TEST = path.join(ROOT, 'data', 'mnist-test');
/** ORT and PyTorch may round a near-tie differently: allow a couple of images per 2,000. */
const TOLERANCE = 0.0015;
const BATCH = 512;

interface Card {
  name: string;
  file: string;
  sha256: string;
  input: { name: string; shape: number[] };
  output: { name: string };
  classes: string[];
  heldout: { dataset: string | null; count: number; clean_accuracy: number | null };
  random_weights: boolean;
}

function card(name: string): Card {
  return JSON.parse(readFileSync(path.join(MODELS, name, 'card.json'), 'utf8')) as Card;
}

async function session(c: Card): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(path.join(MODELS, c.name, c.file), { intraOpNumThreads: 1, interOpNumThreads: 1 });
}

/** Runs [N, C, H, W] images in batches; returns the argmax class of each. */
async function predict(s: ort.InferenceSession, c: Card, images: Float32Array, n: number): Promise<Int32Array> {
  const [, ch, h, w] = c.input.shape;
  const size = ch * h * w;
  const out = new Int32Array(n);
  for (let start = 0; start < n; start += BATCH) {
    const b = Math.min(BATCH, n - start);
    const input = new ort.Tensor('float32', images.subarray(start * size, (start + b) * size), [b, ch, h, w]);
    const result = await s.run({ [c.input.name]: input });
    const logits = result[c.output.name];
    expect(logits.dims).toEqual([b, c.classes.length]);
    const data = logits.data as Float32Array;
    const k = c.classes.length;
    for (let i = 0; i < b; i++) {
      let best = 0;
      for (let j = 1; j < k; j++) if (data[i * k + j] > data[i * k + best]) best = j;
      out[start + i] = best;
    }
  }
  return out;
}

function accuracy(pred: Int32Array, labels: ArrayLike<number>): number {
  let ok = 0;
  for (let i = 0; i < pred.length; i++) if (pred[i] === labels[i]) ok++;
  return ok / pred.length;
}

function expectClaim(c: Card, acc: number, floor: number): void {
  console.log(`${c.name}: held-out accuracy ${acc.toFixed(4)} (card claims ${c.heldout.clean_accuracy}, floor ${floor})`);
  expect(c.random_weights).toBe(false);
  expect(c.heldout.clean_accuracy).not.toBeNull();
  expect(acc).toBeGreaterThanOrEqual((c.heldout.clean_accuracy as number) - TOLERANCE);
  expect(acc).toBeGreaterThanOrEqual(floor);
}

describe('committed models', () => {
  const names = ['mnist-cnn', 'fashion-cnn', 'cifar-resnet20-shape'];

  it.each(names)('%s: card sha256 matches model file', (name) => {
    const c = card(name);
    expect(c.name).toBe(name);
    expect(c.input.name).toBe('input');
    expect(c.output.name).toBe('logits');
    expect(sha256Hex(readFileSync(path.join(MODELS, name, c.file)))).toBe(c.sha256);
  });

  it('every card is accepted by the service model repository', async () => {
    const entries = await loadModelRepository(MODELS);
    expect(entries.map((e) => e.name)).toEqual(expect.arrayContaining(names));
  });

  it('mnist-cnn reaches its claimed accuracy (>= 0.97) on data/mnist-test, decoded by @glcert/imaging', async () => {
    const c = card('mnist-cnn');
    const size = 28 * 28;
    const images = new Float32Array(c.heldout.count * size);
    const labels: number[] = [];
    for await (const item of readImageFolder(MNIST_TEST)) {
      expect(labels.length).toBeLessThan(c.heldout.count);
      const img = await decodeImage(item.bytes, { channels: 1, height: 28, width: 28 });
      images.set(img.tensor, labels.length * size);
      labels.push(item.label);
    }
    expect(labels).toHaveLength(c.heldout.count);
    const s = await session(c);
    try {
      expectClaim(c, accuracy(await predict(s, c, images, labels.length), labels), 0.97);
    } finally {
      await s.release();
    }
  }, 180_000);

  it('fashion-cnn reaches its claimed accuracy (>= 0.88) on the Fashion-MNIST test set', async () => {
    if (!fashionMnistAvailable()) {
      console.warn(`SKIPPED fashion-cnn accuracy: Fashion-MNIST not found in ${FASHION_MNIST_DIR} (apt-get install dataset-fashion-mnist)`);
      return;
    }
    const c = card('fashion-cnn');
    const items = await readFashionMnistTest();
    expect(items).toHaveLength(c.heldout.count);
    const size = 28 * 28;
    const images = new Float32Array(items.length * size);
    items.forEach((it, i) => images.set(it.tensor, i * size));
    const s = await session(c);
    try {
      expectClaim(c, accuracy(await predict(s, c, images, items.length), items.map((it) => it.label)), 0.88);
    } finally {
      await s.release();
    }
  }, 180_000);

  it('cifar-resnet20-shape loads and returns [N, 10] logits for a dynamic batch', async () => {
    const c = card('cifar-resnet20-shape');
    expect(c.random_weights).toBe(true);
    expect(c.heldout.clean_accuracy).toBeNull();
    expect(c.input.shape).toEqual([-1, 3, 32, 32]);
    const s = await session(c);
    try {
      for (const n of [1, 5]) {
        const x = new Float32Array(n * 3 * 32 * 32).map((_, i) => (i % 97) / 96);
        const out = (await s.run({ input: new ort.Tensor('float32', x, [n, 3, 32, 32]) })).logits;
        expect(out.dims).toEqual([n, 10]);
        expect(Array.from(out.data as Float32Array).every(Number.isFinite)).toBe(true);
      }
    } finally {
      await s.release();
    }
  }, 60_000);
});
