// A worker thread of the raw onnxruntime-node loop (./raw.ts): one session of `threads`
// intra-op threads, and the loops a user would write without glcert: forward passes on one
// pre-built batch tensor ('fixed'), or, per image, Gaussian brightness noise + forward pass +
// argmax + count for n0 + n samples in batches ('certify').
import { parentPort, workerData } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';
import { applyTransformBatch } from '@glcert/transforms';

export interface RawWorkerData {
  file: string;
  threads: number;
  chw: [number, number, number];
  batch: number;
}

export type RawJob =
  | { type: 'fixed'; batches: number }
  | { type: 'certify'; images: Float32Array[]; sigma: number; n0: number; n: number };

export interface RawResult {
  ms: number;
  samples: number;
}

const data = workerData as RawWorkerData;
const port = parentPort!;
const [c, h, w] = data.chw;
const elements = c * h * w;
const sessionPromise = ort.InferenceSession.create(data.file, {
  executionProviders: ['cpu'],
  intraOpNumThreads: data.threads,
  interOpNumThreads: 1,
  executionMode: 'sequential',
  graphOptimizationLevel: 'all',
});

/** A standard normal (Box-Muller): what a user's loop would draw, not glcert's Philox stream. */
function gaussian(): number {
  return Math.sqrt(-2 * Math.log(1 - Math.random())) * Math.cos(2 * Math.PI * Math.random());
}

async function certifyLoop(session: ort.InferenceSession, job: Extract<RawJob, { type: 'certify' }>): Promise<number> {
  const input = session.inputNames[0]!;
  const buffer = new Float32Array(data.batch * elements);
  const params = new Float64Array(data.batch);
  const counts = new Int32Array(1000);
  let samples = 0;
  for (const image of job.images) {
    // selection (n0) then estimation (n), each in batches of at most `batch`, as the certifier asks
    for (const total of [job.n0, job.n]) {
      counts.fill(0);
      for (let done = 0; done < total; ) {
        const count = Math.min(data.batch, total - done);
        for (let i = 0; i < count; i++) params[i] = job.sigma * gaussian();
        applyTransformBatch('b', image, { channels: c, height: h, width: w }, params, count, buffer);
        const tensor = new ort.Tensor('float32', buffer.subarray(0, count * elements), [count, c, h, w]);
        const out = await session.run({ [input]: tensor });
        const logits = out[session.outputNames[0]!]!.data as Float32Array;
        const classes = logits.length / count;
        for (let i = 0; i < count; i++) {
          let best = 0;
          for (let k = 1; k < classes; k++) if (logits[i * classes + k]! > logits[i * classes + best]!) best = k;
          counts[best]!++;
        }
        done += count;
        samples += count;
      }
    }
  }
  return samples;
}

port.on('message', (job: RawJob) => {
  void (async () => {
    const session = await sessionPromise;
    const t0 = performance.now();
    let samples = 0;
    if (job.type === 'fixed') {
      const tensor = new ort.Tensor('float32', new Float32Array(data.batch * elements).fill(0.5), [data.batch, c, h, w]);
      for (let i = 0; i < job.batches; i++) await session.run({ [session.inputNames[0]!]: tensor });
      samples = job.batches * data.batch;
    } else {
      samples = await certifyLoop(session, job);
    }
    port.postMessage({ ms: performance.now() - t0, samples } satisfies RawResult);
  })().catch((err: unknown) => port.postMessage({ error: err instanceof Error ? err.message : String(err) }));
});

// ready once the session is loaded and has run once (warm)
void sessionPromise.then(async (session) => {
  const warm = new ort.Tensor('float32', new Float32Array(data.batch * elements).fill(0.5), [data.batch, c, h, w]);
  await session.run({ [session.inputNames[0]!]: warm });
  port.postMessage({ ready: true });
});
