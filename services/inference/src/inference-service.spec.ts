import * as grpc from '@grpc/grpc-js';
import * as ort from 'onnxruntime-node';
import { DataType, encodeFloat32Tensor, inferenceV1 } from '@glcert/contracts';
import { checkHealth, createLogger, decodeStatus, type Logger } from '@glcert/runtime';
import { applyTransformBatch } from '@glcert/transforms';
import { INFERENCE_SERVICE_NAME } from './config';
import { INTRA_OP_THREADS_HEADER, type RunningInferenceService, startInferenceService, WORKERS_HEADER } from './inference-service';
import { classify, classifyImages, connect, getModelMetadata, listModels, randomImages, type TestClients } from './testing/client';
import { createFixtureRepository, type FixtureRepository } from './testing/fixture-models';

const GREY: [number, number, number] = [1, 8, 8];
const RGB: [number, number, number] = [3, 32, 32];

function capturingLogger(): { logger: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const logger = createLogger('inference', { level: 'info', sink: (line) => lines.push(JSON.parse(line) as Record<string, unknown>) });
  return { logger, lines };
}

async function directRun(onnx: Buffer, data: Float32Array, chw: readonly number[]): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(onnx);
  try {
    const n = data.length / (chw[0] * chw[1] * chw[2]);
    const out = await session.run({ input: new ort.Tensor('float32', data.slice(), [n, ...chw]) });
    return out.logits.data as Float32Array;
  } finally {
    await session.release();
  }
}

function argmaxRows(logits: Float32Array, classes: number): number[] {
  const labels: number[] = [];
  for (let i = 0; i < logits.length / classes; i++) {
    const row = Array.from(logits.subarray(i * classes, (i + 1) * classes));
    labels.push(row.indexOf(Math.max(...row)));
  }
  return labels;
}

function logitsOf(res: { logits?: { rawContents: Buffer } }): Float32Array {
  const raw = res.logits!.rawContents;
  return new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
}

async function expectStatus(promise: Promise<unknown>, code: grpc.status, field?: string): Promise<grpc.ServiceError> {
  const err = (await promise.then(
    () => {
      throw new Error(`expected ${grpc.status[code]}, got a response`);
    },
    (e: unknown) => e,
  )) as grpc.ServiceError;
  expect(grpc.status[err.code]).toBe(grpc.status[code]);
  if (field) {
    expect(err.details).toContain(field);
    expect(decodeStatus(err)?.badRequest?.fieldViolations.map((v) => v.field)).toEqual([field]);
  }
  return err;
}

describe('InferenceService over loopback', () => {
  let repo: FixtureRepository;
  beforeAll(() => {
    repo = createFixtureRepository([
      { name: 'grey-net', chw: GREY, hidden: [32], classes: 10, seed: 11 },
      { name: 'rgb-net', chw: RGB, classes: 10, seed: 12 },
    ]);
  });
  afterAll(() => repo.remove());

  describe('serving', () => {
    let service: RunningInferenceService;
    let clients: TestClients;
    beforeAll(async () => {
      service = await startInferenceService(
        { modelsDir: repo.dir, port: 0, maxBatchSize: 64, maxQueueDelayMs: 25 },
        { logger: capturingLogger().logger },
      );
      clients = connect(service.address);
    });
    afterAll(async () => {
      clients.close();
      await service.close();
    });

    it('classifies like a direct onnxruntime-node run of the same tensor', async () => {
      for (const [name, chw, n] of [['grey-net', GREY, 5], ['rgb-net', RGB, 3]] as const) {
        const data = randomImages(n, chw, 1);
        const expected = await directRun(repo.onnx.get(name)!, data, chw);
        const res = await classifyImages(clients.inference, name, data, chw);
        expect(res.modelVersion).toBe('0.0.1-test');
        expect(res.modelSha256).toBe(service.models().find((m) => m.name === name)!.sha256);
        expect(res.logits!.shape).toEqual([BigInt(n), 10n]);
        expect(res.logits!.dataType).toBe(DataType.DATA_TYPE_FLOAT32);
        expect(Array.from(logitsOf(res))).toEqual(Array.from(expected));
        expect(res.labels).toEqual(argmaxRows(expected, 10));
      }
      const noLogits = await classifyImages(clients.inference, 'grey-net', randomImages(2, GREY, 2), GREY, false);
      expect(noLogits.logits).toBeUndefined();
      expect(noLogits.labels).toHaveLength(2);
    });

    it('merges concurrent requests into fewer batches and routes each result to its caller', async () => {
      const requests = Array.from({ length: 8 }, (_, k) => randomImages(1 + (k % 3), GREY, 100 + k));
      const expected = await Promise.all(requests.map((d) => directRun(repo.onnx.get('grey-net')!, d, GREY)));
      const before = service.stats.models['grey-net'].batches;
      const responses = await Promise.all(requests.map((d) => classifyImages(clients.inference, 'grey-net', d, GREY)));
      const batches = service.stats.models['grey-net'].batches - before;
      expect(batches).toBeGreaterThanOrEqual(1);
      expect(batches).toBeLessThan(requests.length);
      responses.forEach((res, k) => {
        expect(Array.from(logitsOf(res))).toEqual(Array.from(expected[k]));
        expect(res.labels).toEqual(argmaxRows(expected[k], 10));
      });
    });

    it('splits a request larger than the batch size and keeps image order', async () => {
      const data = randomImages(150, GREY, 7);
      const expected = await directRun(repo.onnx.get('grey-net')!, data, GREY);
      const before = service.stats.batchesRun;
      const res = await classifyImages(clients.inference, 'grey-net', data, GREY);
      expect(service.stats.batchesRun - before).toBe(3); // 64 + 64 + 22
      expect(res.labels).toEqual(argmaxRows(expected, 10));
      const got = logitsOf(res);
      for (let i = 0; i < expected.length; i++) expect(got[i]).toBeCloseTo(expected[i], 5);
    });

    it('rejects malformed inputs with INVALID_ARGUMENT naming the field', async () => {
      const good = encodeFloat32Tensor(randomImages(2, GREY, 3), [2, ...GREY]);
      const call = (inputs: Partial<typeof good> | undefined) =>
        classify(clients.inference, { model: 'grey-net', inputs: inputs && { ...good, ...inputs } });
      await expectStatus(call({ dataType: DataType.DATA_TYPE_UNSPECIFIED }), grpc.status.INVALID_ARGUMENT, 'inputs.data_type');
      await expectStatus(call({ shape: [2n, 3n, 8n, 8n] }), grpc.status.INVALID_ARGUMENT, 'inputs.shape');
      await expectStatus(call({ shape: [1n, 8n, 8n] }), grpc.status.INVALID_ARGUMENT, 'inputs.shape');
      await expectStatus(call({ shape: [0n, 1n, 8n, 8n], rawContents: Buffer.alloc(0) }), grpc.status.INVALID_ARGUMENT, 'inputs.shape');
      await expectStatus(call({ rawContents: good.rawContents.subarray(0, good.rawContents.length - 4) }), grpc.status.INVALID_ARGUMENT, 'inputs.raw_contents');
      await expectStatus(call({ shape: [3n, 1n, 8n, 8n] }), grpc.status.INVALID_ARGUMENT, 'inputs.raw_contents');
      await expectStatus(call(undefined), grpc.status.INVALID_ARGUMENT, 'inputs');
      for (const bad of [NaN, Infinity, -Infinity]) {
        const values = randomImages(2, GREY, 4);
        values[70] = bad;
        const err = await expectStatus(
          classify(clients.inference, { model: 'grey-net', inputs: encodeFloat32Tensor(values, [2, ...GREY]) }),
          grpc.status.INVALID_ARGUMENT,
          'inputs.raw_contents',
        );
        expect(err.details).toMatch(/finite.*element 70 \(image 1\)/);
      }
    });

    it('builds transformed inputs itself: the same logits as the images built by the caller, merged with other requests', async () => {
      const image = randomImages(1, RGB, 21);
      const shape = { channels: RGB[0], height: RGB[1], width: RGB[2] };
      // 70 samples of contrast + brightness + translation (d = 4): more than one batch of 64
      const n = 70;
      const params = new Float64Array(n * 4);
      for (let i = 0; i < n; i++) params.set([0.5 + (i % 7) / 5, (i % 5) / 10 - 0.2, (i % 9) - 4, (i % 4) - 2], i * 4);
      const built = new Float32Array(n * RGB[0] * RGB[1] * RGB[2]);
      applyTransformBatch('cbt', image, shape, params, n, built);
      const expected = await directRun(repo.onnx.get('rgb-net')!, built, RGB);
      const transformed = { image: encodeFloat32Tensor(image, RGB), transform: 'cbt', parameters: Array.from(params) };
      const [res, other] = await Promise.all([
        classify(clients.inference, { model: 'rgb-net', transformed, returnLogits: true }),
        classifyImages(clients.inference, 'rgb-net', built.subarray(0, 3 * RGB[0] * RGB[1] * RGB[2]), RGB),
      ]);
      expect(Array.from(logitsOf(res))).toEqual(Array.from(expected));
      expect(res.labels).toEqual(argmaxRows(expected, 10));
      expect(new Set(res.labels).size).toBeGreaterThan(1);
      expect(other.labels).toEqual(res.labels.slice(0, 3));
      // [1, C, H, W] is one image too
      const four = await classify(clients.inference, { model: 'rgb-net', transformed: { ...transformed, image: encodeFloat32Tensor(image, [1, ...RGB]) } });
      expect(four.labels).toEqual(res.labels);
    });

    it('lists the families it builds, and rejects malformed transformed inputs with INVALID_ARGUMENT naming the field', async () => {
      const { metadata } = await getModelMetadata(clients.inference, 'grey-net');
      expect(metadata!.transforms).toEqual(['b', 'c', 'cb', 'g', 'gc', 't', 'bt', 'ct', 'cbt']);
      const image = randomImages(1, GREY, 3);
      const good = { image: encodeFloat32Tensor(image, GREY), transform: 'cb', parameters: [1, 0, 1.2, 0.1] };
      const call = (over: Partial<typeof good>, inputs?: ReturnType<typeof encodeFloat32Tensor>) =>
        classify(clients.inference, { model: 'grey-net', transformed: { ...good, ...over }, inputs });
      expect((await call({})).labels).toHaveLength(2);
      await expectStatus(call({}, encodeFloat32Tensor(image, [1, ...GREY])), grpc.status.INVALID_ARGUMENT, 'transformed');
      await expectStatus(call({ image: undefined }), grpc.status.INVALID_ARGUMENT, 'transformed.image');
      await expectStatus(call({ image: encodeFloat32Tensor(randomImages(2, GREY, 3), [2, ...GREY]) }), grpc.status.INVALID_ARGUMENT, 'transformed.image.shape');
      await expectStatus(call({ image: encodeFloat32Tensor(new Float32Array(48), [3, 4, 4]) }), grpc.status.INVALID_ARGUMENT, 'transformed.image.shape');
      const nan = image.slice();
      nan[5] = NaN;
      await expectStatus(call({ image: encodeFloat32Tensor(nan, GREY) }), grpc.status.INVALID_ARGUMENT, 'transformed.image.raw_contents');
      await expectStatus(call({ image: { ...good.image, rawContents: good.image.rawContents.subarray(4) } }), grpc.status.INVALID_ARGUMENT, 'transformed.image.raw_contents');
      for (const transform of ['', 'r', 'blur', 'x'.repeat(1 << 16), 'x'.repeat(1 << 20)]) {
        const err = await expectStatus(call({ transform }), grpc.status.INVALID_ARGUMENT, 'transformed.transform');
        expect(err.details.length).toBeLessThan(300);
      }
      for (const parameters of [[], [1, 0, 1], [NaN, 0], [1, Infinity], [0, 0], [1e300, 0], [1e-300, 0], [5e-324, 0], [1, 1e5], [1, -1e300], [-1, 0]]) {
        await expectStatus(call({ parameters }), grpc.status.INVALID_ARGUMENT, 'transformed.parameters');
      }
      // the extremes of the domain give finite logits
      const extreme = await classify(clients.inference, { model: 'grey-net', transformed: { ...good, transform: 'gc', parameters: [10, 1e8, 1e-300, 1e-8] }, returnLogits: true });
      expect(Array.from(logitsOf(extreme)).every((v) => !Number.isNaN(v))).toBe(true);
      expect((await call({})).labels).toHaveLength(2);
    });

    it('answers NOT_FOUND naming an unknown model', async () => {
      const err = await expectStatus(
        classifyImages(clients.inference, 'no-such-model', randomImages(1, GREY, 5), GREY),
        grpc.status.NOT_FOUND,
      );
      expect(err.details).toContain("model 'no-such-model' not found");
      expect(decodeStatus(err)?.errorInfo).toMatchObject({ reason: 'MODEL_NOT_FOUND', metadata: { model: 'no-such-model' } });
      await expectStatus(getModelMetadata(clients.inference, 'no-such-model'), grpc.status.NOT_FOUND);
      await expectStatus(classify(clients.inference, { inputs: encodeFloat32Tensor(randomImages(1, GREY, 5), [1, ...GREY]) }), grpc.status.INVALID_ARGUMENT, 'model');
    });

    it('refuses a long or malformed model name with INVALID_ARGUMENT naming the field, without echoing it (issue 11)', async () => {
      for (const name of ['g'.repeat(48 << 10), 'g'.repeat(1 << 20), 'grey net']) {
        const a = await expectStatus(classifyImages(clients.inference, name, randomImages(1, GREY, 5), GREY), grpc.status.INVALID_ARGUMENT, 'model');
        const b = await expectStatus(getModelMetadata(clients.inference, name), grpc.status.INVALID_ARGUMENT, 'name');
        for (const err of [a, b]) expect(err.details.length).toBeLessThan(300);
      }
      expect((await classifyImages(clients.inference, 'grey-net', randomImages(1, GREY, 5), GREY)).labels).toHaveLength(1);
    });

    it('describes its models', async () => {
      const { metadata } = await getModelMetadata(clients.inference, 'rgb-net');
      expect(metadata).toMatchObject({
        name: 'rgb-net',
        version: '0.0.1-test',
        inputName: 'input',
        inputShape: [-1n, 3n, 32n, 32n],
        channels: 3,
        valueMin: 0,
        valueMax: 1,
        executionProvider: 'cpu',
        maxBatchSize: 64,
      });
      expect(metadata!.sha256).toMatch(/^[0-9a-f]{64}$/);
      expect(metadata!.classNames).toHaveLength(10);
      // its sizing rides in the response headers (withDefaults: one worker of one thread)
      const headers = await new Promise<grpc.Metadata>((resolve, reject) => {
        const call = clients.inference.getModelMetadata({ name: 'rgb-net' }, (err) => err && reject(err));
        call.on('metadata', resolve);
      });
      expect(headers.get(WORKERS_HEADER)).toEqual(['1']);
      expect(headers.get(INTRA_OP_THREADS_HEADER)).toEqual(['1']);
      const { models } = await listModels(clients.inference);
      expect(models.map((m) => m.name)).toEqual(['grey-net', 'rgb-net']);
      expect(service.models().map((m) => m.name)).toEqual(['grey-net', 'rgb-net']);
    });
  });

  it('is NOT_SERVING until every model is loaded and warmed up, then SERVING; CUDA falls back to CPU, logged once', async () => {
    const { logger, lines } = capturingLogger();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let reachedWarmup = false;
    const service = await startInferenceService(
      { modelsDir: repo.dir, port: 0, workers: 2, executionProviders: ['cuda', 'cpu'] },
      {
        logger,
        waitForReady: false,
        beforeWarmup: async () => {
          reachedWarmup = true;
          await gate;
        },
      },
    );
    const clients = connect(service.address);
    try {
      expect(await checkHealth(clients.health, '')).toBe('NOT_SERVING');
      while (!reachedWarmup) await new Promise((r) => setTimeout(r, 10));
      // models loaded, warm-up not run yet
      expect(await checkHealth(clients.health, '')).toBe('NOT_SERVING');
      expect(await checkHealth(clients.health, INFERENCE_SERVICE_NAME)).toBe('NOT_SERVING');
      await expectStatus(classifyImages(clients.inference, 'grey-net', randomImages(1, GREY, 1), GREY), grpc.status.UNAVAILABLE);
      expect(service.stats.warmupBatches).toBe(0);
      release();
      await service.ready;
      expect(await checkHealth(clients.health, '')).toBe('SERVING');
      expect(await checkHealth(clients.health, INFERENCE_SERVICE_NAME)).toBe('SERVING');
      expect(service.stats.warmupBatches).toBe(4); // 2 models x 2 workers
      expect(service.stats.batchesRun).toBe(0); // warm-up is not counted as served batches

      const fallback = lines.filter((l) => /CUDA execution provider unavailable, falling back to CPU/.test(String(l['msg'])));
      expect(fallback).toHaveLength(1);
      expect(fallback[0]['level']).toBe('warn');
      const { models } = await listModels(clients.inference);
      expect(models.map((m) => m.executionProvider)).toEqual(['cpu', 'cpu']);
      const res = await classifyImages(clients.inference, 'rgb-net', randomImages(2, RGB, 9), RGB);
      expect(res.labels).toHaveLength(2);
    } finally {
      clients.close();
      await service.close();
    }
  });

  it('refuses to start when a model file does not match its card', async () => {
    const bad = createFixtureRepository([{ name: 'tampered', chw: GREY, card: { sha256: 'a'.repeat(64) } }]);
    try {
      await expect(
        startInferenceService({ modelsDir: bad.dir, port: 0 }, { logger: capturingLogger().logger }),
      ).rejects.toThrow(/tampered.*SHA-256/);
    } finally {
      bad.remove();
    }
  });
});

describe('InferenceService under load', () => {
  // A deliberately slow model: 40 tied 1024x1024 dense layers (~40 M multiply-adds per image,
  // a 5 MB file), one worker, a queue of two requests.
  const SLOW: [number, number, number] = [1, 16, 16];
  const BATCH = 16;
  let repo: FixtureRepository;
  let service: RunningInferenceService;
  let clients: TestClients;

  beforeAll(async () => {
    repo = createFixtureRepository([{ name: 'slow-net', chw: SLOW, hidden: Array(41).fill(1024), tiedHidden: true, classes: 10, seed: 21 }]);
    service = await startInferenceService(
      { modelsDir: repo.dir, port: 0, workers: 1, maxBatchSize: BATCH, maxQueueDelayMs: 0, maxQueueSize: 2 * BATCH },
      { logger: capturingLogger().logger },
    );
    clients = connect(service.address);
  });
  afterAll(async () => {
    clients.close();
    await service.close();
    repo.remove();
  });

  const send = (seed: number) => classifyImages(clients.inference, 'slow-net', randomImages(BATCH, SLOW, seed), SLOW, false);

  it('answers RESOURCE_EXHAUSTED at once when the queue is full, then recovers', async () => {
    const settled: Array<{ ok: boolean; at: number; err?: grpc.ServiceError }> = [];
    await Promise.all(
      Array.from({ length: 8 }, (_, k) =>
        send(k).then(
          () => settled.push({ ok: true, at: performance.now() }),
          (err: grpc.ServiceError) => settled.push({ ok: false, at: performance.now(), err }),
        ),
      ),
    );
    const ok = settled.filter((s) => s.ok);
    const refused = settled.filter((s) => !s.ok);
    expect(ok.length).toBeGreaterThanOrEqual(1);
    expect(refused.length).toBeGreaterThanOrEqual(1);
    for (const r of refused) {
      expect(grpc.status[r.err!.code]).toBe('RESOURCE_EXHAUSTED');
      expect(r.err!.details).toMatch(/queue full/);
      expect(decodeStatus(r.err)?.errorInfo?.reason).toBe('QUEUE_FULL');
    }
    // refusals are immediate: they all arrive before the last accepted request completes
    expect(Math.max(...refused.map((r) => r.at))).toBeLessThan(Math.max(...ok.map((o) => o.at)));
    expect(service.stats.models['slow-net'].rejected).toBeGreaterThanOrEqual(refused.length);
    // recovered
    await expect(send(99)).resolves.toMatchObject({ modelVersion: '0.0.1-test' });
  });

  it('keeps answering health checks quickly while inference is saturated', async () => {
    // one batch alone: how long the main thread would be blocked if inference ran on it
    const t0 = performance.now();
    await send(500);
    const batchMs = performance.now() - t0;

    const before = service.stats.batchesRun;
    let stop = false;
    let seed = 1000;
    // three requests in flight at all times: one running, two queued
    const load = Array.from({ length: 3 }, async () => {
      while (!stop) await send(seed++).catch(() => undefined);
    });
    await new Promise((r) => setTimeout(r, 50));
    const latencies: number[] = [];
    const end = performance.now() + Math.max(1000, 8 * batchMs);
    while (performance.now() < end) {
      const t = performance.now();
      expect(await checkHealth(clients.health, '')).toBe('SERVING');
      latencies.push(performance.now() - t);
      await new Promise((r) => setTimeout(r, 5));
    }
    stop = true;
    await Promise.all(load);
    const ran = service.stats.batchesRun - before;
    latencies.sort((a, b) => a - b);
    const median = latencies[Math.floor(latencies.length / 2)];
    // The worker was busy throughout, yet health checks did not wait for batches: on the main
    // thread, a check would wait about half a batch on average and a whole one at worst.
    expect(ran).toBeGreaterThanOrEqual(4);
    expect(median).toBeLessThan(Math.max(10, batchMs / 4));
    expect(latencies.filter((l) => l > batchMs).length).toBeLessThanOrEqual(Math.ceil(latencies.length / 20));
  });
});

describe('InferenceService cancellation and message limits', () => {
  const LIMIT = 64 * 1024;
  const GREY_ONLY: [number, number, number] = [1, 8, 8];
  let repo: FixtureRepository;
  let service: RunningInferenceService;
  let clients: TestClients;

  beforeAll(async () => {
    repo = createFixtureRepository([{ name: 'grey-net', chw: GREY_ONLY, hidden: [16], classes: 10, seed: 31 }]);
    // batches form only when 8 images are queued (the delay is a minute): queued work waits
    service = await startInferenceService(
      { modelsDir: repo.dir, port: 0, maxBatchSize: 8, maxQueueDelayMs: 60_000, maxReceiveMessageBytes: LIMIT },
      { logger: capturingLogger().logger },
    );
    clients = connect(service.address);
  });
  afterAll(async () => {
    clients.close();
    await service.close();
    repo.remove();
  });

  it('drops a cancelled call from the queue before it runs', async () => {
    const stats = () => service.stats.models['grey-net'];
    const until = async (done: () => boolean) => {
      while (!done()) await new Promise((r) => setTimeout(r, 2));
    };
    let call!: grpc.ClientUnaryCall;
    const cancelled = classify(
      clients.inference,
      { model: 'grey-net', inputs: encodeFloat32Tensor(randomImages(5, GREY_ONLY, 1), [5, ...GREY_ONLY]) },
      (c) => (call = c),
    );
    await until(() => stats().requests === 1); // queued on the server
    call.cancel();
    await expectStatus(cancelled, grpc.status.CANCELLED);
    await until(() => stats().cancelled === 1); // the server saw the cancellation
    // 5 queued images would have joined this batch; they are gone: 8 fresh images form it alone
    const data = randomImages(8, GREY_ONLY, 2);
    const res = await classifyImages(clients.inference, 'grey-net', data, GREY_ONLY);
    expect(res.labels).toEqual(argmaxRows(await directRun(repo.onnx.get('grey-net')!, data, GREY_ONLY), 10));
    expect(stats()).toMatchObject({ requests: 2, cancelled: 1, batches: 1, images: 8 });
  });

  it('a transformed call abandoned halfway, or past its deadline, stops: its rows not yet dispatched never run', async () => {
    const stats = () => ({ ...service.stats.models['grey-net'] });
    const until = async (done: () => boolean) => {
      while (!done()) await new Promise((r) => setTimeout(r, 2));
    };
    const image = encodeFloat32Tensor(randomImages(1, GREY_ONLY, 3), GREY_ONLY);
    const rows = (n: number) => Array.from({ length: n }, (_, i) => [1 + i / 100, i / 100]).flat();
    const before = stats();
    // 13 rows: one batch of 8 runs at once, the other 5 wait for a batch that never fills
    let call!: grpc.ClientUnaryCall;
    const halfway = classify(clients.inference, { model: 'grey-net', transformed: { image, transform: 'cb', parameters: rows(13) } }, (c) => (call = c));
    await until(() => stats().batches === before.batches + 1);
    call.cancel();
    await expectStatus(halfway, grpc.status.CANCELLED);
    await until(() => stats().cancelled === before.cancelled + 1);
    // past its deadline: 5 rows wait, the deadline ends the call and the rows leave the queue
    const late = new Promise((resolve, reject) =>
      clients.inference.classify(
        { model: 'grey-net', returnLogits: false, inputs: undefined, transformed: { image, transform: 'cb', parameters: rows(5) } },
        new grpc.Metadata(),
        { deadline: Date.now() + 150 },
        (err, res) => (err ? reject(err) : resolve(res)),
      ),
    );
    await expectStatus(late, grpc.status.DEADLINE_EXCEEDED);
    await until(() => stats().cancelled === before.cancelled + 2);
    // nothing of theirs is queued: 8 fresh rows make a batch on their own, and only those ran
    const fresh = await classify(clients.inference, { model: 'grey-net', transformed: { image, transform: 'cb', parameters: rows(8) } });
    expect(fresh.labels).toHaveLength(8);
    expect(stats()).toMatchObject({ batches: before.batches + 2, images: before.images + 16, cancelled: before.cancelled + 2 });
    expect(service.stats.models['grey-net'].rejected).toBe(before.rejected);
  });

  it('accepts a request at the receive limit and refuses one image more with RESOURCE_EXHAUSTED', async () => {
    const request = (n: number) => ({ model: 'grey-net', returnLogits: false, inputs: encodeFloat32Tensor(randomImages(n, GREY_ONLY, n), [n, ...GREY_ONLY]) });
    const size = (n: number) => inferenceV1.ClassifyRequest.encode(request(n)).finish().length;
    let n = 1;
    while (size(n + 1) <= LIMIT) n++;
    expect(size(n)).toBeLessThanOrEqual(LIMIT);
    // batches form only at 8 images here: a companion request completes the last one
    const companion = (8 - (n % 8)) % 8;
    const [atLimit] = await Promise.all([classify(clients.inference, request(n)), companion > 0 ? classify(clients.inference, request(companion)) : undefined]);
    expect(atLimit.labels).toHaveLength(n);
    const err = await expectStatus(classify(clients.inference, request(n + 1)), grpc.status.RESOURCE_EXHAUSTED);
    expect(err.details).toMatch(/larger than max/i);
  });
});
