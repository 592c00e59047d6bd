// An inference worker thread: owns one onnxruntime-node session per model and runs batches on
// request. session.run() is a synchronous native call that blocks its thread for the whole
// forward pass; here it blocks only this worker, so the main thread keeps serving gRPC
// (health included). One batch at a time per worker: the pool never sends a second before the
// first answered.
import { setPriority } from 'node:os';
import { parentPort } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';
import { applyTransformBatch, TRANSFORMS, TransformScratch } from '@glcert/transforms';
import type { LoadedModel, RunPartsRequest, RunRequest, WorkerModelSpec, WorkerRequest, WorkerResponse } from './worker-protocol';

interface Loaded {
  session: ort.InferenceSession;
  spec: WorkerModelSpec;
  outputName: string;
}

const sessions = new Map<string, Loaded>();
const port = parentPort;
if (!port) throw new Error('inference-worker must run in a worker thread');

function reply(message: WorkerResponse, transfer: ArrayBuffer[] = []): void {
  port!.postMessage(message, transfer);
}

function errorText(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0];
}

async function createSession(spec: WorkerModelSpec, intraOpNumThreads: number): Promise<{ session: ort.InferenceSession; model: LoadedModel }> {
  const failures: string[] = [];
  for (let i = 0; i < spec.providers.length; i++) {
    const provider = spec.providers[i];
    try {
      const session = await ort.InferenceSession.create(spec.file, {
        executionProviders: [provider],
        intraOpNumThreads,
        interOpNumThreads: 1,
        executionMode: 'sequential',
        graphOptimizationLevel: 'all',
      });
      const outputName = spec.outputName ?? session.outputNames[0];
      if (!session.inputNames.includes(spec.inputName)) {
        throw new Error(`model '${spec.name}' has no input '${spec.inputName}' (inputs: ${session.inputNames.join(', ')})`);
      }
      if (!session.outputNames.includes(outputName)) {
        throw new Error(`model '${spec.name}' has no output '${outputName}' (outputs: ${session.outputNames.join(', ')})`);
      }
      checkInputShape(spec, session);
      const fallbackReason = failures.length > 0 ? failures.join('; ') : undefined;
      return { session, model: { name: spec.name, provider, fallbackReason, outputName } };
    } catch (err) {
      // A model that does not match its card fails on every provider: do not mask it.
      if (i === spec.providers.length - 1 || (err instanceof Error && err.message.startsWith(`model '${spec.name}'`))) throw err;
      failures.push(`${provider}: ${errorText(err)}`);
    }
  }
  throw new Error(`model '${spec.name}': no execution provider given`);
}

/** The card's C, H, W must agree with the graph's input where the graph fixes them. */
function checkInputShape(spec: WorkerModelSpec, session: ort.InferenceSession): void {
  const meta = session.inputMetadata.find((m) => m.name === spec.inputName);
  if (!meta || !meta.isTensor) return;
  if (meta.type !== 'float32') throw new Error(`model '${spec.name}': input '${spec.inputName}' is ${meta.type}, expected float32`);
  const dims = meta.shape;
  const card = [-1, ...spec.chw];
  if (dims.length !== 4 || dims.some((d, i) => i > 0 && typeof d === 'number' && d !== card[i])) {
    throw new Error(`model '${spec.name}': graph input shape [${dims.join(', ')}] disagrees with card.json [${card.join(', ')}]`);
  }
}

async function load(models: WorkerModelSpec[], intraOpNumThreads: number): Promise<void> {
  try {
    const loaded: LoadedModel[] = [];
    for (const spec of models) {
      const { session, model } = await createSession(spec, intraOpNumThreads);
      sessions.set(spec.name, { session, spec, outputName: model.outputName });
      loaded.push(model);
    }
    reply({ type: 'loaded', models: loaded });
  } catch (err) {
    reply({ type: 'load-failed', message: errorText(err) });
  }
}

function loadedModel(model: string): Loaded {
  const loaded = sessions.get(model);
  if (!loaded) throw new Error(`model '${model}' is not loaded in this worker`);
  return loaded;
}

async function run(request: RunRequest): Promise<void> {
  const { id, model, images } = request;
  try {
    const loaded = loadedModel(model);
    const [c, h, w] = loaded.spec.chw;
    await forward(id, loaded, new Float32Array(request.input, request.byteOffset, images * c * h * w), images);
  } catch (err) {
    reply({ type: 'run-failed', id, message: errorText(err) });
  }
}

/** This worker's batch input, reused from batch to batch (one batch at a time per worker). */
let assembled = new Float32Array(0);
const scratch = new TransformScratch();

/** A batch holding transformed images: built here, into the reused input, then run. */
async function runParts(request: RunPartsRequest): Promise<void> {
  const { id, model, images } = request;
  try {
    const loaded = loadedModel(model);
    const [channels, height, width] = loaded.spec.chw;
    const elements = channels * height * width;
    if (assembled.length < images * elements) assembled = new Float32Array(images * elements);
    let at = 0;
    for (const part of request.parts) {
      if ('pixels' in part) {
        assembled.set(part.pixels, at * elements);
        at += part.pixels.length / elements;
      } else {
        const count = part.params.length / TRANSFORMS[part.key].params.length;
        applyTransformBatch(part.key, part.image, { channels, height, width }, part.params, count, assembled.subarray(at * elements, (at + count) * elements), scratch);
        at += count;
      }
    }
    if (at !== images) throw new Error(`batch parts hold ${at} images, expected ${images}`);
    await forward(id, loaded, assembled.subarray(0, images * elements), images);
  } catch (err) {
    reply({ type: 'run-failed', id, message: errorText(err) });
  }
}

/** The forward pass of `images` images in `data`, argmax, and the reply. */
async function forward(id: number, loaded: Loaded, input: Float32Array, images: number): Promise<void> {
  const model = loaded.spec.name;
  const [c, h, w] = loaded.spec.chw;
  const tensor = new ort.Tensor('float32', input, [images, c, h, w]);
  const started = performance.now();
  const outputs = await loaded.session.run({ [loaded.spec.inputName]: tensor }, [loaded.outputName]);
  const computeMs = performance.now() - started;
  const output = outputs[loaded.outputName];
  if (output.type !== 'float32') throw new Error(`model '${model}': output '${loaded.outputName}' is ${output.type}, expected float32`);
  const data = output.data as Float32Array;
  const classes = loaded.spec.classes;
  if (data.length !== images * classes) {
    throw new Error(`model '${model}': output '${loaded.outputName}' has shape [${output.dims.join(', ')}], expected [${images}, ${classes}]`);
  }
  const labels = new Int32Array(images);
  for (let i = 0; i < images; i++) {
    let best = 0;
    let bestValue = data[i * classes];
    for (let k = 1; k < classes; k++) {
      const v = data[i * classes + k];
      if (v > bestValue) {
        best = k;
        bestValue = v;
      }
    }
    labels[i] = best;
  }
  // Move the logits when the output owns its whole buffer (it does in onnxruntime-node 1.30).
  const logits = data.byteOffset === 0 && data.byteLength === data.buffer.byteLength ? data : data.slice();
  reply({ type: 'result', id, logits: logits.buffer as ArrayBuffer, labels: labels.buffer, classes, computeMs }, [logits.buffer as ArrayBuffer, labels.buffer]);
}

/**
 * Lowers this thread's scheduling priority (Linux, where the nice value belongs to the thread
 * and the onnxruntime threads it starts inherit it): when the forward passes fill every core,
 * the main thread's gRPC work (health checks, receiving the next batch) and the sampler in the
 * same pod still run at once. The forward passes lose nothing while those are idle.
 */
function lowerPriority(nice: number): void {
  if (process.platform !== 'linux' || !(nice > 0)) return;
  try {
    setPriority(0, nice);
  } catch {
    // not permitted here: keep the inherited priority
  }
}

async function close(): Promise<void> {
  for (const { session } of sessions.values()) await session.release().catch(() => undefined);
  sessions.clear();
  reply({ type: 'closed' });
}

port.on('message', (message: WorkerRequest) => {
  switch (message.type) {
    case 'load':
      lowerPriority(message.nice);
      void load(message.models, message.intraOpNumThreads);
      break;
    case 'run':
      void run(message);
      break;
    case 'run-parts':
      void runParts(message);
      break;
    case 'close':
      void close();
      break;
  }
});
