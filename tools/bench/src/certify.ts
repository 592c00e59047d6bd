// `certify_over_raw`: images/s of the real stack (the five services as `glcert up` starts them,
// with their defaults, and `glcert certify-dataset` over data/mnist-test) over images/s of raw
// onnxruntime-node loops on every core doing the same forward passes (noise + run + argmax,
// n0 + n per image, in the same batches). Measured side by side: each round runs both raw
// layouts (./raw.ts) and the stack on the same images, each side on a quiet machine, the side
// that goes first alternating; the ratio of a round is the stack over the raw layout with the
// better median over all rounds, in that round, and the figure is the median over rounds.
//
// The certifier may draw fewer samples than n0 + n (sequential sampling stops early): the ratio
// is therefore taken on forward passes per second, the stack's counted from the certificates
// (their n0 + n), the raw side's n0 + n per image; with every image at n0 + n it is the ratio of
// images/s. Both images/s are reported too.
//
// Also, per process of the stack (and this process, which is certify-dataset's client), the CPU
// it used during the stack's side, from /proc/<pid>/stat (utime + stime, all its threads).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
// eslint-disable-next-line @nx/enforce-module-boundaries -- the benchmark measures the stack and the command a user runs (startStack, certify-dataset)
import { findCommand, run as runCli, startStack, type Stack } from '@glcert/cli';
import { decodeImage, readImageFolder } from '@glcert/imaging';
import { RawPool, type RawLayout } from './raw';

export interface CertifyBenchOptions {
  root: string;
  modelsDir: string;
  rounds: number;
  /** Images per side per round. */
  images: number;
  log: (msg: string) => void;
  /** Added to every service's environment (e.g. INFERENCE_WORKERS=1 to compare a split); default none: glcert up's defaults. */
  stackEnv?: NodeJS.ProcessEnv;
}

const MODEL = 'mnist-cnn';
const SIGMA = 0.3;
const N0 = 200;
const N = 1000;
const ALPHA = 0.001;
/** The sampler's default batch on this machine: the raw loops run the same batch shapes. */
const RAW_BATCH = 256;

const round = (x: number, digits = 4): number => Number(x.toPrecision(digits));
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

/** CPU seconds (user + system, every thread) of a process so far; undefined when unreadable. */
export function cpuSeconds(pid: number | undefined): number | undefined {
  if (pid === undefined || process.platform !== 'linux') return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // fields after the command name (which may hold spaces) start at state (field 3)
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  } catch {
    return undefined;
  }
}
/** USER_HZ: 100 on every Linux architecture Node runs on. */
const CLOCK_TICKS = 100;

/** Cores this bench's processes may keep busy for the machine to count as quiet, over one window. */
const QUIET_CORES = 0.05;
const QUIET_WINDOW_MS = 500;
const QUIET_MAX_MS = 15_000;

/**
 * Waits until `pids` together use under QUIET_CORES over a QUIET_WINDOW_MS window (at most
 * QUIET_MAX_MS); returns how long it waited.
 */
async function quietMachine(pids: ReadonlyArray<number | undefined>): Promise<number> {
  const t0 = performance.now();
  const total = (): number => pids.reduce<number>((a, pid) => a + (cpuSeconds(pid) ?? 0), 0);
  for (;;) {
    const before = total();
    const w0 = performance.now();
    await new Promise((r) => setTimeout(r, QUIET_WINDOW_MS));
    const cores = (total() - before) / ((performance.now() - w0) / 1000);
    if (cores < QUIET_CORES || performance.now() - t0 > QUIET_MAX_MS) return performance.now() - t0;
  }
}

/** Forward passes behind a results file: n0 + n of each certificate (N0 + N for an item without one). */
function samplesIn(file: string, items: number): number {
  let total = 0;
  let seen = 0;
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    const c = (JSON.parse(line) as { certificate?: { n0?: string | number; n?: string | number } | null }).certificate;
    total += c && c.n0 !== undefined && c.n !== undefined ? Number(c.n0) + Number(c.n) : N0 + N;
    seen++;
  }
  return total + Math.max(0, items - seen) * (N0 + N);
}

async function loadImages(dir: string, count: number): Promise<Float32Array[]> {
  const out: Float32Array[] = [];
  for await (const item of readImageFolder(dir, { limit: count })) {
    out.push((await decodeImage(item.bytes, { channels: 1, height: 28, width: 28 })).tensor);
  }
  return out;
}

/** FIXED sampling (n0 + n for every image, the raw loop's work) when certify-dataset can ask for it. */
function fixedSamplingArgs(): string[] {
  const help = findCommand('certify-dataset')?.help() ?? '';
  return /--sampling\b/.test(help) && /\bfixed\b/i.test(help) ? ['--sampling', 'fixed'] : [];
}

function certifyArgs(dataDir: string, certifier: string, images: number, out: string): string[] {
  return [
    'certify-dataset', dataDir,
    ...fixedSamplingArgs(),
    '--model', MODEL,
    '--transform', 'b', '--box', 'b=-0.2:0.2', '--sigma', `b=${SIGMA}`,
    '--n0', String(N0), '--n', String(N), '--alpha', String(ALPHA),
    '--seed', '2026',
    '--limit', String(images),
    '--certifier', certifier,
    '--out', out,
    '--json',
  ];
}

export async function certifyOverRaw(o: CertifyBenchOptions): Promise<Record<string, unknown>> {
  const cores = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
  const dataDir = path.join(o.root, 'data', 'mnist-test');
  const images = await loadImages(dataDir, o.images);
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'glcert-bench-'));
  const sizing: string[] = [];
  let stack: Stack | undefined;
  const pools: Partial<Record<RawLayout, RawPool>> = {};
  try {
    o.log(`certify_over_raw: starting the stack (glcert up defaults), ${cores} cores`);
    stack = await startStack({
      basePort: 0,
      keysDir: path.join(tmp, 'keys'),
      boundsCacheDir: path.join(tmp, 'bounds-cache'),
      modelsDir: o.modelsDir,
      env: o.stackEnv,
      onLine: (proc, line) => {
        if (line.includes('sizing:')) sizing.push(`${proc.name}: ${(JSON.parse(line) as { msg: string }).msg}`);
      },
    });
    const file = path.join(o.modelsDir, MODEL, 'model.onnx');
    for (const layout of ['workers', 'threads'] as const) pools[layout] = await RawPool.start(layout, cores, file, [1, 28, 28], RAW_BATCH);

    const certifyOnce = async (label: string, count = images.length): Promise<{ rate: number; samplesRate: number; cpu: Record<string, number> }> => {
      const out = path.join(tmp, `results-${label}.jsonl`);
      const procs = [...stack!.processes.map((p) => ({ name: p.name, pid: p.pid })), { name: 'client (certify-dataset)', pid: process.pid }];
      const before = procs.map((p) => cpuSeconds(p.pid));
      const errors: string[] = [];
      const t0 = performance.now();
      const code = await runCli(certifyArgs(dataDir, stack!.addresses.certifier, count, out), { out: () => undefined, err: (t) => errors.push(t) });
      const wall = (performance.now() - t0) / 1000;
      if (code !== 0) throw new Error(`certify-dataset exited ${code}: ${errors.join('').slice(-500)}`);
      const cpu: Record<string, number> = {};
      procs.forEach((p, i) => {
        const after = cpuSeconds(p.pid);
        if (after !== undefined && before[i] !== undefined) cpu[p.name] = round((after - before[i]!) / wall, 3);
      });
      return { rate: count / wall, samplesRate: samplesIn(out, count) / wall, cpu };
    };

    // warm-up: both sides once on a few images (JIT, connections, the bound's cache)
    await certifyOnce('warm', Math.min(images.length, 2 * cores));
    for (const pool of Object.values(pools)) await pool!.certify(images.slice(0, cores), SIGMA, N0, N);

    const rounds: Array<Record<string, unknown>> = [];
    const roundMaxRatios: number[] = [];
    const stackRates: number[] = [];
    const stackSampleRates: number[] = [];
    const rawRates: Record<RawLayout, number[]> = { workers: [], threads: [] };
    const cpuRounds: Array<Record<string, number>> = [];
    // every side starts on a quiet machine: after a raw round this process keeps a core part-busy
    // for seconds (its worker isolates' garbage collection), which would be charged to the stack
    const settle = (): Promise<number> => quietMachine([process.pid, ...stack!.processes.map((p) => p.pid)]);
    const settleMs: number[] = [];
    for (let r = 0; r < o.rounds; r++) {
      const raw: Partial<Record<RawLayout, number>> = {};
      const runRaw = async (): Promise<void> => {
        for (const layout of ['workers', 'threads'] as const) {
          settleMs.push(await settle());
          raw[layout] = await pools[layout]!.certify(images, SIGMA, N0, N);
        }
      };
      // alternate which side goes first, so a drift of the machine's speed favours neither
      if (r % 2 === 0) await runRaw();
      settleMs.push(await settle());
      const { rate, samplesRate, cpu } = await certifyOnce(String(r));
      if (r % 2 === 1) await runRaw();
      const best = Math.max(raw.workers!, raw.threads!);
      const ratio = samplesRate / (best * (N0 + N));
      roundMaxRatios.push(ratio);
      stackRates.push(rate);
      stackSampleRates.push(samplesRate);
      rawRates.workers.push(raw.workers!);
      rawRates.threads.push(raw.threads!);
      cpuRounds.push(cpu);
      rounds.push({ stack: round(rate), stack_samples_per_s: round(samplesRate), raw_workers: round(raw.workers!), raw_threads: round(raw.threads!), ratio: round(ratio), cpu_cores: cpu });
      o.log(`certify round ${r + 1}: stack ${round(rate)} images/s (${round(samplesRate)} samples/s), raw ${round(raw.workers!)} (${cores} workers x 1 thread) / ${round(raw.threads!)} (1 x ${cores} threads) images/s, ratio ${round(ratio)}; cpu ${JSON.stringify(cpu)}`);
    }
    // The denominator is the raw layout with the better median over the rounds, each round's
    // stack over that layout's rate in the same round. (The better of the two layouts *per round*
    // is the larger of two noisy draws: a denominator biased upwards by the machine's noise; it is
    // reported too, as certify_over_raw_round_max.)
    const bestLayout: RawLayout = median(rawRates.workers) >= median(rawRates.threads) ? 'workers' : 'threads';
    const ratios = stackSampleRates.map((s, r) => s / (rawRates[bestLayout][r]! * (N0 + N)));
    const cpuMedian: Record<string, number> = {};
    for (const name of Object.keys(cpuRounds[0] ?? {})) cpuMedian[name] = round(median(cpuRounds.map((c) => c[name] ?? 0)), 3);
    const total = Object.values(cpuMedian).reduce((a, b) => a + b, 0);
    return {
      model: MODEL,
      threat_model: `brightness b in +-0.2, sigma ${SIGMA}`,
      n0: N0,
      n: N,
      alpha: ALPHA,
      sampling: fixedSamplingArgs().length > 0 ? 'fixed' : 'the certifier default (certify-dataset has no --sampling fixed): ratio on forward passes',
      images_per_side: images.length,
      cores,
      sizing,
      stack_env: o.stackEnv ?? {},
      stack_images_per_s: round(median(stackRates)),
      stack_samples_per_s: round(median(stackSampleRates)),
      raw_workers_images_per_s: round(median(rawRates.workers)),
      raw_threads_images_per_s: round(median(rawRates.threads)),
      raw_layout: bestLayout === 'workers' ? `${cores} workers x 1 thread` : `1 session x ${cores} threads`,
      certify_over_raw: round(median(ratios)),
      certify_over_raw_round_max: round(median(roundMaxRatios)),
      ratios_by_round: ratios.map((x) => round(x)),
      // longest wait for the machine to go quiet before a side (QUIET_CORES over QUIET_WINDOW_MS)
      settle_ms_max: Math.round(Math.max(0, ...settleMs)),
      // cores each process kept busy during the stack's side (cpu seconds / wall seconds), and each one's share
      cpu_cores_by_process: cpuMedian,
      cpu_share_by_process: Object.fromEntries(Object.entries(cpuMedian).map(([k, v]) => [k, round(v / (total || 1), 3)])),
      rounds,
    };
  } finally {
    for (const pool of Object.values(pools)) await pool?.close();
    await stack?.stop();
    rmSync(tmp, { recursive: true, force: true });
  }
}
