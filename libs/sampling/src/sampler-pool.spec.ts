import * as grpc from '@grpc/grpc-js';
import { SamplingServiceService, type inferenceV1, type samplingV1, type SamplingServiceServer } from '@glcert/contracts';
import {
  createLogger,
  grpcCode,
  modelMismatchError,
  modelMismatchOf,
  startService,
  unaryHandler,
  UnavailableError,
  type RunningService,
} from '@glcert/runtime';
import { planCalls, splitRange, type Chunk } from './chunks';
import { SamplerPool, type CallScope } from './sampler-pool';

const quiet = createLogger('test', { level: 'silent' });
const SHA = 'ab'.repeat(32);
const OTHER = 'cd'.repeat(32);

/** Class of sample `index` of `stream`: a pure function, as with the real sampler. */
const classOf = (stream: number, index: number): number => (index * 7 + stream * 3) % 5 === 0 ? 1 : 0;

/** The counts of [start, end): computed independently of the pool, sample by sample. */
function expectedCounts(chunks: readonly Chunk[]): number[] {
  const out = [0, 0];
  for (const c of chunks) for (let i = c.start; i < c.end; i++) out[classOf(c.stream, i)]!++;
  return out;
}

interface Fake {
  running: RunningService;
  calls: number;
}

/** A SamplingService that counts with `classOf` (served by `sha`), or refuses every call UNAVAILABLE. */
async function fakeSampler(behaviour: { sha?: string; unavailable?: boolean; ignoreMoreRanges?: boolean; dropOneCount?: boolean }): Promise<Fake> {
  const fake = { calls: 0 } as Fake;
  const metadata: inferenceV1.ModelMetadata = {
    name: 'm', version: '1', sha256: behaviour.sha ?? SHA, inputName: 'input', inputShape: [-1n, 1n, 2n, 2n], channels: 1,
    valueMin: 0, valueMax: 1, classNames: ['a', 'b'], preprocessing: '', executionProvider: 'cpu', maxBatchSize: 8, transforms: [],
  };
  const implementation: SamplingServiceServer = {
    getModel: unaryHandler(async () => {
      if (behaviour.unavailable) throw new UnavailableError('down');
      return { metadata };
    }, { log: quiet }),
    countSamples: unaryHandler(async (req: samplingV1.CountSamplesRequest): Promise<samplingV1.CountSamplesResponse> => {
      fake.calls++;
      if (behaviour.unavailable) throw new UnavailableError('sidecar down');
      const served = behaviour.sha ?? SHA;
      if (req.expectedModelSha256 !== '' && req.expectedModelSha256 !== served) {
        throw modelMismatchError('serves another model', { model: req.model, expected: req.expectedModelSha256, served });
      }
      const countsOf = (stream: number, start: bigint, end: bigint): bigint[] => {
        const counts = [0n, 0n];
        for (let i = Number(start); i < Number(end); i++) counts[classOf(stream, i)]!++;
        return counts;
      };
      const more = behaviour.ignoreMoreRanges ? [] : req.moreRanges;
      return {
        classCounts: countsOf(req.stream, req.startIndex, req.endIndex),
        samplesCount: more.reduce((a, r) => a + r.endIndex - r.startIndex, req.endIndex - req.startIndex),
        batchesCount: 1,
        computeSeconds: 0,
        modelSha256: served,
        moreCounts: (behaviour.dropOneCount ? more.slice(1) : more).map((r) => ({ classCounts: countsOf(r.stream, r.startIndex, r.endIndex) })),
      };
    }, { log: quiet }),
    sampleTransforms: unaryHandler(async () => ({ samples: [] }), { log: quiet }),
  };
  fake.running = await startService({
    name: 'fake-sampler',
    services: [{ definition: SamplingServiceService, implementation }],
    config: { host: '127.0.0.1', port: 0, maxReceiveMessageBytes: 1 << 20, maxSendMessageBytes: 1 << 20, shutdownGraceMs: 100 },
    log: quiet,
    reflection: false,
    signals: [],
  });
  fake.running.ready();
  return fake;
}

const BASE = { model: 'm', image: undefined, threatModel: undefined, seed: 1n, batchSize: 0, expectedModelSha256: SHA };

function scope(signal = new AbortController().signal): CallScope {
  return { callOptions: () => ({ deadline: new Date(Date.now() + 10_000) }), signal };
}

describe('SamplerPool', () => {
  const fakes: Fake[] = [];
  const pools: SamplerPool[] = [];
  const start = async (b: Parameters<typeof fakeSampler>[0]): Promise<Fake> => {
    const f = await fakeSampler(b);
    fakes.push(f);
    return f;
  };
  const pool = (addrs: string[], retries = 4): SamplerPool => {
    const p = new SamplerPool({ addrs, concurrency: 2, retries, backoffMs: 5, log: quiet });
    pools.push(p);
    return p;
  };
  afterAll(async () => {
    for (const p of pools) p.close();
    await Promise.all(fakes.map((f) => f.running.shutdown('test')));
  });

  it('sums the chunks over every sampler, the same counts as counted sample by sample', async () => {
    const [a, b] = [await start({}), await start({})];
    const chunks = [...splitRange(0, 50, 7), ...splitRange(1, 120, 16)];
    const perStream = [expectedCounts(chunks.filter((c) => c.stream === 0)), expectedCounts(chunks.filter((c) => c.stream === 1))];
    const p = pool([a.running.address, b.running.address]);
    expect(await p.countChunks(BASE, chunks.filter((c) => c.stream === 0), scope())).toEqual(perStream[0]);
    expect(await p.countChunks(BASE, chunks.filter((c) => c.stream === 1), scope())).toEqual(perStream[1]);
    expect(a.calls).toBeGreaterThan(0);
    expect(b.calls).toBeGreaterThan(0);
  });

  it('counts several ranges per call (planCalls): per stream the counts sample by sample, in fewer calls', async () => {
    const a = await start({});
    const ranges = [
      { stream: 0, start: 0, end: 40 },
      { stream: 1, start: 0, end: 130 },
    ];
    const calls = planCalls(ranges, 100);
    expect(calls).toHaveLength(2);
    const byStream = await pool([a.running.address]).countCalls(BASE, calls, scope());
    expect(byStream.get(0)).toEqual(expectedCounts([ranges[0]!]));
    expect(byStream.get(1)).toEqual(expectedCounts([ranges[1]!]));
    expect(a.calls).toBe(2);
  });

  it('a sampler from before more_ranges (counts the first range only): the others are counted one call each, same counts', async () => {
    const old = await start({ ignoreMoreRanges: true });
    const ranges = [
      { stream: 0, start: 0, end: 30 },
      { stream: 1, start: 5, end: 60 },
    ];
    const byStream = await pool([old.running.address]).countCalls(BASE, planCalls(ranges, 1_000), scope());
    expect(byStream.get(0)).toEqual(expectedCounts([ranges[0]!]));
    expect(byStream.get(1)).toEqual(expectedCounts([ranges[1]!]));
    expect(old.calls).toBe(2);
  });

  it('a sampler that answers fewer more_counts than more_ranges is an error, never a partial count', async () => {
    const broken = await start({ dropOneCount: true });
    const ranges = [
      { stream: 0, start: 0, end: 10 },
      { stream: 1, start: 0, end: 10 },
      { stream: 2, start: 0, end: 10 },
    ];
    await expect(pool([broken.running.address]).countCalls(BASE, planCalls(ranges, 1_000), scope())).rejects.toThrow(/sampler counted .* of 10 \+ 10 \+ 10 samples/);
  });

  it('fails over: chunks refused UNAVAILABLE or by a sampler serving another model are counted elsewhere, same counts', async () => {
    const down = await start({ unavailable: true });
    const wrong = await start({ sha: OTHER });
    const good = await start({});
    const chunks = splitRange(1, 200, 20);
    const p = pool([down.running.address, wrong.running.address, good.running.address], 6);
    expect(await p.countChunks(BASE, chunks, scope())).toEqual(expectedCounts(chunks));
    expect(down.calls + wrong.calls).toBeGreaterThan(0);
    const stats = Object.fromEntries(p.stats().map((s) => [s.address, s]));
    expect(stats[good.running.address]!.failures).toBe(0);
    expect(stats[down.running.address]!.failures + stats[wrong.running.address]!.failures).toBe(down.calls + wrong.calls);
  });

  it('out of retries: UNAVAILABLE when no sampler answers, FAILED_PRECONDITION / MODEL_MISMATCH when they all serve another model', async () => {
    const down = await start({ unavailable: true });
    const err = await pool([down.running.address], 2).countChunks(BASE, splitRange(0, 10, 5), scope()).catch((e: unknown) => e);
    expect((err as { code?: number }).code).toBe(grpc.status.UNAVAILABLE);
    expect(grpcCode(err)).toBeUndefined(); // our own typed error, not the downstream one

    const wrong = await start({ sha: OTHER });
    const mismatch = await pool([wrong.running.address], 1).countChunks(BASE, splitRange(0, 10, 5), scope()).catch((e: unknown) => e);
    expect(modelMismatchOf(mismatch)).toEqual({ expected: SHA, served: OTHER });
  });

  it('stops when its scope aborts: the abort reason, not a downstream error', async () => {
    const down = await start({ unavailable: true });
    const abort = new AbortController();
    const reason = new Error('caller gone');
    setTimeout(() => abort.abort(reason), 30);
    const p = new SamplerPool({ addrs: [down.running.address], concurrency: 1, retries: 1_000, backoffMs: 20, log: quiet });
    pools.push(p);
    await expect(p.countChunks(BASE, splitRange(0, 10, 5), scope(abort.signal))).rejects.toBe(reason);
  });
});
