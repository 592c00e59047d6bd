// Test harness with the real model: one inference sidecar (the shipped mnist-cnn) and several
// samplers in front of it, all in-process on 127.0.0.1:0, plus the closed-form fake bound
// service (the brightness threshold Phi(b_max / sigma) is exact).
import * as path from 'node:path';
import { createLogger, type Logger } from '@glcert/runtime';
// eslint-disable-next-line @nx/enforce-module-boundaries -- test-only: the certifier is tested against a real sidecar in-process
import { startInferenceService, type RunningInferenceService } from '@glcert/inference';
// eslint-disable-next-line @nx/enforce-module-boundaries -- test-only: real samplers in-process, each with its own port
import { startSamplerService, type SamplerService } from '@glcert/sampler';
import { startFakeBounds, type FakeBounds } from './fakes';

export const MNIST_MODEL = 'mnist-cnn';
export const MODELS_DIR = path.resolve(__dirname, '..', '..', '..', '..', 'models');
export const MNIST_DIR = path.resolve(__dirname, '..', '..', '..', '..', 'data', 'mnist-test');

export const quietLogger = (name: string): Logger => createLogger(name, { level: 'error' });

export interface Cluster {
  inference: RunningInferenceService;
  samplers: SamplerService[];
  bounds: FakeBounds;
  close(): Promise<void>;
}

/** One sidecar, `samplers` samplers (each its own port) and the fake bound service. */
export async function startCluster(samplers: number): Promise<Cluster> {
  const inference = await startInferenceService(
    { host: '127.0.0.1', port: 0, modelsDir: MODELS_DIR, workers: 1, intraOpNumThreads: 1, shutdownGraceMs: 2_000 },
    { logger: quietLogger('inference') },
  );
  const started: SamplerService[] = [];
  for (let i = 0; i < samplers; i++) {
    started.push(
      await startSamplerService(
        { host: '127.0.0.1', port: 0, inferenceAddr: inference.address, shutdownGraceMs: 500 },
        { log: quietLogger('sampler') },
      ),
    );
  }
  await Promise.all(started.map((s) => s.ready));
  const bounds = await startFakeBounds();
  return {
    inference,
    samplers: started,
    bounds,
    close: async () => {
      await Promise.all([...started.map((s) => s.close()), bounds.close()]);
      await inference.close();
    },
  };
}
