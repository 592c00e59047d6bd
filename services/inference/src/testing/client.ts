// Promise wrappers around the generated InferenceService client, for tests.
import type * as grpc from '@grpc/grpc-js';
import { encodeFloat32Tensor, type inferenceV1, InferenceServiceClient } from '@glcert/contracts';
import { createClient, createHealthClient, type HealthClient } from '@glcert/runtime';

export interface TestClients {
  inference: InferenceServiceClient;
  health: HealthClient;
  close(): void;
}

export function connect(address: string): TestClients {
  const limits = { maxSendMessageBytes: 64 * 1024 * 1024, maxReceiveMessageBytes: 64 * 1024 * 1024 };
  const inference = createClient(InferenceServiceClient, address, limits);
  const health = createHealthClient(address);
  return {
    inference,
    health,
    close: () => {
      inference.close();
      health.close();
    },
  };
}

/** Classify; `onCall` receives the call object (to cancel it). */
export function classify(
  client: InferenceServiceClient,
  request: Partial<inferenceV1.ClassifyRequest>,
  onCall?: (call: grpc.ClientUnaryCall) => void,
): Promise<inferenceV1.ClassifyResponse> {
  return new Promise((resolve, reject) => {
    const call = client.classify(
      { model: '', returnLogits: false, ...request },
      (err: grpc.ServiceError | null, res: inferenceV1.ClassifyResponse) => (err ? reject(err) : resolve(res)),
    );
    onCall?.(call);
  });
}

export function classifyImages(
  client: InferenceServiceClient,
  model: string,
  data: Float32Array,
  chw: readonly [number, number, number],
  returnLogits = true,
): Promise<inferenceV1.ClassifyResponse> {
  const n = data.length / (chw[0] * chw[1] * chw[2]);
  return classify(client, { model, inputs: encodeFloat32Tensor(data, [n, ...chw]), returnLogits });
}

export function getModelMetadata(client: InferenceServiceClient, name: string): Promise<inferenceV1.GetModelMetadataResponse> {
  return new Promise((resolve, reject) => {
    client.getModelMetadata({ name }, (err, res) => (err ? reject(err) : resolve(res)));
  });
}

export function listModels(client: InferenceServiceClient): Promise<inferenceV1.ListModelsResponse> {
  return new Promise((resolve, reject) => {
    client.listModels({}, (err, res) => (err ? reject(err) : resolve(res)));
  });
}

/** Deterministic pseudo-random images in [0, 1). */
export function randomImages(images: number, chw: readonly [number, number, number], seed: number): Float32Array {
  const data = new Float32Array(images * chw[0] * chw[1] * chw[2]);
  let s = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < data.length; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    data[i] = (s >>> 0) / 0x100000000;
  }
  return data;
}
