import { readdirSync, readFileSync } from 'node:fs';
import * as ort from 'onnxruntime-node';
import { applyTransformBatch } from '@glcert/transforms';
import type { BatchPart, TransformedImages } from './batcher';
import { loadModelRepository, type ModelEntry } from './model-repository';
import { createFixtureRepository, type FixtureRepository } from './testing/fixture-models';
import { type PoolLogger, resolveExecutionProviders, WorkerPool } from './worker-pool';

function recordingLogger() {
  const lines: Array<{ level: string; message: string }> = [];
  const logger: PoolLogger = {
    info: (message) => lines.push({ level: 'info', message }),
    warn: (message) => lines.push({ level: 'warn', message }),
    error: (message) => lines.push({ level: 'error', message }),
  };
  return { lines, logger };
}

function inputs(images: number, elements: number, seed: number): Float32Array {
  const data = new Float32Array(images * elements);
  for (let i = 0; i < data.length; i++) data[i] = ((i * 7919 + seed * 104729) % 1000) / 1000;
  return data;
}

describe('WorkerPool', () => {
  let repo: FixtureRepository;
  let models: ModelEntry[];

  beforeAll(async () => {
    repo = createFixtureRepository([
      { name: 'tiny-grey', chw: [1, 6, 6], hidden: [16], classes: 4, seed: 3 },
      { name: 'tiny-rgb', chw: [3, 4, 4], classes: 10, seed: 5 },
    ]);
    models = await loadModelRepository(repo.dir);
  });
  afterAll(() => repo.remove());

  it('builds a batch of parts in the worker: images and transforms, in order, as the caller would have built them', async () => {
    const { logger } = recordingLogger();
    const pool = await WorkerPool.start({ workers: 1, models, executionProviders: ['cpu'], intraOpNumThreads: 1, logger });
    try {
      const shape = { channels: 1, height: 6, width: 6 };
      const image = inputs(1, 36, 9);
      const pixels = inputs(2, 36, 4);
      // rows 1-3 of contrast+brightness, then two plain images, then rows 0-1 of a translation
      const cb: TransformedImages = { key: 'cb', image, params: Float64Array.from([9, 9, 0.5, 0.1, 1.5, -0.2, 2, 0.3]) };
      const t: TransformedImages = { key: 't', image, params: Float64Array.from([1, -2, 3, 0]) };
      const built = new Float32Array(7 * 36);
      applyTransformBatch('cb', image, shape, cb.params.subarray(2), 3, built);
      built.set(pixels, 3 * 36);
      applyTransformBatch('t', image, shape, t.params, 2, built.subarray(5 * 36));
      const expected = await pool.run('tiny-grey', built.slice(), 7);
      // a view into a larger buffer: only its own values travel
      const inLarger = new Float32Array(200);
      inLarger.set(pixels, 50);
      const parts: BatchPart[] = [
        { transformed: cb, start: 1, count: 3 },
        { pixels: inLarger.subarray(50, 50 + 72) },
        { transformed: t, start: 0, count: 2 },
      ];
      const out = await pool.run('tiny-grey', parts, 7);
      expect(Array.from(out.logits)).toEqual(Array.from(expected.logits));
      expect(Array.from(out.labels)).toEqual(Array.from(expected.labels));
      // the caller's arrays are neither moved nor changed
      expect(cb.params).toHaveLength(8);
      expect(inLarger.byteLength).toBe(800);
      // a worker reuses its input buffer: a smaller batch after a larger one is still right
      const small = await pool.run('tiny-grey', [{ transformed: t, start: 1, count: 1 }], 1);
      expect(Array.from(small.logits)).toEqual(Array.from(expected.logits.subarray(6 * 4, 7 * 4)));
    } finally {
      await pool.close();
    }
  });

  it('runs batches in worker threads and matches a direct onnxruntime run', async () => {
    const { logger, lines } = recordingLogger();
    const pool = await WorkerPool.start({ workers: 2, models, executionProviders: ['cpu'], intraOpNumThreads: 1, logger });
    try {
      expect(pool.size).toBe(2);
      expect(pool.providers.get('tiny-grey')).toBe('cpu');
      const data = inputs(5, 36, 1);
      const direct = await ort.InferenceSession.create(repo.onnx.get('tiny-grey')!);
      const expected = (await direct.run({ input: new ort.Tensor('float32', data.slice(), [5, 1, 6, 6]) })).logits.data as Float32Array;
      await direct.release();
      const out = await pool.run('tiny-grey', data.slice(), 5);
      expect(out.classes).toBe(4);
      expect(Array.from(out.logits)).toEqual(Array.from(expected));
      for (let i = 0; i < 5; i++) {
        const row = Array.from(expected.subarray(i * 4, i * 4 + 4));
        expect(out.labels[i]).toBe(row.indexOf(Math.max(...row)));
      }
      // Several batches in parallel over both workers, two models.
      const many = await Promise.all(Array.from({ length: 6 }, (_, k) => pool.run(k % 2 ? 'tiny-rgb' : 'tiny-grey', inputs(3, k % 2 ? 48 : 36, k), 3)));
      expect(many.map((m) => m.classes)).toEqual([4, 10, 4, 10, 4, 10]);
      expect(lines.filter((l) => l.level !== 'info')).toEqual([]);
    } finally {
      await pool.close();
    }
  });

  it('transfers the input buffer to the worker instead of copying it', async () => {
    const { logger } = recordingLogger();
    const pool = await WorkerPool.start({ workers: 1, models, executionProviders: ['cpu'], intraOpNumThreads: 1, logger });
    try {
      const data = inputs(2, 48, 2);
      const result = pool.run('tiny-rgb', data, 2);
      expect(data.buffer.byteLength).toBe(0); // detached: moved to the worker
      await result;
    } finally {
      await pool.close();
    }
  });

  it('moves a view that starts past its buffer (a message header before the images) and runs on the view alone', async () => {
    const { logger } = recordingLogger();
    const pool = await WorkerPool.start({ workers: 1, models, executionProviders: ['cpu'], intraOpNumThreads: 1, logger });
    try {
      const data = inputs(3, 36, 9);
      const expected = await pool.run('tiny-grey', data.slice(), 3);
      // 24 bytes of "header" of different values before the images, 8 after
      const buffer = new ArrayBuffer(24 + data.byteLength + 8);
      new Float32Array(buffer).fill(1e6);
      const view = new Float32Array(buffer, 24, data.length);
      view.set(data);
      const result = pool.run('tiny-grey', view, 3);
      expect(buffer.byteLength).toBe(0); // detached: moved to the worker
      const out = await result;
      expect(Array.from(out.logits)).toEqual(Array.from(expected.logits));
      expect(Array.from(out.labels)).toEqual(Array.from(expected.labels));
    } finally {
      await pool.close();
    }
  });

  (process.platform === 'linux' ? it : it.skip)('runs its worker threads at the nice value asked for (Linux)', async () => {
    const niceOfThreads = (): number[] =>
      readdirSync('/proc/self/task').flatMap((tid) => {
        try {
          const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
          return [Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16])]; // field 19: nice
        } catch {
          return [];
        }
      });
    const before = niceOfThreads().filter((n) => n === 7).length;
    const { logger } = recordingLogger();
    const pool = await WorkerPool.start({ workers: 2, models, executionProviders: ['cpu'], intraOpNumThreads: 1, workerNice: 7, logger });
    try {
      expect(niceOfThreads().filter((n) => n === 7).length - before).toBeGreaterThanOrEqual(2);
      expect(niceOfThreads()[0]).toBe(0); // the main thread keeps its priority
    } finally {
      await pool.close();
    }
  });

  it('falls back to CPU with a single log line when CUDA is unavailable', async () => {
    const { logger, lines } = recordingLogger();
    const pool = await WorkerPool.start({ workers: 2, models, executionProviders: ['cuda', 'cpu'], intraOpNumThreads: 1, logger });
    try {
      expect([...pool.providers.values()]).toEqual(['cpu', 'cpu']);
      const warnings = lines.filter((l) => l.level === 'warn');
      expect(warnings).toHaveLength(1);
      expect(warnings[0].message).toMatch(/cuda/i);
      expect(warnings[0].message).toMatch(/cpu/i);
      await expect(pool.run('tiny-rgb', inputs(1, 48, 3), 1)).resolves.toMatchObject({ classes: 10 });
    } finally {
      await pool.close();
    }
  });

  it('falls back per model when onnxruntime itself refuses CUDA, still logging once', async () => {
    const { logger, lines } = recordingLogger();
    const pool = await WorkerPool.start({
      workers: 2, models, executionProviders: ['cuda'], intraOpNumThreads: 1, logger, checkProviderBinaries: false,
    });
    try {
      expect([...pool.providers.values()]).toEqual(['cpu', 'cpu']);
      const warnings = lines.filter((l) => l.level === 'warn');
      expect(warnings).toHaveLength(1);
      expect(warnings[0].message).toMatch(/^CUDA execution provider unavailable, falling back to CPU: cuda: /);
    } finally {
      await pool.close();
    }
  });

  it('rejects unknown execution providers and reports model load errors', async () => {
    expect(() => resolveExecutionProviders(['cpu', 'gpu'])).toThrow(/unknown execution provider 'gpu'/);
    expect(resolveExecutionProviders(['CPU']).providers).toEqual(['cpu']);
    const { logger } = recordingLogger();
    const bad = [{ ...models[0], inputName: 'pixels' }];
    await expect(WorkerPool.start({ workers: 1, models: bad, executionProviders: ['cpu'], intraOpNumThreads: 1, logger })).rejects.toThrow(/no input 'pixels'/);
    const wrongShape = [{ ...models[0], channels: 3 }];
    await expect(WorkerPool.start({ workers: 1, models: wrongShape, executionProviders: ['cpu'], intraOpNumThreads: 1, logger })).rejects.toThrow(/disagrees with card/);
  });
});
