// Default sizing of the sampling pod (inference sidecar + sampler) from the CPUs a process may
// use. `sizeServices` is pure: (available cores, cgroup CPU quota, environment overrides) ->
// workers, intra-op threads, sampler batch and pipeline depth. `detectCpuBudget` reads the
// machine (os.availableParallelism and the cgroup v2 / v1 CPU quota) and is the only impure part.
//
// The rule, for the CPU execution provider: one inference worker per usable core, each with one
// onnxruntime intra-op thread. Measured on the 2-core development VM with mnist-cnn (issue 13,
// certify-dataset, brightness, n = 1000): 2 workers x 1 thread certified 4.12 images/s, 1 worker
// x 2 threads 3.82, 1 x 1 (the old default) 2.42. Small models parallelise badly inside one
// forward pass (onnxruntime splits each convolution and the threads spin-wait between them),
// while independent batches on separate workers need no synchronisation at all. Past
// MAX_DEFAULT_WORKERS the spare cores go to intra-op threads instead: every worker holds its
// own session per model (memory) and a batch's latency grows with the share of a core it gets.
//
// A GPU provider first in the list: two workers (one batch on the device while the next is
// copied in and the last one's labels go back), one intra-op thread each (the CPU only runs the
// ops the GPU provider does not take).
import { readFileSync } from 'node:fs';
import * as os from 'node:os';

/** The CPUs a process may use. */
export interface CpuBudget {
  /** os.availableParallelism(): cores this process may be scheduled on (affinity mask). */
  availableParallelism: number;
  /** CPUs of the cgroup quota (quota / period, e.g. 1.5); undefined when unlimited. */
  cgroupQuota?: number;
}

/** Explicit settings (environment variables) that win over the computed defaults. */
export interface SizingOverrides {
  /** INFERENCE_WORKERS */
  inferenceWorkers?: number;
  /** INFERENCE_INTRA_OP_THREADS (0: onnxruntime decides, i.e. every core for one session). */
  intraOpThreads?: number;
  /** INFERENCE_EXECUTION_PROVIDERS, in order of preference. */
  executionProviders?: readonly string[];
  /** SAMPLER_BATCH_SIZE */
  samplerBatchSize?: number;
  /** SAMPLER_PIPELINE_DEPTH */
  samplerPipelineDepth?: number;
  /** SAMPLER_MAX_IN_FLIGHT */
  samplerMaxInFlight?: number;
}

export interface Sizing {
  /** Whole CPUs the defaults are sized for (>= 1). */
  cpus: number;
  inference: {
    workers: number;
    intraOpThreads: number;
  };
  sampler: {
    /** Images per Classify call when a request says 0. */
    batchSize: number;
    /** Classify calls in flight per CountSamples call. */
    pipelineDepth: number;
    /** Batches in flight across all CountSamples calls (the sampler bounds samples in flight at this x batchSize). */
    maxInFlight: number;
  };
  /** Which values came from an override (the rest were computed). */
  overridden: string[];
}

/** More workers than this by default: spare cores become intra-op threads (see the file comment). */
export const MAX_DEFAULT_WORKERS = 16;
const GPU_WORKERS = 2;
const MAX_PIPELINE_DEPTH = 16;
const MIN_MAX_IN_FLIGHT = 16;
const MAX_IN_FLIGHT = 1024;

/**
 * Whole CPUs from a budget: the smaller of the affinity and the quota, rounded down, at least 1.
 * Down, as Go's automaxprocs does: with a 1.5-CPU quota a second busy worker would be throttled
 * for the rest of every CFS period, while the half CPU left serves the gRPC and sampler threads.
 */
export function usableCpus(budget: CpuBudget): number {
  const ap = Number.isFinite(budget.availableParallelism) && budget.availableParallelism >= 1 ? Math.floor(budget.availableParallelism) : 1;
  const quota = budget.cgroupQuota !== undefined && Number.isFinite(budget.cgroupQuota) && budget.cgroupQuota > 0 ? budget.cgroupQuota : Infinity;
  return Math.max(1, Math.floor(Math.min(ap, quota)));
}

function isGpu(provider: string | undefined): boolean {
  return provider !== undefined && provider.trim().toLowerCase() !== 'cpu';
}

/** The defaults for `budget`, with every override taking precedence. */
export function sizeServices(budget: CpuBudget, overrides: SizingOverrides = {}): Sizing {
  const cpus = usableCpus(budget);
  const overridden: string[] = [];
  const take = <T>(name: string, value: T | undefined, computed: () => T): T => {
    if (value === undefined) return computed();
    overridden.push(name);
    return value;
  };

  const gpu = isGpu(overrides.executionProviders?.[0]);
  const threadsOverride = overrides.intraOpThreads;
  const workers = take('inferenceWorkers', overrides.inferenceWorkers, () => {
    if (gpu) return GPU_WORKERS;
    // 0 threads lets one session take every core: one worker then
    if (threadsOverride === 0) return 1;
    if (threadsOverride !== undefined) return Math.max(1, Math.floor(cpus / threadsOverride));
    return Math.min(cpus, MAX_DEFAULT_WORKERS);
  });
  const intraOpThreads = take('intraOpThreads', threadsOverride, () => (gpu ? 1 : Math.max(1, Math.floor(cpus / workers))));

  // one CountSamples call on its own keeps every worker busy: a batch running on each and one
  // more queued in the sidecar, while this thread transforms the next
  const pipelineDepth = take('samplerPipelineDepth', overrides.samplerPipelineDepth, () => Math.min(MAX_PIPELINE_DEPTH, Math.max(2, workers + 1)));
  // concurrent calls (the certifier runs the chunks of several images at once) may fill the
  // sidecar's queue up to twice its workers, never less than 16: with 256-sample batches that is
  // 4096 samples (the sidecar's default queue), room for two calls of a FIXED certification's
  // n0 + n = 1200 samples each (one Classify call per image) and the next one's first batches
  const maxInFlight = take('samplerMaxInFlight', overrides.samplerMaxInFlight, () =>
    Math.min(MAX_IN_FLIGHT, Math.max(MIN_MAX_IN_FLIGHT, 2 * workers, pipelineDepth)),
  );
  // 256 amortises the per-call cost and is the sidecar's max batch; with more than 4 workers, 128
  // so that one default certifier chunk (2000 samples) spans 16 batches and can occupy 16 workers
  const batchSize = take('samplerBatchSize', overrides.samplerBatchSize, () => (workers > 4 ? 128 : 256));

  return { cpus, inference: { workers, intraOpThreads }, sampler: { batchSize, pipelineDepth, maxInFlight }, overridden };
}

/** A positive (or, with allowZero, non-negative) integer from the environment; anything else: unset (the config schema reports it). */
function intFrom(value: string | undefined, allowZero = false): number | undefined {
  if (value === undefined || value.trim() === '' || !/^\d+$/.test(value.trim())) return undefined;
  const n = Number(value.trim());
  return Number.isSafeInteger(n) && (n >= 1 || (allowZero && n === 0)) ? n : undefined;
}

/** The overrides an environment sets (INFERENCE_WORKERS, INFERENCE_INTRA_OP_THREADS, ...). */
export function sizingOverridesFromEnv(env: NodeJS.ProcessEnv): SizingOverrides {
  const providers = env['INFERENCE_EXECUTION_PROVIDERS']
    ?.split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  return {
    inferenceWorkers: intFrom(env['INFERENCE_WORKERS']),
    intraOpThreads: intFrom(env['INFERENCE_INTRA_OP_THREADS'], true),
    executionProviders: providers && providers.length > 0 ? providers : undefined,
    samplerBatchSize: intFrom(env['SAMPLER_BATCH_SIZE']),
    samplerPipelineDepth: intFrom(env['SAMPLER_PIPELINE_DEPTH']),
    samplerMaxInFlight: intFrom(env['SAMPLER_MAX_IN_FLIGHT']),
  };
}

/** Reads a file, or undefined when it cannot be read (no such cgroup controller). */
export type ReadText = (file: string) => string | undefined;

const readText: ReadText = (file) => {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
};

/**
 * CPUs of the cgroup CPU quota: cgroup v2 `cpu.max` ("<quota> <period>" or "max <period>"),
 * else v1 `cpu.cfs_quota_us` / `cpu.cfs_period_us` (quota -1: unlimited). Undefined when there
 * is no limit or no cgroup file to read.
 */
export function readCgroupCpuQuota(read: ReadText = readText, root = '/sys/fs/cgroup'): number | undefined {
  const v2 = read(`${root}/cpu.max`);
  if (v2 !== undefined) {
    const [quota, period] = v2.trim().split(/\s+/);
    if (quota === 'max') return undefined;
    const q = Number(quota);
    const p = Number(period ?? 100_000);
    return q > 0 && p > 0 && Number.isFinite(q / p) ? q / p : undefined;
  }
  for (const dir of [`${root}/cpu`, `${root}/cpu,cpuacct`, root]) {
    const quota = read(`${dir}/cpu.cfs_quota_us`);
    if (quota === undefined) continue;
    const q = Number(quota.trim());
    const p = Number(read(`${dir}/cpu.cfs_period_us`)?.trim() ?? 100_000);
    return q > 0 && p > 0 && Number.isFinite(q / p) ? q / p : undefined;
  }
  return undefined;
}

/** This process's budget: availableParallelism (cpus().length on Node < 18.14) and the cgroup quota. */
export function detectCpuBudget(): CpuBudget {
  const ap = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
  return { availableParallelism: ap, cgroupQuota: readCgroupCpuQuota() };
}

/** One line for the start log: `2 cpus (availableParallelism 2, cgroup quota none)`. */
export function describeBudget(budget: CpuBudget): string {
  const quota = budget.cgroupQuota === undefined ? 'none' : String(Math.round(budget.cgroupQuota * 1000) / 1000);
  return `${usableCpus(budget)} cpus (availableParallelism ${budget.availableParallelism}, cgroup quota ${quota})`;
}
