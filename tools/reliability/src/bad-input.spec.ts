// Bad input against the public API (Certify, StreamingCertify, VerifyCertificate) and every
// internal RPC (CountSamples, Classify, GetThreshold) of the real services, in-process on
// loopback. Table-driven (bad-input-cases.ts, also rendered as docs/bad-input.md) and
// property-based (fast-check). Each answer must carry the right code and name the field; the
// service must stay up: a good request right after each case succeeds.
import fc from 'fast-check';
import sharp from 'sharp';
import { Distribution, encodeFloat32Tensor, Outcome, type certifyV1, type inferenceV1, type samplingV1, type boundsV1, type verifyV1 } from '@glcert/contracts';
import { decodeImage } from '@glcert/imaging';
import { deadlineIn, identifierViolation } from '@glcert/runtime';
import {
  BAD_INPUT_CASES,
  CORRUPT_PNG,
  goodAudit,
  goodCertify,
  goodClassify,
  goodConfig,
  goodCount,
  goodGetModel,
  goodItem,
  goodThreshold,
  goodVerify,
  item,
  type Expected,
  type Fixtures,
  type Rpc,
  type StreamCase,
  type UnaryCase,
} from './bad-input-cases';
import { answerOfRpcStatus, answerOfStatus, settle, streamAll, unary, type Answer } from './calls';
import { falseCertificate } from './closed-form';
import { brightness, digits, MNIST_CHW, png, tensor, withElement } from './fixtures';
import { startInProcess, type InProcess } from './in-process';
import { MAX_N } from './limits';

const METHOD: Record<Exclude<Rpc, 'StreamingCertify'>, [keyof InProcess['clients'], string]> = {
  Certify: ['certifier', 'certify'],
  VerifyCertificate: ['verifier', 'verifyCertificate'],
  AuditCertificate: ['verifier', 'auditCertificate'],
  CountSamples: ['sampler', 'countSamples'],
  GetModel: ['sampler', 'getModel'],
  Classify: ['inference', 'classify'],
  GetThreshold: ['bounds', 'getThreshold'],
};

function expectAnswer(got: Answer, want: Expected): void {
  expect(got).toMatchObject({
    code: want.code,
    ...(want.field ? { fields: expect.arrayContaining([want.field]), message: expect.stringContaining(want.field) } : {}),
    ...(want.reason ? { reason: want.reason } : {}),
    ...(want.message ? { message: expect.stringMatching(want.message) } : {}),
  });
  if (want.maxMessageChars !== undefined) {
    expect(got.message.length).toBeLessThanOrEqual(want.maxMessageChars);
    // nor in the details: the status metadata stays far under grpc-js' 16 kB header limit
    expect(got.metadataBytes ?? 0).toBeLessThanOrEqual(4 * want.maxMessageChars);
  }
}

describe('bad input', () => {
  let sys: InProcess;
  let f: Fixtures;

  const call = <Res>(rpc: Exclude<Rpc, 'StreamingCertify'>, request: unknown, deadlineMs?: number): Promise<Res> => {
    const [client, method] = METHOD[rpc];
    return unary<Res>(sys.clients[client], method, request, deadlineMs === undefined ? {} : { deadline: deadlineIn(deadlineMs) });
  };

  /** A good request to `rpc`: must succeed whatever came before. */
  async function goodRequestSucceeds(rpc: Rpc): Promise<void> {
    switch (rpc) {
      case 'Certify': {
        const res = await call<certifyV1.CertifyResponse>(rpc, goodCertify(f));
        expect(res.certificate?.outcome).toBe(Outcome.OUTCOME_CERTIFIED);
        return;
      }
      case 'StreamingCertify': {
        const { responses, status } = await streamAll(sys.clients.certifier, [goodConfig(), goodItem(f)]);
        expect(status.code).toBe(0);
        expect(responses.map((r) => [r.id, r.status?.code ?? 0])).toEqual([['good', 0]]);
        return;
      }
      case 'VerifyCertificate':
        expect(await call<verifyV1.VerifyCertificateResponse>(rpc, goodVerify(f))).toMatchObject({ valid: true, reasons: [] });
        return;
      case 'AuditCertificate':
        expect(await call<verifyV1.AuditCertificateResponse>(rpc, goodAudit(f))).toMatchObject({ consistent: true, reasons: [] });
        return;
      case 'GetModel':
        expect((await call<samplingV1.GetModelResponse>(rpc, goodGetModel())).metadata?.name).toBe('mnist-cnn');
        return;
      case 'CountSamples':
        expect((await call<samplingV1.CountSamplesResponse>(rpc, goodCount(f))).samplesCount).toBe(50n);
        return;
      case 'Classify':
        expect((await call<inferenceV1.ClassifyResponse>(rpc, goodClassify(f))).labels).toHaveLength(1);
        return;
      case 'GetThreshold':
        expect((await call<boundsV1.GetThresholdResponse>(rpc, goodThreshold())).bound?.threshold).toBeGreaterThan(0.5);
        return;
    }
  }

  beforeAll(async () => {
    sys = await startInProcess();
    const digit = png(digits().find((d) => d.label === 7)!.file);
    const decoded = await decodeImage(digit, { channels: 1, height: 28, width: 28 });
    const hugePng = await sharp({ create: { width: 5000, height: 5000, channels: 3, background: { r: 0, g: 0, b: 0 } } })
      .png({ compressionLevel: 9 })
      .toBuffer();
    const partial = { png: digit, chw: encodeFloat32Tensor(decoded.tensor, MNIST_CHW), hugePng };
    const res = await unary<certifyV1.CertifyResponse>(sys.clients.certifier, 'certify', goodCertify(partial));
    f = { ...partial, certificate: res.certificate! };
  });

  afterAll(async () => {
    await sys?.close();
  });

  it('the table has unique ids and covers every RPC', () => {
    const ids = BAD_INPUT_CASES.map((c) => c.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(new Set(BAD_INPUT_CASES.map((c) => c.rpc))).toEqual(
      new Set(['Certify', 'StreamingCertify', 'VerifyCertificate', 'AuditCertificate', 'CountSamples', 'GetModel', 'Classify', 'GetThreshold']),
    );
  });

  const unaryCases = BAD_INPUT_CASES.filter((c): c is UnaryCase => c.kind === 'unary');
  const streamCases = BAD_INPUT_CASES.filter((c): c is StreamCase => c.kind === 'stream');

  it.each(unaryCases.map((c) => [c.id, c] as const))('%s', async (_id, c) => {
    const { answer, response } = await settle(call<unknown>(c.rpc as Exclude<Rpc, 'StreamingCertify'>, c.request(f), c.deadlineMs));
    expectAnswer(answer, c.expect);
    // whatever the input, a certificate never claims more than the threshold floor allows
    if (c.rpc === 'Certify') expect(falseCertificate((response as certifyV1.CertifyResponse | undefined)?.certificate)).toBeUndefined();
    if (c.invalidBecause) {
      const r = response as verifyV1.VerifyCertificateResponse & verifyV1.AuditCertificateResponse;
      expect(c.rpc === 'AuditCertificate' ? r.consistent : r.valid).toBe(false);
      expect(r.reasons).toEqual(expect.arrayContaining([expect.stringMatching(c.invalidBecause)]));
    }
    await goodRequestSucceeds(c.rpc);
  });

  it.each(streamCases.map((c) => [c.id, c] as const))('%s', async (_id, c) => {
    const { responses, status } = await streamAll(sys.clients.certifier, c.messages(f));
    expectAnswer(answerOfStatus(status), c.end);
    if (c.item) {
      // exactly one answer per item: the bad message in-band, every other item OK
      const badId = c.badId ?? 'bad';
      const bad = responses.filter((r) => r.id === badId);
      expect(bad).toHaveLength(1);
      expectAnswer(answerOfRpcStatus(bad[0]!.status), c.item);
      const sent = (id: string): boolean => id !== badId && id !== c.sentId;
      const otherIds = c.messages(f).flatMap((m) => (m.request?.$case === 'item' && sent(m.request.item.id) ? [m.request.item.id] : []));
      const others = responses.filter((r) => r.id !== badId).map((r) => [r.id, answerOfRpcStatus(r.status).code]);
      expect(others.sort()).toEqual(otherIds.map((id) => [id, 'OK']).sort());
    } else {
      expect(responses).toEqual([]);
    }
    await goodRequestSucceeds('StreamingCertify');
  });

  // ---- properties ------------------------------------------------------------------------

  const RUNS = { numRuns: 12 };
  const nonPositiveOrNonFinite = fc.oneof(fc.double({ max: 0, noNaN: true }), fc.constantFrom(NaN, Infinity, -Infinity));
  const outsideUnit = fc.oneof(fc.double({ max: 0, noNaN: true }), fc.double({ min: 1, noNaN: true }), fc.constant(NaN));
  const badCount = fc.oneof(fc.bigInt({ min: -(2n ** 63n), max: 0n }), fc.bigInt({ min: BigInt(MAX_N) + 1n, max: 2n ** 63n - 1n }));

  async function answerOf(rpc: Exclude<Rpc, 'StreamingCertify'>, request: unknown): Promise<Answer> {
    return (await settle(call(rpc, request))).answer;
  }

  it('property: sigma <= 0 or not finite is INVALID_ARGUMENT naming the sigma, on Certify, CountSamples and GetThreshold', async () => {
    await fc.assert(
      fc.asyncProperty(nonPositiveOrNonFinite, async (s) => {
        const tm = brightness({ sigma: s });
        expectAnswer(await answerOf('Certify', goodCertify(f, { threatModel: tm })), { code: 'INVALID_ARGUMENT', field: 'threat_model.smoothing[0].sigma' });
        expectAnswer(await answerOf('CountSamples', goodCount(f, { threatModel: tm })), { code: 'INVALID_ARGUMENT', field: 'threat_model.smoothing[0].sigma' });
        expectAnswer(await answerOf('GetThreshold', goodThreshold({ threatModel: tm })), { code: 'INVALID_ARGUMENT', field: 'threat_model.smoothing[0].sigma' });
      }),
      RUNS,
    );
  });

  it('property: alpha outside (0, 1), n0 or n outside [1, CERTIFIER_MAX_N] are INVALID_ARGUMENT naming each bad field', async () => {
    await fc.assert(
      fc.asyncProperty(fc.option(outsideUnit), fc.option(badCount), fc.option(badCount), async (alpha, n0, n) => {
        fc.pre(alpha !== null || n0 !== null || n !== null);
        const req = goodCertify(f, { ...(alpha !== null ? { alpha } : {}), ...(n0 !== null ? { n0 } : {}), ...(n !== null ? { n } : {}) });
        const got = await answerOf('Certify', req);
        const want = [alpha !== null && 'alpha', n0 !== null && 'n0', n !== null && 'n'].filter((x): x is string => x !== false);
        expect(got.code).toBe('INVALID_ARGUMENT');
        expect([...got.fields].sort()).toEqual(want.sort());
      }),
      RUNS,
    );
  });

  it('property: an inverted or non-finite box is INVALID_ARGUMENT naming threat_model.box[0] (Certify, GetThreshold)', async () => {
    const inverted = fc
      .tuple(fc.double({ min: -0.9, max: 0.9, noNaN: true }), fc.double({ min: -0.9, max: 0.9, noNaN: true }))
      .filter(([a, b]) => a > b);
    const nonFinite = fc.tuple(fc.constantFrom(NaN, Infinity, -Infinity), fc.double({ min: -0.9, max: 0.9, noNaN: true }));
    await fc.assert(
      fc.asyncProperty(fc.oneof(inverted, nonFinite), fc.boolean(), async ([a, b], swap) => {
        const tm = brightness(swap && !Number.isFinite(a) ? { min: b, max: a } : { min: a, max: b });
        expectAnswer(await answerOf('Certify', goodCertify(f, { threatModel: tm })), { code: 'INVALID_ARGUMENT', field: 'threat_model.box[0]' });
        expectAnswer(await answerOf('GetThreshold', goodThreshold({ threatModel: tm })), { code: 'INVALID_ARGUMENT', field: 'threat_model.box[0]' });
      }),
      RUNS,
    );
  });

  it('property: arbitrary bytes, junk after a PNG signature, or a PNG cut anywhere never give anything but OK or INVALID_ARGUMENT naming image', async () => {
    const junk = fc.uint8Array({ minLength: 0, maxLength: 4096 }).map((b) => Buffer.from(b));
    const afterSignature = junk.map((b) => Buffer.concat([CORRUPT_PNG.subarray(0, 8), b]));
    const cut = fc.nat({ max: f.png.length - 1 }).map((n) => f.png.subarray(0, n));
    await fc.assert(
      fc.asyncProperty(fc.oneof(junk, afterSignature, cut), async (image) => {
        const got = await answerOf('Certify', goodCertify(f, { input: { $case: 'image', image } }));
        if (got.code !== 'OK') expectAnswer(got, { code: 'INVALID_ARGUMENT', field: 'image' });
      }),
      RUNS,
    );
  });

  it('property: tensors of any other shape are INVALID_ARGUMENT naming the shape (Certify, CountSamples, Classify)', async () => {
    const shape = fc.array(fc.integer({ min: 0, max: 40 }), { minLength: 0, maxLength: 5 }).filter((s) => s.join() !== MNIST_CHW.join() && s.reduce((a, b) => a * b, 1) <= 20_000);
    await fc.assert(
      fc.asyncProperty(shape, async (s) => {
        const t = tensor(s);
        expectAnswer(await answerOf('Certify', goodCertify(f, { input: { $case: 'tensor', tensor: t } })), { code: 'INVALID_ARGUMENT', field: 'tensor.shape' });
        expectAnswer(await answerOf('CountSamples', goodCount(f, { image: t })), { code: 'INVALID_ARGUMENT', field: 'image.shape' });
        const batch = tensor([1, ...s]);
        if (batch.shape.join() !== [1, ...MNIST_CHW].join()) {
          expectAnswer(await answerOf('Classify', goodClassify(f, { inputs: batch })), { code: 'INVALID_ARGUMENT', field: 'inputs.shape' });
        }
      }),
      RUNS,
    );
  });

  it('property: a NaN or infinity anywhere in an image is INVALID_ARGUMENT naming raw_contents (Certify, CountSamples, Classify)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.nat({ max: 783 }), fc.constantFrom(NaN, Infinity, -Infinity), async (at, value) => {
        const bad = withElement(f.chw, at, value);
        expectAnswer(await answerOf('Certify', goodCertify(f, { input: { $case: 'tensor', tensor: bad } })), { code: 'INVALID_ARGUMENT', field: 'tensor.raw_contents' });
        expectAnswer(await answerOf('CountSamples', goodCount(f, { image: bad })), { code: 'INVALID_ARGUMENT', field: 'image.raw_contents' });
        const batch = { ...bad, shape: [1n, ...bad.shape] };
        expectAnswer(await answerOf('Classify', goodClassify(f, { inputs: batch })), { code: 'INVALID_ARGUMENT', field: 'inputs.raw_contents' });
      }),
      RUNS,
    );
  });

  it('property: unknown transform, parameter or model names are refused naming them', async () => {
    const name = fc.string({ minLength: 1, maxLength: 12 }).filter((s) => s.trim() !== '' && !['b', 'c', 'cb', 'g', 'gc', 't', 'bt', 'ct', 'cbt', 'r', 'k', 'tx', 'ty', 'mnist-cnn', 'cifar-resnet20-shape'].includes(s));
    await fc.assert(
      fc.asyncProperty(name, async (s) => {
        const unknownTransform = { ...brightness(), transform: s };
        expectAnswer(await answerOf('Certify', goodCertify(f, { threatModel: unknownTransform })), { code: 'INVALID_ARGUMENT', field: 'threat_model.transform' });
        expectAnswer(await answerOf('CountSamples', goodCount(f, { threatModel: unknownTransform })), { code: 'INVALID_ARGUMENT', field: 'threat_model.transform' });
        expectAnswer(await answerOf('GetThreshold', goodThreshold({ threatModel: unknownTransform })), { code: 'INVALID_ARGUMENT', field: 'threat_model.transform' });
        const unknownParam = { ...brightness(), smoothing: [{ name: s, distribution: Distribution.DISTRIBUTION_NORMAL, sigma: 0.3 }] };
        expectAnswer(await answerOf('CountSamples', goodCount(f, { threatModel: unknownParam })), { code: 'INVALID_ARGUMENT', field: 'threat_model.smoothing[0].name' });
        expectAnswer(await answerOf('Certify', goodCertify(f, { threatModel: unknownParam })), { code: 'INVALID_ARGUMENT', field: 'threat_model.smoothing[0].name' });
        for (const rpc of ['Certify', 'CountSamples', 'Classify'] as const) {
          const req = rpc === 'Certify' ? goodCertify(f, { model: s }) : rpc === 'CountSamples' ? goodCount(f, { model: s }) : goodClassify(f, { model: s });
          // a name outside the name charset (runtime limits.ts) cannot be a model: refused at the edge
          const isName = identifierViolation(s, 'model', 'name') === undefined;
          expectAnswer(await answerOf(rpc, req), isName ? { code: 'NOT_FOUND', reason: 'MODEL_NOT_FOUND' } : { code: 'INVALID_ARGUMENT', field: 'model' });
        }
      }),
      { numRuns: 8 },
    );
  });

  it('property: in a stream of good and bad items every id gets exactly one answer, bad ones in-band INVALID_ARGUMENT', async () => {
    const kind = fc.constantFrom('good', 'corrupt', 'empty', 'nan', 'shape');
    await fc.assert(
      fc.asyncProperty(fc.array(kind, { minLength: 1, maxLength: 6 }), async (kinds) => {
        const messages = [goodConfig()];
        kinds.forEach((k, i) => {
          const id = `${k}-${i}`;
          if (k === 'good') messages.push(goodItem(f, id));
          else if (k === 'corrupt') messages.push(item(id, { $case: 'image', image: CORRUPT_PNG }));
          else if (k === 'empty') messages.push(item(id, { $case: 'image', image: Buffer.alloc(0) }));
          else if (k === 'nan') messages.push(item(id, { $case: 'tensor', tensor: withElement(f.chw, i, NaN) }));
          else messages.push(item(id, { $case: 'tensor', tensor: tensor([1, 28, 27]) }));
        });
        const { responses, status } = await streamAll(sys.clients.certifier, messages);
        expect(status.code).toBe(0);
        expect(responses.map((r) => r.id).sort()).toEqual(kinds.map((k, i) => `${k}-${i}`).sort());
        for (const r of responses) {
          const a = answerOfRpcStatus(r.status);
          if (r.id.startsWith('good')) expect(a.code).toBe('OK');
          else {
            expect(a.code).toBe('INVALID_ARGUMENT');
            expect(a.fields[0]).toMatch(/^item\.(image|tensor\.raw_contents|tensor\.shape)$/);
          }
        }
      }),
      { numRuns: 5 },
    );
  });

  it('every service still answers good requests, and no bad input was logged as an internal error', async () => {
    for (const rpc of ['Certify', 'StreamingCertify', 'VerifyCertificate', 'AuditCertificate', 'CountSamples', 'GetModel', 'Classify', 'GetThreshold'] as const) {
      await goodRequestSucceeds(rpc);
    }
    expect(sys.errors.filter((l) => /internal error/.test(l))).toEqual([]);
  });
});

