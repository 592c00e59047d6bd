import {
  modelInputChw,
  Certificate,
  CertificationServiceService,
  DataType,
  Distribution,
  InferenceServiceService,
  Outcome,
  Tensor,
  TensorFormatError,
  ThresholdMethod,
  certifyV1,
  decodeFloat32Tensor,
  encodeFloat32Tensor,
  googleRpc,
  packAny,
  RPC_TYPE_NAMES,
  unpackAny,
} from './index';

const BIG = 2n ** 53n + 1n; // not representable as a double
const MAX_INT64 = 2n ** 63n - 1n;

function sampleCertificate(): Certificate {
  return Certificate.fromPartial({
    certificateVersion: 1,
    requestId: 'req-1',
    modelName: 'mnist-cnn',
    modelVersion: '1',
    modelSha256: 'ab'.repeat(32),
    inputSha256: 'cd'.repeat(32),
    inputShape: [1n, 28n, 28n],
    preprocessing: ['decode:png', 'grayscale', 'scale:1/255'],
    threatModel: {
      transform: 'cb',
      box: [
        { name: 'k', min: 0.6, max: 1.4 },
        { name: 'b', min: -0.4, max: 0.4 },
      ],
      smoothing: [
        { name: 'k', distribution: Distribution.DISTRIBUTION_LOG_NORMAL, sigma: 0.3 },
        { name: 'b', distribution: Distribution.DISTRIBUTION_NORMAL, sigma: 0.3 },
      ],
      note: 'no clipping',
    },
    boundSettings: { ns: BIG, gridPoints: [11, 11], seed: MAX_INT64 },
    n0: 100n,
    n: BIG,
    na: BIG - 7n,
    predictedClass: 7,
    selectionClassCounts: [0n, 0n, 0n, 0n, 0n, 0n, 0n, 100n, 0n, 0n],
    alpha: 0.001,
    paLower: 0.9973,
    threshold: 0.9852,
    thresholdMethod: ThresholdMethod.THRESHOLD_METHOD_NUMERIC,
    boundCacheKey: 'key',
    solverVersion: 'gl-1',
    outcome: Outcome.OUTCOME_CERTIFIED,
    seed: MAX_INT64,
    generator: 'philox4x32-10',
    issueTime: new Date('2026-11-28T04:30:00.123Z'),
    signature: Buffer.from([1, 2, 3, 255]),
    keyId: 'k1',
  });
}

describe('Certificate', () => {
  it('round-trips through binary encoding, keeping int64 values past 2^53 exact', () => {
    const cert = sampleCertificate();
    const decoded = Certificate.decode(Certificate.encode(cert).finish());
    expect(decoded).toEqual(cert);
    expect(decoded.n).toBe(BIG);
    expect(decoded.seed).toBe(MAX_INT64);
    expect(decoded.boundSettings?.ns).toBe(BIG);
    expect(decoded.issueTime?.toISOString()).toBe('2026-11-28T04:30:00.123Z');
  });

  it('round-trips through JSON with int64 as decimal strings', () => {
    const cert = sampleCertificate();
    const json = JSON.parse(JSON.stringify(Certificate.toJSON(cert)));
    expect(json.n).toBe(BIG.toString());
    expect(Certificate.fromJSON(json)).toEqual(cert);
  });
});

describe('StreamingCertifyRequest', () => {
  const { StreamingCertifyRequest } = certifyV1;

  it('round-trips the config branch of the oneof', () => {
    const msg = StreamingCertifyRequest.fromPartial({
      request: { $case: 'config', config: { model: 'mnist-cnn', n0: 100n, n: BIG, alpha: 0.001, baseSeed: MAX_INT64 } },
    });
    const decoded = StreamingCertifyRequest.decode(StreamingCertifyRequest.encode(msg).finish());
    expect(decoded).toEqual(msg);
    expect(decoded.request?.$case).toBe('config');
    if (decoded.request?.$case === 'config') expect(decoded.request.config.baseSeed).toBe(MAX_INT64);
  });

  it('round-trips an item with a nested oneof input and optional fields', () => {
    const tensor = encodeFloat32Tensor(new Float32Array([0, 0.5, 1, -0.25]), [1, 2, 2]);
    const msg = StreamingCertifyRequest.fromPartial({
      request: { $case: 'item', item: { id: 'img-3', input: { $case: 'tensor', tensor }, label: 0, seed: BIG } },
    });
    const decoded = StreamingCertifyRequest.decode(StreamingCertifyRequest.encode(msg).finish());
    expect(decoded).toEqual(msg);
    if (decoded.request?.$case !== 'item') throw new Error('expected item');
    expect(decoded.request.item.label).toBe(0); // explicit presence: 0 is not "unset"
    expect(decoded.request.item.seed).toBe(BIG);
    const input = decoded.request.item.input;
    if (input?.$case !== 'tensor') throw new Error('expected tensor');
    expect(Array.from(decodeFloat32Tensor(input.tensor, [1, 2, 2]).data)).toEqual([0, 0.5, 1, -0.25]);
  });

  it('leaves absent optional scalars undefined', () => {
    const msg = StreamingCertifyRequest.fromPartial({ request: { $case: 'item', item: { id: 'x' } } });
    const decoded = StreamingCertifyRequest.decode(StreamingCertifyRequest.encode(msg).finish());
    if (decoded.request?.$case !== 'item') throw new Error('expected item');
    expect(decoded.request.item.label).toBeUndefined();
    expect(decoded.request.item.seed).toBeUndefined();
    expect(decoded.request.item.input).toBeUndefined();
  });
});

describe('StreamingCertifyResponse with an in-band google.rpc.Status', () => {
  it('carries ErrorInfo details packed in Any', () => {
    const { StreamingCertifyResponse } = certifyV1;
    const info = { reason: 'IMAGE_DECODE_FAILED', domain: 'glcert.certify.v1', metadata: { id: 'img-9' } };
    const msg = StreamingCertifyResponse.fromPartial({
      id: 'img-9',
      status: {
        code: googleRpc.Code.INVALID_ARGUMENT,
        message: 'item.image: not a PNG, JPEG or WebP image',
        details: [packAny(RPC_TYPE_NAMES.errorInfo, googleRpc.ErrorInfo, googleRpc.ErrorInfo.fromPartial(info))],
      },
    });
    const decoded = StreamingCertifyResponse.decode(StreamingCertifyResponse.encode(msg).finish());
    expect(decoded.status?.code).toBe(3);
    const detail = decoded.status!.details[0];
    expect(detail.typeUrl).toBe('type.googleapis.com/google.rpc.ErrorInfo');
    expect(unpackAny(detail, RPC_TYPE_NAMES.errorInfo, googleRpc.ErrorInfo)).toEqual(info);
    expect(unpackAny(detail, RPC_TYPE_NAMES.badRequest, googleRpc.BadRequest)).toBeUndefined();
  });
});

describe('float32 tensor helpers', () => {
  it('encodes little-endian bytes and decodes them back exactly', () => {
    const values = new Float32Array([1, -2.5, Math.fround(Math.PI), 0, 1e-30, 3e38]);
    const tensor = encodeFloat32Tensor(values, [2n, 3n]);
    expect(tensor.dataType).toBe(DataType.DATA_TYPE_FLOAT32);
    expect(tensor.shape).toEqual([2n, 3n]);
    expect(tensor.rawContents.readFloatLE(4)).toBe(-2.5);
    expect(Array.from(tensor.rawContents.subarray(0, 4))).toEqual([0x00, 0x00, 0x80, 0x3f]); // 1.0f LE
    const { data, shape } = decodeFloat32Tensor(tensor, [null, 3]);
    expect(shape).toEqual([2, 3]);
    expect(data).toEqual(values);
  });

  it('copies on encode, so later writes to the source do not leak into the message', () => {
    const values = new Float32Array([1, 2]);
    const tensor = encodeFloat32Tensor(values, [2]);
    values[0] = 9;
    expect(decodeFloat32Tensor(tensor).data[0]).toBe(1);
  });

  it('decodes from an unaligned Buffer (as produced by protobuf decoding)', () => {
    const tensor = encodeFloat32Tensor([0.25, 0.75, 0.5], [3]);
    const padded = Buffer.alloc(tensor.rawContents.length + 1);
    tensor.rawContents.copy(padded, 1);
    expect(Array.from(decodeFloat32Tensor({ ...tensor, rawContents: padded.subarray(1) }).data)).toEqual([0.25, 0.75, 0.5]);
  });

  it('survives a proto round trip', () => {
    const tensor = encodeFloat32Tensor(new Float32Array(3 * 4 * 5).map((_, i) => i / 10), [3, 4, 5]);
    const decoded = Tensor.decode(Tensor.encode(tensor).finish());
    expect(decodeFloat32Tensor(decoded, [3, 4, 5]).data).toEqual(decodeFloat32Tensor(tensor).data);
  });

  it('rejects malformed tensors, naming the field', () => {
    const ok = encodeFloat32Tensor([1, 2, 3, 4], [2, 2]);
    const fieldOf = (f: () => unknown): string | undefined => {
      try {
        f();
      } catch (e) {
        if (e instanceof TensorFormatError) return e.field;
        throw e;
      }
      return undefined;
    };
    expect(fieldOf(() => encodeFloat32Tensor([1, 2, 3], [2, 2]))).toBe('shape');
    expect(fieldOf(() => encodeFloat32Tensor([1], [-1]))).toBe('shape');
    expect(fieldOf(() => encodeFloat32Tensor([1], [0.5]))).toBe('shape');
    expect(fieldOf(() => decodeFloat32Tensor(undefined))).toBe('shape');
    expect(fieldOf(() => decodeFloat32Tensor({ ...ok, dataType: DataType.DATA_TYPE_UNSPECIFIED }))).toBe('data_type');
    expect(fieldOf(() => decodeFloat32Tensor({ ...ok, rawContents: ok.rawContents.subarray(1) }))).toBe('raw_contents');
    expect(fieldOf(() => decodeFloat32Tensor(ok, [4]))).toBe('shape');
    expect(fieldOf(() => decodeFloat32Tensor(ok, [2, 3]))).toBe('shape');
    expect(fieldOf(() => decodeFloat32Tensor({ ...ok, shape: [2n ** 60n, 0n] }))).toBe('shape');
    expect(fieldOf(() => decodeFloat32Tensor(ok, [2, -1]))).toBeUndefined();
  });
});

describe('modelInputChw', () => {
  it('reads [C, H, W] out of [N, C, H, W] (N dynamic), and nothing out of any other shape', () => {
    expect(modelInputChw({ inputShape: [-1n, 1n, 28n, 28n] })).toEqual([1, 28, 28]);
    expect(modelInputChw({ inputShape: [8, 3, 32, 32] })).toEqual([3, 32, 32]);
    for (const inputShape of [[1n, 28n, 28n], [-1n, 0n, 28n, 28n], [-1n, 1n, -1n, 28n], [-1, 1, 2.5, 2], [-1n, 1n, 28n, 28n, 1n]]) {
      expect(modelInputChw({ inputShape })).toBeUndefined();
    }
  });
});

describe('service definitions', () => {
  it('use the fully-qualified gRPC paths and the streaming flags of the protos', () => {
    expect(InferenceServiceService.classify.path).toBe('/glcert.inference.v1.InferenceService/Classify');
    expect(CertificationServiceService.streamingCertify.path).toBe(
      '/glcert.certify.v1.CertificationService/StreamingCertify',
    );
    expect(CertificationServiceService.streamingCertify.requestStream).toBe(true);
    expect(CertificationServiceService.streamingCertify.responseStream).toBe(true);
    expect(CertificationServiceService.certify.requestStream).toBe(false);
  });
});
