// Issue 11, findings 5 and 7 through the certifier's gRPC edge (fake samplers and bounds): numbers
// outside the documented domains (docs/numeric-domains.md) and parameter names that are
// Object.prototype properties are INVALID_ARGUMENT naming the field, before any sampler call
// (and, for the threat model, any bounds call); they used to be INTERNAL, or (for `__proto__`) silently dropped.
import * as grpc from '@grpc/grpc-js';
import { BoundMethod, Distribution, encodeFloat32Tensor, type CertificationServiceClient, type certifyV1, type ThreatModel } from '@glcert/contracts';
import { generateSigningKey } from '@glcert/certificate';
import { createLogger, decodeStatus } from '@glcert/runtime';
import { startCertifierService, type CertifierService } from './certifier-service';
import { certifierClient, certify, streamAll } from './testing/client';
import { FAKE_MODEL, startFakeBounds, startFakeSampler, type FakeBounds, type FakeSampler } from './testing/fakes';

const NORMAL = Distribution.DISTRIBUTION_NORMAL;
const LOG_NORMAL = Distribution.DISTRIBUTION_LOG_NORMAL;
const RAYLEIGH = Distribution.DISTRIBUTION_RAYLEIGH;

const tm = (transform: string, box: [string, number, number][], smoothing: [string, Distribution, number][]): ThreatModel => ({
  transform,
  box: box.map(([name, min, max]) => ({ name, min, max })),
  smoothing: smoothing.map(([name, distribution, sigma]) => ({ name, distribution, sigma })),
  note: '',
});
const brightness = (min = -0.05, max = 0.05, sigma = 0.3): ThreatModel => tm('b', [['b', min, max]], [['b', NORMAL, sigma]]);
const IMAGE = new Float32Array(28 * 28).fill(0.25);

function request(over: Partial<certifyV1.CertifyRequest> = {}): Partial<certifyV1.CertifyRequest> {
  return {
    model: FAKE_MODEL,
    input: { $case: 'tensor', tensor: encodeFloat32Tensor(IMAGE, [1, 28, 28]) },
    threatModel: brightness(),
    n0: 100n,
    n: 500n,
    alpha: 0.001,
    seed: 42n,
    ...over,
  };
}

async function failure(p: Promise<unknown>): Promise<grpc.ServiceError> {
  return p.then(
    () => {
      throw new Error('expected the call to fail');
    },
    (err: grpc.ServiceError) => err,
  );
}

describe('Certify: numeric domains and parameter names (issue 11)', () => {
  let sampler: FakeSampler;
  let bounds: FakeBounds;
  let certifier: CertifierService;
  let client: CertificationServiceClient;

  beforeAll(async () => {
    sampler = await startFakeSampler();
    bounds = await startFakeBounds();
    certifier = await startCertifierService(
      { port: 0, samplerAddrs: [sampler.address], boundsAddr: bounds.address, chunkSize: 100, retryBackoffMs: 5, shutdownGraceMs: 2_000 },
      { logger: createLogger('certifier', { level: 'silent' }), signingKey: generateSigningKey() },
    );
    client = certifierClient(certifier.address);
    await certifier.ready;
  });

  afterAll(async () => {
    client?.close();
    await certifier?.close();
    await Promise.all([sampler?.close(), bounds?.close()]);
  });

  const withPixel = (value: number): certifyV1.CertifyRequest['input'] => {
    const data = IMAGE.slice();
    data[10] = value;
    return { $case: 'tensor', tensor: encodeFloat32Tensor(data, [1, 28, 28]) };
  };
  const contrast = tm('c', [['k', 0.8, 1.2]], [['k', LOG_NORMAL, 0.3]]);

  it.each<[string, Partial<certifyV1.CertifyRequest>, string]>([
    ['pixels 3.4e38 with contrast', { input: withPixel(3.4e38), threatModel: contrast }, 'tensor.raw_contents'],
    ['pixel -1001', { input: withPixel(-1001) }, 'tensor.raw_contents'],
    ['brightness sigma 1e300', { threatModel: brightness(-0.05, 0.05, 1e300) }, 'threat_model.smoothing[0].sigma'],
    ['brightness sigma 1e-300', { threatModel: brightness(-0.05, 0.05, 1e-300) }, 'threat_model.smoothing[0].sigma'],
    ['contrast sigma 1e3 (k = Infinity)', { threatModel: tm('c', [['k', 0.8, 1.2]], [['k', LOG_NORMAL, 1e3]]) }, 'threat_model.smoothing[0].sigma'],
    ['box b in [-1.7e308, 1.7e308], AUTO', { threatModel: brightness(-1.7e308, 1.7e308) }, 'threat_model.box[0]'],
    [
      'box b in [-1.7e308, 1.7e308], NUMERIC',
      { threatModel: brightness(-1.7e308, 1.7e308), boundSettings: { ns: 0n, gridPoints: [], seed: 0n, method: BoundMethod.BOUND_METHOD_NUMERIC } },
      'threat_model.box[0]',
    ],
    ['blur sigma 1e300', { threatModel: tm('r', [['r', 0, 2]], [['r', RAYLEIGH, 1e300]]) }, 'threat_model.smoothing[0].sigma'],
    ['blur sigma 1e10', { threatModel: tm('r', [['r', 0, 2]], [['r', RAYLEIGH, 1e10]]) }, 'threat_model.smoothing[0].sigma'],
    ['blur sigma 1e-300', { threatModel: tm('r', [['r', 0, 2]], [['r', RAYLEIGH, 1e-300]]) }, 'threat_model.smoothing[0].sigma'],
    ['contrast 0 < k = 1e-300', { threatModel: tm('c', [['k', 1e-300, 1.2]], [['k', LOG_NORMAL, 0.3]]) }, 'threat_model.box[0]'],
    // finding 7
    ['a box entry named __proto__', { threatModel: { ...brightness(), box: [...brightness().box, { name: '__proto__', min: 0, max: 1 }] } }, 'threat_model.box[1].name'],
    [
      'a smoothing entry named __proto__',
      { threatModel: { ...brightness(), smoothing: [{ name: '__proto__', distribution: NORMAL, sigma: 0.3 }, ...brightness().smoothing] } },
      'threat_model.smoothing[0].name',
    ],
    ['a box entry named constructor', { threatModel: { ...brightness(), box: [{ name: 'constructor', min: 0, max: 1 }, ...brightness().box] } }, 'threat_model.box[0].name'],
  ])('%s: INVALID_ARGUMENT naming the field, no sampler or bounds call', async (_name, over, field) => {
    const samplerCalls = sampler.calls.length;
    const boundsCalls = bounds.calls.length;
    const err = await failure(certify(client, request(over)));
    expect(grpc.status[err.code]).toBe('INVALID_ARGUMENT');
    expect(decodeStatus(err)?.badRequest?.fieldViolations.map((v) => v.field)).toContain(field);
    expect(sampler.calls.length).toBe(samplerCalls);
    // the bound is image-independent and asked for while the input is prepared
    if (!field.startsWith('tensor')) expect(bounds.calls.length).toBe(boundsCalls);
  });

  it('the edges of the domains still certify (sigma 1e-6 and a box of +-1000 abstain at worst, never INTERNAL)', async () => {
    for (const threatModel of [brightness(-0.05, 0.05, 1e-6), brightness(-1000, 1000, 1000)]) {
      const res = await certify(client, request({ threatModel }));
      expect(res.certificate).toBeDefined();
    }
    const res = await certify(client, request({ input: withPixel(1000) }));
    expect(res.certificate).toBeDefined();
  });

  it('StreamingCertify: a config with a __proto__ box entry is refused naming config.threat_model', async () => {
    const threatModel = { ...brightness(), box: [...brightness().box, { name: '__proto__', min: 0, max: 1 }] };
    const config = { model: FAKE_MODEL, threatModel, n0: 100n, n: 500n, alpha: 0.001, baseSeed: 1n } as certifyV1.StreamingCertifyConfig;
    const out = await streamAll(client, [{ request: { $case: 'config', config } }]);
    const text = `${out.status.details} ${JSON.stringify(out.responses)}`;
    expect(text).toContain('config.threat_model.box[1].name');
  });
});
