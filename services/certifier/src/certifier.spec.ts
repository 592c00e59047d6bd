// The certifier end to end over loopback with the real model: mnist-cnn served by an
// in-process inference sidecar behind real samplers (each on its own port), the closed-form
// brightness bound, and digits from data/mnist-test. Small n keeps it quick.
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { Distribution, Outcome, Sampling, type CertificationServiceClient, type certifyV1, type ThreatModel } from '@glcert/contracts';
import { checkCertificate, generateSigningKey } from '@glcert/certificate';
import { decodeRpcStatus, decodeStatus } from '@glcert/runtime';
import { minSamplesToCertify } from '@glcert/stats';
import type { CertifierConfig } from './config';
import { startCertifierService, type CertifierService } from './certifier-service';
import { certifierClient, certify, streamAll } from './testing/client';
import { brightnessThreshold, startProxy } from './testing/fakes';
import { MNIST_DIR, MNIST_MODEL, quietLogger, startCluster, startImpostor, type Cluster } from './testing/cluster';

jest.setTimeout(120_000);

const BRIGHTNESS: ThreatModel = {
  transform: 'b',
  box: [{ name: 'b', min: -0.05, max: 0.05 }],
  smoothing: [{ name: 'b', distribution: Distribution.DISTRIBUTION_NORMAL, sigma: 0.3 }],
  note: '',
};
const THRESHOLD = brightnessThreshold(0.05, 0.3); // Phi(1/6) ~ 0.566

/** data/mnist-test files with their labels. */
function digits(): Array<{ file: string; label: number }> {
  return readFileSync(path.join(MNIST_DIR, 'labels.csv'), 'utf8')
    .trim()
    .split('\n')
    .slice(1)
    .map((line) => {
      const [file, label] = line.split(',');
      return { file: file!, label: Number(label) };
    });
}
const png = (file: string): Buffer => readFileSync(path.join(MNIST_DIR, file));

function request(image: Buffer, over: Partial<certifyV1.CertifyRequest> = {}): Partial<certifyV1.CertifyRequest> {
  return { model: MNIST_MODEL, input: { $case: 'image', image }, threatModel: BRIGHTNESS, n0: 100n, n: 400n, alpha: 0.001, seed: 2024n, ...over };
}

async function startCertifier(cluster: Cluster, samplers: string[], config: Partial<CertifierConfig> = {}): Promise<CertifierService> {
  return startCertifierService(
    {
      port: 0,
      samplerAddrs: samplers,
      boundsAddr: cluster.bounds.address,
      chunkSize: 100,
      // the samplers share one sidecar here (in a pod each has its own): keep its queue in bounds
      samplerConcurrency: 2,
      retryBackoffMs: 10,
      shutdownGraceMs: 2_000,
      ...config,
    },
    { logger: quietLogger('certifier'), signingKey: generateSigningKey() },
  );
}

async function failure(p: Promise<unknown>): Promise<grpc.ServiceError> {
  return p.then(
    () => {
      throw new Error('expected the call to fail');
    },
    (err: unknown) => err as grpc.ServiceError,
  );
}

describe('certifier with mnist-cnn', () => {
  let cluster: Cluster;
  let certifier: CertifierService;
  let client: CertificationServiceClient;
  const seven = digits().find((d) => d.label === 7)!;

  beforeAll(async () => {
    cluster = await startCluster(3);
    certifier = await startCertifier(
      cluster,
      cluster.samplers.map((s) => s.address),
    );
    await certifier.ready;
    client = certifierClient(certifier.address);
  });
  afterAll(async () => {
    client?.close();
    await certifier?.close();
    await cluster?.close();
  });

  it('CERTIFIED for a clean digit under a small brightness box, and the certificate checks', async () => {
    const res = await certify(client, request(png(seven.file), { requestId: 'digit-7', sampling: Sampling.SAMPLING_FIXED }));
    const cert = res.certificate!;
    expect(cert.predictedClass).toBe(seven.label);
    expect(cert.threshold).toBeCloseTo(THRESHOLD, 12);
    expect(cert.threshold).toBeCloseTo(0.566, 3);
    expect(cert.outcome).toBe(Outcome.OUTCOME_CERTIFIED);
    expect(cert.paLower).toBeGreaterThan(THRESHOLD);
    expect(cert).toMatchObject({
      requestId: 'digit-7',
      modelName: MNIST_MODEL,
      inputShape: [1n, 28n, 28n],
      n0: 100n,
      n: 400n,
      seed: 2024n,
      certificateVersion: 2,
    });
    expect(cert.modelSha256).toMatch(/^[0-9a-f]{64}$/);
    expect(cert.modelVersion).not.toBe('');
    expect(cert.inputSha256).toMatch(/^[0-9a-f]{64}$/);
    expect(cert.preprocessing.join(' | ')).toMatch(/png/);
    expect(cert.threatModel!.note).toContain('no clipping');
    expect(cert.selectionClassCounts.reduce((a, b) => a + b, 0n)).toBe(100n);
    const check = checkCertificate(cert, { keys: certifier.publicKeys, threshold: { value: THRESHOLD } });
    expect(check.reasons).toEqual([]);
    expect(check.valid).toBe(true);
    // every sampler did part of the work
    for (const s of certifier.samplerStats()) expect(s.calls).toBeGreaterThan(0);
  });

  it('SEQUENTIAL (the default) certifies the same digit at the first look: 32 selection and 15 estimation samples', async () => {
    const res = await certify(client, request(png(seven.file), { requestId: 'digit-7-seq' }));
    const cert = res.certificate!;
    // h_eff = 0.566: the first look is the smallest n with (alpha/3)^(1/n) > 0.566, ln(3.33e-4) / ln(0.566) = 14.07 -> 15
    expect(cert).toMatchObject({ predictedClass: seven.label, n0: 32n, n: 15n, na: 15n, outcome: Outcome.OUTCOME_CERTIFIED });
    expect(cert.sequential).toMatchObject({ rule: 'glcert-sequential/1', look: 1, n0Max: 100n, nMax: 400n, stopReason: 'certified' });
    expect(cert.paLower).toBeCloseTo(Math.pow(0.001 / 3, 1 / 15), 12);
    expect(cert.selectionClassCounts.reduce((a, b) => a + b, 0n)).toBe(32n);
    const check = checkCertificate(cert, { keys: certifier.publicKeys, threshold: { value: THRESHOLD } });
    expect(check.reasons).toEqual([]);
  });

  it('the same request_id returns the identical certificate', async () => {
    const a = await certify(client, request(png(seven.file), { requestId: 'again', seed: undefined }));
    const b = await certify(client, request(png(seven.file), { requestId: 'again', seed: undefined }));
    expect(b.certificate).toEqual(a.certificate);
    expect(Buffer.from(b.certificate!.dsseEnvelope!.signatures[0]!.sig).equals(Buffer.from(a.certificate!.dsseEnvelope!.signatures[0]!.sig))).toBe(true);
  });

  it('the same request and seed give identical counts with one sampler and with three', async () => {
    const single = await startCertifier(cluster, [cluster.samplers[0]!.address]);
    const singleClient = certifierClient(single.address);
    try {
      const digit = digits().find((d) => d.label === 2)!;
      const req = request(png(digit.file), { n: 700n, seed: 99n });
      const one = (await certify(singleClient, req)).certificate!;
      const before = certifier.samplerStats().map((s) => s.calls);
      const three = (await certify(client, req)).certificate!;
      const used = certifier.samplerStats().map((s, i) => s.calls - before[i]!);
      expect(used.every((u) => u > 0)).toBe(true); // 8 chunks spread over the 3 samplers
      expect(three.na).toBe(one.na);
      expect(three.selectionClassCounts).toEqual(one.selectionClassCounts);
      expect(three.predictedClass).toBe(one.predictedClass);
      expect(three.paLower).toBe(one.paLower);
      expect(three.inputSha256).toBe(one.inputSha256);
    } finally {
      singleClient.close();
      await single.close();
    }
  });

  it('FIXED: one call carrying selection and estimation (n0 + n <= chunk size) gives the counts of separate calls', async () => {
    const wide = await startCertifier(cluster, [cluster.samplers[0]!.address], { chunkSize: 2_000 });
    const wideClient = certifierClient(wide.address);
    try {
      const digit = digits().find((d) => d.label === 4)!;
      // chunk 100 at the shared certifier: 1 + 5 calls of one range each; chunk 2000: one call,
      // the sampler's batches straddling the selection/estimation boundary
      const req = request(png(digit.file), { n0: 100n, n: 500n, seed: 31n, sampling: Sampling.SAMPLING_FIXED });
      const split = (await certify(client, req)).certificate!;
      const sampler = cluster.samplers[0]!.stats;
      const before = sampler.countCalls;
      const together = (await certify(wideClient, req)).certificate!;
      expect(sampler.countCalls - before).toBe(1);
      expect(together.selectionClassCounts).toEqual(split.selectionClassCounts);
      expect(together.na).toBe(split.na);
      expect(together.predictedClass).toBe(split.predictedClass);
      expect(together.paLower).toBe(split.paLower);
    } finally {
      wideClient.close();
      await wide.close();
    }
  });

  it('a replica serving another file as mnist-cnn: its chunks are retried on the replica with the certified model', async () => {
    const impostor = await startImpostor();
    const goodSha = cluster.inference.models().find((m) => m.name === MNIST_MODEL)!.sha256;
    expect(impostor.sha256).not.toBe(goodSha);
    // the good sampler first: a fresh certifier takes the model metadata from its first entry
    const single = await startCertifier(cluster, [cluster.samplers[0]!.address]);
    const mixed = await startCertifier(cluster, [cluster.samplers[0]!.address, impostor.sampler.address]);
    const alone = await startCertifier(cluster, [impostor.sampler.address]);
    const clients = [single, mixed, alone].map((c) => certifierClient(c.address));
    try {
      const digit = digits().find((d) => d.label === 3)!;
      const req = request(png(digit.file), { n: 700n, seed: 31n });
      const one = (await certify(clients[0]!, req)).certificate!;
      const two = (await certify(clients[1]!, req)).certificate!;
      expect(one.modelSha256).toBe(goodSha);
      expect(two.modelSha256).toBe(goodSha);
      // the impostor was asked and refused; every count comes from the certified model
      expect(impostor.sampler.stats.countCalls).toBeGreaterThan(0);
      expect(mixed.samplerStats()[1]!.failures).toBeGreaterThan(0);
      expect(two.na).toBe(one.na);
      expect(two.selectionClassCounts).toEqual(one.selectionClassCounts);
      expect(two.predictedClass).toBe(one.predictedClass);
      expect(two.paLower).toBe(one.paLower);
      // a certifier that only reaches the impostor certifies, honestly, with the impostor's model
      const other = (await certify(clients[2]!, req)).certificate!;
      expect(other.modelSha256).toBe(impostor.sha256);
    } finally {
      for (const c of clients) c.close();
      await Promise.all([single.close(), mixed.close(), alone.close()]);
      await impostor.close();
    }
  });

  it('StreamingCertify: 50 items, 3 corrupt PNGs -> 50 responses, exactly 3 in-band INVALID_ARGUMENT', async () => {
    const pool = digits();
    const items: certifyV1.StreamingCertifyRequest[] = [];
    const corrupt = new Set([4, 21, 37]);
    for (let i = 0; i < 50; i++) {
      const d = pool[(i * 41) % pool.length]!;
      const bytes = png(d.file);
      const image = corrupt.has(i) ? Buffer.concat([bytes.subarray(0, 60), Buffer.from('not the rest of a png')]) : bytes;
      items.push({ request: { $case: 'item', item: { id: `img-${i}`, input: { $case: 'image', image }, label: d.label } } });
    }
    const { responses, status } = await streamAll(client, [
      { request: { $case: 'config', config: { model: MNIST_MODEL, threatModel: BRIGHTNESS, n0: 30n, n: 120n, alpha: 0.01, baseSeed: 7n } } },
      ...items,
    ]);
    expect(status.code).toBe(grpc.status.OK);
    expect(responses).toHaveLength(50);
    expect(new Set(responses.map((r) => r.id)).size).toBe(50);
    const bad = responses.filter((r) => r.status!.code !== grpc.status.OK);
    expect(bad.map((r) => r.id).sort()).toEqual(['img-21', 'img-37', 'img-4']);
    for (const r of bad) {
      expect(r.status!.code).toBe(grpc.status.INVALID_ARGUMENT);
      expect(decodeRpcStatus(r.status!).badRequest?.fieldViolations[0]?.field).toBe('item.image');
    }
    const good = responses.filter((r) => r.status!.code === grpc.status.OK);
    for (const r of good) {
      expect(r.label).toBe(pool[(Number(r.id.slice(4)) * 41) % pool.length]!.label);
      expect(checkCertificate(r.certificate!, { keys: certifier.publicKeys }).valid).toBe(true);
    }
    // a clean test set: most digits are predicted right
    expect(good.filter((r) => r.certificate!.predictedClass === r.label).length).toBeGreaterThan(40);
  });

  it('first stream message not a config -> FAILED_PRECONDITION naming config', async () => {
    const { status } = await streamAll(client, [{ request: { $case: 'item', item: { id: 'x', input: { $case: 'image', image: png(seven.file) } } } }]);
    expect(status.code).toBe(grpc.status.FAILED_PRECONDITION);
    expect(status.details).toMatch(/^config/);
  });

  it('bad fields -> INVALID_ARGUMENT naming the field; unknown model -> NOT_FOUND', async () => {
    const cases: Array<[Partial<certifyV1.CertifyRequest>, string]> = [
      [{ n: -1n }, 'n'],
      [{ alpha: 1.5 }, 'alpha'],
      [{ threatModel: { ...BRIGHTNESS, transform: 'nope' } }, 'threat_model.transform'],
      [{ input: { $case: 'image', image: Buffer.from('GIF89a......') } }, 'image'],
    ];
    for (const [over, field] of cases) {
      const err = await failure(certify(client, request(png(seven.file), over)));
      expect(err.code).toBe(grpc.status.INVALID_ARGUMENT);
      expect(decodeStatus(err)?.badRequest?.fieldViolations.map((v) => v.field)).toContain(field);
    }
    expect((await failure(certify(client, request(png(seven.file), { model: 'mnist-nope' })))).code).toBe(grpc.status.NOT_FOUND);
  });

  it('reports min_samples_to_certify_count when the threshold is out of reach at this n', async () => {
    const wide: ThreatModel = { ...BRIGHTNESS, box: [{ name: 'b', min: -0.4, max: 0.4 }] };
    const res = await certify(client, request(png(seven.file), { threatModel: wide, n: 50n, n0: 20n, alpha: 0.001 }));
    const h = brightnessThreshold(0.4, 0.3); // Phi(4/3) ~ 0.909 > 0.001^(1/50) ~ 0.871
    expect(res.certificate!.threshold).toBeCloseTo(h, 12);
    expect(res.certificate!.outcome).toBe(Outcome.OUTCOME_ABSTAINED);
    expect(res.minSamplesToCertifyCount).toBe(BigInt(minSamplesToCertify(h, 0.001)));
    expect(res.minSamplesToCertifyCount).toBe(73n);
    expect(res.notes.join('\n')).toMatch(/n >= 73 could certify/);
  });

  it('admission control: RESOURCE_EXHAUSTED past CERTIFIER_MAX_INFLIGHT', async () => {
    const limited = await startCertifier(cluster, cluster.samplers.map((s) => s.address), { maxInflight: 1, chunkSize: 500 });
    const limitedClient = certifierClient(limited.address);
    try {
      const slow = certify(limitedClient, request(png(seven.file), { n: 10_000n, seed: 5n }));
      const until = Date.now() + 10_000;
      while (limited.inflight() === 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 5));
      const err = await failure(certify(limitedClient, request(png(seven.file), { seed: 6n })));
      expect(err.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
      await slow;
    } finally {
      limitedClient.close();
      await limited.close();
    }
  });

  it('killing one of several samplers during a Certify still yields the fault-free counts', async () => {
    const proxies = await Promise.all(cluster.samplers.map((s) => startProxy(s.port)));
    const viaProxies = await startCertifier(cluster, proxies.map((p) => p.address), { chunkSize: 500 });
    const proxyClient = certifierClient(viaProxies.address);
    try {
      const digit = digits().find((d) => d.label === 4)!;
      const req = request(png(digit.file), { n: 8_000n, seed: 4242n });
      const reference = (await certify(client, req)).certificate!;
      const pending = certify(proxyClient, req);
      // wait until the second sampler is counting a chunk of this certification, then kill it
      const victim = cluster.samplers[1]!;
      const until = Date.now() + 20_000;
      while (victim.stats.activeCounts === 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 2));
      expect(victim.stats.activeCounts).toBeGreaterThan(0);
      await proxies[1]!.kill();
      const cert = (await pending).certificate!;
      expect(viaProxies.samplerStats()[1]!.failures).toBeGreaterThan(0);
      expect(cert.na).toBe(reference.na);
      expect(cert.selectionClassCounts).toEqual(reference.selectionClassCounts);
      expect(cert.paLower).toBe(reference.paLower);
      expect(cert.outcome).toBe(reference.outcome);
    } finally {
      proxyClient.close();
      await viaProxies.close();
      await Promise.all(proxies.map((p) => p.kill()));
    }
  });
});
