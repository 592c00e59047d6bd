import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { BoundMethod, BoundServiceClient, Distribution, ThresholdMethod, type boundsV1 } from '@glcert/contracts';
import { createClient, readConfig, decodeStatus } from '@glcert/runtime';
import { boundsConfigSchema } from './config';
import { startBoundsService, type BoundsServiceHandle } from './bound-service';

// Closed form of ALGORITHM.md section 5: brightness, s = 0.3, box [-0.4, 0.4]: h* = Phi(4/3).
const PHI_4_3 = 0.9087887802741321;

function brightness(lo: number, hi: number, extra: Partial<boundsV1.GetThresholdRequest> = {}): boundsV1.GetThresholdRequest {
  return {
    threatModel: {
      transform: 'b',
      box: [{ name: 'b', min: lo, max: hi }],
      smoothing: [{ name: 'b', distribution: Distribution.DISTRIBUTION_NORMAL, sigma: 0.3 }],
      note: '',
    },
    boundSettings: { ns: 4000n, gridPoints: [9], seed: 0n, method: BoundMethod.BOUND_METHOD_AUTO },
    onlyCached: false,
    ...extra,
  };
}

function call(client: BoundServiceClient, req: boundsV1.GetThresholdRequest): Promise<boundsV1.GetThresholdResponse> {
  return new Promise((resolve, reject) =>
    client.getThreshold(req, new grpc.Metadata(), { deadline: Date.now() + 60_000 }, (err, res) => (err ? reject(err) : resolve(res!))),
  );
}

describe('BoundService', () => {
  let dir: string;
  let service: BoundsServiceHandle;
  let client: BoundServiceClient;

  const start = async (): Promise<void> => {
    const config = readConfig(boundsConfigSchema(), { BOUNDS_PORT: '0', BOUNDS_CACHE_DIR: dir });
    service = await startBoundsService(config, { signals: [] });
    client = createClient(BoundServiceClient, service.address);
  };
  const stop = async (): Promise<void> => {
    client?.close();
    await service?.close();
  };

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'glcert-bounds-'));
    await start();
  });
  afterEach(async () => {
    await stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('solves the brightness box, never below the closed form, and picks the portfolio minimum', async () => {
    const res = await call(client, brightness(-0.4, 0.4));
    const bound = res.bound!;
    expect(res.cacheHit).toBe(false);
    expect(bound.threshold).toBeGreaterThanOrEqual(PHI_4_3 - 1e-12);
    expect(bound.closedFormThreshold).toBeCloseTo(PHI_4_3, 12);
    expect(bound.numericThreshold).toBeGreaterThanOrEqual(PHI_4_3 - 1e-12);
    expect(bound.threshold).toBe(Math.min(bound.numericThreshold, bound.closedFormThreshold!));
    expect(bound.method).toBe(ThresholdMethod.THRESHOLD_METHOD_CLOSED_FORM);
    expect(bound.cacheKey).toMatch(/^[0-9a-f]{64}$/);
  });

  it('serves a restart from its disk cache without solving again', async () => {
    const first = await call(client, brightness(-0.2, 0.2));
    expect(service.pool.solvesStarted).toBe(1);
    await stop();
    await start();
    const again = await call(client, brightness(-0.2, 0.2));
    expect(again.cacheHit).toBe(true);
    expect(service.pool.solvesStarted).toBe(0);
    expect(again.bound).toEqual(first.bound);
    // only_cached on a miss: no bound, no solve
    const miss = await call(client, brightness(-0.3, 0.3, { onlyCached: true }));
    expect(miss.bound).toBeUndefined();
    expect(miss.cacheHit).toBe(false);
    expect(service.pool.solvesStarted).toBe(0);
  });

  it('solves concurrent requests for the same key once and leaves no temp files', async () => {
    const results = await Promise.all([1, 2, 3, 4].map(() => call(client, brightness(-0.1, 0.1))));
    expect(service.pool.solvesStarted).toBe(1);
    expect(new Set(results.map((r) => r.bound!.threshold)).size).toBe(1);
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('ignores a corrupt cache file and solves again', async () => {
    const first = await call(client, brightness(-0.15, 0.15));
    writeFileSync(join(dir, `${first.bound!.cacheKey}.json`), '{"cacheKey": "trunc');
    await stop();
    await start();
    const again = await call(client, brightness(-0.15, 0.15));
    expect(again.cacheHit).toBe(false);
    expect(again.bound!.threshold).toBe(first.bound!.threshold);
  });

  it.each<[string, (r: boundsV1.GetThresholdRequest) => void, string]>([
    ['unknown transform', (r) => (r.threatModel!.transform = 'zoom'), 'threat_model.transform'],
    ['inverted box', (r) => (r.threatModel!.box[0] = { name: 'b', min: 0.4, max: -0.4 }), 'threat_model.box'],
    ['NaN in box', (r) => (r.threatModel!.box[0].max = Number.NaN), 'threat_model.box'],
    ['sigma <= 0', (r) => (r.threatModel!.smoothing[0].sigma = 0), 'threat_model.smoothing[0].sigma'],
    ['wrong law', (r) => (r.threatModel!.smoothing[0].distribution = Distribution.DISTRIBUTION_RAYLEIGH), 'threat_model.smoothing[0].distribution'],
    ['unknown parameter', (r) => r.threatModel!.box.push({ name: 'zz', min: 0, max: 1 }), 'threat_model'],
    ['ns too small', (r) => (r.boundSettings!.ns = 3n), 'bound_settings.ns'],
    ['64 kB transform key', (r) => (r.threatModel!.transform = 't'.repeat(64 << 10)), 'threat_model.transform'],
    ['1 MB parameter name', (r) => (r.threatModel!.smoothing[0].name = 'b'.repeat(1 << 20)), 'threat_model.smoothing[0].name'],
    // issue 11 finding 5: each was INTERNAL (the solver's score overflowed in its worker)
    ['box b in +-1.7e308, AUTO', (r) => (r.threatModel!.box[0] = { name: 'b', min: -1.7e308, max: 1.7e308 }), 'threat_model.box[0]'],
    [
      'box b in +-1.7e308, NUMERIC',
      (r) => {
        r.threatModel!.box[0] = { name: 'b', min: -1.7e308, max: 1.7e308 };
        r.boundSettings!.method = BoundMethod.BOUND_METHOD_NUMERIC;
      },
      'threat_model.box[0]',
    ],
    [
      'blur sigma 1e-300',
      (r) => {
        r.threatModel = { transform: 'r', box: [{ name: 'r', min: 0, max: 2 }], smoothing: [{ name: 'r', distribution: Distribution.DISTRIBUTION_RAYLEIGH, sigma: 1e-300 }], note: '' };
      },
      'threat_model.smoothing[0].sigma',
    ],
    [
      'grid past 5e6 attack points (a domain limit, not a cost)',
      (r) => {
        r.threatModel = {
          transform: 'cb',
          box: [
            { name: 'k', min: 0.6, max: 1.4 },
            { name: 'b', min: -0.4, max: 0.4 },
          ],
          smoothing: [
            { name: 'k', distribution: Distribution.DISTRIBUTION_LOG_NORMAL, sigma: 0.3 },
            { name: 'b', distribution: Distribution.DISTRIBUTION_NORMAL, sigma: 0.3 },
          ],
          note: '',
        };
        r.boundSettings = { ns: 1000n, gridPoints: [3000, 3000], seed: 0n, method: BoundMethod.BOUND_METHOD_NUMERIC };
      },
      'bound_settings.grid_points',
    ],
    ['duplicate box entry', (r) => r.threatModel!.box.push({ name: 'b', min: 0, max: 0.1 }), 'threat_model.box[1].name'],
    ['__proto__ smoothing entry', (r) => r.threatModel!.smoothing.push({ name: '__proto__', distribution: Distribution.DISTRIBUTION_NORMAL, sigma: 0.3 }), 'threat_model.smoothing[1].name'],
  ])('%s is INVALID_ARGUMENT naming the field', async (_name, mutate, field) => {
    const req = brightness(-0.1, 0.1);
    mutate(req);
    const err = (await call(client, req).catch((e: unknown) => e)) as grpc.ServiceError;
    expect(err.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(err.details.length).toBeLessThan(300); // never the caller's input at length
    const fields = decodeStatus(err)!.badRequest!.fieldViolations.map((v) => v.field).join(' ');
    expect(fields).toContain(field);
    // the server stays up: the next good request succeeds
    expect((await call(client, brightness(-0.05, 0.05, { boundSettings: { ns: 100n, gridPoints: [3], seed: 0n, method: BoundMethod.BOUND_METHOD_CLOSED_FORM } }))).bound!.threshold).toBeGreaterThan(0.5);
  });

  it('refuses a solve larger than the configured budget with RESOURCE_EXHAUSTED', async () => {
    // translation: every (point, node) pair has its own direction; 1e7 samples on a 201 x 201 grid
    const req: boundsV1.GetThresholdRequest = {
      threatModel: {
        transform: 't',
        box: [
          { name: 'tx', min: -100, max: 100 },
          { name: 'ty', min: -100, max: 100 },
        ],
        smoothing: [
          { name: 'tx', distribution: Distribution.DISTRIBUTION_NORMAL, sigma: 30 },
          { name: 'ty', distribution: Distribution.DISTRIBUTION_NORMAL, sigma: 30 },
        ],
        note: '',
      },
      boundSettings: { ns: 10_000_000n, gridPoints: [201], seed: 0n, method: BoundMethod.BOUND_METHOD_NUMERIC },
      onlyCached: false,
    };
    const err = (await call(client, req).catch((e: unknown) => e)) as grpc.ServiceError;
    expect(err.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(err.details).toContain('BOUNDS_MAX_SOLVE_COST');
    expect(service.pool.solvesStarted).toBe(0);
  });

  it('a cheap solve with many grid points is not refused: a one-parameter score has two directions', async () => {
    // brightness at ns 1e6 on 10001 points: attack points x 8 x ns = 8e10, but two bands to solve
    const req = brightness(-0.1, 0.1, { boundSettings: { ns: 1_000_000n, gridPoints: [10_001], seed: 0n, method: BoundMethod.BOUND_METHOD_NUMERIC } });
    const res = await call(client, req);
    expect(res.bound!.numericThreshold).toBeGreaterThanOrEqual(res.bound!.closedFormThreshold ?? 0);
  });
});
