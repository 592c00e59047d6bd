// The verifier over loopback with the real model: an in-process inference sidecar, a sampler
// and the bounds service. The test issues certificates itself (counts from the sampler, the
// threshold from the bounds service, signed with a test key), so VerifyCertificate and
// AuditCertificate are checked independently of the certifier.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import {
  BoundMethod,
  BoundServiceClient,
  Certificate,
  Distribution,
  Outcome,
  SamplingServiceClient,
  SamplingServiceService,
  VerificationServiceClient,
  type BoundSettings,
  type ThreatModel,
  type verifyV1,
} from '@glcert/contracts';
import {
  CERTIFICATE_VERSION,
  certificateContent,
  certificatePayload,
  decideOutcome,
  generateSigningKey,
  parsePublicKey,
  signCertificate,
} from '@glcert/certificate';
import { inputSha256, prepareInput } from '@glcert/imaging';
import { createClient, createLogger, decodeStatus, readConfig, startService, unaryHandler, UnavailableError } from '@glcert/runtime';
import { clopperPearsonLower, GENERATOR_NAME } from '@glcert/stats';
// eslint-disable-next-line @nx/enforce-module-boundaries -- test-only: real dependencies in-process
import { startInferenceService, type RunningInferenceService } from '@glcert/inference';
// eslint-disable-next-line @nx/enforce-module-boundaries -- test-only: real dependencies in-process
import { startSamplerService, type SamplerService } from '@glcert/sampler';
// eslint-disable-next-line @nx/enforce-module-boundaries -- test-only: real dependencies in-process
import { boundsConfigSchema, startBoundsService, type BoundsServiceHandle } from '@glcert/bounds-service';
import { verifierConfigSchema } from './config';
import { startVerifierService, type VerifierServiceHandle } from './verifier-service';

jest.setTimeout(120_000);

const ROOT = path.resolve(__dirname, '..', '..', '..');
const MNIST = path.join(ROOT, 'data', 'mnist-test');
const quiet = (name: string) => createLogger(name, { level: 'error' });

const THREAT: ThreatModel = {
  transform: 'b',
  box: [{ name: 'b', min: -0.05, max: 0.05 }],
  smoothing: [{ name: 'b', distribution: Distribution.DISTRIBUTION_NORMAL, sigma: 0.3 }],
  note: 'no clipping; values may leave [0,1]',
};
const SETTINGS: BoundSettings = { ns: 2000n, gridPoints: [5], seed: 0n, method: BoundMethod.BOUND_METHOD_AUTO };

function unary<Res>(fn: (cb: (err: grpc.ServiceError | null, res?: Res) => void) => unknown): Promise<Res> {
  return new Promise((resolve, reject) => fn((err, res) => (err ? reject(err) : resolve(res!))));
}

describe('VerificationService', () => {
  let dir: string;
  let inference: RunningInferenceService;
  let sampler: SamplerService;
  let bounds: BoundsServiceHandle;
  let verifier: VerifierServiceHandle;
  let samplerClient: SamplingServiceClient;
  let boundClient: BoundServiceClient;
  let client: VerificationServiceClient;
  const key = generateSigningKey();
  const [file, label] = readFileSync(path.join(MNIST, 'labels.csv'), 'utf8').trim().split('\n')[1]!.split(',');
  const png = readFileSync(path.join(MNIST, file!));
  const otherPng = readFileSync(path.join(MNIST, readFileSync(path.join(MNIST, 'labels.csv'), 'utf8').trim().split('\n')[2]!.split(',')[0]!));

  /** Issues a certificate the way the certifier does (ALGORITHM.md section 6). */
  async function issue(over: Partial<Certificate> = {}): Promise<Certificate> {
    const meta = (await unary<{ metadata?: any }>((cb) => samplerClient.getModel({ model: 'mnist-cnn' }, cb))).metadata;
    const prepared = await prepareInput({ $case: 'image', image: png }, meta);
    const { sha256, tensor } = inputSha256(prepared);
    const count = async (stream: number, end: number) =>
      (
        await unary<{ classCounts: bigint[] }>((cb) =>
          samplerClient.countSamples(
            { model: 'mnist-cnn', image: tensor, threatModel: THREAT, seed: 7n, stream, startIndex: 0n, endIndex: BigInt(end), batchSize: 0, expectedModelSha256: '', moreRanges: [] },
            cb,
          ),
        )
      ).classCounts;
    const selection = await count(0, 50);
    const predicted = selection.reduce((best, c, i) => (c > selection[best]! ? i : best), 0);
    const na = (await count(1, 300))[predicted]!;
    const bound = (await unary<{ bound?: any }>((cb) => boundClient.getThreshold({ threatModel: THREAT, boundSettings: SETTINGS, onlyCached: false }, cb))).bound;
    const paLower = clopperPearsonLower(Number(na), 300, 0.001);
    const cert = Certificate.fromPartial({
      certificateVersion: CERTIFICATE_VERSION,
      requestId: 'audit-test',
      modelName: meta.name,
      modelVersion: meta.version,
      modelSha256: meta.sha256,
      inputSha256: sha256,
      inputShape: prepared.shape.map(BigInt),
      preprocessing: prepared.preprocessing,
      threatModel: THREAT,
      boundSettings: SETTINGS,
      n0: 50n,
      n: 300n,
      na,
      predictedClass: predicted,
      selectionClassCounts: selection,
      alpha: 0.001,
      paLower,
      threshold: bound.threshold,
      thresholdMethod: bound.method,
      boundCacheKey: bound.cacheKey,
      solverVersion: bound.solverVersion,
      outcome: decideOutcome(paLower, bound.threshold),
      seed: 7n,
      generator: GENERATOR_NAME,
      issueTime: new Date(),
      ...over,
    });
    return signCertificate(cert, key);
  }

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'glcert-verifier-'));
    writeFileSync(path.join(dir, 'test.pub.pem'), key.publicKey.pem);
    inference = await startInferenceService(
      { host: '127.0.0.1', port: 0, modelsDir: path.join(ROOT, 'models'), workers: 1, shutdownGraceMs: 1000 },
      { logger: quiet('inference') },
    );
    sampler = await startSamplerService({ host: '127.0.0.1', port: 0, inferenceAddr: inference.address, shutdownGraceMs: 500 }, { logger: quiet('sampler') });
    await sampler.ready;
    bounds = await startBoundsService(readConfig(boundsConfigSchema(), { BOUNDS_PORT: '0', BOUNDS_CACHE_DIR: path.join(dir, 'bounds') }), {
      logger: quiet('bounds'),
    });
    verifier = await startVerifierService(
      readConfig(verifierConfigSchema(), {
        VERIFIER_PORT: '0',
        VERIFIER_PUBLIC_KEYS_DIR: dir,
        BOUNDS_ADDR: bounds.address,
        SAMPLER_ADDRS: sampler.address,
        VERIFIER_CHUNK_SIZE: '128',
      }),
      { logger: quiet('verifier') },
    );
    samplerClient = createClient(SamplingServiceClient, sampler.address);
    boundClient = createClient(BoundServiceClient, bounds.address);
    client = createClient(VerificationServiceClient, verifier.address);
  });

  afterAll(async () => {
    for (const c of [samplerClient, boundClient, client]) c?.close();
    await verifier?.close();
    await sampler?.close();
    await bounds?.close();
    await inference?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const verify = (certificate: Certificate, publicKeys: verifyV1.VerifyCertificateRequest['publicKeys'] = []) =>
    unary<verifyV1.VerifyCertificateResponse>((cb) => client.verifyCertificate({ certificate, publicKeys }, cb));
  const audit = (certificate: Certificate, image: Buffer) =>
    unary<verifyV1.AuditCertificateResponse>((cb) => client.auditCertificate({ certificate, input: { $case: 'image', image } }, cb));

  it('a correctly issued certificate verifies, with the threshold recomputed by the bounds service', async () => {
    const cert = await issue();
    expect(cert.outcome).toBe(Outcome.OUTCOME_CERTIFIED); // a clean digit under a small brightness box
    const res = await verify(cert);
    expect(res.reasons).toEqual([]);
    expect(res.valid).toBe(true);
    expect(res.signatureValid).toBe(true);
    expect(res.recomputedThreshold).toBe(cert.threshold);
    expect(res.recomputedPaLower).toBe(cert.paLower);
    expect(Number(label)).toBe(cert.predictedClass);
  });

  it('a tampered nA is caught, and so is a threshold that is not the bound of the threat model', async () => {
    const cert = await issue();
    // the signed payload changed: the DSSE signature fails
    const payload = certificatePayload({ ...certificateContent(cert), na: cert.na - 5n });
    const forged = await verify({ ...cert, na: cert.na - 5n, dsseEnvelope: { ...cert.dsseEnvelope!, payload } });
    expect(forged.valid).toBe(false);
    expect(forged.signatureValid).toBe(false);
    // only the unsigned copy outside the envelope changed: the signed payload is checked, the difference reported
    const outer = await verify({ ...cert, na: cert.na - 5n });
    expect(outer.valid).toBe(false);
    expect(outer.signatureValid).toBe(true);
    expect(outer.reasons).toEqual(['certificate: fields outside the envelope differ from the signed payload (na)']);
    // an issuer holding the key but using a lower threshold than the threat model's bound
    const lax = await verify(await issue({ threshold: 0.5 }));
    expect(lax.signatureValid).toBe(true);
    expect(lax.valid).toBe(false);
    expect(lax.reasons.join('\n')).toMatch(/^threshold: /m);
  });

  it('unknown keys are a reason; a key passed in the request is used', async () => {
    const other = generateSigningKey();
    const cert = signCertificate(await issue(), other);
    expect((await verify(cert)).reasons.join('\n')).toMatch(/unknown keyid/);
    const withKey = await verify(cert, [{ keyId: other.publicKey.keyId, algorithm: 'ed25519', publicKeyDer: other.publicKey.der, publicKeyPem: '' }]);
    expect(withKey.valid).toBe(true);
  });

  it('the DSSE envelope alone verifies and audits (the payload is the certificate)', async () => {
    const cert = await issue();
    const bare = Certificate.fromPartial({ dsseEnvelope: cert.dsseEnvelope });
    const res = await verify(bare);
    expect(res.reasons).toEqual([]);
    expect(res).toMatchObject({ valid: true, signatureValid: true, recomputedThreshold: cert.threshold, recomputedPaLower: cert.paLower });
    const audited = await audit(bare, png);
    expect(audited).toMatchObject({ consistent: true, recomputedNa: cert.na });
    const junk = (await audit(Certificate.fromPartial({ dsseEnvelope: { ...cert.dsseEnvelope!, payload: Buffer.from('{') } }), png).catch(
      (e: unknown) => e,
    )) as grpc.ServiceError;
    expect(junk.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(junk.details).toContain('certificate.dsse_envelope.payload');
  });

  it('a version-1 certificate (legacy signature) still has its signature verified', async () => {
    const fixtures = path.join(ROOT, 'libs', 'certificate', 'src', '__fixtures__');
    const v1 = Certificate.fromJSON(JSON.parse(readFileSync(path.join(fixtures, 'v1-certificate.json'), 'utf8')));
    const pub = parsePublicKey(readFileSync(path.join(fixtures, 'v1-key.pub.pem'), 'utf8'));
    const res = await verify(v1, [{ keyId: pub.keyId, algorithm: 'ed25519', publicKeyDer: pub.der, publicKeyPem: '' }]);
    expect(res.signatureValid).toBe(true);
    expect(res.recomputedPaLower).toBe(v1.paLower);
    expect((await verify({ ...v1, na: 999n }, [{ keyId: pub.keyId, algorithm: 'ed25519', publicKeyDer: pub.der, publicKeyPem: '' }])).signatureValid).toBe(false);
  });

  it('an audit replays the seeded sampling and agrees; a wrong image or count is found', async () => {
    const cert = await issue();
    const ok = await audit(cert, png);
    expect(ok.reasons).toEqual([]);
    expect(ok.consistent).toBe(true);
    expect(ok.recomputedNa).toBe(cert.na);
    const wrongImage = await audit(cert, otherPng);
    expect(wrongImage.consistent).toBe(false);
    expect(wrongImage.inputSha256Matches).toBe(false);
    // a signed, self-consistent certificate (pa_lower and verdict follow from its nA) whose nA the sampling does not reproduce
    const wrongNa = cert.na > 0n ? cert.na - 1n : 1n;
    const wrongPa = clopperPearsonLower(Number(wrongNa), 300, 0.001);
    const misCounted = await audit(await issue({ na: wrongNa, paLower: wrongPa, outcome: decideOutcome(wrongPa, cert.threshold) }), png);
    expect(misCounted.consistent).toBe(false);
    expect(misCounted.reasons.join('\n')).toMatch(/^na: /m);
  });

  it('an audit against a sampler serving another model than the certificate names reports it', async () => {
    const cert = await issue({ modelSha256: 'deadbeef'.repeat(8) });
    const res = await audit(cert, png);
    expect(res.consistent).toBe(false);
    expect(res.inputSha256Matches).toBe(true);
    expect(res.reasons.join('\n')).toMatch(/sampler serves a different model \(sha256 [0-9a-f]{12}\) than the certificate names \(deadbeefdead\)/);
    // the service goes on: the honest certificate still audits
    expect((await audit(await issue(), png)).consistent).toBe(true);
  });

  it('an audit fails over: a sampler that answers UNAVAILABLE (listed first) is passed over, the replay agrees', async () => {
    // a replica that is up but cannot sample (its sidecar is gone): every call UNAVAILABLE
    const refuse = unaryHandler(async () => Promise.reject(new UnavailableError('inference sidecar unreachable')), { log: quiet('down') });
    const down = await startService({
      name: 'down-sampler',
      services: [{ definition: SamplingServiceService, implementation: { getModel: refuse, countSamples: refuse, sampleTransforms: refuse } }],
      config: { host: '127.0.0.1', port: 0, maxReceiveMessageBytes: 1 << 22, maxSendMessageBytes: 1 << 22, shutdownGraceMs: 100 },
      log: quiet('down'),
      signals: [],
      reflection: false,
    });
    const failover = await startVerifierService(
      { host: '127.0.0.1', port: 0, publicKeysDir: dir, boundsAddr: bounds.address, samplerAddrs: [down.address, sampler.address], chunkSize: 64, retryBackoffMs: 5 },
      { logger: quiet('verifier') },
    );
    const viaFailover = createClient(VerificationServiceClient, failover.address);
    try {
      const cert = await issue();
      const res = await unary<verifyV1.AuditCertificateResponse>((cb) => viaFailover.auditCertificate({ certificate: cert, input: { $case: 'image', image: png } }, cb));
      expect(res.reasons).toEqual([]);
      expect(res.consistent).toBe(true);
      expect(res.recomputedNa).toBe(cert.na);
    } finally {
      viaFailover.close();
      await failover.close();
      await down.shutdown('test');
    }
  });

  it('bad requests are INVALID_ARGUMENT naming the field, and the service stays up', async () => {
    const err = (await verify(undefined as unknown as Certificate).catch((e: unknown) => e)) as grpc.ServiceError;
    expect(err.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(err.details).toContain('certificate');
    const badKey = (await verify(await issue(), [{ keyId: 'x', algorithm: 'ed25519', publicKeyDer: Buffer.from('nope'), publicKeyPem: '' }]).catch(
      (e: unknown) => e,
    )) as grpc.ServiceError;
    expect(badKey.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(badKey.details).toContain('public_keys[0]');
    const cert = await issue();
    const badImage = (await audit(cert, Buffer.from('not an image')).catch((e: unknown) => e)) as grpc.ServiceError;
    expect(badImage.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(badImage.details).toMatch(/image/);
    expect((await verify(cert)).valid).toBe(true);
  });

  it('long identifiers in a certificate (outside or inside the envelope) or too many keys: INVALID_ARGUMENT naming the field, short, nothing replayed (issue 11)', async () => {
    const fail = async (p: Promise<unknown>): Promise<grpc.ServiceError> => (await p.then(() => undefined, (e: unknown) => e)) as grpc.ServiceError;
    const fieldsOf = (err: grpc.ServiceError): string[] => decodeStatus(err)?.badRequest?.fieldViolations.map((v) => v.field) ?? [];
    const cert = await issue();
    const signedLong = await issue({ modelName: 'm'.repeat(10_000), requestId: 'r'.repeat(300) });
    const countsBefore = sampler.stats.countCalls;
    // 64 kB model_name outside the envelope: the audit used to drop the verifier's sampler connection
    const outer = { ...cert, modelName: 'm'.repeat(64 << 10) };
    for (const err of [await fail(audit(outer, png)), await fail(verify(outer))]) {
      expect(grpc.status[err.code]).toBe('INVALID_ARGUMENT');
      expect(fieldsOf(err)).toEqual(['certificate.model_name']);
      expect(err.details.length).toBeLessThan(300);
    }
    // inside the signed payload (the envelope alone)
    const bare = Certificate.fromPartial({ dsseEnvelope: signedLong.dsseEnvelope });
    for (const err of [await fail(audit(bare, png)), await fail(verify(bare))]) {
      expect(grpc.status[err.code]).toBe('INVALID_ARGUMENT');
      expect(fieldsOf(err)).toEqual(['certificate.dsse_envelope.payload.request_id', 'certificate.dsse_envelope.payload.model_name']);
      expect(err.details.length).toBeLessThan(300);
    }
    const keys = Array.from({ length: 1000 }, () => ({ keyId: 'k', algorithm: 'ed25519', publicKeyDer: Buffer.alloc(0), publicKeyPem: 'x' }));
    expect(fieldsOf(await fail(verify(cert, keys)))).toEqual(['public_keys']);
    expect(sampler.stats.countCalls).toBe(countsBefore);
    expect((await verify(cert)).valid).toBe(true);
  });

  describe('issue 11: cheap checks first, exact thresholds, unknown names', () => {
    const fail = async (p: Promise<unknown>): Promise<grpc.ServiceError> => (await p.then(() => undefined, (e: unknown) => e)) as grpc.ServiceError;

    it('an audit checks the signature and the cheap consistency first and replays nothing when they fail', async () => {
      const cert = await issue();
      const env = cert.dsseEnvelope!;
      const zeroSig = { ...cert, dsseEnvelope: { ...env, signatures: env.signatures.map((s) => ({ ...s, sig: Buffer.alloc(64) })) } };
      const resigned = signCertificate(cert, generateSigningKey()); // a key the verifier does not trust
      const tamperedPa = await issue({ paLower: 0.9999 }); // signed, but pa_lower does not follow from (na, n, alpha)
      const before = sampler.stats.countCalls;
      for (const [c, reason] of [
        [zeroSig, /^signature: /m],
        [resigned, /unknown keyid/],
        [tamperedPa, /^pa_lower: /m],
      ] as const) {
        const res = await audit(c, png);
        expect(res.consistent).toBe(false);
        expect(res.reasons.join('\n')).toMatch(reason);
        expect(res.recomputedSelectionClassCounts).toEqual([]);
      }
      expect(sampler.stats.countCalls).toBe(before);
      expect((await audit(cert, png)).consistent).toBe(true);
      expect(sampler.stats.countCalls).toBeGreaterThan(before);
    });

    it('a validly signed certificate whose threshold is below the exact threshold of its threat model is invalid (verify and audit); at it, valid', async () => {
      const exact = 0.5661838326109037; // Phi(0.05 / 0.3)
      const good = await issue();
      expect(good.threshold).toBeCloseTo(exact, 12);
      expect((await verify(good)).valid).toBe(true);
      const low = await issue({ threshold: 0.55, outcome: Outcome.OUTCOME_CERTIFIED });
      const res = await verify(low);
      expect(res.signatureValid).toBe(true);
      expect(res.valid).toBe(false);
      expect(res.reasons.join('\n')).toMatch(/^threshold: 0\.55 is below 0\.566183\d*, the exact threshold of the threat model/m);
      const before = sampler.stats.countCalls;
      const audited = await audit(low, png);
      expect(audited.consistent).toBe(false);
      expect(audited.reasons.join('\n')).toMatch(/^threshold: 0\.55 is below/m);
      expect(sampler.stats.countCalls).toBe(before);
    });

    it('a certificate naming an unknown transform or parameter (constructor, __proto__) or model gives a clean answer, never INTERNAL', async () => {
      for (const threatModel of [
        { ...THREAT, transform: 'constructor' },
        { ...THREAT, transform: '__proto__' },
        { ...THREAT, box: [{ ...THREAT.box[0]!, name: '__proto__' }] },
        { ...THREAT, smoothing: [{ ...THREAT.smoothing[0]!, name: 'constructor' }] },
      ]) {
        const cert = await issue({ threatModel });
        // refused at the edge (a name outside the identifier charset: INVALID_ARGUMENT naming it),
        // or an invalid result whose reason names the threat model's field
        for (const call of [verify(cert), audit(cert, png)]) {
          const res = (await call.catch((e: unknown) => e)) as grpc.ServiceError | { valid?: boolean; consistent?: boolean; reasons: string[] };
          if ('code' in res) {
            expect(grpc.status[res.code]).toBe('INVALID_ARGUMENT');
            expect(res.details).toMatch(/^certificate\.threat_model\.(transform|box|smoothing)/);
          } else {
            expect(res.valid ?? res.consistent).toBe(false);
            expect(res.reasons.join('\n')).toMatch(/^threat_model\.(transform|box|smoothing)/m);
          }
        }
      }
      for (const modelName of ['constructor', '__proto__', 'no-such-model']) {
        const cert = await issue({ modelName });
        const err = await fail(audit(cert, png));
        // NOT_FOUND; a name outside the identifier charset (__proto__) is refused at the edge instead
        expect(grpc.status[err.code]).toBe(modelName === '__proto__' ? 'INVALID_ARGUMENT' : 'NOT_FOUND');
        expect(err.details).toMatch(/^certificate\.model_name/);
        // the model-free check does not need the model
        if (modelName !== '__proto__') expect((await verify(cert)).valid).toBe(true);
      }
      expect((await audit(await issue(), png)).consistent).toBe(true);
    });
  });
});
