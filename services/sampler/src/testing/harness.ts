// Test harness: a real inference sidecar in-process (the shipped cifar-resnet20-shape model) and
// a sampler in front of it, both on 127.0.0.1:0, plus a SamplingService client.
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import {
  Distribution,
  encodeFloat32Tensor,
  SamplingServiceClient,
  type samplingV1,
  type ThreatModel,
} from '@glcert/contracts';
import { createClient, createLogger, type Logger } from '@glcert/runtime';
// eslint-disable-next-line @nx/enforce-module-boundaries -- test-only: the brief asks for a real sidecar in-process
import { startInferenceService, type RunningInferenceService } from '@glcert/inference';
import { startSamplerService, type SamplerService } from '../server';
import type { SamplerConfig } from '../config';

export const MODEL = 'cifar-resnet20-shape';
export const CHW = [3, 32, 32] as const;
export const MODELS_DIR = path.resolve(__dirname, '..', '..', '..', '..', 'models');

export const quietLogger = (name: string): Logger => createLogger(name, { level: 'error' });

/** A deterministic 3x32x32 image in [0, 1] with some structure (so transforms change predictions). */
export function testImage(): Float32Array {
  const [c, h, w] = CHW;
  const out = new Float32Array(c * h * w);
  for (let k = 0; k < c; k++) {
    for (let i = 0; i < h; i++) {
      for (let j = 0; j < w; j++) out[(k * h + i) * w + j] = 0.5 + 0.5 * Math.sin((i * (k + 1)) / 3 + j / 5 + k);
    }
  }
  return out;
}

export const CB_SMOOTHING: ThreatModel = {
  transform: 'cb',
  box: [],
  smoothing: [
    { name: 'k', distribution: Distribution.DISTRIBUTION_LOG_NORMAL, sigma: 0.6 },
    { name: 'b', distribution: Distribution.DISTRIBUTION_NORMAL, sigma: 0.6 },
  ],
  note: '',
};

export function countRequest(over: Partial<samplingV1.CountSamplesRequest> = {}): samplingV1.CountSamplesRequest {
  return {
    model: MODEL,
    image: encodeFloat32Tensor(testImage(), CHW),
    threatModel: CB_SMOOTHING,
    seed: 42n,
    stream: 1,
    startIndex: 0n,
    endIndex: 300n,
    batchSize: 0,
    ...over,
  };
}

export interface Harness {
  inference: RunningInferenceService;
  sampler: SamplerService;
  client: SamplingServiceClient;
  close(): Promise<void>;
}

export async function startInference(port = 0): Promise<RunningInferenceService> {
  return startInferenceService(
    { host: '127.0.0.1', port, modelsDir: MODELS_DIR, workers: 1, intraOpNumThreads: 1, shutdownGraceMs: 2_000 },
    { logger: quietLogger('inference') },
  );
}

export async function startHarness(config: Partial<SamplerConfig> = {}): Promise<Harness> {
  const inference = await startInference();
  const sampler = await startSamplerService(
    { host: '127.0.0.1', port: 0, inferenceAddr: inference.address, shutdownGraceMs: 2_000, ...config },
    { log: quietLogger('sampler') },
  );
  await sampler.ready;
  const client = createClient(SamplingServiceClient, sampler.address, { defaultDeadlineMs: 60_000 });
  return {
    inference,
    sampler,
    client,
    async close() {
      client.close();
      await sampler.close();
      await inference.close();
    },
  };
}

export function count(
  client: SamplingServiceClient,
  req: samplingV1.CountSamplesRequest,
  options: Partial<grpc.CallOptions> = {},
): Promise<samplingV1.CountSamplesResponse> {
  return new Promise((resolve, reject) => {
    client.countSamples(req, new grpc.Metadata(), options, (err, res) => (err ? reject(err) : resolve(res!)));
  });
}

/** Resolves with the error of a call expected to fail. */
export async function failure(promise: Promise<unknown>): Promise<grpc.ServiceError> {
  return promise.then(
    () => {
      throw new Error('expected the call to fail');
    },
    (err: grpc.ServiceError) => err,
  );
}

export async function waitFor(predicate: () => boolean, timeoutMs = 10_000, stepMs = 2): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > end) throw new Error('timed out waiting for a condition');
    await new Promise((r) => setTimeout(r, stepMs));
  }
}
