// SamplingService: CountSamples (count-samples.ts), SampleTransforms (sample-transforms.ts) and
// GetModel (the sidecar's metadata, cached). Health is SERVING while the sidecar is reachable
// and SERVING (readiness.ts).
import { SamplingServiceService, type samplingV1, type SamplingServiceServer } from '@glcert/contracts';
import {
  createLogger,
  identifierViolation,
  InvalidArgumentError,
  rejectViolations,
  startService,
  unaryHandler,
  type RunningService,
  type ServiceHandle,
  type ServiceOptions,
} from '@glcert/runtime';
import { ClassifyRequestPool } from './classify-request';
import { defaultSamplerConfig, type SamplerConfig } from './config';
import { countSamples } from './count-samples';
import { modelFor, type SamplerDeps, type SamplerStats } from './deps';
import { Permits } from './permits';
import { followSidecar } from './readiness';
import { sampleTransforms } from './sample-transforms';
import { Sidecar } from './sidecar';

export type { SamplerStats } from './deps';

export type StartSamplerOptions = ServiceOptions;

export interface SamplerService extends ServiceHandle {
  /** Resolves the first time health turns SERVING (the sidecar answered SERVING). */
  readonly ready: Promise<void>;
  readonly stats: Readonly<SamplerStats>;
  readonly config: Readonly<SamplerConfig>;
}

export async function startSamplerService(config: Partial<SamplerConfig> = {}, options: StartSamplerOptions = {}): Promise<SamplerService> {
  const cfg: SamplerConfig = { ...defaultSamplerConfig(), ...config };
  const log = options.logger ?? createLogger('sampler');
  const sidecar = new Sidecar({
    address: cfg.inferenceAddr,
    maxSendMessageBytes: cfg.maxSendMessageBytes,
    maxReceiveMessageBytes: cfg.maxReceiveMessageBytes,
    modelCacheMs: cfg.modelCacheMs,
  });
  const closing = new AbortController();
  const deps: SamplerDeps = {
    cfg,
    sidecar,
    stats: { countCalls: 0, activeCounts: 0, classifyCalls: 0, samplesCounted: 0, samplesBuiltBySidecar: 0 },
    closing: closing.signal,
    permits: new Permits(cfg.maxInFlight * cfg.batchSize),
    requestBuffers: new ClassifyRequestPool(),
  };

  const implementation: SamplingServiceServer = {
    getModel: unaryHandler(
      async (req: samplingV1.GetModelRequest, _call, ctx) => {
        if (req.model.trim() === '') throw new InvalidArgumentError('model', 'is required');
        rejectViolations([identifierViolation(req.model, 'model', 'name')]);
        return { metadata: await modelFor(deps, req.model, ctx) };
      },
      { log },
    ),
    countSamples: unaryHandler((req: samplingV1.CountSamplesRequest, _call, ctx) => countSamples(deps, req, ctx), { log }),
    sampleTransforms: unaryHandler((req: samplingV1.SampleTransformsRequest, _call, ctx) => sampleTransforms(deps, req, ctx), { log }),
  };

  let running: RunningService;
  try {
    running = await startService({
      name: 'sampler',
      services: [{ definition: SamplingServiceService, implementation }],
      config: cfg,
      log,
      signals: options.signals ?? [],
      signalTarget: options.signalTarget,
      exit: options.exit,
      onShutdown: () => {
        closing.abort();
        sidecar.close();
      },
    });
  } catch (err) {
    sidecar.close();
    throw err;
  }

  return {
    port: running.port,
    address: running.address,
    ready: followSidecar(sidecar, running, closing.signal, log, cfg.inferenceAddr),
    stats: deps.stats,
    config: cfg,
    close: () => running.shutdown('close'),
  };
}
