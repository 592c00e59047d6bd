// A pool of inference worker threads. Each worker owns a session per model; a batch goes to an
// idle worker (FIFO when all are busy), its input buffer is transferred there and the logits
// and labels are transferred back. Execution providers are settled on the first worker: when
// CUDA cannot be used the pool says so in one log line and every worker runs on CPU, without
// retrying CUDA per worker.
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { optOutOfOnnxRuntimeTelemetry } from '@glcert/runtime';
import { TRANSFORMS } from '@glcert/transforms';
import type { BatchOutput, BatchPart } from './batcher';
import type { ModelEntry } from './model-repository';
import type { LoadedModel, WirePart, WorkerModelSpec, WorkerRequest, WorkerResponse } from './worker-protocol';

/** Execution provider names onnxruntime-node understands. */
export const KNOWN_EXECUTION_PROVIDERS = ['cpu', 'cuda', 'tensorrt', 'webgpu', 'dml', 'coreml'] as const;

export interface PoolLogger {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

export interface WorkerPoolOptions {
  /** Number of worker threads (>= 1). */
  workers: number;
  models: ModelEntry[];
  /** Execution providers in order of preference; CPU is always the last resort. */
  executionProviders: string[];
  /** onnxruntime intra-op threads per session (0: onnxruntime decides). */
  intraOpNumThreads: number;
  /** Nice value of the worker threads on Linux (0 or absent: unchanged). */
  workerNice?: number;
  logger: PoolLogger;
  /** Called when a worker dies unexpectedly (the pool keeps serving with the others). */
  onWorkerExit?: (error: Error) => void;
  /**
   * Skip CUDA when onnxruntime-node lacks its CUDA libraries, before asking onnxruntime (which
   * would print its own errors). Default true; tests turn it off to exercise the fallback of a
   * GPU-less machine that has the binaries.
   */
  checkProviderBinaries?: boolean;
}

/** A batch's outputs plus the time the forward pass took inside the worker. */
export interface PoolRunOutput extends BatchOutput {
  computeMs: number;
}

/** A worker failed or the pool is closed (UNAVAILABLE to callers). */
export class WorkerUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WorkerUnavailableError';
  }
}

interface Job {
  id: number;
  model: string;
  input: Float32Array | readonly BatchPart[];
  images: number;
  resolve: (out: PoolRunOutput) => void;
  reject: (err: Error) => void;
}

interface Slot {
  index: number;
  worker: Worker;
  job?: Job;
  alive: boolean;
}

/**
 * Where onnxruntime-node keeps its native libraries; CUDA needs libonnxruntime_providers_cuda
 * there, which its install script downloads (blocked on machines without network).
 */
function cudaUnavailableReason(): string | undefined {
  if (process.platform !== 'linux' && process.platform !== 'win32') return `onnxruntime-node has no CUDA build for ${process.platform}`;
  let root: string;
  try {
    root = path.dirname(require.resolve('onnxruntime-node/package.json'));
  } catch {
    return undefined; // let onnxruntime itself report it
  }
  const dir = path.join(root, 'bin', 'napi-v6', process.platform, process.arch);
  const lib = process.platform === 'win32' ? 'onnxruntime_providers_cuda.dll' : 'libonnxruntime_providers_cuda.so';
  return existsSync(path.join(dir, lib)) ? undefined : `onnxruntime-node has no CUDA binaries (${lib} not found in ${dir})`;
}

/** The provider list actually tried: known names, de-duplicated, CPU last; CUDA dropped early when its binaries are absent. */
export function resolveExecutionProviders(requested: string[], checkBinaries = true): { providers: string[]; skipped?: string } {
  const providers: string[] = [];
  let skipped: string | undefined;
  for (const raw of requested) {
    const name = raw.trim().toLowerCase();
    if (!(KNOWN_EXECUTION_PROVIDERS as readonly string[]).includes(name)) {
      throw new RangeError(`unknown execution provider '${raw}' (known: ${KNOWN_EXECUTION_PROVIDERS.join(', ')})`);
    }
    if (providers.includes(name)) continue;
    if (checkBinaries && (name === 'cuda' || name === 'tensorrt')) {
      const reason = cudaUnavailableReason();
      if (reason) {
        skipped = `${name}: ${reason}`;
        continue;
      }
    }
    providers.push(name);
  }
  if (!providers.includes('cpu')) providers.push('cpu');
  return { providers, skipped };
}

/** How to start a worker from this file's sibling, in TypeScript (via tsx) or compiled JS. */
function spawnWorker(): Worker {
  const ext = path.extname(__filename) === '.ts' ? '.ts' : '.js';
  const file = path.join(__dirname, `inference-worker${ext}`);
  if (ext === '.js') return new Worker(file);
  const tsx = require.resolve('tsx/cjs');
  return new Worker(`require(${JSON.stringify(tsx)}); require(${JSON.stringify(file)});`, { eval: true });
}

export class WorkerPool {
  /** Execution provider of each model (the same in every worker). */
  readonly providers = new Map<string, string>();
  private readonly slots: Slot[] = [];
  private readonly waiting: Job[] = [];
  private nextId = 1;
  private closing = false;

  private constructor(private readonly options: WorkerPoolOptions) {}

  /** Starts the workers and loads every model in each; rejects (and cleans up) on any failure. */
  static async start(options: WorkerPoolOptions): Promise<WorkerPool> {
    if (!Number.isSafeInteger(options.workers) || options.workers < 1) throw new RangeError(`workers must be an integer >= 1, got ${options.workers}`);
    const pool = new WorkerPool(options);
    try {
      await pool.startAll();
    } catch (err) {
      await pool.close();
      throw err;
    }
    return pool;
  }

  get size(): number {
    return this.slots.filter((s) => s.alive).length;
  }

  private async startAll(): Promise<void> {
    const { models, executionProviders, intraOpNumThreads, workers, logger } = this.options;
    // before the first session: onnxruntime reads its telemetry opt-out once (@glcert/runtime)
    optOutOfOnnxRuntimeTelemetry();
    const { providers, skipped } = resolveExecutionProviders(executionProviders, this.options.checkProviderBinaries ?? true);
    const specs: WorkerModelSpec[] = models.map((m) => ({
      name: m.name,
      file: m.file,
      inputName: m.inputName,
      outputName: m.outputName,
      chw: [m.channels, m.height, m.width],
      classes: m.classNames.length,
      providers,
    }));
    // The first worker settles the providers; the others reuse its choice.
    const first = await this.startWorker(specs, intraOpNumThreads);
    const reasons = new Set<string>(skipped ? [skipped] : []);
    for (const model of first) {
      this.providers.set(model.name, model.provider);
      if (model.fallbackReason) reasons.add(model.fallbackReason);
    }
    const chosen = [...new Set(this.providers.values())];
    if (reasons.size > 0) {
      const wanted = providers[0] === 'cpu' && skipped ? skipped.split(':')[0] : providers[0];
      logger.warn(
        `${wanted.toUpperCase()} execution provider unavailable, falling back to ${chosen.map((p) => p.toUpperCase()).join('/')}: ${[...reasons].join('; ')}`,
        { requested: executionProviders, chosen },
      );
    }
    const settled = specs.map((s) => ({ ...s, providers: [this.providers.get(s.name)!] }));
    await Promise.all(Array.from({ length: workers - 1 }, () => this.startWorker(settled, intraOpNumThreads)));
  }

  private startWorker(specs: WorkerModelSpec[], intraOpNumThreads: number): Promise<LoadedModel[]> {
    const slot: Slot = { index: this.slots.length, worker: spawnWorker(), alive: true };
    this.slots.push(slot);
    return new Promise<LoadedModel[]>((resolve, reject) => {
      let loaded = false;
      slot.worker.on('message', (message: WorkerResponse) => {
        switch (message.type) {
          case 'loaded':
            loaded = true;
            resolve(message.models);
            this.next(slot);
            break;
          case 'load-failed':
            reject(new Error(`inference worker ${slot.index}: ${message.message}`));
            break;
          case 'result':
          case 'run-failed':
            this.finish(slot, message);
            break;
          case 'closed':
            break;
        }
      });
      slot.worker.on('error', (err) => {
        if (!loaded) reject(err);
        this.lose(slot, err);
      });
      slot.worker.on('exit', (code) => {
        const err = new Error(`inference worker ${slot.index} exited with code ${code}`);
        if (!loaded) reject(err);
        this.lose(slot, err);
      });
      this.post(slot, { type: 'load', models: specs, intraOpNumThreads, nice: this.options.workerNice ?? 0 });
    });
  }

  private post(slot: Slot, message: WorkerRequest, transfer: ArrayBuffer[] = []): void {
    slot.worker.postMessage(message, transfer);
  }

  /**
   * Runs one batch of `images` images on an idle worker. A Float32Array's ArrayBuffer is
   * transferred (detached), the view's offset going along: the caller must own the whole buffer
   * (the batcher's contract); a SharedArrayBuffer is copied instead. Parts are copied (images,
   * the transforms' image and rows: small next to the images the worker builds from them).
   */
  run(model: string, input: Float32Array | readonly BatchPart[], images: number): Promise<PoolRunOutput> {
    if (this.closing) return Promise.reject(new WorkerUnavailableError('inference workers are shutting down'));
    if (this.size === 0) return Promise.reject(new WorkerUnavailableError('no inference worker is running'));
    return new Promise<PoolRunOutput>((resolve, reject) => {
      this.waiting.push({ id: this.nextId++, model, input, images, resolve, reject });
      const idle = this.slots.find((s) => s.alive && !s.job);
      if (idle) this.next(idle);
    });
  }

  /** Runs one batch on every worker (warm-up: each worker's first run pays the set-up cost). */
  async runOnEach(model: string, makeInput: () => Float32Array, images: number): Promise<void> {
    await Promise.all(
      this.slots
        .filter((s) => s.alive)
        .map(
          (slot) =>
            new Promise<PoolRunOutput>((resolve, reject) => {
              const job: Job = { id: this.nextId++, model, input: makeInput(), images, resolve, reject };
              if (slot.job) this.waiting.push(job);
              else this.send(slot, job);
            }),
        ),
    );
  }

  private next(slot: Slot): void {
    if (!slot.alive || slot.job || this.closing) return;
    const job = this.waiting.shift();
    if (job) this.send(slot, job);
  }

  private send(slot: Slot, job: Job): void {
    slot.job = job;
    if (!(job.input instanceof Float32Array)) {
      const parts = job.input.map(wirePart);
      const transfer = parts.flatMap((p) => ('pixels' in p ? [p.pixels.buffer as ArrayBuffer] : [p.image.buffer as ArrayBuffer, p.params.buffer as ArrayBuffer]));
      this.post(slot, { type: 'run-parts', id: job.id, model: job.model, parts, images: job.images }, transfer);
      return;
    }
    const movable = job.input.buffer instanceof ArrayBuffer;
    const input = movable ? job.input : job.input.slice();
    const buffer = input.buffer as ArrayBuffer;
    this.post(slot, { type: 'run', id: job.id, model: job.model, input: buffer, byteOffset: input.byteOffset, images: job.images }, [buffer]);
  }

  private finish(slot: Slot, message: Extract<WorkerResponse, { type: 'result' | 'run-failed' }>): void {
    const job = slot.job;
    if (!job || job.id !== message.id) return;
    slot.job = undefined;
    if (message.type === 'result') {
      job.resolve({
        logits: new Float32Array(message.logits),
        labels: new Int32Array(message.labels),
        classes: message.classes,
        computeMs: message.computeMs,
      });
    } else {
      job.reject(new Error(message.message));
    }
    this.next(slot);
  }

  private lose(slot: Slot, err: Error): void {
    if (!slot.alive) return;
    slot.alive = false;
    const job = slot.job;
    slot.job = undefined;
    if (this.closing) {
      job?.reject(new WorkerUnavailableError('inference workers are shutting down'));
      return;
    }
    this.options.logger.error(`inference worker ${slot.index} died: ${err.message}`);
    job?.reject(new WorkerUnavailableError(`inference worker ${slot.index} died: ${err.message}`));
    if (this.size === 0) for (const waiting of this.waiting.splice(0)) waiting.reject(new WorkerUnavailableError('no inference worker is running'));
    this.options.onWorkerExit?.(err);
  }

  /** Rejects queued jobs, lets each worker release its sessions, then terminates the threads. */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    for (const job of this.waiting.splice(0)) job.reject(new WorkerUnavailableError('inference workers are shutting down'));
    await Promise.all(
      this.slots.map(async (slot) => {
        if (slot.alive && !slot.job) {
          const closed = new Promise<void>((resolve) => {
            const onMessage = (m: WorkerResponse) => m.type === 'closed' && resolve();
            slot.worker.on('message', onMessage);
            slot.worker.once('exit', () => resolve());
            setTimeout(resolve, 2000).unref();
          });
          this.post(slot, { type: 'close' });
          await closed;
        }
        await slot.worker.terminate();
      }),
    );
  }
}

/** A batch part as posted to a worker: copies owning their buffers (views would post their whole buffer). */
function wirePart(part: BatchPart): WirePart {
  if ('pixels' in part) return { pixels: part.pixels.slice() };
  const { transformed, start, count } = part;
  const d = TRANSFORMS[transformed.key].params.length;
  return { key: transformed.key, image: transformed.image.slice(), params: transformed.params.slice(start * d, (start + count) * d) };
}
