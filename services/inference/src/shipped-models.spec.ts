// The shipped model repository (MODELS_DIR default) served end to end, with telemetry on
// (in-memory exporter): one `inference.batch` span per executed batch, inside the callers' traces.
import * as ort from 'onnxruntime-node';
import { shutdownTelemetry, startTelemetry, type Telemetry } from '@glcert/telemetry';
import { createLogger } from '@glcert/runtime';
import * as path from 'node:path';
import { DEFAULT_MODELS_DIR } from './config';
import { type RunningInferenceService, startInferenceService } from './inference-service';
import { classifyImages, connect, listModels, randomImages, type TestClients } from './testing/client';

const MNIST: [number, number, number] = [1, 28, 28];
const CIFAR: [number, number, number] = [3, 32, 32];

describe('shipped models, traced', () => {
  let telemetry: Telemetry;
  let service: RunningInferenceService;
  let clients: TestClients;

  beforeAll(async () => {
    telemetry = startTelemetry({ serviceName: 'inference-test', mode: 'memory', logger: createLogger('telemetry', { level: 'silent' }) });
    service = await startInferenceService({ port: 0, maxQueueDelayMs: 30 }, { logger: createLogger('inference', { level: 'silent' }) });
    clients = connect(service.address);
  });
  afterAll(async () => {
    clients.close();
    await service.close();
    await shutdownTelemetry();
  });

  it('serves every model of <repo>/models and matches a direct onnxruntime-node run', async () => {
    const { models } = await listModels(clients.inference);
    const names = models.map((m) => m.name);
    expect(names).toEqual(expect.arrayContaining(['cifar-resnet20-shape', 'mnist-cnn']));
    for (const [name, chw] of [['mnist-cnn', MNIST], ['cifar-resnet20-shape', CIFAR]] as const) {
      const meta = models.find((m) => m.name === name)!;
      expect(meta.inputShape.map(Number)).toEqual([-1, ...chw]);
      const data = randomImages(4, chw, 3);
      const session = await ort.InferenceSession.create(path.join(DEFAULT_MODELS_DIR, name, 'model.onnx'));
      const direct = (await session.run({ [meta.inputName]: new ort.Tensor('float32', data.slice(), [4, ...chw]) })).logits.data as Float32Array;
      await session.release();
      const res = await classifyImages(clients.inference, name, data, chw);
      const raw = res.logits!.rawContents;
      const got = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
      for (let i = 0; i < direct.length; i++) expect(got[i]).toBeCloseTo(direct[i], 4);
      expect(res.modelVersion).toBe(meta.version);
    }
  });

  it('records one span per executed batch with model, size and queue delay, in the callers traces', async () => {
    telemetry.memoryExporter!.reset();
    const before = service.stats.models['mnist-cnn'].batches;
    await Promise.all([1, 2, 3].map((k) => classifyImages(clients.inference, 'mnist-cnn', randomImages(k, MNIST, k), MNIST, false)));
    const batches = service.stats.models['mnist-cnn'].batches - before;
    await telemetry.flush();
    const spans = telemetry.finishedSpans();
    const batchSpans = spans.filter((s) => s.name === 'inference.batch');
    expect(batchSpans).toHaveLength(batches);
    expect(batchSpans.reduce((n, s) => n + Number(s.attributes['glcert.batch_size']), 0)).toBe(6);
    for (const s of batchSpans) {
      expect(s.attributes['glcert.model']).toBe('mnist-cnn');
      expect(typeof s.attributes['glcert.queue_delay_ms']).toBe('number');
      expect(s.attributes['glcert.execution_provider']).toBe('cpu');
      // never tensors: every attribute is a small scalar
      for (const v of Object.values(s.attributes)) expect(['string', 'number', 'boolean']).toContain(typeof v);
    }
    // each batch hangs under one Classify server span and links to the other merged requests
    const serverSpans = spans.filter((s) => s.name === 'grpc.glcert.inference.v1.InferenceService/Classify' && s.kind === 1);
    expect(serverSpans).toHaveLength(3);
    const serverIds = new Set(serverSpans.map((s) => s.spanContext().spanId));
    const related = new Set<string>();
    for (const s of batchSpans) {
      expect(serverIds.has(s.parentSpanContext?.spanId ?? '')).toBe(true);
      related.add(s.parentSpanContext!.spanId);
      for (const link of s.links) related.add(link.context.spanId);
    }
    expect(related).toEqual(serverIds); // every request is reachable from a batch span
  });
});
