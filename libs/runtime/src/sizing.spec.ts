import { describeBudget, readCgroupCpuQuota, sizeServices, sizingOverridesFromEnv, usableCpus } from './sizing';

describe('usableCpus', () => {
  it('is the affinity when there is no quota', () => {
    expect(usableCpus({ availableParallelism: 1 })).toBe(1);
    expect(usableCpus({ availableParallelism: 2 })).toBe(2);
    expect(usableCpus({ availableParallelism: 16 })).toBe(16);
  });

  it('rounds a fractional quota down, never below one', () => {
    expect(usableCpus({ availableParallelism: 16, cgroupQuota: 0.5 })).toBe(1);
    expect(usableCpus({ availableParallelism: 16, cgroupQuota: 1.5 })).toBe(1);
    expect(usableCpus({ availableParallelism: 16, cgroupQuota: 2.5 })).toBe(2);
    expect(usableCpus({ availableParallelism: 16, cgroupQuota: 4 })).toBe(4);
  });

  it('takes the affinity when the quota is larger', () => {
    expect(usableCpus({ availableParallelism: 2, cgroupQuota: 8 })).toBe(2);
  });

  it('ignores nonsense', () => {
    expect(usableCpus({ availableParallelism: 0 })).toBe(1);
    expect(usableCpus({ availableParallelism: 4, cgroupQuota: -1 })).toBe(4);
    expect(usableCpus({ availableParallelism: 4, cgroupQuota: Number.NaN })).toBe(4);
  });
});

describe('sizeServices (CPU provider)', () => {
  it('1 core: one worker of one thread, 16 batches in flight (4096 samples)', () => {
    const s = sizeServices({ availableParallelism: 1 });
    expect(s).toEqual({
      cpus: 1,
      inference: { workers: 1, intraOpThreads: 1 },
      sampler: { batchSize: 256, pipelineDepth: 2, maxInFlight: 16 },
      overridden: [],
    });
  });

  it('2 cores: two workers of one thread each, depth 3, 16 batches in flight', () => {
    const s = sizeServices({ availableParallelism: 2 });
    expect(s.inference).toEqual({ workers: 2, intraOpThreads: 1 });
    expect(s.sampler).toEqual({ batchSize: 256, pipelineDepth: 3, maxInFlight: 16 });
  });

  it('16 cores: 16 workers, depth 16 (the cap), 32 in flight, batches of 128', () => {
    const s = sizeServices({ availableParallelism: 16 });
    expect(s.inference).toEqual({ workers: 16, intraOpThreads: 1 });
    expect(s.sampler).toEqual({ batchSize: 128, pipelineDepth: 16, maxInFlight: 32 });
  });

  it('64 cores: spare cores become intra-op threads past 16 workers', () => {
    expect(sizeServices({ availableParallelism: 64 }).inference).toEqual({ workers: 16, intraOpThreads: 4 });
    expect(sizeServices({ availableParallelism: 40 }).inference).toEqual({ workers: 16, intraOpThreads: 2 });
  });

  it('fractional quotas: 0.5 and 1.5 CPUs size as one core, 2.5 as two', () => {
    for (const cgroupQuota of [0.5, 1.5]) {
      const s = sizeServices({ availableParallelism: 16, cgroupQuota });
      expect(s.cpus).toBe(1);
      expect(s.inference).toEqual({ workers: 1, intraOpThreads: 1 });
      expect(s.sampler.pipelineDepth).toBe(2);
    }
    expect(sizeServices({ availableParallelism: 16, cgroupQuota: 2.5 }).inference).toEqual({ workers: 2, intraOpThreads: 1 });
  });
});

describe('sizeServices overrides', () => {
  it('a worker count takes the cores left as threads', () => {
    const s = sizeServices({ availableParallelism: 16 }, { inferenceWorkers: 4 });
    expect(s.inference).toEqual({ workers: 4, intraOpThreads: 4 });
    expect(s.sampler.pipelineDepth).toBe(5);
    expect(s.overridden).toEqual(['inferenceWorkers']);
  });

  it('a thread count takes the cores left as workers', () => {
    expect(sizeServices({ availableParallelism: 2 }, { intraOpThreads: 2 }).inference).toEqual({ workers: 1, intraOpThreads: 2 });
    expect(sizeServices({ availableParallelism: 16 }, { intraOpThreads: 4 }).inference).toEqual({ workers: 4, intraOpThreads: 4 });
    // more threads than cores: still one worker
    expect(sizeServices({ availableParallelism: 2 }, { intraOpThreads: 8 }).inference).toEqual({ workers: 1, intraOpThreads: 8 });
  });

  it('0 threads (onnxruntime decides) means one worker', () => {
    expect(sizeServices({ availableParallelism: 16 }, { intraOpThreads: 0 }).inference).toEqual({ workers: 1, intraOpThreads: 0 });
  });

  it('both set: both kept, the sampler follows the workers', () => {
    const s = sizeServices({ availableParallelism: 2 }, { inferenceWorkers: 3, intraOpThreads: 2 });
    expect(s.inference).toEqual({ workers: 3, intraOpThreads: 2 });
    expect(s.sampler.pipelineDepth).toBe(4);
  });

  it('sampler settings are kept as given', () => {
    const s = sizeServices({ availableParallelism: 16 }, { samplerBatchSize: 64, samplerPipelineDepth: 3, samplerMaxInFlight: 5 });
    expect(s.sampler).toEqual({ batchSize: 64, pipelineDepth: 3, maxInFlight: 5 });
    expect(s.overridden.sort()).toEqual(['samplerBatchSize', 'samplerMaxInFlight', 'samplerPipelineDepth']);
  });

  it('a GPU provider first: two workers of one thread whatever the cores', () => {
    for (const availableParallelism of [1, 2, 16]) {
      expect(sizeServices({ availableParallelism }, { executionProviders: ['cuda', 'cpu'] }).inference).toEqual({ workers: 2, intraOpThreads: 1 });
    }
    expect(sizeServices({ availableParallelism: 16 }, { executionProviders: ['cpu'] }).inference.workers).toBe(16);
  });
});

describe('sizingOverridesFromEnv', () => {
  it('reads the variables, leaving invalid ones to the config schema', () => {
    expect(
      sizingOverridesFromEnv({
        INFERENCE_WORKERS: '3',
        INFERENCE_INTRA_OP_THREADS: '0',
        INFERENCE_EXECUTION_PROVIDERS: 'cuda, cpu',
        SAMPLER_BATCH_SIZE: ' 64 ',
        SAMPLER_PIPELINE_DEPTH: 'x',
        SAMPLER_MAX_IN_FLIGHT: '0',
      }),
    ).toEqual({
      inferenceWorkers: 3,
      intraOpThreads: 0,
      executionProviders: ['cuda', 'cpu'],
      samplerBatchSize: 64,
      samplerPipelineDepth: undefined,
      samplerMaxInFlight: undefined,
    });
    expect(sizingOverridesFromEnv({ INFERENCE_WORKERS: '0', INFERENCE_INTRA_OP_THREADS: '-1' })).toMatchObject({
      inferenceWorkers: undefined,
      intraOpThreads: undefined,
    });
  });
});

describe('readCgroupCpuQuota', () => {
  const files = (map: Record<string, string>) => (file: string) => map[file];

  it('cgroup v2 cpu.max', () => {
    expect(readCgroupCpuQuota(files({ '/sys/fs/cgroup/cpu.max': '150000 100000\n' }))).toBe(1.5);
    expect(readCgroupCpuQuota(files({ '/sys/fs/cgroup/cpu.max': '50000 100000\n' }))).toBe(0.5);
    expect(readCgroupCpuQuota(files({ '/sys/fs/cgroup/cpu.max': 'max 100000\n' }))).toBeUndefined();
  });

  it('cgroup v1 cfs quota and period', () => {
    const v1 = { '/sys/fs/cgroup/cpu/cpu.cfs_quota_us': '200000\n', '/sys/fs/cgroup/cpu/cpu.cfs_period_us': '100000\n' };
    expect(readCgroupCpuQuota(files(v1))).toBe(2);
    expect(readCgroupCpuQuota(files({ '/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us': '25000', '/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us': '50000' }))).toBe(0.5);
    expect(readCgroupCpuQuota(files({ '/sys/fs/cgroup/cpu/cpu.cfs_quota_us': '-1\n', '/sys/fs/cgroup/cpu/cpu.cfs_period_us': '100000\n' }))).toBeUndefined();
  });

  it('no cgroup files: no quota', () => {
    expect(readCgroupCpuQuota(files({}))).toBeUndefined();
  });
});

describe('describeBudget', () => {
  it('names the cpus, the affinity and the quota', () => {
    expect(describeBudget({ availableParallelism: 16, cgroupQuota: 1.5 })).toBe('1 cpus (availableParallelism 16, cgroup quota 1.5)');
    expect(describeBudget({ availableParallelism: 2 })).toBe('2 cpus (availableParallelism 2, cgroup quota none)');
  });
});
