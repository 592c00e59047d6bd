// A SEQUENTIAL certificate (ALGORITHM.md section 9) through the verifier, with the real model: the
// test issues it itself (adaptive selection and the looks of the schedule over counts from the
// sampler, the threshold from the bounds service, signed with a test key), so VerifyCertificate
// and AuditCertificate are checked independently of the certifier.
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
  VerificationServiceClient,
  type BoundSettings,
  type ThreatModel,
  type verifyV1,
} from '@glcert/contracts';
import { CERTIFICATE_VERSION, generateSigningKey, signCertificate } from '@glcert/certificate';
import { inputSha256, prepareInput } from '@glcert/imaging';
import { createClient, createLogger, readConfig } from '@glcert/runtime';
import { clopperPearsonLower, decideAtLook, GENERATOR_NAME, nextSelectionBlock, selectionDone, sequentialSchedule } from '@glcert/stats';
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

// b +-0.4 at sigma 0.3: h* = 0.9088, looks 84, 168, 336, 672, 1000 at alpha 0.001 and n_max 1000
const THREAT: ThreatModel = {
  transform: 'b',
  box: [{ name: 'b', min: -0.4, max: 0.4 }],
  smoothing: [{ name: 'b', distribution: Distribution.DISTRIBUTION_NORMAL, sigma: 0.3 }],
  note: 'no clipping; values may leave [0,1]',
};
const SETTINGS: BoundSettings = { ns: 2000n, gridPoints: [5], seed: 0n, method: BoundMethod.BOUND_METHOD_AUTO };

function unary<Res>(fn: (cb: (err: grpc.ServiceError | null, res?: Res) => void) => unknown): Promise<Res> {
  return new Promise((resolve, reject) => fn((err, res) => (err ? reject(err) : resolve(res!))));
}

describe('VerificationService and SEQUENTIAL certificates', () => {
  let dir: string;
  let inference: RunningInferenceService;
  let sampler: SamplerService;
  let bounds: BoundsServiceHandle;
  let verifier: VerifierServiceHandle;
  let samplerClient: SamplingServiceClient;
  let boundClient: BoundServiceClient;
  let client: VerificationServiceClient;
  const key = generateSigningKey();
  const file = readFileSync(path.join(MNIST, 'labels.csv'), 'utf8').trim().split('\n')[1]!.split(',')[0]!;
  const png = readFileSync(path.join(MNIST, file));

  interface Issued {
    cert: Certificate;
    /** Estimation counts of the predicted class at every look of the schedule. */
    naAt: number[];
    schedule: ReturnType<typeof sequentialSchedule>;
  }

  /** Issues a certificate the way the certifier does under SEQUENTIAL sampling; `atLook` forces the look (a forgery). */
  async function issue(atLook?: number): Promise<Issued> {
    const meta = (await unary<{ metadata?: any }>((cb) => samplerClient.getModel({ model: 'mnist-cnn' }, cb))).metadata;
    const prepared = await prepareInput({ $case: 'image', image: png }, meta);
    const { sha256, tensor } = inputSha256(prepared);
    const count = async (stream: number, start: number, end: number) =>
      (
        await unary<{ classCounts: bigint[] }>((cb) =>
          samplerClient.countSamples(
            { model: 'mnist-cnn', image: tensor, threatModel: THREAT, seed: 9n, stream, startIndex: BigInt(start), endIndex: BigInt(end), batchSize: 0, expectedModelSha256: '', moreRanges: [] },
            cb,
          ),
        )
      ).classCounts.map(Number);
    const selection: number[] = [];
    let n0 = 0;
    while (!selectionDone(selection, n0, 200)) {
      const b = nextSelectionBlock(n0, 200);
      (await count(0, n0, n0 + b)).forEach((c, i) => (selection[i] = (selection[i] ?? 0) + c));
      n0 += b;
    }
    const predicted = selection.reduce((best, c, i) => (c > selection[best]! ? i : best), 0);
    const bound = (await unary<{ bound?: any }>((cb) => boundClient.getThreshold({ threatModel: THREAT, boundSettings: SETTINGS, onlyCached: false }, cb))).bound;
    const hEff = Math.max(bound.threshold, 0.5);
    const schedule = sequentialSchedule(hEff, 0.001, 1000);
    const naAt: number[] = [];
    for (const l of schedule) naAt.push((await count(1, 0, l.n))[predicted] ?? 0);
    let k = 0;
    if (atLook === undefined) while (!decideAtLook(schedule, k, naAt[k]!, hEff).stop) k++;
    else k = atLook - 1;
    const d = decideAtLook(schedule, k, naAt[k]!, hEff);
    const look = schedule[k]!;
    const cert = Certificate.fromPartial({
      certificateVersion: CERTIFICATE_VERSION,
      requestId: 'seq-audit',
      modelName: meta.name,
      modelVersion: meta.version,
      modelSha256: meta.sha256,
      inputSha256: sha256,
      inputShape: prepared.shape.map(BigInt),
      preprocessing: prepared.preprocessing,
      threatModel: THREAT,
      boundSettings: SETTINGS,
      n0: BigInt(n0),
      n: BigInt(look.n),
      na: BigInt(naAt[k]!),
      predictedClass: predicted,
      selectionClassCounts: selection.map(BigInt),
      alpha: 0.001,
      paLower: clopperPearsonLower(naAt[k]!, look.n, look.level),
      threshold: bound.threshold,
      thresholdMethod: bound.method,
      boundCacheKey: bound.cacheKey,
      solverVersion: bound.solverVersion,
      outcome: d.stop && d.reason === 'certified' ? Outcome.OUTCOME_CERTIFIED : Outcome.OUTCOME_ABSTAINED,
      seed: 9n,
      generator: GENERATOR_NAME,
      issueTime: new Date(),
      sequential: {
        rule: 'glcert-sequential/1',
        look: k + 1,
        looks: schedule.length,
        level: look.level,
        beta: 0.001,
        n0Max: 200n,
        nMax: 1000n,
        stopReason: d.stop ? d.reason : 'last-look',
      },
    });
    return { cert: signCertificate(cert, key), naAt, schedule };
  }

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'glcert-verifier-seq-'));
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

  const verify = (certificate: Certificate) => unary<verifyV1.VerifyCertificateResponse>((cb) => client.verifyCertificate({ certificate, publicKeys: [] }, cb));
  const audit = (certificate: Certificate) =>
    unary<verifyV1.AuditCertificateResponse>((cb) => client.auditCertificate({ certificate, input: { $case: 'image', image: png } }, cb));

  it('verifies (threshold recomputed by the bounds service) and audits consistent: the replay covers exactly the samples used', async () => {
    const { cert } = await issue();
    expect(cert.sequential!.look).toBe(1); // a clean digit: certified at the first look, 84 samples
    expect(cert.outcome).toBe(Outcome.OUTCOME_CERTIFIED);
    const v = await verify(cert);
    expect(v.reasons).toEqual([]);
    expect(v.valid).toBe(true);
    const a = await audit(cert);
    expect(a.reasons).toEqual([]);
    expect(a.consistent).toBe(true);
    expect(a.recomputedNa).toBe(cert.na);
    expect(a.recomputedSelectionClassCounts).toEqual(cert.selectionClassCounts);
  });

  it('changing its look, its level or its n makes it invalid with a reason (VerifyCertificate)', async () => {
    const { cert } = await issue();
    const payload = Certificate.fromJSON(JSON.parse(cert.dsseEnvelope!.payload.toString('utf8')));
    const resign = (over: Partial<Certificate>) => signCertificate(Certificate.fromPartial({ ...payload, ...over, dsseEnvelope: undefined }), key);
    const seq = payload.sequential!;
    const cases: Array<[string, Partial<Certificate>, RegExp]> = [
      ['look', { sequential: { ...seq, look: 2 } }, /^n: certificate says 84, look 2 of the schedule is n = 168/m],
      ['level', { sequential: { ...seq, level: 0.001 }, paLower: clopperPearsonLower(Number(payload.na), 84, 0.001) }, /^sequential\.level: certificate says 0\.001/m],
      ['n', { n: 90n }, /^n: certificate says 90, look 1 of the schedule is n = 84/m],
    ];
    for (const [, over, reason] of cases) {
      const v = await verify(resign(over));
      expect(v.valid).toBe(false);
      expect(v.reasons.join('\n')).toMatch(reason);
    }
  });

  it('an audit finds a certificate that claims a later look than the rule stops at (replayed per look)', async () => {
    const honest = await issue();
    const late = await issue(2); // the counts at look 2, where the rule had already certified at look 1
    expect(late.cert.sequential!.look).toBe(2);
    // the cheap, model-free check cannot see it: look 2 with its own counts is self-consistent
    expect((await verify(late.cert)).valid).toBe(true);
    const a = await audit(late.cert);
    expect(a.consistent).toBe(false);
    expect(a.reasons.join('\n')).toMatch(/^sequential\.look: replayed, the rule stops at look 1 \(certified, na = \d+ of 84\), the certificate says look 2/m);
    expect((await audit(honest.cert)).consistent).toBe(true);
  });
});
