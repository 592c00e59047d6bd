// Test doubles: a SamplingService whose counts are a pure function of (seed, stream, index)
// (so every split and every retry gives the same counts, as with the real sampler), a
// BoundService answering the closed-form threshold of brightness, and a TCP proxy that can
// "kill" a sampler mid-call by destroying its connections.
import * as net from 'node:net';
import * as grpc from '@grpc/grpc-js';
import {
  BoundServiceService,
  SamplingServiceService,
  ThresholdMethod,
  type BoundServiceServer,
  type boundsV1,
  type inferenceV1,
  type samplingV1,
  type SamplingServiceServer,
} from '@glcert/contracts';
import {
  createLogger,
  InvalidArgumentError,
  modelMismatchError,
  NotFoundError,
  startService,
  unaryHandler,
  type CallContext,
} from '@glcert/runtime';
import { normalCdf } from '@glcert/stats';

export const FAKE_MODEL = 'fake-mnist';
const quiet = createLogger('test', { level: 'silent' });

export function fakeMetadata(): inferenceV1.ModelMetadata {
  return {
    name: FAKE_MODEL,
    version: '7',
    sha256: 'ab'.repeat(32),
    inputName: 'input',
    inputShape: [-1n, 1n, 28n, 28n],
    channels: 1,
    valueMin: 0,
    valueMax: 1,
    classNames: Array.from({ length: 10 }, (_, i) => String(i)),
    preprocessing: '',
    executionProvider: 'cpu',
    maxBatchSize: 256,
    transforms: [],
  };
}

/** A 32-bit hash of (seed, stream, index): the fake "classifier" of one sample. */
export function fakeClass(seed: bigint, stream: number, index: number, topShare = 0.97): number {
  let h = Number(seed & 0xffffffffn) ^ Math.imul(Number((seed >> 32n) & 0xffffffffn), 0x9e3779b1);
  h = Math.imul(h ^ stream, 0x85ebca6b) ^ index;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  h = (h ^ (h >>> 16)) >>> 0;
  const u = h / 2 ** 32;
  return u < topShare ? 7 : Math.floor(((u - topShare) / (1 - topShare)) * 10) % 10;
}

export function fakeCounts(seed: bigint, stream: number, start: number, end: number, topShare?: number): number[] {
  const counts = new Array<number>(10).fill(0);
  for (let i = start; i < end; i++) counts[fakeClass(seed, stream, i, topShare)]!++;
  return counts;
}

export interface FakeSamplerOptions {
  /** Milliseconds per CountSamples call (checked against cancellation every 5 ms). */
  delayMs?: number;
  /** Share of samples classified as 7. */
  topShare?: number;
  /** Called first on every CountSamples; may throw to fail the call. */
  onCount?: (req: samplingV1.CountSamplesRequest) => void;
  /**
   * SHA-256 of the model this replica's "sidecar" classifies with (default fakeMetadata's).
   * Like the real sampler, CountSamples refuses another expected_model_sha256 with
   * FAILED_PRECONDITION / MODEL_MISMATCH and names it in model_sha256.
   */
  servedSha256?: string;
  /** Ignore expected_model_sha256 (a sampler from before the check): count and name servedSha256. */
  ignoreExpected?: boolean;
  /** Ignore more_ranges (a sampler from before them): count the first range only. */
  ignoreMoreRanges?: boolean;
}

export interface FakeSampler {
  port: number;
  address: string;
  calls: samplingV1.CountSamplesRequest[];
  /** Model names of the GetModel calls received. */
  getModelCalls: string[];
  /** Calls whose work stopped because the caller cancelled. */
  cancelled: number;
  active: number;
  close(): Promise<void>;
}

export async function startFakeSampler(options: FakeSamplerOptions = {}): Promise<FakeSampler> {
  const state = { calls: [] as samplingV1.CountSamplesRequest[], getModelCalls: [] as string[], cancelled: 0, active: 0 };
  const countSamples = async (req: samplingV1.CountSamplesRequest, ctx: CallContext): Promise<samplingV1.CountSamplesResponse> => {
    state.calls.push(req);
    options.onCount?.(req);
    if (req.model !== FAKE_MODEL) throw new NotFoundError(`model '${req.model}' not found`);
    if (req.endIndex <= req.startIndex) throw new InvalidArgumentError('end_index', 'must be > start_index');
    const served = options.servedSha256 ?? fakeMetadata().sha256;
    if (!options.ignoreExpected && req.expectedModelSha256 !== '' && req.expectedModelSha256 !== served) {
      throw modelMismatchError(`expected_model_sha256: the sidecar serves ${served.slice(0, 12)}, not ${req.expectedModelSha256.slice(0, 12)}`, {
        model: req.model,
        expected: req.expectedModelSha256,
        served,
      });
    }
    state.active++;
    try {
      const until = Date.now() + (options.delayMs ?? 0);
      while (Date.now() < until) {
        if (ctx.signal.aborted) {
          state.cancelled++;
          throw ctx.signal.reason;
        }
        await new Promise((r) => setTimeout(r, 5));
      }
      const start = Number(req.startIndex);
      const end = Number(req.endIndex);
      const counts = fakeCounts(req.seed, req.stream, start, end, options.topShare);
      // a sampler from before more_ranges counts the first range only
      const more = options.ignoreMoreRanges ? [] : req.moreRanges;
      const moreCounts = more.map((r) => ({ classCounts: fakeCounts(req.seed, r.stream, Number(r.startIndex), Number(r.endIndex), options.topShare).map(BigInt) }));
      const samples = more.reduce((a, r) => a + (r.endIndex - r.startIndex), BigInt(end - start));
      return { classCounts: counts.map(BigInt), samplesCount: samples, batchesCount: 1, computeSeconds: 0, modelSha256: served, moreCounts };
    } finally {
      state.active--;
    }
  };
  const implementation: SamplingServiceServer = {
    getModel: unaryHandler(async (req: samplingV1.GetModelRequest) => {
      state.getModelCalls.push(req.model);
      if (req.model !== FAKE_MODEL) throw new NotFoundError(`model '${req.model}' not found`);
      return { metadata: fakeMetadata() };
    }),
    countSamples: unaryHandler((req: samplingV1.CountSamplesRequest, _call, ctx) => countSamples(req, ctx)),
    sampleTransforms: unaryHandler(() => ({ samples: [] })),
  };
  const running = await startService({
    name: 'fake-sampler',
    services: [{ definition: SamplingServiceService, implementation }],
    config: { host: '127.0.0.1', port: 0, maxReceiveMessageBytes: 16 << 20, maxSendMessageBytes: 16 << 20, shutdownGraceMs: 200 },
    log: quiet,
    signals: [],
  });
  running.ready();
  return {
    port: running.port,
    address: running.address,
    get calls() {
      return state.calls;
    },
    get getModelCalls() {
      return state.getModelCalls;
    },
    get cancelled() {
      return state.cancelled;
    },
    get active() {
      return state.active;
    },
    close: () => running.shutdown('test'),
  };
}

/** The closed-form brightness threshold Phi(max|b| / sigma) (ALGORITHM.md section 5). */
export function brightnessThreshold(bMax: number, sigma: number): number {
  return normalCdf(bMax / sigma);
}

export interface FakeBounds {
  port: number;
  address: string;
  calls: boundsV1.GetThresholdRequest[];
  close(): Promise<void>;
}

/** A BoundService with the closed form of transform `b` (others: INVALID_ARGUMENT); optional fixed threshold. */
export async function startFakeBounds(options: { threshold?: number } = {}): Promise<FakeBounds> {
  const calls: boundsV1.GetThresholdRequest[] = [];
  const implementation: BoundServiceServer = {
    getThreshold: unaryHandler(async (req: boundsV1.GetThresholdRequest) => {
      calls.push(req);
      const tm = req.threatModel!;
      let threshold = options.threshold;
      if (threshold === undefined) {
        if (tm.transform !== 'b') throw new InvalidArgumentError('threat_model.transform', `fake bounds only know 'b', got '${tm.transform}'`);
        const box = tm.box[0]!;
        threshold = brightnessThreshold(Math.max(Math.abs(box.min), Math.abs(box.max)), tm.smoothing[0]!.sigma);
      }
      const bound: boundsV1.GetThresholdResponse['bound'] = {
        threshold,
        method: ThresholdMethod.THRESHOLD_METHOD_CLOSED_FORM,
        numericThreshold: threshold,
        closedFormThreshold: threshold,
        cacheKey: `fake-${tm.transform}-${threshold}`,
        solverVersion: 'fake-1',
        ns: 0n,
        gridPoints: [],
        solveSeconds: 0,
        notes: [],
        seed: 0n,
      };
      return { bound, cacheHit: calls.length > 1 };
    }),
  };
  const running = await startService({
    name: 'fake-bounds',
    services: [{ definition: BoundServiceService, implementation }],
    config: { host: '127.0.0.1', port: 0, maxReceiveMessageBytes: 16 << 20, maxSendMessageBytes: 16 << 20, shutdownGraceMs: 200 },
    log: quiet,
    signals: [],
  });
  running.ready();
  return { port: running.port, address: running.address, calls, close: () => running.shutdown('test') };
}

export interface KillableProxy {
  port: number;
  address: string;
  /** Connections opened so far. */
  connections: number;
  /** Destroys every connection and stops listening: the backend "died". */
  kill(): Promise<void>;
}

/** A TCP proxy to `target`; kill() makes every call through it fail as if the process died. */
export async function startProxy(targetPort: number): Promise<KillableProxy> {
  const sockets = new Set<net.Socket>();
  let connections = 0;
  const server = net.createServer((client) => {
    connections++;
    const upstream = net.connect(targetPort, '127.0.0.1');
    sockets.add(client);
    sockets.add(upstream);
    client.pipe(upstream);
    upstream.pipe(client);
    const drop = (): void => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', drop);
    upstream.on('error', drop);
    client.on('close', drop);
    upstream.on('close', drop);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    address: `127.0.0.1:${port}`,
    get connections() {
      return connections;
    },
    kill: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        sockets.clear();
        server.close(() => resolve());
      }),
  };
}

export { grpc };
