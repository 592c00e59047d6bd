import { Worker } from 'node:worker_threads';
import { extname, join } from 'node:path';
import type { BoundRequest, BoundResult } from '@glcert/bounds';
import { ResourceExhaustedError } from '@glcert/runtime';

function startWorker(request: BoundRequest): Worker {
  const file = join(__dirname, `solver-worker${extname(__filename)}`);
  if (extname(file) === '.js') return new Worker(file, { workerData: request });
  // TypeScript source (tests, `node --import tsx`): load it through tsx inside the worker.
  const tsx = require.resolve('tsx/cjs');
  return new Worker(`require(${JSON.stringify(tsx)}); require(${JSON.stringify(file)});`, { eval: true, workerData: request });
}

/** Runs solves in worker threads, `concurrency` at a time, with a bounded wait queue. */
export class SolverPool {
  #running = 0;
  readonly #queue: Array<() => void> = [];
  /** Solves started since creation (tests assert that cache hits start none). */
  solvesStarted = 0;

  constructor(private readonly concurrency: number, private readonly maxQueued: number) {}

  async solve(request: BoundRequest): Promise<BoundResult> {
    if (this.#running >= this.concurrency) {
      if (this.#queue.length >= this.maxQueued) {
        throw new ResourceExhaustedError(`bound solver busy: ${this.#running} running, ${this.#queue.length} queued`);
      }
      await new Promise<void>((resolve) => this.#queue.push(resolve));
    }
    this.#running++;
    this.solvesStarted++;
    try {
      return await new Promise<BoundResult>((resolve, reject) => {
        const worker = startWorker(request);
        worker.once('message', (m: { ok: boolean; result?: BoundResult; message?: string }) => {
          if (m.ok) resolve(m.result!);
          else reject(new Error(m.message));
          void worker.terminate();
        });
        worker.once('error', reject);
        worker.once('exit', (code) => {
          if (code !== 0) reject(new Error(`bound solver worker exited with code ${code}`));
        });
      });
    } finally {
      this.#running--;
      this.#queue.shift()?.();
    }
  }
}
