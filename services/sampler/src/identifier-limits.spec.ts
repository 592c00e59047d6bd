// Issue 11, finding 4: a 48 kB model name to GetModel dropped the connection (its NOT_FOUND
// echoed the name into a status too big for an HTTP/2 header block). Identifiers are now
// checked at the edge: INVALID_ARGUMENT naming the field, a short message, no sidecar call.
import * as grpc from '@grpc/grpc-js';
import { Distribution, type samplingV1 } from '@glcert/contracts';
import { decodeStatus } from '@glcert/runtime';
import { CB_SMOOTHING, count, countRequest, failure, MODEL, startHarness, type Harness } from './testing/harness';

describe('SamplingService identifier limits (real sidecar)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  }, 60_000);
  afterAll(async () => {
    await h?.close();
  });

  const getModel = (model: string) =>
    new Promise<samplingV1.GetModelResponse>((resolve, reject) => h.client.getModel({ model }, (err, res) => (err ? reject(err) : resolve(res!))));
  const sampleTransforms = (req: Partial<samplingV1.SampleTransformsRequest>) =>
    new Promise<samplingV1.SampleTransformsResponse>((resolve, reject) =>
      h.client.sampleTransforms(
        { image: countRequest().image, threatModel: CB_SMOOTHING, seed: 1n, stream: 0, startIndex: 0n, count: 1, ...req },
        (err, res) => (err ? reject(err) : resolve(res!)),
      ),
    );

  function expectField(err: grpc.ServiceError, field: string): void {
    expect(grpc.status[err.code]).toBe('INVALID_ARGUMENT');
    expect(decodeStatus(err)?.badRequest?.fieldViolations.map((v) => v.field)).toEqual([field]);
    expect(err.details.length).toBeLessThan(300);
  }

  it.each([48 << 10, 64 << 10, 1 << 20])('GetModel with a %i-byte model name: INVALID_ARGUMENT naming model', async (size) => {
    expectField(await failure(getModel('m'.repeat(size))), 'model');
  });

  it('CountSamples: long model, malformed expected_model_sha256, long parameter name; no sidecar call', async () => {
    const classify = h.sampler.stats.classifyCalls;
    const counts = h.sampler.stats.countCalls;
    expectField(await failure(count(h.client, countRequest({ model: 'm'.repeat(64 << 10) }))), 'model');
    expectField(await failure(count(h.client, countRequest({ expectedModelSha256: 'f'.repeat(1 << 20) }))), 'expected_model_sha256');
    expectField(await failure(count(h.client, countRequest({ expectedModelSha256: 'not-hex' }))), 'expected_model_sha256');
    const long = { ...CB_SMOOTHING, smoothing: [{ name: 'k'.repeat(48 << 10), distribution: Distribution.DISTRIBUTION_LOG_NORMAL, sigma: 0.8 }] };
    expectField(await failure(count(h.client, countRequest({ threatModel: long }))), 'threat_model.smoothing[0].name');
    expect(h.sampler.stats.classifyCalls).toBe(classify);
    expect(h.sampler.stats.countCalls).toBe(counts);
  });

  it('SampleTransforms: a 64 kB transform key', async () => {
    expectField(await failure(sampleTransforms({ threatModel: { ...CB_SMOOTHING, transform: 't'.repeat(64 << 10) } })), 'threat_model.transform');
  });

  it('the sampler keeps serving', async () => {
    expect((await getModel(MODEL)).metadata?.name).toBe(MODEL);
    expect((await count(h.client, countRequest({ endIndex: 10n }))).samplesCount).toBe(10n);
  });
});
