// THE table of bad inputs: every case, the RPC it is sent to, and the answer it must get.
// bad-input.spec.ts sends each case to the real services (and then a good request, which
// must succeed); bad-input-table.ts renders the same table as docs/bad-input.md.
// Requests are built lazily from fixtures, so rendering the table starts nothing.
import {
  BoundMethod,
  DataType,
  Distribution,
  type BoundSettings,
  Certificate,
  type certifyV1,
  type inferenceV1,
  type samplingV1,
  type boundsV1,
  type verifyV1,
  type Tensor,
  type ThreatModel,
} from '@glcert/contracts';
import { certificateContent } from '@glcert/certificate';
import { animatedPng, brightness, CLOSED_FORM, MNIST_MODEL, png, tensor, truncatedTensor, withElement } from './fixtures';
import { LIMITS, MAX_N, MAX_RANGE } from './limits';

export type Rpc = 'Certify' | 'StreamingCertify' | 'VerifyCertificate' | 'AuditCertificate' | 'CountSamples' | 'GetModel' | 'Classify' | 'GetThreshold';

export const SERVICE_OF: Record<Rpc, string> = {
  Certify: 'CertificationService',
  StreamingCertify: 'CertificationService',
  VerifyCertificate: 'VerificationService',
  AuditCertificate: 'VerificationService',
  CountSamples: 'SamplingService',
  GetModel: 'SamplingService',
  Classify: 'InferenceService',
  GetThreshold: 'BoundService',
};

export type CodeName = 'OK' | 'INVALID_ARGUMENT' | 'NOT_FOUND' | 'RESOURCE_EXHAUSTED' | 'FAILED_PRECONDITION';

export interface Expected {
  code: CodeName;
  /** A BadRequest field violation with exactly this field, also named in the status message. */
  field?: string;
  /** ErrorInfo.reason. */
  reason?: string;
  /** What the status message must match (when no field names the problem). */
  message?: RegExp;
  /** The status message is at most this many characters (caller input is never echoed at length). */
  maxMessageChars?: number;
}

/** Inputs the requests are built from (made once by the test). */
export interface Fixtures {
  /** A valid MNIST digit, PNG. */
  png: Buffer;
  /** The same digit as the model's float32 CHW tensor [1, 28, 28]. */
  chw: Tensor;
  /** A valid PNG of 5000 x 5000 pixels (small file, too many pixels). */
  hugePng: Buffer;
  /** A valid certificate signed by the certifier under test. */
  certificate: Certificate;
}

/** The hostile families of issue 11 (docs/bad-input.md lists each family's rows). */
export type Family = 'numbers' | 'strings' | 'cost' | 'other';

interface BaseCase {
  /** Stable id (kebab-case). */
  id: string;
  rpc: Rpc;
  /** What is wrong with the input, for the table. */
  input: string;
  /** Which hostile family the case belongs to, if any. */
  family?: Family;
}

export interface UnaryCase extends BaseCase {
  kind: 'unary';
  request(f: Fixtures): unknown;
  expect: Expected;
  /**
   * VerifyCertificate / AuditCertificate: a bad certificate is a result (valid = false,
   * consistent = false), not an error; a reason matches this.
   */
  invalidBecause?: RegExp;
  /** The call's deadline (default 120 s): a costly request must be refused up front, not time out. */
  deadlineMs?: number;
}

export interface StreamCase extends BaseCase {
  kind: 'stream';
  /** The messages sent: usually a good config, the bad item (id `bad`) and a good item (id `good`). */
  messages(f: Fixtures): certifyV1.StreamingCertifyRequest[];
  /** The in-band answer of the bad message; absent when the stream itself fails. */
  item?: Expected;
  /** The id the bad message is answered under; default `bad`. */
  badId?: string;
  /** The id the bad message was sent with, when it is answered under another one (`badId`). */
  sentId?: string;
  /** The status the stream ends with. */
  end: Expected;
}

export type BadInputCase = UnaryCase | StreamCase;

// ---- good requests, which the cases start from -----------------------------------------

const N0 = 20n;
const N = 100n;

export function goodCertify(f: Pick<Fixtures, 'png'>, over: Partial<certifyV1.CertifyRequest> = {}): certifyV1.CertifyRequest {
  return {
    requestId: '',
    model: MNIST_MODEL,
    input: { $case: 'image', image: f.png },
    threatModel: brightness(),
    boundSettings: CLOSED_FORM,
    n0: N0,
    n: N,
    alpha: 0.01,
    seed: 7n,
    ...over,
  };
}

export function goodConfig(over: Partial<certifyV1.StreamingCertifyConfig> = {}): certifyV1.StreamingCertifyRequest {
  return {
    request: {
      $case: 'config',
      config: { model: MNIST_MODEL, threatModel: brightness(), boundSettings: CLOSED_FORM, n0: N0, n: N, alpha: 0.01, baseSeed: 11n, ...over },
    },
  };
}

export function item(id: string, input: certifyV1.CertifyItem['input'], over: Partial<certifyV1.CertifyItem> = {}): certifyV1.StreamingCertifyRequest {
  return { request: { $case: 'item', item: { id, input, ...over } } };
}

export const goodItem = (f: Pick<Fixtures, 'png'>, id = 'good'): certifyV1.StreamingCertifyRequest => item(id, { $case: 'image', image: f.png });

export function goodCount(f: Pick<Fixtures, 'chw'>, over: Partial<samplingV1.CountSamplesRequest> = {}): samplingV1.CountSamplesRequest {
  return { model: MNIST_MODEL, image: f.chw, threatModel: brightness(), seed: 3n, stream: 1, startIndex: 0n, endIndex: 50n, batchSize: 0, expectedModelSha256: '', moreRanges: [], ...over };
}

export function goodClassify(f: Pick<Fixtures, 'chw'>, over: Partial<inferenceV1.ClassifyRequest> = {}): inferenceV1.ClassifyRequest {
  const inputs = { ...f.chw, shape: [1n, ...f.chw.shape] };
  return { model: MNIST_MODEL, inputs, returnLogits: false, ...over };
}

export function goodThreshold(over: Partial<boundsV1.GetThresholdRequest> = {}): boundsV1.GetThresholdRequest {
  return { threatModel: brightness(), boundSettings: CLOSED_FORM, onlyCached: false, ...over };
}

export function goodVerify(f: Pick<Fixtures, 'certificate'>, over: Partial<verifyV1.VerifyCertificateRequest> = {}): verifyV1.VerifyCertificateRequest {
  return { certificate: f.certificate, publicKeys: [], ...over };
}

/** Audit of the fixture certificate with the image it was issued for (replays n0 + n = 120 samples). */
export function goodAudit(f: Pick<Fixtures, 'certificate' | 'png'>, over: Partial<verifyV1.AuditCertificateRequest> = {}): verifyV1.AuditCertificateRequest {
  return { certificate: f.certificate, input: { $case: 'image', image: f.png }, ...over };
}

export function goodGetModel(over: Partial<samplingV1.GetModelRequest> = {}): samplingV1.GetModelRequest {
  return { model: MNIST_MODEL, ...over };
}

// ---- building blocks ----------------------------------------------------------------------

/** A PNG signature followed by junk. */
export const CORRUPT_PNG = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.from('not really a png at all, just bytes')]);
const truncated = (b: Buffer): Buffer => b.subarray(0, Math.floor(b.length / 2));
/** `bytes` of filler: a field that makes the message `bytes` long, or longer. */
const filler = (bytes: number): Buffer => Buffer.alloc(bytes, 0x41);

const tm = (over: Partial<ThreatModel>): ThreatModel => ({ ...brightness(), ...over });
const sigma = (s: number): ThreatModel => brightness({ sigma: s });
const boxOf = (min: number, max: number): ThreatModel => brightness({ min, max });
const smoothingName = (name: string): ThreatModel => tm({ smoothing: [{ name, distribution: Distribution.DISTRIBUTION_NORMAL, sigma: 0.3 }] });
const boxName = (name: string): ThreatModel => tm({ box: [{ name, min: -0.05, max: 0.05 }] });
const wrongLaw: ThreatModel = tm({ smoothing: [{ name: 'b', distribution: Distribution.DISTRIBUTION_RAYLEIGH, sigma: 0.3 }] });
const settings = (over: Partial<BoundSettings>): BoundSettings => ({ ...CLOSED_FORM, ...over });

const chw = (shape: number[], value = 0.5): Tensor => tensor(shape, value);
const nchw = (shape: number[], value = 0.5): Tensor => tensor(shape, value);

const INVALID = (field: string): Expected => ({ code: 'INVALID_ARGUMENT', field });
const TOO_BIG: Expected = { code: 'RESOURCE_EXHAUSTED', message: /larger than max/i };
const MODEL_NOT_FOUND: Expected = { code: 'NOT_FOUND', reason: 'MODEL_NOT_FOUND', message: /no-such-model/ };
const MNIST_CHW_SHAPE = [1, 28, 28] as const;

function unaryCase(rpc: Rpc, id: string, input: string, request: (f: Fixtures) => unknown, expect: Expected, invalidBecause?: RegExp, deadlineMs?: number): UnaryCase {
  return { kind: 'unary', rpc, id: `${rpc.toLowerCase()}-${id}`, input, request, expect, invalidBecause, ...(deadlineMs !== undefined ? { deadlineMs } : {}) };
}

// ---- Certify ----------------------------------------------------------------------------

const certify = (id: string, input: string, over: (f: Fixtures) => Partial<certifyV1.CertifyRequest>, expect: Expected): UnaryCase =>
  unaryCase('Certify', id, input, (f) => goodCertify(f, over(f)), expect);

const certifyCases: BadInputCase[] = [
  certify('corrupt-png', 'image: PNG signature, then junk', () => ({ input: { $case: 'image', image: CORRUPT_PNG } }), INVALID('image')),
  certify('truncated-png', 'image: a valid PNG cut in half', (f) => ({ input: { $case: 'image', image: truncated(f.png) } }), INVALID('image')),
  certify('zero-size-image', 'image: 0 bytes', () => ({ input: { $case: 'image', image: Buffer.alloc(0) } }), INVALID('image')),
  certify('not-an-image', 'image: a text file', () => ({ input: { $case: 'image', image: Buffer.from('hello, this is text') } }), INVALID('image')),
  certify('oversized-image', 'image: valid PNG, 5000 x 5000 pixels (over the 4096^2 decode limit)', (f) => ({ input: { $case: 'image', image: f.hugePng } }), INVALID('image')),
  certify('no-input', 'neither image nor tensor', () => ({ input: undefined }), INVALID('input')),
  certify('tensor-3-channels', 'tensor [3, 28, 28] for a 1-channel model', () => ({ input: { $case: 'tensor', tensor: chw([3, 28, 28]) } }), INVALID('tensor.shape')),
  certify('tensor-wrong-size', 'tensor [1, 32, 32]', () => ({ input: { $case: 'tensor', tensor: chw([1, 32, 32]) } }), INVALID('tensor.shape')),
  certify('tensor-rank-2', 'tensor [28, 28] (no channel axis)', () => ({ input: { $case: 'tensor', tensor: chw([28, 28]) } }), INVALID('tensor.shape')),
  certify('tensor-short-bytes', 'tensor: raw_contents shorter than the shape', (f) => ({ input: { $case: 'tensor', tensor: truncatedTensor(f.chw, 100) } }), INVALID('tensor.raw_contents')),
  certify('tensor-nan', 'tensor: one NaN', (f) => ({ input: { $case: 'tensor', tensor: withElement(f.chw, 10, NaN) } }), INVALID('tensor.raw_contents')),
  certify('tensor-inf', 'tensor: one +Inf', (f) => ({ input: { $case: 'tensor', tensor: withElement(f.chw, 10, Infinity) } }), INVALID('tensor.raw_contents')),
  certify('tensor-dtype', 'tensor: data_type UNSPECIFIED', (f) => ({ input: { $case: 'tensor', tensor: { ...f.chw, dataType: DataType.DATA_TYPE_UNSPECIFIED } } }), INVALID('tensor.data_type')),
  certify('no-threat-model', 'threat_model absent', () => ({ threatModel: undefined }), INVALID('threat_model')),
  certify('unknown-transform', "transform 'zoom'", () => ({ threatModel: tm({ transform: 'zoom' }) }), INVALID('threat_model.transform')),
  certify('empty-box', 'box: no range', () => ({ threatModel: tm({ box: [] }) }), INVALID('threat_model.box')),
  certify('inverted-box', 'box: min 0.05 > max -0.05', () => ({ threatModel: boxOf(0.05, -0.05) }), INVALID('threat_model.box[0]')),
  certify('box-nan', 'box: min NaN', () => ({ threatModel: boxOf(NaN, 0.05) }), INVALID('threat_model.box[0]')),
  certify('box-inf', 'box: max +Inf', () => ({ threatModel: boxOf(-0.05, Infinity) }), INVALID('threat_model.box[0]')),
  certify('unknown-box-parameter', "box: parameter 'q'", () => ({ threatModel: boxName('q') }), INVALID('threat_model.box[0].name')),
  certify('unknown-smoothing-parameter', "smoothing: parameter 'q'", () => ({ threatModel: smoothingName('q') }), INVALID('threat_model.smoothing[0].name')),
  certify('no-smoothing', 'smoothing: no entry', () => ({ threatModel: tm({ smoothing: [] }) }), INVALID('threat_model.smoothing')),
  certify('wrong-law', 'smoothing: RAYLEIGH for brightness', () => ({ threatModel: wrongLaw }), INVALID('threat_model.smoothing[0].distribution')),
  certify('sigma-zero', 'sigma 0', () => ({ threatModel: sigma(0) }), INVALID('threat_model.smoothing[0].sigma')),
  certify('sigma-negative', 'sigma -0.3', () => ({ threatModel: sigma(-0.3) }), INVALID('threat_model.smoothing[0].sigma')),
  certify('sigma-nan', 'sigma NaN', () => ({ threatModel: sigma(NaN) }), INVALID('threat_model.smoothing[0].sigma')),
  certify('sigma-inf', 'sigma +Inf', () => ({ threatModel: sigma(Infinity) }), INVALID('threat_model.smoothing[0].sigma')),
  certify('alpha-one', 'alpha 1', () => ({ alpha: 1 }), INVALID('alpha')),
  certify('alpha-negative', 'alpha -0.01', () => ({ alpha: -0.01 }), INVALID('alpha')),
  certify('alpha-above-one', 'alpha 1.5', () => ({ alpha: 1.5 }), INVALID('alpha')),
  certify('alpha-nan', 'alpha NaN', () => ({ alpha: NaN }), INVALID('alpha')),
  certify('n0-negative', 'n0 -5', () => ({ n0: -5n }), INVALID('n0')),
  certify('n0-over-max', `n0 ${MAX_N + 1} (CERTIFIER_MAX_N = ${MAX_N})`, () => ({ n0: BigInt(MAX_N + 1) }), INVALID('n0')),
  certify('n-negative', 'n -100', () => ({ n: -100n }), INVALID('n')),
  certify('n-over-max', `n ${MAX_N + 1} (CERTIFIER_MAX_N = ${MAX_N})`, () => ({ n: BigInt(MAX_N + 1) }), INVALID('n')),
  certify('seed-negative', 'seed -1', () => ({ seed: -1n }), INVALID('seed')),
  certify('unknown-preset', "preset 'zoom' (n0, n, alpha of 0 are defaults, not errors)", () => ({ threatModel: undefined, preset: 'zoom' }), INVALID('preset')),
  certify('preset-and-threat-model', 'preset and threat_model both set', () => ({ preset: 'brightness' }), INVALID('preset')),
  certify('empty-model', "model ''", () => ({ model: '' }), INVALID('model')),
  certify('unknown-model', "model 'no-such-model'", () => ({ model: 'no-such-model' }), MODEL_NOT_FOUND),
  certify('bound-ns', 'bound_settings.ns 3 (numeric solver needs >= 10)', () => ({ boundSettings: settings({ method: BoundMethod.BOUND_METHOD_NUMERIC, ns: 3n }) }), INVALID('bound_settings.ns')),
  certify('request-id-too-long', 'request_id of 300 characters', () => ({ requestId: 'x'.repeat(300) }), INVALID('request_id')),
  certify('over-message-limit', `message over the receive limit (${LIMITS.certifier} bytes)`, () => ({ input: { $case: 'image', image: filler(LIMITS.certifier + 1) } }), TOO_BIG),
];

// ---- StreamingCertify ------------------------------------------------------------------------

function streamItem(id: string, input: string, bad: (f: Fixtures) => certifyV1.StreamingCertifyRequest, expect: Expected): StreamCase {
  return {
    kind: 'stream',
    rpc: 'StreamingCertify',
    id: `streamingcertify-${id}`,
    input,
    messages: (f) => [goodConfig(), bad(f), goodItem(f)],
    item: expect,
    end: { code: 'OK' },
  };
}

function streamEnd(id: string, input: string, messages: (f: Fixtures) => certifyV1.StreamingCertifyRequest[], end: Expected): StreamCase {
  return { kind: 'stream', rpc: 'StreamingCertify', id: `streamingcertify-${id}`, input, messages, end };
}

const badItem = (input: certifyV1.CertifyItem['input'], over: Partial<certifyV1.CertifyItem> = {}): certifyV1.StreamingCertifyRequest => item('bad', input, over);

const streamCases: BadInputCase[] = [
  streamEnd('item-first', 'first message is an item, not a config', (f) => [goodItem(f), goodItem(f, 'second')], {
    code: 'FAILED_PRECONDITION',
    message: /^config:/,
  }),
  streamEnd('config-alpha', 'config: alpha 2', (f) => [goodConfig({ alpha: 2 }), goodItem(f)], INVALID('config.alpha')),
  streamEnd('config-sigma', 'config: sigma 0', (f) => [goodConfig({ threatModel: sigma(0) }), goodItem(f)], INVALID('config.threat_model.smoothing[0].sigma')),
  streamEnd('config-inverted-box', 'config: inverted box', (f) => [goodConfig({ threatModel: boxOf(0.05, -0.05) }), goodItem(f)], INVALID('config.threat_model.box[0]')),
  streamEnd('config-n-negative', 'config: n -1', (f) => [goodConfig({ n: -1n }), goodItem(f)], INVALID('config.n')),
  streamEnd('config-n0-over-max', `config: n0 ${MAX_N + 1}`, (f) => [goodConfig({ n0: BigInt(MAX_N + 1) }), goodItem(f)], INVALID('config.n0')),
  streamEnd('config-unknown-transform', "config: transform 'zoom'", (f) => [goodConfig({ threatModel: tm({ transform: 'zoom' }) }), goodItem(f)], INVALID('config.threat_model.transform')),
  streamEnd('config-unknown-model', "config: model 'no-such-model'", (f) => [goodConfig({ model: 'no-such-model' }), goodItem(f)], MODEL_NOT_FOUND),
  streamItem('corrupt-png', 'item: corrupt PNG', () => badItem({ $case: 'image', image: CORRUPT_PNG }), INVALID('item.image')),
  streamItem('truncated-png', 'item: truncated PNG', (f) => badItem({ $case: 'image', image: truncated(f.png) }), INVALID('item.image')),
  streamItem('zero-size-image', 'item: 0-byte image', () => badItem({ $case: 'image', image: Buffer.alloc(0) }), INVALID('item.image')),
  streamItem('oversized-image', 'item: 5000 x 5000 PNG', (f) => badItem({ $case: 'image', image: f.hugePng }), INVALID('item.image')),
  streamItem('no-input', 'item: neither image nor tensor', () => badItem(undefined), INVALID('item.input')),
  streamItem('tensor-3-channels', 'item: tensor [3, 28, 28]', () => badItem({ $case: 'tensor', tensor: chw([3, 28, 28]) }), INVALID('item.tensor.shape')),
  streamItem('tensor-nan', 'item: tensor with a NaN', (f) => badItem({ $case: 'tensor', tensor: withElement(f.chw, 3, NaN) }), INVALID('item.tensor.raw_contents')),
  streamItem('tensor-inf', 'item: tensor with -Inf', (f) => badItem({ $case: 'tensor', tensor: withElement(f.chw, 3, -Infinity) }), INVALID('item.tensor.raw_contents')),
  streamItem('seed-negative', 'item: seed -1', (f) => badItem({ $case: 'image', image: f.png }, { seed: -1n }), INVALID('item.seed')),
  { ...streamItem('empty-id', "item: id ''", (f) => item('', { $case: 'image', image: f.png }), INVALID('item.id')), badId: '' },
  {
    kind: 'stream',
    rpc: 'StreamingCertify',
    id: 'streamingcertify-second-config',
    input: 'a second config after items started',
    messages: (f) => [goodConfig(), goodItem(f, 'first'), goodConfig(), goodItem(f)],
    item: INVALID('config'),
    badId: '',
    end: { code: 'OK' },
  },
  streamEnd(
    'over-message-limit',
    `item over the receive limit (${LIMITS.certifier} bytes)`,
    (f) => [goodConfig(), badItem({ $case: 'image', image: filler(LIMITS.certifier + 1) }), goodItem(f)],
    TOO_BIG,
  ),
];

// ---- VerifyCertificate ---------------------------------------------------------------------

const verify = (id: string, input: string, over: (f: Fixtures) => Partial<verifyV1.VerifyCertificateRequest>, expect: Expected, invalidBecause?: RegExp): UnaryCase =>
  unaryCase('VerifyCertificate', id, input, (f) => goodVerify(f, over(f)), expect, invalidBecause);
/**
 * The fixture certificate with `over` applied to its signed DSSE payload (so the signature no longer
 * matches), sent as the envelope alone: the verifier checks the payload, not an unsigned copy.
 * `json` overrides proto3 JSON fields of the payload (e.g. alpha "NaN", which JSON numbers cannot hold).
 */
const cert = (f: Fixtures, over: Partial<Certificate>, json: Record<string, unknown> = {}): Certificate => {
  const envelope = f.certificate.dsseEnvelope!;
  const body = { ...(Certificate.toJSON({ ...certificateContent(f.certificate), ...over }) as Record<string, unknown>), ...json };
  return Certificate.fromPartial({ dsseEnvelope: { ...envelope, payload: Buffer.from(JSON.stringify(body)) } });
};
/** The fixture certificate with its DSSE signature relabelled to another key id. */
const relabelled = (f: Fixtures, keyid: string): Certificate => {
  const envelope = f.certificate.dsseEnvelope!;
  return { ...f.certificate, dsseEnvelope: { ...envelope, signatures: envelope.signatures.map((s) => ({ ...s, keyid })) } };
};
const VALID_FALSE: Expected = { code: 'OK' };

const verifyCases: BadInputCase[] = [
  verify('no-certificate', 'certificate absent', () => ({ certificate: undefined }), INVALID('certificate')),
  verify('bad-public-key', 'public_keys[0]: garbage PEM', () => ({ publicKeys: [{ keyId: 'k', algorithm: 'ed25519', publicKeyDer: Buffer.alloc(0), publicKeyPem: 'not a key' }] }), INVALID('public_keys[0]')),
  verify('over-message-limit', `message over the receive limit (${LIMITS.verifier} bytes)`, (f) => ({ certificate: cert(f, { requestId: 'x'.repeat(LIMITS.verifier + 1) }) }), TOO_BIG),
  verify('tampered-na', 'certificate: na changed after signing', (f) => ({ certificate: cert(f, { na: f.certificate.na - 1n }) }), VALID_FALSE, /^signature/),
  verify('alpha-nan', 'certificate: alpha NaN', (f) => ({ certificate: cert(f, {}, { alpha: 'NaN' }) }), VALID_FALSE, /^alpha: NaN/),
  verify('n-zero', 'certificate: n 0', (f) => ({ certificate: cert(f, { n: 0n }) }), VALID_FALSE, /^n: 0/),
  verify('sigma-zero', 'certificate: sigma 0 in its threat model', (f) => ({ certificate: cert(f, { threatModel: sigma(0) }) }), VALID_FALSE, /^threat_model\.smoothing\[0\]\.sigma/),
  verify('unknown-key', 'certificate: key_id nobody published', (f) => ({ certificate: relabelled(f, 'no-such-key') }), VALID_FALSE, /^signature/),
];

// ---- SamplingService.CountSamples --------------------------------------------------------------

const count = (id: string, input: string, over: (f: Fixtures) => Partial<samplingV1.CountSamplesRequest>, expect: Expected): UnaryCase =>
  unaryCase('CountSamples', id, input, (f) => goodCount(f, over(f)), expect);

const countCases: BadInputCase[] = [
  count('no-image', 'image absent', () => ({ image: undefined }), INVALID('image')),
  count('image-3-channels', 'image [3, 28, 28] for a 1-channel model', () => ({ image: chw([3, 28, 28]) }), INVALID('image.shape')),
  count('image-wrong-size', 'image [1, 32, 32]', () => ({ image: chw([1, 32, 32]) }), INVALID('image.shape')),
  count('image-rank-2', 'image [28, 28]', () => ({ image: chw([28, 28]) }), INVALID('image.shape')),
  count('image-zero-size', 'image [1, 0, 28] (no pixels)', () => ({ image: chw([1, 0, 28]) }), INVALID('image.shape')),
  count('image-short-bytes', 'image: raw_contents shorter than the shape', (f) => ({ image: truncatedTensor(f.chw, 7) }), INVALID('image.raw_contents')),
  count('image-nan', 'image: one NaN', (f) => ({ image: withElement(f.chw, 0, NaN) }), INVALID('image.raw_contents')),
  count('image-inf', 'image: one +Inf', (f) => ({ image: withElement(f.chw, 0, Infinity) }), INVALID('image.raw_contents')),
  count('image-dtype', 'image: data_type UNSPECIFIED', (f) => ({ image: { ...f.chw, dataType: DataType.DATA_TYPE_UNSPECIFIED } }), INVALID('image.data_type')),
  count('no-threat-model', 'threat_model absent', () => ({ threatModel: undefined }), INVALID('threat_model')),
  count('unknown-transform', "transform 'zoom'", () => ({ threatModel: tm({ transform: 'zoom' }) }), INVALID('threat_model.transform')),
  count('unknown-parameter', "smoothing: parameter 'q'", () => ({ threatModel: smoothingName('q') }), INVALID('threat_model.smoothing[0].name')),
  count('no-smoothing', 'smoothing: no entry', () => ({ threatModel: tm({ smoothing: [] }) }), INVALID('threat_model.smoothing')),
  count('wrong-law', 'smoothing: RAYLEIGH for brightness', () => ({ threatModel: wrongLaw }), INVALID('threat_model.smoothing[0].distribution')),
  count('sigma-zero', 'sigma 0', () => ({ threatModel: sigma(0) }), INVALID('threat_model.smoothing[0].sigma')),
  count('sigma-negative', 'sigma -1', () => ({ threatModel: sigma(-1) }), INVALID('threat_model.smoothing[0].sigma')),
  count('sigma-nan', 'sigma NaN', () => ({ threatModel: sigma(NaN) }), INVALID('threat_model.smoothing[0].sigma')),
  count('sigma-inf', 'sigma -Inf', () => ({ threatModel: sigma(-Infinity) }), INVALID('threat_model.smoothing[0].sigma')),
  count('empty-range', 'start_index = end_index (zero samples)', () => ({ startIndex: 10n, endIndex: 10n }), INVALID('end_index')),
  count('inverted-range', 'end_index < start_index', () => ({ startIndex: 10n, endIndex: 5n }), INVALID('end_index')),
  count('negative-start', 'start_index -1', () => ({ startIndex: -1n }), INVALID('start_index')),
  count('range-over-max', `end_index - start_index = ${MAX_RANGE + 1} (SAMPLER_MAX_RANGE = ${MAX_RANGE})`, () => ({ endIndex: BigInt(MAX_RANGE + 1) }), INVALID('end_index')),
  count('more-ranges-inverted', 'more_ranges[0]: end_index < start_index', () => ({ moreRanges: [{ stream: 0, startIndex: 10n, endIndex: 5n }] }), INVALID('more_ranges[0].end_index')),
  count('more-ranges-negative-start', 'more_ranges[1]: start_index -1', () => ({ moreRanges: [{ stream: 0, startIndex: 0n, endIndex: 5n }, { stream: 1, startIndex: -1n, endIndex: 5n }] }), INVALID('more_ranges[1].start_index')),
  count('more-ranges-stream-negative', 'more_ranges[0]: stream -1', () => ({ moreRanges: [{ stream: -1, startIndex: 0n, endIndex: 5n }] }), INVALID('more_ranges[0].stream')),
  count('more-ranges-too-many', 'more_ranges: 1000 ranges (at most 7)', () => ({ moreRanges: Array.from({ length: 1000 }, (_, i) => ({ stream: 1, startIndex: BigInt(i), endIndex: BigInt(i + 1) })) }), INVALID('more_ranges')),
  count('more-ranges-over-max', `first range 50 + more_ranges ${MAX_RANGE} samples (all ranges over SAMPLER_MAX_RANGE = ${MAX_RANGE})`, () => ({ moreRanges: [{ stream: 0, startIndex: 0n, endIndex: BigInt(MAX_RANGE) }] }), INVALID('more_ranges')),
  count('seed-negative', 'seed -1', () => ({ seed: -1n }), INVALID('seed')),
  count('stream-negative', 'stream -1', () => ({ stream: -1 }), INVALID('stream')),
  count('batch-size-negative', 'batch_size -8', () => ({ batchSize: -8 }), INVALID('batch_size')),
  count('empty-model', "model ''", () => ({ model: '' }), INVALID('model')),
  count('unknown-model', "model 'no-such-model'", () => ({ model: 'no-such-model' }), MODEL_NOT_FOUND),
  count(
    'wrong-expected-model-sha256',
    'expected_model_sha256 of another model file',
    () => ({ expectedModelSha256: 'deadbeef'.repeat(8) }),
    { code: 'FAILED_PRECONDITION', reason: 'MODEL_MISMATCH', message: /expected_model_sha256/ },
  ),
  count('over-message-limit', `message over the receive limit (${LIMITS.sampler} bytes)`, () => ({ image: chw([1, 1, LIMITS.sampler / 4 + 1]) }), TOO_BIG),
];

// ---- InferenceService.Classify ----------------------------------------------------------------------

const classify = (id: string, input: string, over: (f: Fixtures) => Partial<inferenceV1.ClassifyRequest>, expect: Expected): UnaryCase =>
  unaryCase('Classify', id, input, (f) => goodClassify(f, over(f)), expect);
const one = (f: Fixtures): Tensor => ({ ...f.chw, shape: [1n, ...f.chw.shape] });

const classifyCases: BadInputCase[] = [
  classify('no-inputs', 'inputs absent', () => ({ inputs: undefined }), INVALID('inputs')),
  classify('dtype', 'inputs: data_type UNSPECIFIED', (f) => ({ inputs: { ...one(f), dataType: DataType.DATA_TYPE_UNSPECIFIED } }), INVALID('inputs.data_type')),
  classify('rank-3', 'inputs [1, 28, 28] (no batch axis)', () => ({ inputs: nchw([1, 28, 28]) }), INVALID('inputs.shape')),
  classify('3-channels', 'inputs [1, 3, 28, 28]', () => ({ inputs: nchw([1, 3, 28, 28]) }), INVALID('inputs.shape')),
  classify('wrong-size', 'inputs [1, 1, 32, 32]', () => ({ inputs: nchw([1, 1, 32, 32]) }), INVALID('inputs.shape')),
  classify('zero-images', 'inputs [0, 1, 28, 28] (zero-size batch)', () => ({ inputs: nchw([0, 1, 28, 28]) }), INVALID('inputs.shape')),
  classify('short-bytes', 'inputs: raw_contents one image short', () => ({ inputs: truncatedTensor(nchw([2, 1, 28, 28]), 784 * 4) }), INVALID('inputs.raw_contents')),
  classify('nan', 'inputs: one NaN', (f) => ({ inputs: withElement(one(f), 5, NaN) }), INVALID('inputs.raw_contents')),
  classify('inf', 'inputs: one -Inf', (f) => ({ inputs: withElement(one(f), 5, -Infinity) }), INVALID('inputs.raw_contents')),
  classify('unknown-model', "model 'no-such-model'", () => ({ model: 'no-such-model' }), MODEL_NOT_FOUND),
  classify('over-message-limit', `message over the receive limit (${LIMITS.inference} bytes)`, () => ({ inputs: nchw([Math.ceil(LIMITS.inference / 3136) + 1, 1, 28, 28]) }), TOO_BIG),
];

// ---- BoundService.GetThreshold ----------------------------------------------------------------------

const threshold = (id: string, input: string, over: () => Partial<boundsV1.GetThresholdRequest>, expect: Expected): UnaryCase =>
  unaryCase('GetThreshold', id, input, () => goodThreshold(over()), expect);

const thresholdCases: BadInputCase[] = [
  threshold('no-threat-model', 'threat_model absent', () => ({ threatModel: undefined }), INVALID('threat_model')),
  threshold('unknown-transform', "transform 'zoom'", () => ({ threatModel: tm({ transform: 'zoom' }) }), INVALID('threat_model.transform')),
  threshold('empty-box', 'box: no range', () => ({ threatModel: tm({ box: [] }) }), INVALID('threat_model.box')),
  threshold('inverted-box', 'box: min 0.05 > max -0.05', () => ({ threatModel: boxOf(0.05, -0.05) }), INVALID('threat_model.box[0]')),
  threshold('box-nan', 'box: max NaN', () => ({ threatModel: boxOf(-0.05, NaN) }), INVALID('threat_model.box[0]')),
  threshold('unknown-box-parameter', "box: parameter 'q'", () => ({ threatModel: boxName('q') }), INVALID('threat_model.box[0].name')),
  threshold('unknown-smoothing-parameter', "smoothing: parameter 'q'", () => ({ threatModel: smoothingName('q') }), INVALID('threat_model.smoothing[0].name')),
  threshold('wrong-law', 'smoothing: RAYLEIGH for brightness', () => ({ threatModel: wrongLaw }), INVALID('threat_model.smoothing[0].distribution')),
  threshold('sigma-zero', 'sigma 0', () => ({ threatModel: sigma(0) }), INVALID('threat_model.smoothing[0].sigma')),
  threshold('sigma-negative', 'sigma -0.3', () => ({ threatModel: sigma(-0.3) }), INVALID('threat_model.smoothing[0].sigma')),
  threshold('sigma-nan', 'sigma NaN', () => ({ threatModel: sigma(NaN) }), INVALID('threat_model.smoothing[0].sigma')),
  threshold('ns-small', 'bound_settings.ns 3', () => ({ boundSettings: settings({ method: BoundMethod.BOUND_METHOD_NUMERIC, ns: 3n }) }), INVALID('bound_settings.ns')),
  threshold('grid-zero', 'bound_settings.grid_points [0]', () => ({ boundSettings: settings({ method: BoundMethod.BOUND_METHOD_NUMERIC, gridPoints: [0] }) }), INVALID('bound_settings.grid_points')),
  threshold('unknown-method', 'bound_settings.method 99', () => ({ boundSettings: settings({ method: 99 as BoundMethod }) }), INVALID('bound_settings.method')),
  threshold(
    'no-closed-form',
    'method CLOSED_FORM for blur (it has none)',
    () => ({
      threatModel: { transform: 'r', box: [{ name: 'r', min: 0, max: 1 }], smoothing: [{ name: 'r', distribution: Distribution.DISTRIBUTION_RAYLEIGH, sigma: 2 }], note: '' },
    }),
    INVALID('bound_settings.method'),
  ),
  threshold(
    'too-much-work',
    'translation, tx, ty in [-20, 20], NUMERIC ns 1e6, grid 41 x 41: estimated cost 5.5e10 over BOUNDS_MAX_SOLVE_COST (1e9 here)',
    () => ({
      threatModel: {
        transform: 't',
        box: [
          { name: 'tx', min: -20, max: 20 },
          { name: 'ty', min: -20, max: 20 },
        ],
        smoothing: [
          { name: 'tx', distribution: Distribution.DISTRIBUTION_NORMAL, sigma: 10 },
          { name: 'ty', distribution: Distribution.DISTRIBUTION_NORMAL, sigma: 10 },
        ],
        note: '',
      },
      boundSettings: settings({ method: BoundMethod.BOUND_METHOD_NUMERIC, ns: 1_000_000n, gridPoints: [41] }),
    }),
    { code: 'RESOURCE_EXHAUSTED', message: /bound_settings/ },
  ),
  threshold('over-message-limit', `message over the receive limit (${LIMITS.bounds} bytes)`, () => ({ threatModel: tm({ note: 'x'.repeat(LIMITS.bounds + 1) }) }), TOO_BIG),
];

// ---- hostile families (issue 11): tiny and huge numbers, long strings, costly settings ----------------
// Each of these once got INTERNAL, a false certificate, a dropped connection or minutes of
// work left behind; now each is refused up front naming the field (or answered soundly).

const SIGMA0 = 'threat_model.smoothing[0].sigma';
const BOX0 = 'threat_model.box[0]';
/** Answers quote at most a short prefix of caller input: a status message stays under this. */
const SHORT = 300;
const NUMERIC_SMALL: BoundSettings = { ns: 2000n, gridPoints: [5], seed: 0n, method: BoundMethod.BOUND_METHOD_NUMERIC };
/** Server defaults for ns and the grid, AUTO (closed form and numeric, the smaller). */
const AUTO: BoundSettings = { ns: 0n, gridPoints: [], seed: 0n, method: BoundMethod.BOUND_METHOD_AUTO };
const HUGE = 1.7e308;
const contrast = (s: number): ThreatModel => ({
  transform: 'c',
  box: [{ name: 'k', min: 0.8, max: 1.2 }],
  smoothing: [{ name: 'k', distribution: Distribution.DISTRIBUTION_LOG_NORMAL, sigma: s }],
  note: '',
});
const blur = (s: number): ThreatModel => ({
  transform: 'r',
  box: [{ name: 'r', min: 0, max: 1 }],
  smoothing: [{ name: 'r', distribution: Distribution.DISTRIBUTION_RAYLEIGH, sigma: s }],
  note: '',
});
/** A certificate changed after signing is an invalid result (before any replay), whatever the change. */
const NOT_AS_SIGNED = /signature|differ from the signed payload/;
/** Not-a-name of `bytes` characters. */
const longName = (bytes: number): string => 'm'.repeat(bytes);
/** The certificate with every signature byte zero (the version-1 signature and any DSSE signatures). */
function zeroSigned(c: Certificate): Certificate {
  const env = c.dsseEnvelope;
  return {
    ...c,
    signature: Buffer.alloc(c.signature.length > 0 ? c.signature.length : 64),
    ...(env ? { dsseEnvelope: { ...env, signatures: env.signatures.map((x) => ({ ...x, sig: Buffer.alloc(x.sig.length || 64) })) } } : {}),
  };
}

const ALL_ZERO_SIGNATURE_N = 900_000n;

/** Tiny and huge numbers: every numeric field has a domain where the arithmetic is finite. */
const numberCases: BadInputCase[] = [
  certify(
    'sigma-tiny-false-certificate',
    '2-0869.png, b in [-0.2, 0.2], sigma 1e-300, n0 100, n 500, alpha 0.001, seed 2026, AUTO (was CERTIFIED at threshold 0.50005; the closed form is 1)',
    () => ({
      input: { $case: 'image', image: png('2-0869.png') },
      threatModel: brightness({ min: -0.2, max: 0.2, sigma: 1e-300 }),
      boundSettings: AUTO,
      n0: 100n,
      n: 500n,
      alpha: 0.001,
      seed: 2026n,
    }),
    // outside the sigma domain now; the solver's own floating-point domain is tested in libs/bounds
    INVALID(SIGMA0),
  ),
  certify('sigma-huge', 'brightness sigma 1e300 (was INTERNAL)', () => ({ threatModel: sigma(1e300) }), INVALID(SIGMA0)),
  certify('contrast-sigma-huge', 'contrast k in [0.8, 1.2], sigma 1e3 (was INTERNAL: k = Infinity)', () => ({ threatModel: contrast(1e3) }), INVALID(SIGMA0)),
  certify('box-huge-auto', 'box b in [-1.7e308, 1.7e308], AUTO (was INTERNAL)', () => ({ threatModel: boxOf(-HUGE, HUGE), boundSettings: AUTO }), INVALID(BOX0)),
  certify('box-huge-numeric', 'box b in [-1.7e308, 1.7e308], NUMERIC (was INTERNAL)', () => ({ threatModel: boxOf(-HUGE, HUGE), boundSettings: NUMERIC_SMALL }), INVALID(BOX0)),
  certify(
    'contrast-pixels-huge',
    'tensor of pixels 3.4e38 (finite float32) with contrast (was INTERNAL)',
    () => ({ input: { $case: 'tensor', tensor: tensor([...MNIST_CHW_SHAPE], 3.4e38) }, threatModel: contrast(0.3) }),
    INVALID('tensor.raw_contents'),
  ),
  count('blur-sigma-huge', 'blur r in [0, 1], sigma 1e300, 2 samples (was INTERNAL: Invalid typed array length)', () => ({ threatModel: blur(1e300), endIndex: 2n }), INVALID(SIGMA0)),
  threshold('sigma-huge', 'brightness sigma 1e300 (was OK: an uncertifiable threshold 0.5)', () => ({ threatModel: sigma(1e300) }), INVALID(SIGMA0)),
  threshold('box-huge-auto', 'box b in [-1.7e308, 1.7e308], AUTO (was INTERNAL)', () => ({ threatModel: boxOf(-HUGE, HUGE), boundSettings: AUTO }), INVALID(BOX0)),
  threshold('box-huge-numeric', 'box b in [-1.7e308, 1.7e308], NUMERIC (was INTERNAL)', () => ({ threatModel: boxOf(-HUGE, HUGE), boundSettings: NUMERIC_SMALL }), INVALID(BOX0)),
  threshold('blur-sigma-tiny', 'blur r in [0, 1], sigma 1e-300, AUTO (was INTERNAL)', () => ({ threatModel: blur(1e-300), boundSettings: AUTO }), INVALID(SIGMA0)),
];

/** Long or odd strings: identifiers are bounded at the edge and never echoed at length. */
const stringCases: BadInputCase[] = [
  certify('model-1mb', 'model name of 1,000,000 bytes (was UNAVAILABLE: Connection dropped, after 17 s)', () => ({ model: longName(1_000_000) }), {
    ...INVALID('model'),
    maxMessageChars: SHORT,
  }),
  certify('model-10kb', 'model name of 10,000 bytes (was echoed: RESOURCE_EXHAUSTED, metadata over 16 kB)', () => ({ model: longName(10_000) }), {
    ...INVALID('model'),
    maxMessageChars: SHORT,
  }),
  certify('box-proto-name', "box: parameter '__proto__' (was accepted)", () => ({ threatModel: boxName('__proto__') }), INVALID('threat_model.box[0].name')),
  certify('smoothing-proto-name', "smoothing: parameter '__proto__'", () => ({ threatModel: smoothingName('__proto__') }), INVALID('threat_model.smoothing[0].name')),
  unaryCase(
    'AuditCertificate',
    'model-name-60kb',
    'certificate.model_name of 60,000 bytes (was UNAVAILABLE: Connection dropped)',
    (f) => goodAudit(f, { certificate: { ...f.certificate, modelName: longName(60_000) } }),
    { ...INVALID('certificate.model_name'), maxMessageChars: SHORT },
  ),
  unaryCase(
    'AuditCertificate',
    'transform-constructor',
    "certificate.threat_model.transform 'constructor' (was INTERNAL)",
    (f) => goodAudit(f, { certificate: { ...f.certificate, threatModel: { ...f.certificate.threatModel!, transform: 'constructor' } } }),
    { code: 'OK' },
    NOT_AS_SIGNED,
  ),
  unaryCase(
    'AuditCertificate',
    'model-constructor',
    "certificate.model_name 'constructor' (was INTERNAL)",
    (f) => goodAudit(f, { certificate: { ...f.certificate, modelName: 'constructor' } }),
    { code: 'OK' },
    NOT_AS_SIGNED,
  ),
  certify('transform-10kb', 'transform name of 10,000 bytes (was echoed whole)', () => ({ threatModel: tm({ transform: longName(10_000) }) }), {
    ...INVALID('threat_model.transform'),
    maxMessageChars: SHORT,
  }),
  certify('box-name-10kb', 'box parameter name of 10,000 bytes (was echoed whole)', () => ({ threatModel: boxName(longName(10_000)) }), {
    ...INVALID('threat_model.box[0].name'),
    maxMessageChars: SHORT,
  }),
  count('model-10kb', 'model name of 10,000 bytes (was echoed whole)', () => ({ model: longName(10_000) }), { ...INVALID('model'), maxMessageChars: SHORT }),
  count('expected-sha256-10kb', 'expected_model_sha256 of 10,000 bytes (was echoed whole)', () => ({ expectedModelSha256: 'a'.repeat(10_000) }), {
    ...INVALID('expected_model_sha256'),
    maxMessageChars: SHORT,
  }),
  threshold('transform-10kb', 'transform name of 10,000 bytes (was echoed whole)', () => ({ threatModel: tm({ transform: longName(10_000) }) }), {
    ...INVALID('threat_model.transform'),
    maxMessageChars: SHORT,
  }),
  {
    ...streamItem('item-id-10kb', 'item: id of 10,000 bytes (was accepted and echoed in the answer)', (f) => item(longName(10_000), { $case: 'image', image: f.png }), {
      ...INVALID('item.id'),
      maxMessageChars: SHORT,
    }),
    badId: '',
    sentId: longName(10_000),
  },
  unaryCase('GetModel', 'model-48kb', 'model name of 48,000 bytes (was UNAVAILABLE: Connection dropped)', () => goodGetModel({ model: longName(48_000) }), {
    ...INVALID('model'),
    maxMessageChars: SHORT,
  }),
];

/** Costly settings: what cannot finish in its deadline (or a server cap) is refused up front. */
const costCases: BadInputCase[] = [
  unaryCase(
    'AuditCertificate',
    'zero-signature',
    `certificate with an all-zero signature and n = ${ALL_ZERO_SIGNATURE_N}, 20 s deadline (was: replayed the samples before looking at the signature)`,
    (f) => goodAudit(f, { certificate: { ...zeroSigned(f.certificate), n: ALL_ZERO_SIGNATURE_N } }),
    { code: 'OK' },
    /signature/,
    20_000,
  ),
  unaryCase(
    'CountSamples',
    'blur-sigma-1e12',
    'blur r in [0, 1], sigma 1e12, 2 samples, 5 s deadline (was: the sampler blocked for 38 s, health checks timed out)',
    (f) => goodCount(f, { threatModel: blur(1e12), endIndex: 2n }),
    INVALID(SIGMA0),
    undefined,
    5_000,
  ),
  unaryCase(
    'GetThreshold',
    'costly-short-deadline',
    'cb k in [0.61, 1.39], b in [-0.39, 0.39], NUMERIC ns 140000, grid 15 x 15 (estimated cost 9.5e8, under the 1e9 cap: at least 0.47 s at BOUNDS_SOLVE_RATE), 0.4 s deadline (was: DEADLINE_EXCEEDED, and the solve ran on)',
    () =>
      goodThreshold({
        threatModel: {
          transform: 'cb',
          box: [
            { name: 'k', min: 0.61, max: 1.39 },
            { name: 'b', min: -0.39, max: 0.39 },
          ],
          smoothing: [
            { name: 'k', distribution: Distribution.DISTRIBUTION_LOG_NORMAL, sigma: 0.3 },
            { name: 'b', distribution: Distribution.DISTRIBUTION_NORMAL, sigma: 0.3 },
          ],
          note: '',
        },
        boundSettings: { ns: 140_000n, gridPoints: [15, 15], seed: 0n, method: BoundMethod.BOUND_METHOD_NUMERIC },
      }),
    // refused for the deadline, not the cap: the call reaches the handler with < 0.4 s left
    { code: 'RESOURCE_EXHAUSTED', field: 'bound_settings.ns', reason: 'DEADLINE_TOO_SHORT' },
    undefined,
    400,
  ),
];

/** Other inputs that were taken silently. */
const otherHostileCases: BadInputCase[] = [
  certify('animated-png', 'image: an animated PNG (2 frames; was certified on its first frame, silently)', (f) => ({ input: { $case: 'image', image: animatedPng(f.png) } }), INVALID('image')),
];

const tag = (family: Family, cases: BadInputCase[]): BadInputCase[] => cases.map((c) => ({ ...c, family }));

export const BAD_INPUT_CASES: readonly BadInputCase[] = [
  ...certifyCases,
  ...streamCases,
  ...verifyCases,
  ...countCases,
  ...classifyCases,
  ...thresholdCases,
  ...tag('numbers', numberCases),
  ...tag('strings', stringCases),
  ...tag('cost', costCases),
  ...tag('other', otherHostileCases),
];
