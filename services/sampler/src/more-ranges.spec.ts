// CountSamples with more_ranges: one call counts several ranges (a FIXED certification's
// selection and estimation) in shared batches; every range's counts must equal a separate call's.
import * as grpc from '@grpc/grpc-js';
import { SamplingServiceClient, type samplingV1 } from '@glcert/contracts';
import { createClient, decodeStatus } from '@glcert/runtime';
import { count, countRequest, failure, quietLogger, startHarness, type Harness } from './testing/harness';
import { startSamplerService, type SamplerService } from './sampler-service';
import { validateCountRequest } from './validate';

const BATCH = 256;
const range = (stream: number, start: number, end: number): samplingV1.SampleRange => ({
  stream,
  startIndex: BigInt(start),
  endIndex: BigInt(end),
});

describe('CountSamples more_ranges (real inference sidecar, mnist-cnn)', () => {
  let h: Harness;
  /** A second sampler on the same sidecar that builds the images itself (SAMPLER_SIDECAR_TRANSFORMS=false). */
  let pixels: SamplerService;
  let pixelsClient: SamplingServiceClient;

  beforeAll(async () => {
    h = await startHarness({ pipelineDepth: 2 });
    pixels = await startSamplerService(
      { host: '127.0.0.1', port: 0, inferenceAddr: h.inference.address, shutdownGraceMs: 2_000, sidecarTransforms: false, pipelineDepth: 2 },
      { logger: quietLogger('sampler') },
    );
    await pixels.ready;
    pixelsClient = createClient(SamplingServiceClient, pixels.address, { defaultDeadlineMs: 60_000 });
  }, 60_000);

  afterAll(async () => {
    pixelsClient?.close();
    await pixels?.close();
    await h?.close();
  });

  // batches of 256 straddle every boundary; `fewer`: the separate calls' partial batches merge
  const cases: Array<[string, samplingV1.SampleRange, samplingV1.SampleRange[], boolean]> = [
    // the FIXED certification's shape: selection on stream 0, estimation on stream 1 (1 + 4 calls either way)
    ['different streams (200 then 1000)', range(0, 0, 200), [range(1, 0, 1000)], false],
    ['the same stream, disjoint ranges (100 then 1100)', range(1, 0, 100), [range(1, 500, 1600)], true],
    ['three ranges, the last inside the last batch', range(0, 0, 100), [range(1, 0, 1100), range(2, 0, 100)], true],
  ];

  describe.each<[string, () => { client: SamplingServiceClient; sampler: SamplerService }]>([
    ['the sidecar builds the images', () => ({ client: h.client, sampler: h.sampler })],
    ['images built here (SAMPLER_SIDECAR_TRANSFORMS=false)', () => ({ client: pixelsClient, sampler: pixels })],
  ])('%s', (_path, target) => {
    it.each(cases)('%s: per range the counts of separate calls, in one call per 256 samples', async (_name, first, more, fewer) => {
      const { client, sampler } = target();
      const all = [first, ...more];
      const size = (r: samplingV1.SampleRange): number => Number(r.endIndex - r.startIndex);
      const total = all.reduce((a, r) => a + size(r), 0);

      const separateBefore = sampler.stats.classifyCalls;
      const separate: bigint[][] = [];
      for (const r of all) {
        const res = await count(client, countRequest({ stream: r.stream, startIndex: r.startIndex, endIndex: r.endIndex, batchSize: BATCH }));
        expect(res.samplesCount).toBe(BigInt(size(r)));
        expect(res.moreCounts).toEqual([]);
        separate.push(res.classCounts);
      }
      const separateCalls = sampler.stats.classifyCalls - separateBefore;

      const before = sampler.stats.classifyCalls;
      const builtBefore = sampler.stats.samplesBuiltBySidecar;
      const res = await count(
        client,
        countRequest({ stream: first.stream, startIndex: first.startIndex, endIndex: first.endIndex, moreRanges: more, batchSize: BATCH }),
      );
      const calls = sampler.stats.classifyCalls - before;

      expect(res.classCounts).toEqual(separate[0]);
      expect(res.moreCounts.map((m) => m.classCounts)).toEqual(separate.slice(1));
      expect(res.samplesCount).toBe(BigInt(total));
      expect(res.batchesCount).toBe(Math.ceil(total / BATCH));
      expect(calls).toBe(Math.ceil(total / BATCH));
      expect(separateCalls).toBe(all.reduce((a, r) => a + Math.ceil(size(r) / BATCH), 0));
      if (fewer) expect(calls).toBeLessThan(separateCalls);
      // the path under test is the one taken
      expect(sampler.stats.samplesBuiltBySidecar - builtBefore).toBe(sampler === pixels ? 0 : total);
      // informative: each range's smoothing moves the prediction, so a misplaced row would show
      for (const counts of separate) expect(counts.filter((c) => c > 0n).length).toBeGreaterThan(1);
    });
  });

  describe('validation', () => {
    async function expectInvalid(over: Partial<samplingV1.CountSamplesRequest>, field: string, exactFields?: string[]): Promise<grpc.ServiceError> {
      const before = h.sampler.stats.classifyCalls;
      const err = await failure(count(h.client, countRequest(over)));
      expect(grpc.status[err.code]).toBe('INVALID_ARGUMENT');
      expect(err.details).toContain(field);
      const fields = decodeStatus(err)?.badRequest?.fieldViolations.map((v) => v.field) ?? [];
      expect(fields).toContain(field);
      if (exactFields) expect(fields).toEqual(exactFields);
      // short: no caller input echoed at length
      expect(err.details.length).toBeLessThan(400);
      expect(h.sampler.stats.classifyCalls).toBe(before);
      return err;
    }
    const ok = range(1, 0, 10);

    it.each<[string, samplingV1.SampleRange, string]>([
      ['negative stream', range(-1, 0, 10), 'more_ranges[1].stream'],
      ['negative start', range(1, -5, 10), 'more_ranges[1].start_index'],
      ['empty range', range(1, 10, 10), 'more_ranges[1].end_index'],
      ['reversed range', range(1, 10, 5), 'more_ranges[1].end_index'],
      ['end past 2^53 - 1', range(1, 0, 2 ** 53), 'more_ranges[1].end_index'],
    ])('%s in more_ranges[1]: INVALID_ARGUMENT naming the field', async (_name, bad, field) => {
      await expectInvalid({ moreRanges: [ok, bad] }, field, [field]);
    });

    it('8 more ranges are refused naming more_ranges; 7 are counted', async () => {
      const err = await expectInvalid({ endIndex: 2n, moreRanges: Array.from({ length: 8 }, (_, i) => range(1, 10 * i, 10 * i + 2)) }, 'more_ranges', [
        'more_ranges',
      ]);
      expect(err.details).toContain('7');
      const res = await count(h.client, countRequest({ endIndex: 2n, moreRanges: Array.from({ length: 7 }, (_, i) => range(1, 10 * i, 10 * i + 2)) }));
      expect(res.samplesCount).toBe(16n);
      expect(res.moreCounts).toHaveLength(7);
    });

    it('a thousand more ranges: refused in a short message that does not list them', async () => {
      await expectInvalid({ moreRanges: Array.from({ length: 1000 }, (_, i) => range(1, 10 ** 9 + i, 10 ** 9 + i + 1)) }, 'more_ranges', ['more_ranges']);
    });

    it('all ranges together over SAMPLER_MAX_RANGE: refused naming more_ranges (each range alone fits)', async () => {
      const err = await expectInvalid({ endIndex: 600_000n, moreRanges: [range(1, 0, 300_000), range(0, 0, 200_000)] }, 'more_ranges', ['more_ranges']);
      expect(err.details).toContain('all ranges together');
    });

    it('validateCountRequest: ranges lists the first range then more_ranges; the total may reach maxRange exactly', () => {
      const input = validateCountRequest(countRequest({ stream: 0, startIndex: 5n, endIndex: 10n, moreRanges: [range(1, 0, 95)] }), { maxRange: 100 });
      expect(input.ranges).toEqual([
        { stream: 0, start: 5, end: 10 },
        { stream: 1, start: 0, end: 95 },
      ]);
      expect([input.stream, input.start, input.end]).toEqual([0, 5, 10]);
      expect(() => validateCountRequest(countRequest({ startIndex: 5n, endIndex: 10n, moreRanges: [range(1, 0, 96)] }), { maxRange: 100 })).toThrow(
        /all ranges together/,
      );
    });
  });
});
