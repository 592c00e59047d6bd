import { readConfig } from '@glcert/runtime';
import { inferenceConfigSchema, machineSizing } from './config';

describe('inference config sizing', () => {
  const load = (env: NodeJS.ProcessEnv, availableParallelism: number, cgroupQuota?: number) =>
    readConfig(inferenceConfigSchema(machineSizing(env, { availableParallelism, cgroupQuota })), env);

  it('defaults to one worker of one intra-op thread per usable core', () => {
    expect(load({}, 2)).toMatchObject({ workers: 2, intraOpNumThreads: 1 });
    expect(load({}, 16)).toMatchObject({ workers: 16, intraOpNumThreads: 1 });
    expect(load({}, 16, 1.5)).toMatchObject({ workers: 1, intraOpNumThreads: 1 });
  });

  it('follows INFERENCE_WORKERS / INFERENCE_INTRA_OP_THREADS, each filling in the other', () => {
    expect(load({ INFERENCE_WORKERS: '1' }, 2)).toMatchObject({ workers: 1, intraOpNumThreads: 2 });
    expect(load({ INFERENCE_INTRA_OP_THREADS: '2' }, 2)).toMatchObject({ workers: 1, intraOpNumThreads: 2 });
    expect(load({ INFERENCE_WORKERS: '2', INFERENCE_INTRA_OP_THREADS: '3' }, 2)).toMatchObject({ workers: 2, intraOpNumThreads: 3 });
    expect(load({ INFERENCE_EXECUTION_PROVIDERS: 'cuda,cpu' }, 16)).toMatchObject({ workers: 2, intraOpNumThreads: 1 });
  });

  it('still refuses an invalid override, naming it', () => {
    expect(() => load({ INFERENCE_WORKERS: '0' }, 2)).toThrow(/INFERENCE_WORKERS/);
    expect(() => load({ INFERENCE_INTRA_OP_THREADS: 'many' }, 2)).toThrow(/INFERENCE_INTRA_OP_THREADS/);
  });
});
