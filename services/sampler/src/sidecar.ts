// The inference sidecar as the sampler sees it: cached model metadata, Classify on
// pre-serialized requests, and its health.
import { InferenceServiceClient, inferenceV1 } from '@glcert/contracts';
import {
  createClient,
  createWatchHealthClient,
  isModelNotFound,
  modelNotFoundError,
  unaryCall,
  type HealthClient,
  type UnaryMethod,
} from '@glcert/runtime';

export const CLASSIFY_PATH = '/glcert.inference.v1.InferenceService/Classify';

export interface SidecarOptions {
  address: string;
  maxSendMessageBytes: number;
  maxReceiveMessageBytes: number;
  /** How long metadata stays cached (ms). */
  modelCacheMs: number;
}

/** What the sidecar answered to one Classify. */
export interface ClassifyResult {
  labels: number[];
  /** Hex SHA-256 of the model file that answered ('' from a sidecar that does not say). */
  modelSha256: string;
}

/** A Classify in flight. */
export interface ClassifyCall {
  result: Promise<ClassifyResult>;
  cancel(): void;
}

interface CacheEntry {
  at: number;
  metadata: Promise<inferenceV1.ModelMetadata>;
}

const identity = (b: Buffer): Buffer => b;
const decodeClassify = (b: Buffer): inferenceV1.ClassifyResponse => inferenceV1.ClassifyResponse.decode(b);

export class Sidecar {
  readonly client: InferenceServiceClient;
  readonly health: HealthClient;
  private readonly cache = new Map<string, CacheEntry>();

  constructor(private readonly options: SidecarOptions) {
    const limits = { maxSendMessageBytes: options.maxSendMessageBytes, maxReceiveMessageBytes: options.maxReceiveMessageBytes };
    this.client = createClient(InferenceServiceClient, options.address, { ...limits, loadBalancing: 'pick_first' });
    // followed with Health/Watch (readiness.ts): keepalive notices a sidecar that hangs
    this.health = createWatchHealthClient(options.address, { loadBalancing: 'pick_first' });
  }

  /**
   * The sidecar's metadata for `model`, cached for `modelCacheMs`. NOT_FOUND becomes a
   * NotFoundError (reason MODEL_NOT_FOUND); failures are not cached.
   */
  getModelMetadata(model: string, deadline: Date): Promise<inferenceV1.ModelMetadata> {
    const now = Date.now();
    const hit = this.cache.get(model);
    if (hit && now - hit.at <= this.options.modelCacheMs) return hit.metadata;
    const metadata = unaryCall<inferenceV1.GetModelMetadataRequest, inferenceV1.GetModelMetadataResponse>(
      this.client.getModelMetadata.bind(this.client),
      { name: model },
      { deadline },
    ).then(
      (res) => {
        if (!res.metadata) throw new Error(`inference sidecar returned no metadata for model '${model}'`);
        return res.metadata;
      },
      (err: unknown) => {
        throw isModelNotFound(err) ? modelNotFoundError(`model '${model}' is not served by the inference sidecar`, model) : err;
      },
    );
    const entry = { at: now, metadata };
    this.cache.set(model, entry);
    metadata.catch(() => {
      if (this.cache.get(model) === entry) this.cache.delete(model);
    });
    return metadata;
  }

  /** Classify with an already serialized ClassifyRequest (see ClassifyRequestBuffer). */
  classify(message: Buffer, deadline: Date): ClassifyCall {
    const abort = new AbortController();
    const result = unaryCall(this.classifyRaw, message, { deadline, signal: abort.signal }).then((res) => ({
      labels: res.labels,
      modelSha256: res.modelSha256,
    }));
    return { result, cancel: () => abort.abort() };
  }

  /** Classify of a pre-serialized request (no encoding on our side). */
  private readonly classifyRaw: UnaryMethod<Buffer, inferenceV1.ClassifyResponse> = (message, metadata, options, cb) =>
    this.client.makeUnaryRequest(CLASSIFY_PATH, identity, decodeClassify, message, metadata, options, cb);

  close(): void {
    this.client.close();
    this.health.close();
  }
}
