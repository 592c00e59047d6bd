// The API a backend expects (issue 15): server defaults for n0, n, alpha (zero means default),
// named threat-model presets on Certify and StreamingCertify, and ListPresets. Fake samplers
// and bounds over real gRPC on loopback, as certifier-fakes.spec.ts.
import * as grpc from '@grpc/grpc-js';
import { certifyV1, Distribution, encodeFloat32Tensor } from '@glcert/contracts';
import { generateSigningKey } from '@glcert/certificate';
import { createLogger, decodeStatus } from '@glcert/runtime';
import { clopperPearsonLower } from '@glcert/stats';
import { PRESETS } from '@glcert/transforms';
import { startCertifierService, type CertifierService } from './certifier-service';
import { certifierClient, certify, streamAll } from './testing/client';
import { FAKE_MODEL, fakeCounts, startFakeBounds, startFakeSampler, type FakeBounds, type FakeSampler } from './testing/fakes';

const IMAGE = encodeFloat32Tensor(new Float32Array(28 * 28).fill(0.25), [1, 28, 28]);
// exactly n0 and n samples (under SEQUENTIAL they are maxima): the defaults show in the counts
const FIXED = certifyV1.Sampling.SAMPLING_FIXED;

describe('API defaults and presets', () => {
  let sampler: FakeSampler;
  let bounds: FakeBounds;
  let certifier: CertifierService;
  let client: ReturnType<typeof certifierClient>;

  beforeAll(async () => {
    sampler = await startFakeSampler({});
    // above the exact threshold of every preset (the certifier refuses to sign one below it)
    bounds = await startFakeBounds({ threshold: 0.99 });
    certifier = await startCertifierService(
      { port: 0, samplerAddrs: [sampler.address], boundsAddr: bounds.address, chunkSize: 500, shutdownGraceMs: 1_000 },
      { logger: createLogger('certifier', { level: 'silent' }), signingKey: generateSigningKey() },
    );
    await certifier.ready;
    client = certifierClient(certifier.address);
  });
  afterAll(async () => {
    client.close();
    await certifier.close();
    await Promise.all([sampler.close(), bounds.close()]);
  });

  const listPresets = (): Promise<certifyV1.ListPresetsResponse> =>
    new Promise((resolve, reject) => client.listPresets({}, (err, res) => (err ? reject(err) : resolve(res))));
  const invalid = async (req: Partial<certifyV1.CertifyRequest>): Promise<string[]> => {
    const err = (await certify(client, req).then(
      () => undefined,
      (e: unknown) => e,
    )) as grpc.ServiceError;
    expect(err?.code).toBe(grpc.status.INVALID_ARGUMENT);
    return decodeStatus(err)?.badRequest?.fieldViolations.map((v) => `${v.field}: ${v.description}`) ?? [];
  };

  it('n0, n and alpha of zero are the paper defaults 200, 1000, 0.001, recorded in the certificate', async () => {
    const res = await certify(client, { model: FAKE_MODEL, input: { $case: 'tensor', tensor: IMAGE }, preset: 'brightness', seed: 5n, sampling: FIXED });
    const c = res.certificate!;
    expect([c.n0, c.n, c.alpha]).toEqual([200n, 1000n, 0.001]);
    // the counts are those of 200 selection and 1000 estimation samples (the fake's pure function)
    const selection = fakeCounts(5n, 0, 0, 200);
    expect(c.selectionClassCounts.map(Number)).toEqual(selection);
    const top = selection.indexOf(Math.max(...selection));
    expect(Number(c.na)).toBe(fakeCounts(5n, 1, 0, 1000)[top]);
    expect(c.paLower).toBe(clopperPearsonLower(Number(c.na), 1000, 0.001));
  });

  it('a preset stands for its threat model (the CLI names, the paper settings)', async () => {
    const res = await certify(client, { model: FAKE_MODEL, input: { $case: 'tensor', tensor: IMAGE }, preset: 'contrast-brightness', n0: 50n, n: 100n, alpha: 0.01, seed: 1n });
    const tm = res.certificate!.threatModel!;
    expect(tm.transform).toBe('cb');
    expect(tm.box).toEqual([
      { name: 'k', min: 0.6, max: 1.4 },
      { name: 'b', min: -0.4, max: 0.4 },
    ]);
    expect(tm.smoothing).toEqual([
      { name: 'k', distribution: Distribution.DISTRIBUTION_LOG_NORMAL, sigma: 0.3 },
      { name: 'b', distribution: Distribution.DISTRIBUTION_NORMAL, sigma: 0.3 },
    ]);
    expect(tm.note).toMatch(/no clipping/);
    // the bound service was asked for that threat model
    expect(bounds.calls.at(-1)?.threatModel?.transform).toBe('cb');
  });

  it('an unknown preset, or a preset with a threat model, is INVALID_ARGUMENT naming preset (and nothing else)', async () => {
    const base = { model: FAKE_MODEL, input: { $case: 'tensor' as const, tensor: IMAGE } };
    const unknown = await invalid({ ...base, preset: 'zoom' });
    expect(unknown).toHaveLength(1);
    expect(unknown[0]).toMatch(/^preset: unknown preset "zoom" \(ListPresets: brightness, contrast, /);
    // a long name is refused at the edge, never echoed
    expect(await invalid({ ...base, preset: 'x'.repeat(5000) })).toEqual(['preset: must be at most 128 bytes, got 5000']);
    const both = await invalid({ ...base, preset: 'brightness', threatModel: PRESET_B });
    expect(both).toEqual(['preset: and threat_model are exclusive: give one of them']);
    // neither: the threat model is required
    expect(await invalid(base)).toEqual([expect.stringMatching(/^threat_model: is required/)]);
    // explicit values outside the domain are still refused (zero alone means default)
    expect(await invalid({ ...base, preset: 'brightness', n: -1n, alpha: 1 })).toEqual([expect.stringMatching(/^n: /), expect.stringMatching(/^alpha: /)]);
  });

  it('StreamingCertify takes a preset and the defaults in its config', async () => {
    const { responses, status } = await streamAll(client, [
      { request: { $case: 'config', config: { model: FAKE_MODEL, preset: 'gamma', n0: 0n, n: 0n, alpha: 0, baseSeed: 9n, sampling: FIXED } } },
      { request: { $case: 'item', item: { id: 'a', input: { $case: 'tensor', tensor: IMAGE } } } },
    ]);
    expect(status.code).toBe(grpc.status.OK);
    const c = responses[0]!.certificate!;
    expect(c.threatModel!.transform).toBe('g');
    expect([c.n0, c.n, c.alpha]).toEqual([200n, 1000n, 0.001]);
    const bad = await streamAll(client, [{ request: { $case: 'config', config: { model: FAKE_MODEL, preset: 'nope', n0: 0n, n: 0n, alpha: 0, sampling: FIXED } } }]);
    expect(bad.status.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(bad.status.details).toMatch(/config\.preset/);
  });

  it('ListPresets names every CLI preset with its threat model, and the defaults', async () => {
    const res = await listPresets();
    expect(res.presets.map((p) => p.name)).toEqual(Object.keys(PRESETS));
    expect(res.presets.map((p) => p.name)).toEqual(expect.arrayContaining(['brightness', 'contrast', 'contrast-brightness', 'gamma', 'translation', 'blur']));
    expect([res.defaultN0, res.defaultN, res.defaultAlpha]).toEqual([200n, 1000n, 0.001]);
    const brightness = res.presets.find((p) => p.name === 'brightness')!;
    expect(brightness.threatModel).toEqual(PRESET_B);
    expect(brightness.description).toMatch(/^brightness.*b in \[-0\.4, 0\.4\].*Normal\(0\.3\)/);
    // each listed threat model is accepted as an explicit threat_model too
    for (const p of res.presets) {
      const r = await certify(client, { model: FAKE_MODEL, input: { $case: 'tensor', tensor: IMAGE }, threatModel: p.threatModel, n0: 10n, n: 10n, seed: 1n });
      expect(r.certificate!.threatModel!.transform).toBe(p.threatModel!.transform);
    }
  });
});

const PRESET_B = {
  transform: 'b',
  box: [{ name: 'b', min: -0.4, max: 0.4 }],
  smoothing: [{ name: 'b', distribution: Distribution.DISTRIBUTION_NORMAL, sigma: 0.3 }],
  note: '',
};
