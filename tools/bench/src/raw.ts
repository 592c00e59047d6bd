// The raw side of the benchmark's ratios: plain onnxruntime-node loops on every core, in worker
// threads of this process (./raw-worker.ts). Two ways a user would use the cores:
//   'workers': one worker thread per core, each a session of one intra-op thread, the work
//              split between them (images for certify, batches for fixed);
//   'threads': one session with one intra-op thread per core (the 40-line script of issue 13).
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { RawJob, RawResult, RawWorkerData } from './raw-worker';

export type RawLayout = 'workers' | 'threads';

function spawn(data: RawWorkerData): Worker {
  const ext = path.extname(__filename) === '.ts' ? '.ts' : '.js';
  const file = path.join(__dirname, `raw-worker${ext}`);
  if (ext === '.js') return new Worker(file, { workerData: data });
  const tsx = require.resolve('tsx/cjs');
  return new Worker(`require(${JSON.stringify(tsx)}); require(${JSON.stringify(file)});`, { eval: true, workerData: data });
}

function once(worker: Worker): Promise<RawResult & { ready?: boolean; error?: string }> {
  return new Promise((resolve, reject) => {
    const onExit = (code: number) => reject(new Error(`raw worker exited with code ${code}`));
    worker.once('exit', onExit);
    worker.once('error', reject);
    worker.once('message', (m: RawResult & { ready?: boolean; error?: string }) => {
      worker.off('exit', onExit);
      worker.off('error', reject);
      if (m.error) reject(new Error(`raw worker: ${m.error}`));
      else resolve(m);
    });
  });
}

export class RawPool {
  private constructor(
    readonly layout: RawLayout,
    private readonly workers: Worker[],
  ) {}

  /** `cores` workers of one thread ('workers') or one worker of `cores` threads ('threads'), warmed up. */
  static async start(layout: RawLayout, cores: number, file: string, chw: [number, number, number], batch: number): Promise<RawPool> {
    const count = layout === 'workers' ? cores : 1;
    const threads = layout === 'workers' ? 1 : cores;
    const workers = Array.from({ length: count }, () => spawn({ file, threads, chw, batch }));
    await Promise.all(workers.map(once));
    return new RawPool(layout, workers);
  }

  /** `batches` forward passes on a pre-built batch, split over the workers; samples/s. */
  async fixed(batches: number, batch: number): Promise<number> {
    const share = (i: number) => Math.floor(batches / this.workers.length) + (i < batches % this.workers.length ? 1 : 0);
    const t0 = performance.now();
    await Promise.all(this.workers.map((w, i) => this.post(w, { type: 'fixed', batches: share(i) })));
    return (batches * batch) / ((performance.now() - t0) / 1000);
  }

  /** n0 + n noisy forward passes per image, images dealt round-robin to the workers; images/s. */
  async certify(images: Float32Array[], sigma: number, n0: number, n: number): Promise<number> {
    const t0 = performance.now();
    await Promise.all(
      this.workers.map((w, i) =>
        this.post(w, { type: 'certify', images: images.filter((_, k) => k % this.workers.length === i), sigma, n0, n }),
      ),
    );
    return images.length / ((performance.now() - t0) / 1000);
  }

  private post(worker: Worker, job: RawJob): Promise<RawResult> {
    const done = once(worker);
    worker.postMessage(job);
    return done;
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
