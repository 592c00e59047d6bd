// Messages between the worker pool (main thread) and an inference worker. Tensors travel as
// transferred ArrayBuffers (moved, not copied).
import type { TransformKey } from '@glcert/transforms';

/** One model a worker must load, with the execution providers to try in order. */
export interface WorkerModelSpec {
  name: string;
  file: string;
  inputName: string;
  /** Output holding the logits; undefined: the first output. */
  outputName?: string;
  /** C, H, W of one image. */
  chw: [number, number, number];
  classes: number;
  /** Execution providers to try, in order (e.g. ['cuda', 'cpu']). */
  providers: string[];
}

export interface LoadRequest {
  type: 'load';
  models: WorkerModelSpec[];
  intraOpNumThreads: number;
  /** Nice value for the worker thread (Linux; 0: unchanged). */
  nice: number;
}

export interface RunRequest {
  type: 'run';
  id: number;
  model: string;
  /** Holds images x C x H x W float32 values from `byteOffset` on; transferred. */
  input: ArrayBuffer;
  byteOffset: number;
  images: number;
}

/**
 * One piece of a RunPartsRequest: images as they are, or `params.length / d` transforms of
 * `image` (family `key`) that the worker builds (libs/transforms, the sampler's arithmetic).
 * Every array owns its buffer, which is transferred.
 */
export type WirePart = { pixels: Float32Array } | { key: TransformKey; image: Float32Array; params: Float64Array };

/** A batch the worker assembles itself (it holds transformed images). */
export interface RunPartsRequest {
  type: 'run-parts';
  id: number;
  model: string;
  parts: WirePart[];
  images: number;
}

export interface CloseRequest {
  type: 'close';
}

export type WorkerRequest = LoadRequest | RunRequest | RunPartsRequest | CloseRequest;

/** How one model was loaded in a worker. */
export interface LoadedModel {
  name: string;
  /** The execution provider the session uses. */
  provider: string;
  /** Why a provider listed before `provider` could not be used (undefined: none failed). */
  fallbackReason?: string;
  outputName: string;
}

export interface LoadedResponse {
  type: 'loaded';
  models: LoadedModel[];
}

export interface LoadFailedResponse {
  type: 'load-failed';
  message: string;
}

export interface RunResultResponse {
  type: 'result';
  id: number;
  /** images x classes float32 logits; transferred. */
  logits: ArrayBuffer;
  /** images int32 argmax labels; transferred. */
  labels: ArrayBuffer;
  classes: number;
  /** Time inside session.run, in milliseconds. */
  computeMs: number;
}

export interface RunFailedResponse {
  type: 'run-failed';
  id: number;
  message: string;
}

export interface ClosedResponse {
  type: 'closed';
}

export type WorkerResponse = LoadedResponse | LoadFailedResponse | RunResultResponse | RunFailedResponse | ClosedResponse;
