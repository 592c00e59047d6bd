// Faults with the real services as separate processes on loopback: a sampler killed in the
// middle of a Certify and of a StreamingCertify, the bound service restarted, cancellation and
// deadlines, admission control, memory across bursts, and SIGTERM of the certifier during a
// stream. One stack (inference, 3 samplers, bounds, certifier) serves the whole file.
import * as grpc from '@grpc/grpc-js';
import { BoundMethod, BoundServiceClient, CertificationServiceClient, Outcome, Sampling, type boundsV1, type Certificate, type certifyV1 } from '@glcert/contracts';
import { createClient, deadlineIn } from '@glcert/runtime';
import { goodCertify, goodConfig, item } from './bad-input-cases';
import { answerOfError, answerOfRpcStatus, answerOfStatus, streamAll, unary } from './calls';
import { brightness, digits, png } from './fixtures';
import { startLocalStack, type LocalStack, type ServiceProcess } from './processes';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** What must not change when the work is split or retried differently. */
function counts(c: Certificate | undefined) {
  return {
    predictedClass: c?.predictedClass,
    selection: c?.selectionClassCounts.map(String),
    na: String(c?.na),
    n: String(c?.n),
    paLower: c?.paLower,
    outcome: c?.outcome,
    inputSha256: c?.inputSha256,
    seed: String(c?.seed),
  };
}

/** Log lines of `p` with this `msg`, from index `from` on. */
const linesOf = (p: ServiceProcess, msg: string, from = 0): Array<Record<string, unknown>> => p.logs().slice(from).filter((l) => l['msg'] === msg);

/** Batches the inference process ran, from its `batch run` debug lines. */
function batches(p: ServiceProcess): Array<{ started: number; ended: number; images: number }> {
  return linesOf(p, 'batch run').map((l) => ({ started: Number(l['started_ms']), ended: Number(l['ended_ms']), images: Number(l['images']) }));
}

/** Waits until nothing new happened in the inference process for `quietMs`. */
async function quiesce(inference: ServiceProcess, quietMs = 600, maxMs = 15_000): Promise<void> {
  const end = Date.now() + maxMs;
  let last = batches(inference).length;
  let since = Date.now();
  while (Date.now() < end) {
    await sleep(100);
    const now = batches(inference).length;
    if (now !== last) {
      last = now;
      since = Date.now();
    } else if (Date.now() - since >= quietMs) return;
  }
}

describe('faults, with every service a separate process', () => {
  let stack: LocalStack;
  let client: CertificationServiceClient;
  const digit = png(digits().find((d) => d.label === 7)!.file);
  const f = { png: digit };
  const MAX_INFLIGHT = 3;
  const WINDOW = 2;
  // FIXED sampling: these runs must draw all n samples (long enough to kill, cancel or fill slots
  // mid-call; counts comparable chunk by chunk), where SEQUENTIAL would stop at the first look
  const fixedCertify = (over: Partial<certifyV1.CertifyRequest>): certifyV1.CertifyRequest => goodCertify(f, { sampling: Sampling.SAMPLING_FIXED, ...over });
  const fixedConfig = (over: Partial<certifyV1.StreamingCertifyConfig> = {}): certifyV1.StreamingCertifyRequest => goodConfig({ sampling: Sampling.SAMPLING_FIXED, ...over });

  const connect = (): void => {
    client?.close();
    client = createClient(CertificationServiceClient, stack.certifier.address, { defaultDeadlineMs: 170_000 });
  };

  /** Certify that can be cancelled: the call and its outcome. */
  function startCertify(req: certifyV1.CertifyRequest, options: Partial<grpc.CallOptions> = {}) {
    let call!: grpc.ClientUnaryCall;
    const result = new Promise<certifyV1.CertifyResponse>((resolve, reject) => {
      call = client.certify(req, new grpc.Metadata(), { deadline: deadlineIn(170_000), ...options }, (err, res) => (err ? reject(err) : resolve(res)));
    });
    result.catch(() => undefined);
    return { call, result };
  }

  beforeAll(async () => {
    stack = await startLocalStack({
      samplers: 3,
      envFor: {
        inference: { LOG_LEVEL: 'debug' },
        certifier: {
          LOG_LEVEL: 'debug',
          CERTIFIER_CHUNK_SIZE: '500',
          CERTIFIER_SAMPLER_CONCURRENCY: '2',
          CERTIFIER_RETRY_BACKOFF_MS: '20',
          CERTIFIER_MAX_INFLIGHT: String(MAX_INFLIGHT),
          CERTIFIER_STREAM_CONCURRENCY: String(WINDOW),
          CERTIFIER_SHUTDOWN_GRACE_MS: '5000',
        },
      },
    });
    connect();
  });

  afterAll(async () => {
    client?.close();
    await stack?.stop();
  });

  it('a sampler killed in the middle of a Certify: the chunk is retried elsewhere, counts equal the fault-free run', async () => {
    const req = fixedCertify({ n0: 200n, n: 6_000n, seed: 4242n });
    const t0 = Date.now();
    const clean = await unary<certifyV1.CertifyResponse>(client, 'certify', req, { deadline: deadlineIn(170_000) });
    const cleanMs = Date.now() - t0;

    const victim = stack.samplers[1]!;
    const logFrom = stack.certifier.logs().length;
    const running = startCertify(req);
    let settled = false;
    void running.result.then(
      () => (settled = true),
      () => (settled = true),
    );
    await sleep(Math.max(300, cleanMs * 0.35));
    expect(settled).toBe(false); // the kill lands mid-call
    await victim.kill('SIGKILL');
    const faulted = await running.result;

    expect(counts(faulted.certificate)).toEqual(counts(clean.certificate));
    expect(faulted.certificate!.outcome).toBe(Outcome.OUTCOME_CERTIFIED);
    // the certifier saw the killed sampler fail a CountSamples chunk and retried it elsewhere
    const retries = linesOf(stack.certifier, 'sampler call failed, retrying elsewhere', logFrom);
    expect(retries.some((l) => l['sampler'] === victim.address && /^CountSamples/.test(String(l['call'])))).toBe(true);

    await stack.restart(victim.name);
  });

  it('a sampler killed in the middle of a StreamingCertify: every item answered exactly once, counts equal the fault-free run', async () => {
    const ids = Array.from({ length: 8 }, (_, i) => `digit-${i}`);
    const files = digits().slice(0, 8);
    const messages = [fixedConfig({ n0: 100n, n: 1_500n, baseSeed: 99n }), ...ids.map((id, i) => item(id, { $case: 'image', image: png(files[i]!.file) }))];
    const t0 = Date.now();
    const clean = await streamAll(client, messages);
    const cleanMs = Date.now() - t0;
    expect(clean.status.code).toBe(grpc.status.OK);
    expect(clean.responses.map((r) => r.id).sort()).toEqual([...ids].sort());

    const victim = stack.samplers[2]!;
    const logFrom = stack.certifier.logs().length;
    const faultedP = streamAll(client, messages);
    await sleep(Math.max(300, cleanMs * 0.35));
    await victim.kill('SIGKILL');
    const faulted = await faultedP;

    expect(answerOfStatus(faulted.status).code).toBe('OK');
    expect(faulted.responses.map((r) => r.id).sort()).toEqual([...ids].sort()); // exactly one each
    const byId = new Map(clean.responses.map((r) => [r.id, r]));
    for (const r of faulted.responses) {
      expect(answerOfRpcStatus(r.status).code).toBe('OK');
      expect(counts(r.certificate)).toEqual(counts(byId.get(r.id)!.certificate));
    }
    const retries = linesOf(stack.certifier, 'sampler call failed, retrying elsewhere', logFrom);
    expect(retries.some((l) => l['sampler'] === victim.address)).toBe(true);

    await stack.restart(victim.name);
  });

  it('the bound service, restarted, serves from its cache without solving again', async () => {
    const bounds = (): BoundServiceClient => createClient(BoundServiceClient, stack.bounds.address);
    const req: boundsV1.GetThresholdRequest = {
      // a closed form still goes through a solve (a worker) and the durable cache, and does not
      // depend on the numeric solver's settings
      threatModel: brightness({ min: -0.1, max: 0.1, sigma: 0.25 }),
      boundSettings: { ns: 0n, gridPoints: [], seed: 0n, method: BoundMethod.BOUND_METHOD_CLOSED_FORM },
      onlyCached: false,
    };
    const logFrom = stack.bounds.logs().length;
    let c = bounds();
    const first = await unary<boundsV1.GetThresholdResponse>(c, 'getThreshold', req);
    c.close();
    expect(first.cacheHit).toBe(false);
    expect(linesOf(stack.bounds, 'solving bound', logFrom)).toHaveLength(1);

    const restarted = await stack.restart('bounds', {}, 'SIGTERM');
    c = bounds();
    const again = await unary<boundsV1.GetThresholdResponse>(c, 'getThreshold', req);
    c.close();
    expect(again.cacheHit).toBe(true);
    expect(again.bound).toEqual(first.bound);
    // a certification through the certifier uses the cached bound too. The certifier's channel
    // to the bound service reconnects with grpc-js' backoff, and meanwhile it answers UNAVAILABLE
    // at once: the client retries (Certify with a seed is idempotent), as clients should
    const t0 = Date.now();
    let res: certifyV1.CertifyResponse | undefined;
    while (!res) {
      try {
        res = await unary<certifyV1.CertifyResponse>(client, 'certify', fixedCertify({ threatModel: req.threatModel, boundSettings: req.boundSettings, n: 500n }));
      } catch (err) {
        if (answerOfError(err).code !== 'UNAVAILABLE' || Date.now() - t0 > 30_000) throw err;
        await sleep(200);
      }
    }
    expect(Date.now() - t0).toBeLessThan(30_000);
    expect(res.certificate!.boundCacheKey).toBe(first.bound!.cacheKey);
    expect(linesOf(restarted, 'solving bound')).toEqual([]);
  });

  it.each([
    ['cancelled by the client', { cancelAfterMs: 1_500 }],
    ['past its deadline', { deadlineMs: 1_500 }],
  ] as const)('a Certify %s stops the work within one batch per worker', async (_name, how) => {
    await quiesce(stack.inference);
    const before = batches(stack.inference).length;
    const req = fixedCertify({ n0: 200n, n: 100_000n, seed: 7n });
    const running = startCertify(req, 'deadlineMs' in how ? { deadline: deadlineIn(how.deadlineMs) } : {});
    let stoppedAt: number;
    if ('cancelAfterMs' in how) {
      await sleep(how.cancelAfterMs);
      stoppedAt = Date.now();
      running.call.cancel();
    } else {
      stoppedAt = Date.now() + how.deadlineMs;
    }
    const err = await running.result.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(answerOfError(err).code).toBe('cancelAfterMs' in how ? 'CANCELLED' : 'DEADLINE_EXCEEDED');
    await quiesce(stack.inference);

    const ran = batches(stack.inference).slice(before);
    const beforeStop = ran.filter((b) => b.started < stoppedAt);
    const startedAfter = ran.filter((b) => b.started >= stoppedAt);
    // the work was running (batches before the stop), and at most one more batch per worker
    // started once the call was over (each worker that freed up while the cancellation travelled
    // client -> certifier -> sampler -> sidecar took the next one), none after a short propagation time
    const sizing = stack.inference.logs().find((l) => String(l['msg']).startsWith('sizing:'));
    const workers = Number(sizing?.['workers']);
    expect(workers).toBeGreaterThanOrEqual(1);
    expect(beforeStop.length).toBeGreaterThan(3);
    expect(startedAfter.length).toBeLessThanOrEqual(workers);
    expect(startedAfter.filter((b) => b.started > stoppedAt + 250)).toEqual([]);
  });

  it(`admission control: past CERTIFIER_MAX_INFLIGHT (${MAX_INFLIGHT}) Certify is RESOURCE_EXHAUSTED at once; slots come back`, async () => {
    const long = Array.from({ length: MAX_INFLIGHT }, (_, i) => startCertify(fixedCertify({ n: 100_000n, seed: BigInt(100 + i) })));
    await sleep(1_000);
    const t0 = Date.now();
    const err = await unary(client, 'certify', fixedCertify({ n: 100n })).then(
      () => undefined,
      (e: unknown) => e,
    );
    const refusedMs = Date.now() - t0;
    const a = answerOfError(err);
    expect(a).toMatchObject({ code: 'RESOURCE_EXHAUSTED', reason: 'CERTIFIER_OVERLOADED' });
    expect(refusedMs).toBeLessThan(1_000);
    // a stream item is refused in-band the same way when the stream holds no slot
    const s = await streamAll(client, [fixedConfig(), item('x', { $case: 'image', image: digit })]);
    expect(s.responses.map((r) => [r.id, answerOfRpcStatus(r.status).code])).toEqual([['x', 'RESOURCE_EXHAUSTED']]);

    for (const l of long) l.call.cancel();
    await Promise.all(long.map((l) => l.result.catch(() => undefined)));
    await sleep(300);
    const ok = await unary<certifyV1.CertifyResponse>(client, 'certify', fixedCertify({ n: 100n }));
    expect(ok.certificate).toBeDefined();
  });

  it('memory stays flat: the certifier RSS does not grow from burst to burst', async () => {
    const samples: Array<{ burst: number; kb: number }> = [];
    let burst = 0;
    const timer = setInterval(() => {
      const kb = stack.certifier.rssKb();
      if (kb !== undefined) samples.push({ burst, kb });
    }, 50);
    try {
      for (burst = 1; burst <= 4; burst++) {
        // each burst: MAX_INFLIGHT concurrent streams of 4 items, plus a Certify refused at the door
        await Promise.all(
          Array.from({ length: MAX_INFLIGHT }, (_, s) =>
            streamAll(client, [
              fixedConfig({ n0: 50n, n: 300n, baseSeed: BigInt(burst * 10 + s) }),
              ...Array.from({ length: 4 }, (_, i) => item(`b${burst}-s${s}-${i}`, { $case: 'image', image: digit })),
            ]),
          ),
        );
      }
    } finally {
      clearInterval(timer);
    }
    const peak = (b: number): number => Math.max(...samples.filter((s) => s.burst === b).map((s) => s.kb));
    // burst 1 warms up (JIT, buffers); later bursts must not keep growing
    expect(peak(4)).toBeLessThanOrEqual(peak(2) * 1.1 + 8 * 1024);
    expect(peak(3)).toBeLessThanOrEqual(peak(2) * 1.1 + 8 * 1024);
  });

  /**
   * SIGTERM during a stream. Definitions: an item is *accepted* once the certifier has read it
   * off the stream (its `stream message read` debug line); the certifier reads in order, so
   * the accepted items are a prefix of the sent ones. Assertions: every accepted id gets
   * exactly one response (OK when it finished within the drain period, else UNAVAILABLE
   * in-band), no other id gets one, and the stream ends UNAVAILABLE: the unanswered ids are
   * exactly the sent ids that were not accepted (a suffix), which the client resends.
   */
  it.each([
    ['in-flight items finish within the drain period', { n: 1_500n, graceMs: '5000', inBand: 'OK' }],
    ['in-flight items past the drain period are answered UNAVAILABLE in-band', { n: 60_000n, graceMs: '1000', inBand: 'UNAVAILABLE' }],
  ] as const)('SIGTERM of the certifier during a stream: %s; nothing is dropped', async (_name, c) => {
    const certifier = await stack.restart('certifier', { CERTIFIER_SHUTDOWN_GRACE_MS: c.graceMs }, 'SIGTERM');
    connect();
    const ids = Array.from({ length: 30 }, (_, i) => `item-${String(i).padStart(2, '0')}`);
    const messages = [fixedConfig({ n0: 50n, n: c.n, baseSeed: 5n }), ...ids.map((id) => item(id, { $case: 'image', image: digit }))];
    const received: certifyV1.StreamingCertifyResponse[] = [];
    const done = new Promise<grpc.StatusObject>((resolve) => {
      const call = client.streamingCertify({ deadline: deadlineIn(170_000) });
      call.on('data', (r: certifyV1.StreamingCertifyResponse) => received.push(r));
      call.on('error', () => undefined);
      call.on('status', (s: grpc.StatusObject) => setImmediate(() => resolve(s)));
      void (async () => {
        for (const m of messages) {
          if (call.destroyed) return;
          if (!call.write(m)) await new Promise<void>((r) => call.once('drain', () => r()));
        }
        call.end();
      })().catch(() => undefined);
    });
    // SIGTERM once the stream is well under way (items in flight)
    const end = Date.now() + 60_000;
    const readSoFar = (): number => linesOf(certifier, 'stream message read').length;
    while ((c.inBand === 'OK' ? received.length < 2 : readSoFar() < WINDOW) && Date.now() < end) await sleep(20);
    const answeredBefore = received.length;
    await certifier.kill('SIGTERM');
    const status = await done;
    const exit = await certifier.exited;

    const accepted = linesOf(certifier, 'stream message read').map((l) => String(l['item_id']));
    const answered = received.map((r) => r.id);
    expect(exit).toEqual({ code: 0, signal: null }); // a graceful exit
    expect(answerOfStatus(status)).toMatchObject({ code: 'UNAVAILABLE', reason: 'SHUTTING_DOWN' });
    expect(new Set(answered).size).toBe(answered.length); // exactly one response per id
    expect([...answered].sort()).toEqual([...accepted].sort()); // every accepted item, nothing else
    expect(accepted).toEqual(ids.slice(0, accepted.length)); // read in order: a prefix
    expect(accepted.length).toBeLessThan(ids.length); // some were never read (the client resends them)
    const inFlight = received.slice(answeredBefore);
    expect(inFlight.length).toBeGreaterThan(0);
    for (const r of received.slice(0, answeredBefore)) expect(answerOfRpcStatus(r.status).code).toBe('OK');
    for (const r of inFlight) expect(['OK', c.inBand]).toContain(answerOfRpcStatus(r.status).code);
    expect(inFlight.some((r) => answerOfRpcStatus(r.status).code === c.inBand)).toBe(true);
  });
});
