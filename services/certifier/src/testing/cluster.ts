// Test harness with the real model: one inference sidecar (the shipped mnist-cnn) and several
// samplers in front of it, all in-process on 127.0.0.1:0, plus the closed-form fake bound
// service (the brightness threshold Phi(b_max / sigma) is exact).
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
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
        { logger: quietLogger('sampler') },
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

export interface Impostor {
  inference: RunningInferenceService;
  sampler: SamplerService;
  /** SHA-256 of the file it serves as mnist-cnn. */
  sha256: string;
  close(): Promise<void>;
}

/**
 * A replica mid rolling update: a sidecar whose models directory holds another file under the
 * name mnist-cnn (fashion-cnn's weights: same 1x28x28 input, 10 classes; the card names that
 * file's sha256, so the sidecar's integrity check passes), and a sampler in front of it.
 */
export async function startImpostor(): Promise<Impostor> {
  const dir = mkdtempSync(path.join(tmpdir(), 'glcert-impostor-'));
  const modelDir = path.join(dir, MNIST_MODEL);
  mkdirSync(modelDir);
  copyFileSync(path.join(MODELS_DIR, 'fashion-cnn', 'model.onnx'), path.join(modelDir, 'model.onnx'));
  const card = JSON.parse(readFileSync(path.join(MODELS_DIR, MNIST_MODEL, 'card.json'), 'utf8')) as Record<string, unknown>;
  const sha256 = (JSON.parse(readFileSync(path.join(MODELS_DIR, 'fashion-cnn', 'card.json'), 'utf8')) as { sha256: string }).sha256;
  writeFileSync(path.join(modelDir, 'card.json'), JSON.stringify({ ...card, sha256 }, null, 2));
  const inference = await startInferenceService(
    { host: '127.0.0.1', port: 0, modelsDir: dir, workers: 1, intraOpNumThreads: 1, shutdownGraceMs: 2_000 },
    { logger: quietLogger('inference') },
  );
  const sampler = await startSamplerService(
    { host: '127.0.0.1', port: 0, inferenceAddr: inference.address, shutdownGraceMs: 500 },
    { logger: quietLogger('sampler') },
  );
  await sampler.ready;
  return {
    inference,
    sampler,
    sha256,
    close: async () => {
      await sampler.close();
      await inference.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
