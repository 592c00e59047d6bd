// All five services in this process on 127.0.0.1:0 (the real ones: mnist-cnn on an inference
// sidecar, a sampler, the bound service with a temporary cache, a certifier with a temporary
// signing key, a verifier trusting it), with small message limits so that "over the limit"
// cases are cheap. Error-level log lines are captured: a bad input must never be an INTERNAL.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import {
  BoundServiceClient,
  CertificationServiceClient,
  InferenceServiceClient,
  SamplingServiceClient,
  VerificationServiceClient,
} from '@glcert/contracts';
import { createClient, createLogger, readConfig, type Logger } from '@glcert/runtime';
// eslint-disable-next-line @nx/enforce-module-boundaries -- whole-system tests start the real services in-process
import { startInferenceService, type RunningInferenceService } from '@glcert/inference';
// eslint-disable-next-line @nx/enforce-module-boundaries -- whole-system tests start the real services in-process
import { startSamplerService, type SamplerService } from '@glcert/sampler';
// eslint-disable-next-line @nx/enforce-module-boundaries -- whole-system tests start the real services in-process
import { boundsConfigSchema, startBoundsService, type BoundsServiceHandle } from '@glcert/bounds-service';
// eslint-disable-next-line @nx/enforce-module-boundaries -- whole-system tests start the real services in-process
import { startCertifierService, type CertifierService } from '@glcert/certifier';
// eslint-disable-next-line @nx/enforce-module-boundaries -- whole-system tests start the real services in-process
import { startVerifierService, verifierConfigSchema, type VerifierServiceHandle } from '@glcert/verifier';
import { MODELS_DIR } from './fixtures';
import { LIMITS, MAX_N, MAX_RANGE } from './limits';

export interface InProcess {
  inference: RunningInferenceService;
  sampler: SamplerService;
  bounds: BoundsServiceHandle;
  certifier: CertifierService;
  verifier: VerifierServiceHandle;
  clients: {
    certifier: CertificationServiceClient;
    sampler: SamplingServiceClient;
    inference: InferenceServiceClient;
    bounds: BoundServiceClient;
    verifier: VerificationServiceClient;
  };
  /** Error-level log lines of every service so far. */
  errors: string[];
  close(): Promise<void>;
}

export async function startInProcess(): Promise<InProcess> {
  const dir = mkdtempSync(path.join(tmpdir(), 'glcert-reliability-'));
  const errors: string[] = [];
  const log = (name: string): Logger => createLogger(name, { level: 'error', sink: (line) => void errors.push(line) });

  const inference = await startInferenceService(
    { host: '127.0.0.1', port: 0, modelsDir: MODELS_DIR, workers: 1, intraOpNumThreads: 1, shutdownGraceMs: 1_000, maxReceiveMessageBytes: LIMITS.inference },
    { logger: log('inference') },
  );
  const sampler = await startSamplerService(
    { host: '127.0.0.1', port: 0, inferenceAddr: inference.address, shutdownGraceMs: 1_000, maxReceiveMessageBytes: LIMITS.sampler, maxRange: MAX_RANGE },
    { logger: log('sampler') },
  );
  await sampler.ready;
  const bounds = await startBoundsService(
    readConfig(boundsConfigSchema(), {
      BOUNDS_PORT: '0',
      BOUNDS_CACHE_DIR: path.join(dir, 'bounds-cache'),
      BOUNDS_MAX_RECEIVE_MESSAGE_BYTES: String(LIMITS.bounds),
      BOUNDS_SHUTDOWN_GRACE_MS: '1000',
      // keeps the "too much work" case cheap to reach
      BOUNDS_MAX_SOLVE_COST: '1e9',
    }),
    { logger: log('bounds') },
  );
  const keysDir = path.join(dir, 'keys');
  const certifier = await startCertifierService(
    {
      host: '127.0.0.1',
      port: 0,
      samplerAddrs: [sampler.address],
      boundsAddr: bounds.address,
      maxReceiveMessageBytes: LIMITS.certifier,
      maxN: MAX_N,
      chunkSize: 500,
      shutdownGraceMs: 1_000,
      signingKeyFile: path.join(keysDir, 'signing.pem'),
    },
    { logger: log('certifier') },
  );
  await certifier.ready;
  const verifier = await startVerifierService(
    readConfig(verifierConfigSchema(), {
      VERIFIER_PORT: '0',
      VERIFIER_PUBLIC_KEYS_DIR: keysDir,
      BOUNDS_ADDR: bounds.address,
      SAMPLER_ADDRS: sampler.address,
      VERIFIER_MAX_RECEIVE_MESSAGE_BYTES: String(LIMITS.verifier),
      VERIFIER_SHUTDOWN_GRACE_MS: '1000',
    }),
    { logger: log('verifier') },
  );

  const opts = { defaultDeadlineMs: 120_000 };
  const clients = {
    certifier: createClient(CertificationServiceClient, certifier.address, opts),
    sampler: createClient(SamplingServiceClient, sampler.address, opts),
    inference: createClient(InferenceServiceClient, inference.address, opts),
    bounds: createClient(BoundServiceClient, bounds.address, opts),
    verifier: createClient(VerificationServiceClient, verifier.address, opts),
  };
  return {
    inference,
    sampler,
    bounds,
    certifier,
    verifier,
    clients,
    errors,
    close: async () => {
      for (const c of Object.values(clients)) c.close();
      await certifier.close();
      await verifier.close();
      await Promise.all([sampler.close(), bounds.close()]);
      await inference.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
