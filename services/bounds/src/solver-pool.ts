import { Worker } from 'node:worker_threads';
import { extname, join } from 'node:path';
import { InvalidBoundRequestError, type BoundRequest, type BoundResult } from '@glcert/bounds';
import { ResourceExhaustedError, UnavailableError } from '@glcert/runtime';

function startWorker(request: BoundRequest): Worker {
  const file = join(__dirname, `solver-worker${extname(__filename)}`);
  if (extname(file) === '.js') return new Worker(file, { workerData: request });
  // TypeScript source (tests, `node --import tsx`): load it through tsx inside the worker.
  const tsx = require.resolve('tsx/cjs');
  return new Worker(`require(${JSON.stringify(tsx)}); require(${JSON.stringify(file)});`, { eval: true, workerData: request });
}

/** What solver-worker.ts posts back. */
export type WorkerReply =
  | { ok: true; result: BoundResult }
  | { ok: false; name: string; message: string; field?: string };

/**
 * A solver error rebuilt on this side of the thread boundary: InvalidBoundRequestError keeps
 * its field; a RangeError (the solver's arithmetic left its domain for these inputs) stays a
 * RangeError; anything else is a plain Error (a bug: INTERNAL).
 */
export function errorFromWorker(reply: Extract<WorkerReply, { ok: false }>): Error {
  if (reply.name === 'InvalidBoundRequestError' && reply.field) {
    const prefix = `${reply.field}: `;
    return new InvalidBoundRequestError(reply.field, reply.message.startsWith(prefix) ? reply.message.slice(prefix.length) : reply.message);
  }
  if (reply.name === 'RangeError') return new RangeError(reply.message);
  return new Error(reply.message);
}

interface Waiting {
  start(): void;
  refuse(err: Error): void;
}

/**
 * Runs solves in worker threads, `concurrency` at a time, with a bounded wait queue. A solve
 * whose signal aborts is dropped from the queue, or its worker is terminated (V8 stops it
 * within milliseconds, even mid-loop, and its memory goes with the thread); the slot passes
 * to the next queued solve once the thread has exited.
 */
export class SolverPool {
  /** Slots held: workers alive (a terminated one until its thread has exited). */
  #running = 0;
  readonly #queue: Waiting[] = [];
  readonly #workers = new Set<Worker>();
  #closed = false;
  /** Solves started since creation (tests assert that cache hits start none). */
  solvesStarted = 0;

  constructor(
    private readonly concurrency: number,
    private readonly maxQueued: number,
  ) {}

  /** Worker threads alive now. */
  get running(): number {
    return this.#running;
  }

  /** Solves waiting for a slot. */
  get queued(): number {
    return this.#queue.length;
  }

  /** Rejects with `signal.reason` once `signal` aborts, whether queued or running. */
  async solve(request: BoundRequest, signal: AbortSignal): Promise<BoundResult> {
    if (signal.aborted) throw signal.reason;
    if (this.#closed) throw new UnavailableError('bound solver shutting down', { reason: 'SHUTTING_DOWN' });
    if (this.#running < this.concurrency) this.#running++;
    else await this.#wait(signal); // the releasing solve hands its slot over
    return this.#run(request, signal);
  }

  /** Shutdown: refuses what is queued and terminates every worker. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const w of this.#queue.splice(0)) w.refuse(new UnavailableError('bound solver shutting down', { reason: 'SHUTTING_DOWN' }));
    await Promise.all([...this.#workers].map((w) => w.terminate()));
  }

  #wait(signal: AbortSignal): Promise<void> {
    if (this.#queue.length >= this.maxQueued) {
      throw new ResourceExhaustedError(`bound solver busy: ${this.#running} running, ${this.#queue.length} queued (BOUNDS_MAX_QUEUED_SOLVES)`, {
        reason: 'BOUNDS_BUSY',
      });
    }
    return new Promise<void>((resolve, reject) => {
      const entry: Waiting = {
        start: () => {
          signal.removeEventListener('abort', onAbort);
          resolve();
        },
        refuse: (err) => {
          signal.removeEventListener('abort', onAbort);
          reject(err);
        },
      };
      const onAbort = (): void => {
        const at = this.#queue.indexOf(entry);
        if (at >= 0) this.#queue.splice(at, 1);
        reject(signal.reason);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.#queue.push(entry);
    });
  }

  #release(): void {
    const next = this.#queue.shift();
    if (next) next.start();
    else this.#running--;
  }

  #run(request: BoundRequest, signal: AbortSignal): Promise<BoundResult> {
    if (signal.aborted || this.#closed) {
      // gone (or shut down) between the slot's hand-over and now
      this.#release();
      return Promise.reject(signal.aborted ? signal.reason : new UnavailableError('bound solver shutting down', { reason: 'SHUTTING_DOWN' }));
    }
    let worker: Worker;
    try {
      worker = startWorker(request);
    } catch (err) {
      this.#release();
      return Promise.reject(err);
    }
    this.solvesStarted++;
    this.#workers.add(worker);
    return new Promise<BoundResult>((resolve, reject) => {
      let settled = false;
      const settle = (done: () => void): void => {
        if (settled) return;
        settled = true;
        signal.removeEventListener('abort', onAbort);
        done();
        void worker.terminate();
      };
      const onAbort = (): void => settle(() => reject(signal.reason));
      signal.addEventListener('abort', onAbort, { once: true });
      worker.once('message', (m: WorkerReply) => settle(() => (m.ok ? resolve(m.result) : reject(errorFromWorker(m)))));
      worker.once('error', (err: Error & { code?: string }) =>
        settle(() =>
          reject(
            err.code === 'ERR_WORKER_OUT_OF_MEMORY'
              ? new ResourceExhaustedError('the bound solve ran out of memory: lower bound_settings.ns or grid_points', { reason: 'SOLVE_OUT_OF_MEMORY' })
              : err,
          ),
        ),
      );
      worker.once('exit', (code) => {
        this.#workers.delete(worker);
        settle(() => reject(new Error(`bound solver worker exited with code ${code}`)));
        this.#release();
      });
    });
  }
}
