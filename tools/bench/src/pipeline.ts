// `npm run bench`: the whole stack certifying a dataset against plain onnxruntime loops on every
// core (certify_over_raw, ./certify.ts), the sampler -> inference pipeline against the same raw
// loops, the cost of producing transformed batches against classifying them, and health-check
// latency under load. Prints one JSON summary on stdout (progress goes to stderr).
//
// Every ratio is measured side by side in one run: the two sides of a ratio alternate within
// each round, and the figure is the median over rounds of the per-round ratio. The services run
// as child processes (`node --import tsx services/*/src/main.ts`), as they would in a pod, with
// their defaults (sized to the machine) unless a BENCH_ variable below says otherwise; the raw
// side uses every core, in both layouts a user would write (./raw.ts), and the ratio takes the
// better one.
//
// Environment: BENCH_ROUNDS (>= 3, default 5), BENCH_BATCH_SIZE (256), BENCH_WORKERS and
// BENCH_THREADS (INFERENCE_WORKERS / INFERENCE_INTRA_OP_THREADS of the pipeline's sidecar;
// default: sized), BENCH_PIPELINE_DEPTH (SAMPLER_PIPELINE_DEPTH; default: sized), BENCH_SECONDS
// (target seconds per measured side, 2), BENCH_MODELS (comma list), BENCH_MODELS_DIR (default
// <repo>/models), BENCH_PARTS (certify,pipeline,transforms,health), BENCH_CERTIFY_IMAGES (150 per
// side, as issue 13 measured), BENCH_CERTIFY_ROUNDS (5), BENCH_CERTIFY_ENV (VAR=value,... added to the stack's services,
// e.g. INFERENCE_WORKERS=1,INFERENCE_INTRA_OP_THREADS=2 to measure another split; default none).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as ort from 'onnxruntime-node';
import { encodeFloat32Tensor, LAW_DISTRIBUTION, InferenceServiceClient, SamplingServiceClient, type samplingV1, type ThreatModel } from '@glcert/contracts';
import { checkHealth, createClient, createHealthClient, optOutOfOnnxRuntimeTelemetry, type HealthClient } from '@glcert/runtime';
import { fillNormals } from '@glcert/stats';
import { applyTransformBatch, TRANSFORMS, TransformScratch, type TransformKey } from '@glcert/transforms';
import { certifyOverRaw } from './certify';
import { RawPool } from './raw';

/** GetModelMetadata response header of the inference sidecar (services/inference). */
const WORKERS_HEADER = 'glcert-inference-workers';

const ROOT = path.resolve(__dirname, '..', '..', '..');
// the raw loops and the bench's own sessions run in this process: no onnxruntime telemetry here
// either, as in the sidecar (the stack's processes inherit it too)
optOutOfOnnxRuntimeTelemetry();
const MODELS_DIR = path.resolve(ROOT, process.env['BENCH_MODELS_DIR'] ?? 'models');

function envInt(name: string, fallback: number, min = 1): number {
  const raw = process.env[name];
  const v = raw === undefined || raw === '' ? fallback : Number(raw);
  if (!Number.isSafeInteger(v) || v < min) throw new Error(`${name} must be an integer >= ${min}, got ${raw}`);
  return v;
}

const ROUNDS = Math.max(3, envInt('BENCH_ROUNDS', 5));
const BATCH = envInt('BENCH_BATCH_SIZE', 256);
/** Unset: the service's sized default. */
const optionalInt = (name: string): number | undefined => (process.env[name] ? envInt(name, 1) : undefined);
const WORKERS = optionalInt('BENCH_WORKERS');
const THREADS = process.env['BENCH_THREADS'] ? envInt('BENCH_THREADS', 1, 0) : undefined;
const DEPTH = optionalInt('BENCH_PIPELINE_DEPTH');
const CORES = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
// 150 images a side, the dataset size issue 13 measured on: a run's start (connect, config, the
// first image's round trips) and its end (the last batches on fewer workers than cores) are a
// fixed cost per side, charged to the stack; its share falls with the size of the run
const CERTIFY_IMAGES = envInt('BENCH_CERTIFY_IMAGES', 150);
const CERTIFY_ROUNDS = Math.max(1, envInt('BENCH_CERTIFY_ROUNDS', 5));
const CERTIFY_ENV = Object.fromEntries(
  (process.env['BENCH_CERTIFY_ENV'] ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((kv) => {
      const at = kv.indexOf('=');
      if (at < 1) throw new Error(`BENCH_CERTIFY_ENV: expected VAR=value, got '${kv}'`);
      return [kv.slice(0, at), kv.slice(at + 1)];
    }),
);
const SECONDS = Number(process.env['BENCH_SECONDS'] ?? 2);
const MODELS = (process.env['BENCH_MODELS'] ?? 'mnist-cnn,cifar-resnet20-shape').split(',').map((s) => s.trim()).filter(Boolean);
const PARTS = new Set((process.env['BENCH_PARTS'] ?? 'certify,pipeline,transforms,health').split(',').map((s) => s.trim()));
const TRANSFORM_MODEL = 'cifar-resnet20-shape';
const FAMILIES: TransformKey[] = ['b', 'c', 'cb', 'g', 'gc', 't', 'r', 'bt'];
/** ALGORITHM.md section 7 / the transforms presets (translation as for CIFAR). */
const SIGMA: Record<string, number> = { b: 0.3, k: 0.3, g: 0.1, tx: 15, ty: 15, r: 2 };
const TARGETS = { certify_over_raw: 0.95, pipeline_over_raw: 0.9, transform_light: 0.05, transform_heavy: 0.15, health_p99_ms: 50 };
const HEAVY = new Set<TransformKey>(['g', 'gc', 'r']);

const log = (msg: string): void => void process.stderr.write(`[bench] ${msg}\n`);
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const quantile = (xs: number[], q: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))]!;
};
const round = (x: number, digits = 4): number => Number(x.toPrecision(digits));

interface Card {
  input: { shape: number[] };
  classes: string[];
}

function chwOf(model: string): [number, number, number] {
  const card = JSON.parse(readFileSync(path.join(MODELS_DIR, model, 'card.json'), 'utf8')) as Card;
  const [, c, h, w] = card.input.shape;
  return [c!, h!, w!];
}

function smoothing(key: TransformKey): ThreatModel {
  const spec = TRANSFORMS[key];
  return {
    transform: key,
    box: [],
    smoothing: spec.params.map((p, i) => ({ name: p, distribution: LAW_DISTRIBUTION[spec.laws[i]!], sigma: SIGMA[p]! })),
    note: '',
  };
}

/** A deterministic image in [0, 1]. */
function image(chw: readonly number[]): Float32Array {
  const [c, h, w] = chw as [number, number, number];
  const out = new Float32Array(c * h * w);
  for (let k = 0; k < c; k++) for (let i = 0; i < h; i++) for (let j = 0; j < w; j++) out[(k * h + i) * w + j] = 0.5 + 0.5 * Math.sin(i / 3 + (j * (k + 1)) / 5);
  return out;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

function startChild(name: string, entry: string, env: Record<string, string>): ChildProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, entry)], {
    cwd: ROOT,
    env: { ...process.env, OTEL_SDK_DISABLED: 'true', LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  child.stderr!.on('data', (d: Buffer) => process.stderr.write(`[${name}] ${d.toString()}`));
  child.on('exit', (code, signal) => {
    if (code !== 0 && signal !== 'SIGTERM') log(`${name} exited (${code ?? signal})`);
  });
  return child;
}

async function waitServing(health: HealthClient, what: string, timeoutMs = 120_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    try {
      if ((await checkHealth(health, '', 1_000)) === 'SERVING') return;
    } catch {
      // not up yet
    }
    if (Date.now() > end) throw new Error(`${what} not SERVING after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function stop(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

function countSamples(client: SamplingServiceClient, req: samplingV1.CountSamplesRequest): Promise<samplingV1.CountSamplesResponse> {
  return new Promise((resolve, reject) =>
    client.countSamples(req, new grpc.Metadata(), { deadline: Date.now() + 600_000 }, (err, res) => (err ? reject(err) : resolve(res!))),
  );
}

/** One session of one intra-op thread: transform vs forward-pass cost, per core. */
async function session(model: string): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(path.join(MODELS_DIR, model, 'model.onnx'), {
    executionProviders: ['cpu'],
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  });
}


/** Per-thread scheduler times of a process (Linux /proc schedstat: ns on CPU, ns runnable but waiting). */
type ThreadTimes = Map<string, { run: number; wait: number }>;

function threadTimes(pid: number | undefined): ThreadTimes | undefined {
  if (pid === undefined || process.platform !== 'linux') return undefined;
  try {
    const out: ThreadTimes = new Map();
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const [run, wait] = readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').trim().split(/\s+/).map(Number);
      out.set(tid, { run: run! / 1e6, wait: wait! / 1e6 });
    }
    return out;
  } catch {
    return undefined;
  }
}

function delta(before: ThreadTimes, after: ThreadTimes): Array<{ tid: string; run: number; wait: number }> {
  return [...after].map(([tid, t]) => ({ tid, run: t.run - (before.get(tid)?.run ?? 0), wait: t.wait - (before.get(tid)?.wait ?? 0) }));
}

/**
 * Where the pipeline's time went, from the kernel's per-thread accounting (Linux only): the
 * inference workers (the `workers` busiest inference threads) running, or runnable but waiting
 * for a CPU, and what is left of their wall time idle waiting for work (averaged over workers).
 * Plus the CPU every other thread of both services spent, relative to the workers'.
 */
function sidecarAccounting(
  before: { inference?: ThreadTimes; sampler?: ThreadTimes },
  after: { inference?: ThreadTimes; sampler?: ThreadTimes },
  wallMs: number,
  workers: number,
): Record<string, number> | undefined {
  if (!before.inference || !after.inference || !before.sampler || !after.sampler) return undefined;
  const inf = delta(before.inference, after.inference).sort((a, b) => b.run - a.run);
  const busy = inf.slice(0, workers);
  const run = busy.reduce((a, t) => a + t.run, 0);
  const wait = busy.reduce((a, t) => a + t.wait, 0);
  const others = inf.slice(workers).reduce((a, t) => a + t.run, 0) + delta(before.sampler, after.sampler).reduce((a, t) => a + t.run, 0);
  const span = wallMs * busy.length;
  return {
    worker_running: round(run / span, 3),
    worker_waiting_for_cpu: round(wait / span, 3),
    worker_idle: round(Math.max(0, 1 - (run + wait) / span), 3),
    other_threads_cpu_over_worker_cpu: round(others / run, 3),
  };
}

interface Pipeline {
  inferencePid?: number;
  /** Worker threads of the sidecar (GetModelMetadata's glcert-inference-workers header). */
  inferenceWorkers: number;
  samplerPid?: number;
  client: SamplingServiceClient;
  samplerHealth: HealthClient;
  inferenceHealth: HealthClient;
  close(): Promise<void>;
}

/** The sidecar's worker count, from its GetModelMetadata response headers. */
function sidecarWorkers(address: string, model: string): Promise<number> {
  const client = createClient(InferenceServiceClient, address);
  return new Promise<number>((resolve, reject) => {
    const call = client.getModelMetadata({ name: model }, (err) => err && reject(err));
    call.on('metadata', (md: grpc.Metadata) => resolve(Number(md.get(WORKERS_HEADER)[0] ?? 1)));
  }).finally(() => client.close());
}

async function startPipeline(): Promise<Pipeline> {
  const inferencePort = await freePort();
  const samplerPort = await freePort();
  const inference = startChild('inference', 'services/inference/src/main.ts', {
    INFERENCE_HOST: '127.0.0.1',
    INFERENCE_PORT: String(inferencePort),
    ...(WORKERS !== undefined ? { INFERENCE_WORKERS: String(WORKERS) } : {}),
    ...(THREADS !== undefined ? { INFERENCE_INTRA_OP_THREADS: String(THREADS) } : {}),
    INFERENCE_MAX_BATCH_SIZE: String(BATCH),
    MODELS_DIR,
  });
  const sampler = startChild('sampler', 'services/sampler/src/main.ts', {
    SAMPLER_HOST: '127.0.0.1',
    SAMPLER_PORT: String(samplerPort),
    INFERENCE_ADDR: `127.0.0.1:${inferencePort}`,
    SAMPLER_BATCH_SIZE: String(BATCH),
    ...(WORKERS !== undefined ? { INFERENCE_WORKERS: String(WORKERS) } : {}),
    ...(DEPTH !== undefined ? { SAMPLER_PIPELINE_DEPTH: String(DEPTH) } : {}),
  });
  const client = createClient(SamplingServiceClient, `127.0.0.1:${samplerPort}`, { defaultDeadlineMs: 600_000 });
  const samplerHealth = createHealthClient(`127.0.0.1:${samplerPort}`);
  const inferenceHealth = createHealthClient(`127.0.0.1:${inferencePort}`);
  await waitServing(inferenceHealth, 'inference');
  await waitServing(samplerHealth, 'sampler');
  const inferenceWorkers = await sidecarWorkers(`127.0.0.1:${inferencePort}`, MODELS[0] ?? 'mnist-cnn');
  log(`inference sidecar: ${inferenceWorkers} workers`);
  return {
    inferenceWorkers,
    inferencePid: inference.pid,
    samplerPid: sampler.pid,
    client,
    samplerHealth,
    inferenceHealth,
    async close() {
      client.close();
      samplerHealth.close();
      inferenceHealth.close();
      await Promise.all([stop(sampler), stop(inference)]);
    },
  };
}

function countRequest(model: string, key: TransformKey, start: number, n: number, seed = 7n): samplingV1.CountSamplesRequest {
  const chw = chwOf(model);
  return {
    model,
    image: encodeFloat32Tensor(image(chw), chw),
    threatModel: smoothing(key),
    seed,
    stream: 1,
    startIndex: BigInt(start),
    endIndex: BigInt(start + n),
    batchSize: BATCH,
    expectedModelSha256: '',
    moreRanges: [],
  };
}

async function pipelineOverRaw(p: Pipeline, model: string) {
  const chw = chwOf(model);
  const file = path.join(MODELS_DIR, model, 'model.onnx');
  const pools = { workers: await RawPool.start('workers', CORES, file, chw, BATCH), threads: await RawPool.start('threads', CORES, file, chw, BATCH) };
  try {
    // warm-up both sides, then size the runs to ~SECONDS each
    const warm = Math.max(await pools.workers.fixed(4 * CORES, BATCH), await pools.threads.fixed(4 * CORES, BATCH));
    await countSamples(p.client, countRequest(model, 'cb', 0, BATCH * 4));
    const n = Math.max(BATCH * 4 * CORES, Math.round((warm * SECONDS) / BATCH) * BATCH);
    log(`${model}: ${n} samples per side, ${ROUNDS} rounds (raw warm-up ${round(warm)} samples/s on ${CORES} cores)`);
    const rounds: Array<{ raw_workers: number; raw_threads: number; pipeline: number; ratio: number; sampler_seconds: number; sidecar?: Record<string, number> }> = [];
    for (let r = 0; r < ROUNDS; r++) {
      const rawWorkers = await pools.workers.fixed(n / BATCH, BATCH);
      const rawThreads = await pools.threads.fixed(n / BATCH, BATCH);
      const raw = Math.max(rawWorkers, rawThreads);
      const before = { inference: threadTimes(p.inferencePid), sampler: threadTimes(p.samplerPid) };
      const t0 = performance.now();
      const res = await countSamples(p.client, countRequest(model, 'cb', (r + 1) * n, n));
      const wallMs = performance.now() - t0;
      const after = { inference: threadTimes(p.inferencePid), sampler: threadTimes(p.samplerPid) };
      const pipeline = n / (wallMs / 1000);
      const sidecar = sidecarAccounting(before, after, wallMs, p.inferenceWorkers);
      rounds.push({
        raw_workers: round(rawWorkers),
        raw_threads: round(rawThreads),
        pipeline: round(pipeline),
        ratio: round(pipeline / raw),
        sampler_seconds: round(res.computeSeconds),
        ...(sidecar ? { sidecar } : {}),
      });
      log(`${model} round ${r + 1}: raw ${round(rawWorkers)}/s (${CORES} workers) ${round(rawThreads)}/s (${CORES} threads), pipeline ${round(pipeline)}/s, ratio ${round(pipeline / raw)}${sidecar ? ` ${JSON.stringify(sidecar)}` : ''}`);
    }
    const sidecarMedian = (key: string): number | undefined => {
      const xs = rounds.flatMap((x) => (x.sidecar?.[key] === undefined ? [] : [x.sidecar[key]!]));
      return xs.length ? round(median(xs), 3) : undefined;
    };
    return {
      samples_per_side: n,
      raw_workers_samples_per_s: round(median(rounds.map((x) => x.raw_workers))),
      raw_threads_samples_per_s: round(median(rounds.map((x) => x.raw_threads))),
      pipeline_samples_per_s: round(median(rounds.map((x) => x.pipeline))),
      pipeline_over_raw: round(median(rounds.map((x) => x.ratio))),
      sidecar_worker_idle: sidecarMedian('worker_idle'),
      sidecar_worker_waiting_for_cpu: sidecarMedian('worker_waiting_for_cpu'),
      other_threads_cpu_over_worker_cpu: sidecarMedian('other_threads_cpu_over_worker_cpu'),
      rounds,
    };
  } finally {
    await pools.workers.close();
    await pools.threads.close();
  }
}

async function transformOverInference() {
  const model = TRANSFORM_MODEL;
  const chw = chwOf(model);
  const shape = { channels: chw[0], height: chw[1], width: chw[2] };
  const img = image(chw);
  const s = await session(model);
  const out = new Float32Array(BATCH * img.length);
  const input = new ort.Tensor('float32', out, [BATCH, ...chw]);
  const scratch = new TransformScratch();
  /** One batch as the sampler makes it: normals, resolve at the identity, transform. */
  const produce = (key: TransformKey, start: number): void => {
    const spec = TRANSFORMS[key];
    const m = spec.normalsPerSample;
    const d = spec.params.length;
    const normals = new Float64Array(BATCH * m);
    const params = new Float64Array(BATCH * d);
    const sigma = spec.params.map((p) => SIGMA[p]!);
    const z = new Float64Array(m);
    const y = new Float64Array(d);
    fillNormals(7n, 1, start, BATCH, m, normals);
    for (let i = 0; i < BATCH; i++) {
      for (let j = 0; j < m; j++) z[j] = normals[i * m + j]!;
      spec.resolve(spec.identity, sigma, z, y);
      params.set(y, i * d);
    }
    applyTransformBatch(key, img, shape, params, BATCH, out, scratch);
  };
  const time = (fn: () => void, reps: number): number => {
    const t0 = performance.now();
    for (let i = 0; i < reps; i++) fn();
    return (performance.now() - t0) / reps;
  };
  for (const key of FAMILIES) produce(key, 0); // warm-up (JIT)
  await s.run({ [s.inputNames[0]!]: input });
  const perFamily: Record<string, number[]> = Object.fromEntries(FAMILIES.map((k) => [k, []]));
  const classifyMs: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    for (const key of FAMILIES) {
      const tf = time(() => produce(key, r * 10 * BATCH), 5);
      const t0 = performance.now();
      await s.run({ [s.inputNames[0]!]: input });
      const tc = performance.now() - t0;
      classifyMs.push(tc);
      perFamily[key]!.push(tf / tc);
    }
    log(`transform_over_inference round ${r + 1} done`);
  }
  await s.release();
  const ratios = Object.fromEntries(FAMILIES.map((k) => [k, round(median(perFamily[k]!), 3)]));
  const met = FAMILIES.every((k) => ratios[k]! <= (HEAVY.has(k) ? TARGETS.transform_heavy : TARGETS.transform_light));
  return { model, batch_size: BATCH, classify_ms_median: round(median(classifyMs)), ratios, targets_met: met };
}

async function healthUnderLoad(p: Pipeline) {
  const model = TRANSFORM_MODEL;
  const n = 6 * BATCH * 4;
  const lat = { inference: [] as number[], sampler: [] as number[] };
  let running = true;
  const probe = async (client: HealthClient, into: number[]): Promise<void> => {
    while (running) {
      const t0 = performance.now();
      await checkHealth(client, '', 5_000).catch(() => undefined);
      into.push(performance.now() - t0);
      await new Promise((r) => setTimeout(r, 10));
    }
  };
  // saturate: two counts at once keep the sidecar's queue non-empty for the whole run
  const load = Promise.all([
    countSamples(p.client, countRequest(model, 'cb', 0, n)),
    countSamples(p.client, countRequest(model, 'g', 0, n)),
  ]);
  const probes = Promise.all([probe(p.inferenceHealth, lat.inference), probe(p.samplerHealth, lat.sampler)]);
  await load;
  running = false;
  await probes;
  const summary = (xs: number[]) => ({ checks: xs.length, p50_ms: round(quantile(xs, 0.5), 3), p99_ms: round(quantile(xs, 0.99), 3), max_ms: round(Math.max(...xs), 3) });
  return { model, load: `two concurrent CountSamples (cb and g), ${n} samples each`, inference: summary(lat.inference), sampler: summary(lat.sampler) };
}

async function main(): Promise<void> {
  const started = performance.now();
  const models = MODELS.filter((m) => {
    const ok = existsSync(path.join(MODELS_DIR, m, 'model.onnx'));
    if (!ok) log(`model ${m} not found in ${MODELS_DIR}: skipped`);
    return ok;
  });
  const summary: Record<string, unknown> = {
    bench: 'pipeline',
    machine: { cpus: os.cpus().length, available_parallelism: CORES, cpu_model: os.cpus()[0]?.model, node: process.version, loadavg_start: os.loadavg().map((x) => round(x, 3)) },
    settings: {
      rounds: ROUNDS,
      batch_size: BATCH,
      inference_workers: WORKERS ?? 'sized',
      intra_op_threads: THREADS ?? 'sized',
      pipeline_depth: DEPTH ?? 'sized',
      transform_for_pipeline: 'cb',
      certify_images_per_side: CERTIFY_IMAGES,
      certify_rounds: CERTIFY_ROUNDS,
    },
    targets: TARGETS,
  };
  if (PARTS.has('certify')) {
    summary['certify_over_raw'] = await certifyOverRaw({ root: ROOT, modelsDir: MODELS_DIR, rounds: CERTIFY_ROUNDS, images: CERTIFY_IMAGES, log, stackEnv: CERTIFY_ENV });
  }
  const needPipeline = PARTS.has('pipeline') || PARTS.has('health');
  log(`starting services (workers ${WORKERS ?? 'sized'}, threads ${THREADS ?? 'sized'}, batch ${BATCH}, depth ${DEPTH ?? 'sized'})`);
  const p = needPipeline ? await startPipeline() : undefined;
  try {
    if (PARTS.has('pipeline')) {
      const pipeline: Record<string, unknown> = {};
      for (const m of MODELS) pipeline[m] = models.includes(m) ? await pipelineOverRaw(p!, m) : { skipped: 'model not found' };
      summary['pipeline_over_raw'] = pipeline;
    }
    if (PARTS.has('transforms')) summary['transform_over_inference'] = await transformOverInference();
    if (PARTS.has('health')) summary['health_under_load'] = await healthUnderLoad(p!);
  } finally {
    await p?.close();
  }
  summary['machine'] = { ...(summary['machine'] as object), loadavg_end: os.loadavg().map((x) => round(x, 3)) };
  summary['elapsed_s'] = round((performance.now() - started) / 1000, 3);
  process.stdout.write(JSON.stringify(summary, null, 2) + '\n');
}

main().catch((err: unknown) => {
  process.stderr.write(`[bench] failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
