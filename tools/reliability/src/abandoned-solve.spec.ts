// Issue 11 finding 2 through Certify: the bound solve a Certify started stops when that Certify
// is cancelled or passes its deadline (it ran on for 69 s), and a Certify whose bound cannot be
// afforded is refused up front with the setting named. Real services, in this process.
import * as grpc from '@grpc/grpc-js';
import { BoundMethod, Distribution, type certifyV1, type ThreatModel } from '@glcert/contracts';
import { decodeStatus } from '@glcert/runtime';
import { goodCertify } from './bad-input-cases';
import { digits, png } from './fixtures';
import { startInProcess, type InProcess } from './in-process';

/** cb k 0.61:1.39, b +-0.39, smoothing 0.3 / 0.3: the report's threat model. */
const CB: ThreatModel = {
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
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('a Certify that goes away takes its bound solve with it', () => {
  let sys: InProcess;
  let image: Buffer;

  beforeAll(async () => {
    sys = await startInProcess();
    image = png(digits().find((d) => d.label === 7)!.file);
  });
  afterAll(async () => {
    await sys?.close();
  });

  function certify(ns: bigint, deadlineMs: number): { call: grpc.ClientUnaryCall; result: Promise<certifyV1.CertifyResponse> } {
    // ns 1e5 on 15 x 15: about 6.6e8 cost units (under the 1e9 in-process cap), ten seconds or more of solving
    const req = goodCertify({ png: image }, { threatModel: CB, boundSettings: { ns, gridPoints: [15, 15], seed: 0n, method: BoundMethod.BOUND_METHOD_NUMERIC } });
    let call!: grpc.ClientUnaryCall;
    const result = new Promise<certifyV1.CertifyResponse>((resolve, reject) => {
      call = sys.clients.certifier.certify(req, new grpc.Metadata(), { deadline: Date.now() + deadlineMs }, (err, res) => (err ? reject(err) : resolve(res!)));
    });
    result.catch(() => undefined);
    return { call, result };
  }

  async function solverIdleWithin(ms: number): Promise<number> {
    const t0 = Date.now();
    while (sys.bounds.pool.running > 0) {
      if (Date.now() - t0 > ms) throw new Error(`the bound solver still runs ${ms} ms after its caller left`);
      await sleep(20);
    }
    return Date.now() - t0;
  }

  async function solving(): Promise<void> {
    const before = sys.bounds.pool.solvesStarted;
    for (let i = 0; i < 250 && sys.bounds.pool.solvesStarted === before; i++) await sleep(20);
    expect(sys.bounds.pool.solvesStarted).toBe(before + 1);
    expect(sys.bounds.pool.running).toBe(1);
  }

  it('cancelling the Certify stops the solve within 2 s', async () => {
    const c = certify(100_000n, 120_000);
    await solving();
    c.call.cancel();
    await expect(c.result).rejects.toMatchObject({ code: grpc.status.CANCELLED });
    expect(await solverIdleWithin(2_000)).toBeLessThan(2_000);
  });

  it("the Certify's deadline stops the solve within 2 s of it", async () => {
    const c = certify(100_001n, 3_000); // another cache key; estimated well under 3 s, so it starts
    await solving();
    await expect(c.result).rejects.toMatchObject({ code: grpc.status.DEADLINE_EXCEEDED });
    expect(await solverIdleWithin(2_000)).toBeLessThan(2_000);
  });

  it('a Certify whose solve is over the cap is refused at once, naming bound_settings.ns', async () => {
    const t0 = Date.now();
    const err = (await certify(1_000_000n, 3_000).result.catch((e: unknown) => e)) as grpc.ServiceError;
    expect(Date.now() - t0).toBeLessThan(2_500);
    expect(err.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    const fields = decodeStatus(err)!.badRequest!.fieldViolations.map((v) => v.field);
    expect(fields).toContain('bound_settings.ns');
    expect(sys.bounds.pool.running).toBe(0);
  });
});
