// The certifier over real gRPC on loopback against fake samplers (counts are a pure function
// of (seed, stream, index), as with the real sampler) and a closed-form fake BoundService:
// fast, so the scheduling, failover, admission, idempotency, validation, cancellation,
// streaming and shutdown behaviour can be checked in detail. certifier.spec.ts repeats the
// essentials with the real model, sampler and inference sidecar.
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import {
  Distribution,
  encodeFloat32Tensor,
  Outcome,
  Sampling,
  type CertificationServiceClient,
  type certifyV1,
  type ThreatModel,
} from '@glcert/contracts';
import { checkCertificate, generateSigningKey, KeyRing } from '@glcert/certificate';
import { createLogger, decodeStatus, decodeRpcStatus } from '@glcert/runtime';
import { clopperPearsonLower, minSamplesToCertify } from '@glcert/stats';
import type { CertifierConfig } from './config';
import { deriveItemSeed } from './seeds';
import { startCertifierService, type CertifierService } from './certifier-service';
import { certifierClient, certify, getPublicKeys, streamAll } from './testing/client';
import {
  brightnessThreshold,
  FAKE_MODEL,
  fakeCounts,
  startFakeBounds,
  startFakeSampler,
  startProxy,
  type FakeBounds,
  type FakeSampler,
  type FakeSamplerOptions,
} from './testing/fakes';

const quiet = { logger: createLogger('certifier', { level: 'silent' }) };

const BRIGHTNESS: ThreatModel = {
  transform: 'b',
  box: [{ name: 'b', min: -0.05, max: 0.05 }],
  smoothing: [{ name: 'b', distribution: Distribution.DISTRIBUTION_NORMAL, sigma: 0.3 }],
  note: '',
};
const IMAGE = encodeFloat32Tensor(new Float32Array(28 * 28).fill(0.25), [1, 28, 28]);
const MNIST_DIR = path.resolve(__dirname, '../../../data/mnist-test');

// FIXED: these tests pin exact sample counts; SEQUENTIAL (the default) has its own below
function request(over: Partial<certifyV1.CertifyRequest> = {}): Partial<certifyV1.CertifyRequest> {
  return { model: FAKE_MODEL, input: { $case: 'tensor', tensor: IMAGE }, threatModel: BRIGHTNESS, n0: 100n, n: 500n, alpha: 0.001, seed: 42n, sampling: Sampling.SAMPLING_FIXED, ...over };
}

function codeOf(err: unknown): number | undefined {
  return (err as grpc.ServiceError).code;
}

async function expectCode(p: Promise<unknown>, code: grpc.status): Promise<grpc.ServiceError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e as grpc.ServiceError,
  );
  expect(err).toBeDefined();
  expect(grpc.status[codeOf(err)!]).toBe(grpc.status[code]);
  return err!;
}

function violations(err: grpc.ServiceError): string[] {
  return decodeStatus(err)?.badRequest?.fieldViolations.map((v) => v.field) ?? [];
}

interface Rig {
  samplers: FakeSampler[];
  bounds: FakeBounds;
  certifier: CertifierService;
  client: CertificationServiceClient;
  close(): Promise<void>;
}

async function rig(
  options: {
    samplers?: number;
    delayMs?: number;
    threshold?: number;
    config?: Partial<CertifierConfig>;
    samplerAddrs?: (s: FakeSampler[]) => string[];
    /** Options of sampler i, besides delayMs. */
    samplerOptions?: (i: number) => FakeSamplerOptions;
  } = {},
): Promise<Rig> {
  const samplers = await Promise.all(
    Array.from({ length: options.samplers ?? 1 }, (_, i) => startFakeSampler({ delayMs: options.delayMs, ...options.samplerOptions?.(i) })),
  );
  const bounds = await startFakeBounds({ threshold: options.threshold });
  const certifier = await startCertifierService(
    {
      port: 0,
      samplerAddrs: options.samplerAddrs ? options.samplerAddrs(samplers) : samplers.map((s) => s.address),
      boundsAddr: bounds.address,
      chunkSize: 100,
      retryBackoffMs: 5,
      shutdownGraceMs: 2_000,
      ...options.config,
    },
    { ...quiet, signingKey: generateSigningKey() },
  );
  const client = certifierClient(certifier.address);
  return {
    samplers,
    bounds,
    certifier,
    client,
    close: async () => {
      client.close();
      await certifier.close();
      await Promise.all([...samplers.map((s) => s.close()), bounds.close()]);
    },
  };
}

describe('Certify (fake samplers)', () => {
  let r: Rig;
  beforeAll(async () => {
    r = await rig({ samplers: 3 });
    await r.certifier.ready;
  });
  afterAll(() => r.close());

  it('issues a complete, signed certificate that passes the model-free check', async () => {
    const res = await certify(r.client, request({ requestId: 'req-1' }));
    const cert = res.certificate!;
    const selection = fakeCounts(42n, 0, 0, 100);
    const estimation = fakeCounts(42n, 1, 0, 500);
    expect(cert.selectionClassCounts.map(Number)).toEqual(selection);
    expect(cert.predictedClass).toBe(7);
    expect(Number(cert.na)).toBe(estimation[7]);
    expect(cert.paLower).toBe(clopperPearsonLower(estimation[7]!, 500, 0.001));
    expect(cert.threshold).toBeCloseTo(brightnessThreshold(0.05, 0.3), 12);
    expect(cert.threshold).toBeCloseTo(0.566, 3);
    expect(cert.outcome).toBe(Outcome.OUTCOME_CERTIFIED);
    expect(cert).toMatchObject({
      requestId: 'req-1',
      modelName: FAKE_MODEL,
      modelVersion: '7',
      modelSha256: 'ab'.repeat(32),
      inputShape: [1n, 28n, 28n],
      n0: 100n,
      n: 500n,
      alpha: 0.001,
      seed: 42n,
      boundCacheKey: expect.stringContaining('fake-b'),
      solverVersion: 'fake-1',
      generator: expect.stringContaining('philox'),
      keyId: r.certifier.keyId,
    });
    expect(cert.inputSha256).toMatch(/^[0-9a-f]{64}$/);
    expect(cert.preprocessing.length).toBeGreaterThan(0);
    expect(cert.threatModel?.note).toBe('no clipping; values may leave [0,1]');
    expect(cert.issueTime).toBeInstanceOf(Date);
    expect(res.minSamplesToCertifyCount).toBeUndefined();
    const check = checkCertificate(cert, { keys: r.certifier.publicKeys, threshold: { value: brightnessThreshold(0.05, 0.3) } });
    expect(check.reasons).toEqual([]);
    expect(check.valid).toBe(true);
  });

  it('spreads the chunks of one certification over every sampler', async () => {
    const before = r.samplers.map((s) => s.calls.length);
    await certify(r.client, request({ n: 3_000n }));
    const used = r.samplers.map((s, i) => s.calls.length - before[i]!);
    // 1 selection + 30 estimation chunks
    expect(used.reduce((a, b) => a + b, 0)).toBe(31);
    for (const u of used) expect(u).toBeGreaterThanOrEqual(5);
  });

  it('the same request_id returns the identical certificate; another request under it is ALREADY_EXISTS', async () => {
    const a = await certify(r.client, request({ requestId: 'idem-1', seed: undefined }));
    const calls = r.samplers.reduce((n, s) => n + s.calls.length, 0);
    const b = await certify(r.client, request({ requestId: 'idem-1', seed: undefined }));
    expect(Buffer.from(b.certificate!.dsseEnvelope!.signatures[0]!.sig).equals(Buffer.from(a.certificate!.dsseEnvelope!.signatures[0]!.sig))).toBe(true);
    expect(b).toEqual(a);
    expect(r.samplers.reduce((n, s) => n + s.calls.length, 0)).toBe(calls); // no new work
    expect(a.notes.join('\n')).toMatch(/seed \d+ drawn by the server/);
    const err = await expectCode(certify(r.client, request({ requestId: 'idem-1', n: 600n })), grpc.status.ALREADY_EXISTS);
    expect(violations(err)).toEqual(['request_id']);
  });

  it('draws a 63-bit seed when none is given and records it', async () => {
    const a = await certify(r.client, request({ seed: undefined }));
    const b = await certify(r.client, request({ seed: undefined }));
    expect(a.certificate!.seed).not.toBe(b.certificate!.seed);
    const seed = a.certificate!.seed;
    expect(seed).toBeGreaterThanOrEqual(0n);
    expect(seed).toBeLessThan(1n << 63n);
    expect(Number(a.certificate!.na)).toBe(fakeCounts(seed, 1, 0, 500)[7]);
  });

  it.each<[string, Partial<certifyV1.CertifyRequest>, string]>([
    ['model', { model: '' }, 'model'],
    ['transform', { threatModel: { ...BRIGHTNESS, transform: 'zoom' } }, 'threat_model.transform'],
    ['box lo > hi', { threatModel: { ...BRIGHTNESS, box: [{ name: 'b', min: 0.1, max: -0.1 }] } }, 'threat_model.box[0]'],
    ['box missing', { threatModel: { ...BRIGHTNESS, box: [] } }, 'threat_model.box'],
    ['sigma', { threatModel: { ...BRIGHTNESS, smoothing: [{ ...BRIGHTNESS.smoothing[0]!, sigma: 0 }] } }, 'threat_model.smoothing[0].sigma'],
    [
      'distribution',
      { threatModel: { ...BRIGHTNESS, smoothing: [{ ...BRIGHTNESS.smoothing[0]!, distribution: Distribution.DISTRIBUTION_RAYLEIGH }] } },
      'threat_model.smoothing[0].distribution',
    ],
    ['threat model', { threatModel: undefined }, 'threat_model'],
    ['n0', { n0: -1n }, 'n0'],
    ['n', { n: 2_000_001n }, 'n'],
    ['alpha -0.5', { alpha: -0.5 }, 'alpha'],
    ['alpha 1', { alpha: 1 }, 'alpha'],
    ['seed', { seed: -1n }, 'seed'],
    ['input', { input: undefined }, 'input'],
    ['empty image', { input: { $case: 'image', image: Buffer.alloc(0) } }, 'image'],
  ])('INVALID_ARGUMENT naming the field: %s', async (_name, over, field) => {
    const err = await expectCode(certify(r.client, request(over)), grpc.status.INVALID_ARGUMENT);
    expect(violations(err)).toContain(field);
    expect(err.details).toContain(field);
  });

  it.each<[string, certifyV1.CertifyRequest['input'], string]>([
    ['corrupt PNG', { $case: 'image', image: Buffer.concat([readFileSync(path.join(MNIST_DIR, '0-0800.png')).subarray(0, 40), Buffer.alloc(20)]) }, 'image'],
    ['not an image', { $case: 'image', image: Buffer.from('hello, world') }, 'image'],
    ['tensor shape', { $case: 'tensor', tensor: encodeFloat32Tensor(new Float32Array(3 * 28 * 28), [3, 28, 28]) }, 'tensor.shape'],
    ['tensor NaN', { $case: 'tensor', tensor: encodeFloat32Tensor(new Float32Array(28 * 28).fill(NaN), [1, 28, 28]) }, 'tensor.raw_contents'],
    ['tensor bytes', { $case: 'tensor', tensor: { ...IMAGE, rawContents: IMAGE.rawContents.subarray(0, 10) } }, 'tensor.raw_contents'],
  ])('INVALID_ARGUMENT for a bad input: %s', async (_name, input, field) => {
    const err = await expectCode(certify(r.client, request({ input })), grpc.status.INVALID_ARGUMENT);
    expect(violations(err)[0]).toMatch(new RegExp(`^${field.replace('.', '\\.')}`));
  });

  it('decodes a PNG to the model input and records the preprocessing', async () => {
    const png = readFileSync(path.join(MNIST_DIR, '7-0856.png'));
    const res = await certify(r.client, request({ input: { $case: 'image', image: png } }));
    expect(res.certificate!.preprocessing.join(' | ')).toMatch(/png/);
    expect(res.certificate!.inputShape).toEqual([1n, 28n, 28n]);
  });

  it('NOT_FOUND for an unknown model', async () => {
    const err = await expectCode(certify(r.client, request({ model: 'no-such-model' })), grpc.status.NOT_FOUND);
    expect(err.details).toContain('no-such-model');
  });

  it('GetPublicKeys returns the signing key', async () => {
    const res = await getPublicKeys(r.client);
    expect(res.keys.map((k) => k.keyId)).toEqual([r.certifier.keyId]);
    expect(res.keys[0]!.algorithm).toBe('ed25519');
    expect(res.keys[0]!.publicKeyPem).toContain('BEGIN PUBLIC KEY');
  });
});

describe('threshold out of reach', () => {
  let r: Rig;
  beforeAll(async () => (r = await rig({ threshold: 0.999 })));
  afterAll(() => r.close());

  it('reports min_samples_to_certify_count and a note', async () => {
    const res = await certify(r.client, request({ n: 500n }));
    expect(res.certificate!.outcome).toBe(Outcome.OUTCOME_ABSTAINED);
    expect(0.001 ** (1 / 500)).toBeLessThan(0.999);
    expect(res.minSamplesToCertifyCount).toBe(BigInt(minSamplesToCertify(0.999, 0.001)));
    expect(Number(res.minSamplesToCertifyCount)).toBeGreaterThan(6_000);
    expect(res.notes.join('\n')).toMatch(/threshold unreachable.*n >= \d+ could certify/);
  });

  it('and not when this n could reach it', async () => {
    const res = await certify(r.client, request({ n: 8_000n, n0: 10n }));
    expect(res.minSamplesToCertifyCount).toBeUndefined();
  });
});

describe('a bound below the exact threshold of the box', () => {
  let r: Rig;
  // brightness +-0.05 at sigma 0.3: the exact threshold is Phi(1/6) = 0.566; 0.52 would certify more than is true
  beforeAll(async () => (r = await rig({ threshold: 0.52 })));
  afterAll(() => r.close());

  it('is never signed: Certify fails with BOUND_BELOW_EXACT_THRESHOLD', async () => {
    const err = await certify(r.client, request()).then(
      () => undefined,
      (e: grpc.ServiceError) => e,
    );
    expect(err?.code).toBe(grpc.status.INTERNAL);
    expect(err?.details).toMatch(/below the exact threshold 0\.566/);
    expect(decodeStatus(err!)?.errorInfo?.reason).toBe('BOUND_BELOW_EXACT_THRESHOLD');
  });
});

describe('admission control and cancellation', () => {
  let r: Rig;
  beforeAll(async () => (r = await rig({ samplers: 1, delayMs: 300, config: { maxInflight: 2 } })));
  afterAll(() => r.close());

  it('RESOURCE_EXHAUSTED at once past CERTIFIER_MAX_INFLIGHT', async () => {
    const running = [certify(r.client, request({ seed: 1n })), certify(r.client, request({ seed: 2n }))];
    await new Promise((res) => setTimeout(res, 100));
    expect(r.certifier.inflight()).toBe(2);
    const t0 = Date.now();
    const err = await expectCode(certify(r.client, request({ seed: 3n })), grpc.status.RESOURCE_EXHAUSTED);
    expect(Date.now() - t0).toBeLessThan(250);
    expect(decodeStatus(err)?.errorInfo?.reason).toBe('CERTIFIER_OVERLOADED');
    await Promise.all(running);
    expect(r.certifier.inflight()).toBe(0);
    await certify(r.client, request({ seed: 3n }));
  });

  it('a cancelled Certify cancels its sampler calls', async () => {
    const sampler = r.samplers[0]!;
    const cancelledBefore = sampler.cancelled;
    const call = r.client.certify(
      { requestId: '', model: FAKE_MODEL, input: { $case: 'tensor', tensor: IMAGE }, threatModel: BRIGHTNESS, n0: 100n, n: 2_000n, alpha: 0.001, seed: 5n },
      () => undefined,
    );
    await new Promise((res) => setTimeout(res, 120));
    expect(sampler.active).toBeGreaterThan(0);
    call.cancel();
    const until = Date.now() + 2_000;
    while (Date.now() < until && (sampler.active > 0 || r.certifier.inflight() > 0)) await new Promise((res) => setTimeout(res, 10));
    expect(sampler.active).toBe(0);
    expect(sampler.cancelled).toBeGreaterThan(cancelledBefore);
    expect(r.certifier.inflight()).toBe(0);
  });

  it('a deadline propagates to the sampler calls', async () => {
    const sampler = r.samplers[0]!;
    const err = await expectCode(certify(r.client, request({ seed: 6n }), { deadline: new Date(Date.now() + 150) }), grpc.status.DEADLINE_EXCEEDED);
    expect(err).toBeDefined();
    const until = Date.now() + 2_000;
    while (Date.now() < until && sampler.active > 0) await new Promise((res) => setTimeout(res, 10));
    expect(sampler.active).toBe(0);
  });
});

describe('sampler failures', () => {
  it('a sampler that dies during a Certify: its chunks are retried elsewhere, same counts', async () => {
    const r = await rig({ samplers: 3, delayMs: 40, config: { chunkSize: 200 } });
    const proxies = await Promise.all(r.samplers.map((s) => startProxy(s.port)));
    const viaProxy = await startCertifierService(
      { port: 0, samplerAddrs: proxies.map((p) => p.address), boundsAddr: r.bounds.address, chunkSize: 200, retryBackoffMs: 5 },
      { ...quiet, signingKey: generateSigningKey() },
    );
    const client = certifierClient(viaProxy.address);
    try {
      const reference = await certify(r.client, request({ n: 6_000n, seed: 77n }));
      const pending = certify(client, request({ n: 6_000n, seed: 77n }));
      // kill sampler 1 while its chunks are in flight
      const until = Date.now() + 5_000;
      while (Date.now() < until && r.samplers[1]!.active === 0) await new Promise((res) => setTimeout(res, 2));
      expect(r.samplers[1]!.active).toBeGreaterThan(0);
      await proxies[1]!.kill();
      const res = await pending;
      expect(res.certificate!.na).toBe(reference.certificate!.na);
      expect(res.certificate!.selectionClassCounts).toEqual(reference.certificate!.selectionClassCounts);
      expect(res.certificate!.paLower).toBe(reference.certificate!.paLower);
      const stats = viaProxy.samplerStats();
      expect(stats[1]!.failures).toBeGreaterThan(0);
      // later certifications still work, on the two left
      const again = await certify(client, request({ n: 1_000n, seed: 78n }));
      expect(again.certificate!.outcome).toBe(Outcome.OUTCOME_CERTIFIED);
    } finally {
      client.close();
      await viaProxy.close();
      await Promise.all(proxies.map((p) => p.kill()));
      await r.close();
    }
  });

  it('gives up with UNAVAILABLE after bounded retries when no sampler answers', async () => {
    const r = await rig({ samplers: 1, config: { chunkRetries: 2 } });
    const proxy = await startProxy(r.samplers[0]!.port);
    const svc = await startCertifierService(
      { port: 0, samplerAddrs: [proxy.address], boundsAddr: r.bounds.address, chunkRetries: 2, retryBackoffMs: 5 },
      { ...quiet, signingKey: generateSigningKey() },
    );
    const client = certifierClient(svc.address);
    try {
      await certify(client, request()); // model metadata and counts through the proxy
      await proxy.kill();
      const err = await expectCode(certify(client, request({ seed: 9n })), grpc.status.UNAVAILABLE);
      expect(err.details).toMatch(/unavailable after \d attempt/);
    } finally {
      client.close();
      await svc.close();
      await r.close();
    }
  });

  it('a dns:/// entry is one round-robin client over the addresses of the name', async () => {
    const r = await rig({ samplers: 1, samplerAddrs: (s) => [`dns:///localhost:${s[0]!.port}`] });
    try {
      const res = await certify(r.client, request({ n: 300n }));
      expect(res.certificate!.na).toBe(BigInt(fakeCounts(42n, 1, 0, 300)[7]!));
      expect(r.certifier.samplerStats().map((s) => s.address)).toEqual([`dns:///localhost:${r.samplers[0]!.port}`]);
    } finally {
      await r.close();
    }
  });

  it('the same counts with one sampler and with three', async () => {
    const one = await rig({ samplers: 1 });
    const three = await rig({ samplers: 3 });
    try {
      const a = await certify(one.client, request({ n: 2_345n, seed: 1234n }));
      const b = await certify(three.client, request({ n: 2_345n, seed: 1234n }));
      expect(b.certificate!.na).toBe(a.certificate!.na);
      expect(b.certificate!.selectionClassCounts).toEqual(a.certificate!.selectionClassCounts);
      expect(three.samplers.every((s) => s.calls.length > 0)).toBe(true);
    } finally {
      await one.close();
      await three.close();
    }
  });
});

describe('model identity per chunk', () => {
  const EXPECTED = 'ab'.repeat(32); // fakeMetadata().sha256: what GetModel says and certificates name
  const OTHER = 'cd'.repeat(32);

  it('every chunk carries the sha256 of the certificate; a replica serving another model has its chunks retried elsewhere, same counts', async () => {
    const good = await rig({ samplers: 1 });
    // sampler 0 answers GetModel first (a fresh pool starts at its first entry); sampler 1's sidecar serves another file
    const mixed = await rig({ samplers: 2, samplerOptions: (i) => (i === 1 ? { servedSha256: OTHER } : {}) });
    try {
      const a = await certify(good.client, request({ n: 2_000n, seed: 99n }));
      const b = await certify(mixed.client, request({ n: 2_000n, seed: 99n }));
      expect(b.certificate!.modelSha256).toBe(EXPECTED);
      expect(b.certificate!.na).toBe(a.certificate!.na);
      expect(b.certificate!.selectionClassCounts).toEqual(a.certificate!.selectionClassCounts);
      expect(b.certificate!.paLower).toBe(a.certificate!.paLower);
      const calls = mixed.samplers.flatMap((s) => s.calls);
      expect(calls.every((c) => c.expectedModelSha256 === EXPECTED)).toBe(true);
      expect(mixed.samplers[1]!.calls.length).toBeGreaterThan(0);
      expect(mixed.certifier.samplerStats()[1]!.failures).toBe(mixed.samplers[1]!.calls.length);
    } finally {
      await good.close();
      await mixed.close();
    }
  });

  it('no replica serves the expected model: FAILED_PRECONDITION naming both sha256 prefixes', async () => {
    const r = await rig({ samplers: 2, samplerOptions: () => ({ servedSha256: OTHER }), config: { chunkRetries: 2 } });
    try {
      const err = await expectCode(certify(r.client, request()), grpc.status.FAILED_PRECONDITION);
      expect(err.details).toContain('samplers serve a different model');
      expect(err.details).toContain(EXPECTED.slice(0, 12));
      expect(err.details).toContain(OTHER.slice(0, 12));
      expect(decodeStatus(err)?.errorInfo?.reason).toBe('MODEL_MISMATCH');
    } finally {
      await r.close();
    }
  });

  it('a sampler that ignores expected_model_sha256 and counts with another model: its counts are refused', async () => {
    const r = await rig({ samplers: 1, samplerOptions: () => ({ servedSha256: OTHER, ignoreExpected: true }), config: { chunkRetries: 1 } });
    try {
      const err = await expectCode(certify(r.client, request()), grpc.status.FAILED_PRECONDITION);
      expect(err.details).toContain('samplers serve a different model');
      expect(err.details).toContain(OTHER.slice(0, 12));
    } finally {
      await r.close();
    }
  });

  it('in StreamingCertify the mismatch is an in-band FAILED_PRECONDITION of the item; the stream ends OK', async () => {
    const r = await rig({ samplers: 1, samplerOptions: () => ({ servedSha256: OTHER }), config: { chunkRetries: 1 } });
    try {
      const { responses, status } = await streamAll(r.client, [config(), item('a')]);
      expect(status.code).toBe(grpc.status.OK);
      expect(responses).toHaveLength(1);
      expect(responses[0]!.status!.code).toBe(grpc.status.FAILED_PRECONDITION);
      expect(responses[0]!.status!.message).toContain('samplers serve a different model');
      expect(decodeRpcStatus(responses[0]!.status!).errorInfo?.reason).toBe('MODEL_MISMATCH');
    } finally {
      await r.close();
    }
  });
});

describe('signing keys', () => {
  it('generates the key file at first start, keeps it, and publishes retired keys', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'glcert-certifier-keys-'));
    const sampler = await startFakeSampler();
    const bounds = await startFakeBounds();
    try {
      const keyFile = path.join(dir, 'keys', 'signing.pem');
      const retired = path.join(dir, 'retired');
      mkdirSync(retired);
      const old = generateSigningKey();
      writeFileSync(path.join(retired, 'old.pub.pem'), old.publicKey.pem);
      const cfg = { port: 0, samplerAddrs: [sampler.address], boundsAddr: bounds.address, signingKeyFile: keyFile, retiredKeysDir: retired };
      const first = await startCertifierService(cfg, quiet);
      const firstId = first.keyId;
      await first.close();
      expect(existsSync(keyFile)).toBe(true);
      const second = await startCertifierService(cfg, quiet);
      const client = certifierClient(second.address);
      try {
        expect(second.keyId).toBe(firstId);
        const res = await getPublicKeys(client);
        expect(res.keys.map((k) => k.keyId)).toEqual([firstId, old.publicKey.keyId]);
        const cert = (await certify(client, request())).certificate!;
        expect(checkCertificate(cert, { keys: new KeyRing([second.publicKeys.get(firstId)!]) }).valid).toBe(true);
      } finally {
        client.close();
        await second.close();
      }
    } finally {
      await sampler.close();
      await bounds.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

function config(over: Partial<certifyV1.StreamingCertifyConfig> = {}): certifyV1.StreamingCertifyRequest {
  return {
    request: { $case: 'config', config: { model: FAKE_MODEL, threatModel: BRIGHTNESS, n0: 50n, n: 300n, alpha: 0.001, baseSeed: 11n, sampling: Sampling.SAMPLING_FIXED, ...over } },
  };
}
function item(id: string, over: Partial<certifyV1.CertifyItem> = {}): certifyV1.StreamingCertifyRequest {
  return { request: { $case: 'item', item: { id, input: { $case: 'tensor', tensor: IMAGE }, ...over } } };
}

describe('StreamingCertify (fake samplers)', () => {
  let r: Rig;
  beforeAll(async () => (r = await rig({ samplers: 2, config: { streamConcurrency: 3 } })));
  afterAll(() => r.close());

  it('one response per item, in-band errors for bad items, seeds derived from base_seed and id', async () => {
    const png = readFileSync(path.join(MNIST_DIR, '3-0825.png'));
    const messages = [config()];
    for (let i = 0; i < 20; i++) {
      if (i % 7 === 3) messages.push(item(`bad-${i}`, { input: { $case: 'image', image: png.subarray(0, png.length - 30) } }));
      else messages.push(item(`ok-${i}`, { label: i % 10, ...(i === 5 ? { seed: 99n } : {}) }));
    }
    const { responses, status } = await streamAll(r.client, messages);
    expect(status.code).toBe(grpc.status.OK);
    expect(responses).toHaveLength(20);
    const bad = responses.filter((x) => x.status!.code !== 0);
    expect(bad.map((x) => x.id).sort()).toEqual(['bad-10', 'bad-17', 'bad-3']);
    for (const b of bad) {
      expect(b.status!.code).toBe(grpc.status.INVALID_ARGUMENT);
      expect(decodeRpcStatus(b.status!).badRequest?.fieldViolations[0]?.field).toBe('item.image');
    }
    for (const x of responses.filter((y) => y.status!.code === 0)) {
      const i = Number(x.id.slice(3));
      expect(x.label).toBe(i % 10);
      const seed = i === 5 ? 99n : deriveItemSeed(11n, x.id);
      expect(x.certificate!.seed).toBe(seed);
      expect(x.certificate!.requestId).toBe(x.id);
      expect(Number(x.certificate!.na)).toBe(fakeCounts(seed, 1, 0, 300)[7]);
      expect(checkCertificate(x.certificate!, { keys: r.certifier.publicKeys }).valid).toBe(true);
    }
    // the threshold was looked up once for the stream
    expect(r.bounds.calls.length).toBeGreaterThanOrEqual(1);
  });

  it('first message not a config: FAILED_PRECONDITION naming config', async () => {
    const { responses, status } = await streamAll(r.client, [item('a'), config()]);
    expect(status.code).toBe(grpc.status.FAILED_PRECONDITION);
    expect(status.details).toMatch(/^config/);
    expect(responses).toHaveLength(0);
  });

  it('a bad config ends the stream with INVALID_ARGUMENT naming config.<field>', async () => {
    const { status } = await streamAll(r.client, [config({ alpha: 2 }), item('a')]);
    expect(status.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(decodeStatus(status.metadata)?.badRequest?.fieldViolations.map((v) => v.field)).toEqual(['config.alpha']);
    const unknown = await streamAll(r.client, [config({ model: 'nope' }), item('a')]);
    expect(unknown.status.code).toBe(grpc.status.NOT_FOUND);
  });

  it('a second config, an empty id or a missing input are in-band errors; the stream goes on', async () => {
    const { responses, status } = await streamAll(r.client, [config(), item('a'), config(), item(''), item('b', { input: undefined }), item('c')]);
    expect(status.code).toBe(grpc.status.OK);
    expect(responses).toHaveLength(5);
    const byField = responses
      .filter((x) => x.status!.code !== 0)
      .map((x) => decodeRpcStatus(x.status!).badRequest?.fieldViolations[0]?.field)
      .sort();
    expect(byField).toEqual(['config', 'item.id', 'item.input']);
    expect(responses.filter((x) => x.status!.code === 0).map((x) => x.id).sort()).toEqual(['a', 'c']);
  });

  it('an empty stream (config only) ends OK', async () => {
    const { responses, status } = await streamAll(r.client, [config()]);
    expect(status.code).toBe(grpc.status.OK);
    expect(responses).toHaveLength(0);
  });

  it('reruns with the same base seed reproduce every certificate count', async () => {
    const msgs = [config({ baseSeed: 2024n }), ...Array.from({ length: 6 }, (_, i) => item(`x${i}`))];
    const a = await streamAll(r.client, msgs);
    const b = await streamAll(r.client, msgs);
    const key = (o: typeof a): string[] =>
      o.responses.map((x) => `${x.id}:${x.certificate!.seed}:${x.certificate!.na}`).sort();
    expect(key(b)).toEqual(key(a));
  });
});

describe('StreamingCertify flow control', () => {
  let r: Rig;
  beforeAll(async () => (r = await rig({ samplers: 1, delayMs: 60, config: { streamConcurrency: 2, maxInflight: 8 } })));
  afterAll(() => r.close());

  it('never has more than CERTIFIER_STREAM_CONCURRENCY items of a stream in progress', async () => {
    let peak = 0;
    const timer = setInterval(() => (peak = Math.max(peak, r.certifier.inflight())), 5);
    const { responses } = await streamAll(r.client, [config({ n: 100n }), ...Array.from({ length: 8 }, (_, i) => item(`i${i}`))]);
    clearInterval(timer);
    expect(responses).toHaveLength(8);
    expect(peak).toBeGreaterThan(0);
    expect(peak).toBeLessThanOrEqual(2);
  });

  it('cancelling the stream stops its work', async () => {
    const sampler = r.samplers[0]!;
    const call = r.client.streamingCertify();
    call.on('error', () => undefined);
    call.on('data', () => undefined);
    call.write(config({ n: 3_000n }));
    for (let i = 0; i < 4; i++) call.write(item(`c${i}`));
    const until = Date.now() + 3_000;
    while (Date.now() < until && sampler.active === 0) await new Promise((res) => setTimeout(res, 5));
    expect(sampler.active).toBeGreaterThan(0);
    call.cancel();
    const until2 = Date.now() + 3_000;
    while (Date.now() < until2 && (sampler.active > 0 || r.certifier.inflight() > 0)) await new Promise((res) => setTimeout(res, 10));
    expect(sampler.active).toBe(0);
    expect(r.certifier.inflight()).toBe(0);
  });
});

describe('StreamingCertify backpressure', () => {
  it('a client that does not read its responses stops the server reading its items', async () => {
    const r = await rig({ samplers: 1, config: { streamConcurrency: 4, chunkSize: 1_000 } });
    try {
      const call = r.client.streamingCertify();
      const responses: certifyV1.StreamingCertifyResponse[] = [];
      const status = new Promise<grpc.StatusObject>((resolve) => call.on('status', resolve));
      call.on('error', () => undefined);
      // read a few responses, then stop reading (grpc-js applies HTTP/2 flow control once reading started)
      call.on('data', (x: certifyV1.StreamingCertifyResponse) => {
        responses.push(x);
        if (responses.length === 5) call.pause();
      });
      call.write(config({ n0: 10n, n: 10n }));
      const total = 600;
      for (let i = 0; i < total; i++) call.write(item(`p${i}`));
      call.end();
      const processed = async (): Promise<number> => {
        await new Promise((res) => setTimeout(res, 1_000));
        return r.samplers[0]!.calls.length / 2; // selection + estimation per item
      };
      let last = await processed();
      for (let k = 0; k < 5; k++) {
        const now = await processed();
        if (now === last) break;
        last = now;
      }
      // stalled well short of the end: the server stopped reading items it could not answer
      expect(await processed()).toBe(last);
      expect(last).toBeGreaterThan(5);
      expect(last).toBeLessThan(total / 2);
      expect(r.certifier.inflight()).toBeLessThanOrEqual(4);
      // reading again lets the stream finish with every response
      call.resume();
      expect((await status).code).toBe(grpc.status.OK);
      expect(responses).toHaveLength(total);
      expect(new Set(responses.map((x) => x.id)).size).toBe(total);
    } finally {
      await r.close();
    }
  });
});

describe('StreamingCertify admission', () => {
  it('an item gets RESOURCE_EXHAUSTED in-band when every slot is taken by others; the stream goes on', async () => {
    const r = await rig({ samplers: 1, delayMs: 400, config: { maxInflight: 1 } });
    try {
      const blocker = certify(r.client, request({ n: 100n }));
      await new Promise((res) => setTimeout(res, 100));
      const { responses, status } = await streamAll(r.client, [config({ n: 100n }), item('late')]);
      expect(status.code).toBe(grpc.status.OK);
      expect(responses[0]!.status!.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
      await blocker;
      // a stream that holds a slot waits for its own items instead
      const own = await streamAll(r.client, [config({ n: 100n }), item('a'), item('b'), item('c')]);
      expect(own.responses.map((x) => x.status!.code)).toEqual([0, 0, 0]);
    } finally {
      await r.close();
    }
  });
});

async function shutdownDuringStream(delayMs: number): Promise<{ status: grpc.StatusObject; responses: certifyV1.StreamingCertifyResponse[]; sent: number }> {
  const r = await rig({ samplers: 1, delayMs, config: { streamConcurrency: 3, shutdownGraceMs: 1_000 } });
  const call = r.client.streamingCertify();
  const responses: certifyV1.StreamingCertifyResponse[] = [];
  const status = new Promise<grpc.StatusObject>((resolve) => call.on('status', resolve));
  call.on('error', () => undefined);
  call.on('data', (x: certifyV1.StreamingCertifyResponse) => responses.push(x));
  call.write(config({ n: 100n }));
  const sent = 12;
  for (let i = 0; i < sent; i++) call.write(item(`i${i}`));
  const until = Date.now() + 3_000;
  while (Date.now() < until && r.certifier.inflight() < 3) await new Promise((res) => setTimeout(res, 5));
  expect(r.certifier.inflight()).toBe(3);
  const closing = r.certifier.close();
  const st = await status;
  await closing;
  call.cancel();
  r.client.close();
  await Promise.all([...r.samplers.map((s) => s.close()), r.bounds.close()]);
  return { status: st, responses, sent };
}

describe('StreamingCertify shutdown', () => {
  it('items in flight finish within the drain period; the stream then ends UNAVAILABLE', async () => {
    const { status, responses, sent } = await shutdownDuringStream(150);
    expect(status.code).toBe(grpc.status.UNAVAILABLE);
    expect(responses.length).toBeGreaterThanOrEqual(3);
    expect(responses.length).toBeLessThan(sent);
    for (const x of responses) expect(x.status!.code).toBe(0);
  });

  it('items still running when the drain period ends get UNAVAILABLE in-band', async () => {
    const { status, responses } = await shutdownDuringStream(5_000);
    expect(status.code).toBe(grpc.status.UNAVAILABLE);
    expect(responses).toHaveLength(3);
    for (const x of responses) {
      expect(x.status!.code).toBe(grpc.status.UNAVAILABLE);
      expect(x.id).toMatch(/^i[0-2]$/);
    }
  });
});

describe('SEQUENTIAL sampling (the default; ALGORITHM.md section 9)', () => {
  // b +-0.4 at sigma 0.3: h* = Phi(4/3) = 0.90879, the worked example's looks at alpha 0.001, n_max 1000
  const WIDE: ThreatModel = { ...BRIGHTNESS, box: [{ name: 'b', min: -0.4, max: 0.4 }] };
  const LOOKS = [84, 168, 336, 672, 1000];
  const LEVELS = [0.001 / 3, 0.001 / 9, 0.001 / 9, 0.001 / 9, 0.001 / 3];
  const seqRequest = (over: Partial<certifyV1.CertifyRequest> = {}): Partial<certifyV1.CertifyRequest> =>
    request({ threatModel: WIDE, n0: 200n, n: 1000n, sampling: undefined, ...over });

  /** The look where the rule certifies on these counts (no futility on a 97 % classifier), from the worked example. */
  function expectedLook(seed: bigint, h: number, topShare?: number): number {
    for (let k = 0; k < LOOKS.length; k++) {
      if (clopperPearsonLower(fakeCounts(seed, 1, 0, LOOKS[k]!, topShare)[7]!, LOOKS[k]!, LEVELS[k]!) > h) return k;
    }
    return -1;
  }

  it('unset sampling is SEQUENTIAL: adaptive selection, the first decisive look, a record a model-free check can recompute', async () => {
    const r = await rig({ samplers: 2 });
    try {
      const h = brightnessThreshold(0.4, 0.3);
      const res = await certify(r.client, seqRequest({ seed: 42n }));
      const cert = res.certificate!;
      const k = expectedLook(42n, h);
      expect(k).toBeGreaterThanOrEqual(0);
      // 32 selection samples at 97 % agree: one block
      expect(cert.n0).toBe(32n);
      expect(cert.selectionClassCounts.map(Number)).toEqual(fakeCounts(42n, 0, 0, 32));
      expect(Number(cert.n)).toBe(LOOKS[k]);
      const na = fakeCounts(42n, 1, 0, LOOKS[k]!)[7]!;
      expect(Number(cert.na)).toBe(na);
      expect(cert.sequential).toMatchObject({ rule: 'glcert-sequential/1', look: k + 1, looks: 5, beta: 0.001, n0Max: 200n, nMax: 1000n, stopReason: 'certified' });
      expect(cert.sequential!.level).toBeCloseTo(LEVELS[k]!, 18);
      expect(cert.paLower).toBe(clopperPearsonLower(na, LOOKS[k]!, cert.sequential!.level));
      expect(cert.alpha).toBe(0.001);
      expect(cert.outcome).toBe(Outcome.OUTCOME_CERTIFIED);
      // the samplers saw exactly the ranges: one selection block, then each look's extra samples
      const ranges = r.samplers.flatMap((s) => s.calls).map((c) => `${c.stream}:${c.startIndex}-${c.endIndex}`).sort();
      const want = ['0:0-32', ...LOOKS.slice(0, k + 1).map((n, j) => `1:${j === 0 ? 0 : LOOKS[j - 1]}-${n}`)];
      // chunkSize 100 cuts the larger spans: compare the covered samples per stream
      const covered = (stream: number) => r.samplers.flatMap((s) => s.calls).filter((c) => c.stream === stream).reduce((t, c) => t + Number(c.endIndex - c.startIndex), 0);
      expect(covered(0)).toBe(32);
      expect(covered(1)).toBe(LOOKS[k]);
      if (LOOKS[k]! <= 100) expect(ranges).toEqual(want.sort());
      expect(res.notes.some((n) => n.includes(`look ${k + 1} of 5`))).toBe(true);
    } finally {
      await r.close();
    }
  });

  it('an image whose samples all agree certifies at the first look (84 estimation samples instead of 1000)', async () => {
    const r = await rig({ samplerOptions: () => ({ topShare: 0.9999 }) });
    try {
      const cert = (await certify(r.client, seqRequest({ seed: 7n }))).certificate!;
      expect(fakeCounts(7n, 1, 0, 84, 0.9999)[7]).toBe(84);
      expect(cert).toMatchObject({ n0: 32n, n: 84n, na: 84n, outcome: Outcome.OUTCOME_CERTIFIED });
      expect(cert.paLower).toBe(Math.pow(0.001 / 3, 1 / 84));
    } finally {
      await r.close();
    }
  });

  it('a split vote reads the whole selection maximum and stops at the first look by futility', async () => {
    const r = await rig({ samplerOptions: () => ({ topShare: 0.5 }) });
    try {
      const cert = (await certify(r.client, seqRequest({ seed: 9n }))).certificate!;
      // blocks 32, 64, 96, 128, 160, 192, then the last 8 up to n0_max
      expect(cert.n0).toBe(200n);
      expect(cert.selectionClassCounts.map(Number)).toEqual(fakeCounts(9n, 0, 0, 200, 0.5));
      expect(cert.n).toBe(84n);
      expect(cert.outcome).toBe(Outcome.OUTCOME_ABSTAINED);
      expect(cert.sequential).toMatchObject({ look: 1, stopReason: 'futility-upper' });
    } finally {
      await r.close();
    }
  });

  it('the same certificate whatever the chunk size and the number of samplers', async () => {
    const a = await rig({ samplers: 1, config: { chunkSize: 2000 } });
    const b = await rig({ samplers: 3, config: { chunkSize: 7 } });
    try {
      for (const seed of [1n, 2n, 3n]) {
        const x = (await certify(a.client, seqRequest({ seed, n: 3000n }))).certificate!;
        const y = (await certify(b.client, seqRequest({ seed, n: 3000n }))).certificate!;
        for (const f of ['n0', 'n', 'na', 'paLower', 'outcome', 'predictedClass', 'selectionClassCounts', 'sequential'] as const) expect(y[f]).toEqual(x[f]);
      }
      expect(b.samplers.every((s) => s.calls.length > 0)).toBe(true);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('sampling FIXED draws exactly n0 and n and records no sequential record', async () => {
    const r = await rig();
    try {
      const cert = (await certify(r.client, seqRequest({ seed: 42n, sampling: Sampling.SAMPLING_FIXED }))).certificate!;
      expect(cert).toMatchObject({ n0: 200n, n: 1000n, na: BigInt(fakeCounts(42n, 1, 0, 1000)[7]!) });
      expect(cert.sequential).toBeUndefined();
      expect(cert.paLower).toBe(clopperPearsonLower(Number(cert.na), 1000, 0.001));
    } finally {
      await r.close();
    }
  });

  it('an unknown sampling value is INVALID_ARGUMENT naming sampling (Certify) and config.sampling (stream)', async () => {
    const r = await rig();
    try {
      const err = await expectCode(certify(r.client, seqRequest({ sampling: 7 as Sampling })), grpc.status.INVALID_ARGUMENT);
      expect(violations(err)).toEqual(['sampling']);
      const { responses, status } = await streamAll(r.client, [config({ sampling: 9 as Sampling }), item('x')]);
      expect(responses).toEqual([]);
      expect(status.code).toBe(grpc.status.INVALID_ARGUMENT);
      expect(decodeStatus(status.metadata)?.badRequest?.fieldViolations.map((v) => v.field)).toEqual(['config.sampling']);
    } finally {
      await r.close();
    }
  });
});
