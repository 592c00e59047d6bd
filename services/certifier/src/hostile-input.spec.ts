// Issue 11, findings 4, 6 and 7 (animated images), over real gRPC on loopback with the fake samplers and bounds:
// long identifiers are refused at the edge (before any downstream call) with a short status,
// and a request shared by request_id belongs to no one caller (no inherited deadline or
// cancellation; it stops when its last caller has gone; no internal address in any status).
import * as zlib from 'node:zlib';
import * as grpc from '@grpc/grpc-js';
import sharp from 'sharp';
import { Distribution, encodeFloat32Tensor, Sampling, type CertificationServiceClient, type certifyV1, type ThreatModel } from '@glcert/contracts';
import { generateSigningKey } from '@glcert/certificate';
import { createLogger, decodeRpcStatus, decodeStatus } from '@glcert/runtime';
import type { CertifierConfig } from './config';
import { startCertifierService, type CertifierService } from './certifier-service';
import { certifierClient, streamAll } from './testing/client';
import { FAKE_MODEL, fakeCounts, startFakeBounds, startFakeSampler, type FakeBounds, type FakeSampler } from './testing/fakes';

const quiet = { logger: createLogger('certifier', { level: 'silent' }) };

const BRIGHTNESS: ThreatModel = {
  transform: 'b',
  box: [{ name: 'b', min: -0.05, max: 0.05 }],
  smoothing: [{ name: 'b', distribution: Distribution.DISTRIBUTION_NORMAL, sigma: 0.3 }],
  note: '',
};
const IMAGE = encodeFloat32Tensor(new Float32Array(28 * 28).fill(0.25), [1, 28, 28]);

function request(over: Partial<certifyV1.CertifyRequest> = {}): certifyV1.CertifyRequest {
  return { requestId: '', model: FAKE_MODEL, input: { $case: 'tensor', tensor: IMAGE }, threatModel: BRIGHTNESS, n0: 100n, n: 500n, alpha: 0.001, seed: 42n, sampling: Sampling.SAMPLING_FIXED, ...over };
}

interface Started {
  result: Promise<certifyV1.CertifyResponse>;
  call: grpc.ClientUnaryCall;
}

function start(client: CertificationServiceClient, req: certifyV1.CertifyRequest, deadlineMs: number): Started {
  let call!: grpc.ClientUnaryCall;
  const result = new Promise<certifyV1.CertifyResponse>((resolve, reject) => {
    call = client.certify(req, new grpc.Metadata(), { deadline: Date.now() + deadlineMs }, (err, res) => (err ? reject(err) : resolve(res)));
  });
  result.catch(() => undefined);
  return { result, call };
}

async function failure(p: Promise<unknown>): Promise<grpc.ServiceError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e as grpc.ServiceError,
  );
  if (!err) throw new Error('expected the call to fail');
  return err;
}

/** A two-frame APNG from two PNGs: IHDR, acTL, fcTL + IDAT (frame 1), fcTL + fdAT (frame 2), IEND. */
function apng(first: Buffer, second: Buffer): Buffer {
  const chunks = (png: Buffer): Array<{ type: string; data: Buffer }> => {
    const out: Array<{ type: string; data: Buffer }> = [];
    for (let at = 8; at < png.length; at += 12 + png.readUInt32BE(at)) {
      out.push({ type: png.toString('latin1', at + 4, at + 8), data: png.subarray(at + 8, at + 8 + png.readUInt32BE(at)) });
    }
    return out;
  };
  const chunk = (type: string, data: Buffer): Buffer => {
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    return Buffer.concat([u32(data.length), body, u32(zlib.crc32(body))]);
  };
  const u32 = (...v: number[]): Buffer => Buffer.concat(v.map((x) => Buffer.from([x >>> 24, (x >>> 16) & 255, (x >>> 8) & 255, x & 255])));
  const ihdr = chunks(first).find((c) => c.type === 'IHDR')!.data;
  const idat = (png: Buffer): Buffer => Buffer.concat(chunks(png).filter((c) => c.type === 'IDAT').map((c) => c.data));
  const fctl = (seq: number): Buffer => chunk('fcTL', Buffer.concat([u32(seq, ihdr.readUInt32BE(0), ihdr.readUInt32BE(4), 0, 0), Buffer.from([0, 1, 0, 10, 0, 0])]));
  return Buffer.concat([
    first.subarray(0, 8),
    chunk('IHDR', ihdr),
    chunk('acTL', u32(2, 0)),
    fctl(0),
    chunk('IDAT', idat(first)),
    fctl(1),
    chunk('fdAT', Buffer.concat([u32(2), idat(second)])),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function until(what: string, ok: () => boolean, ms = 5_000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

interface Rig {
  sampler: FakeSampler;
  bounds: FakeBounds;
  certifier: CertifierService;
  client: CertificationServiceClient;
  close(): Promise<void>;
}

async function rig(delayMs: number, config: Partial<CertifierConfig> = {}): Promise<Rig> {
  const sampler = await startFakeSampler({ delayMs });
  const bounds = await startFakeBounds();
  const certifier = await startCertifierService(
    { port: 0, samplerAddrs: [sampler.address], boundsAddr: bounds.address, chunkSize: 100, retryBackoffMs: 5, shutdownGraceMs: 2_000, ...config },
    { ...quiet, signingKey: generateSigningKey() },
  );
  const client = certifierClient(certifier.address);
  return {
    sampler,
    bounds,
    certifier,
    client,
    close: async () => {
      client.close();
      await certifier.close();
      await Promise.all([sampler.close(), bounds.close()]);
    },
  };
}

/** No internal address or grpc-js diagnostic in anything a server sent. */
function expectNoInternals(err: grpc.ServiceError): void {
  const decoded = decodeStatus(err);
  const text = [err.details, JSON.stringify(decoded?.errorInfo ?? {}), JSON.stringify(decoded?.badRequest ?? {})].join(' ');
  expect(text).not.toMatch(/remote_addr|LB pick|127\.0\.0\.1|localhost:\d|ipv4:/);
}

describe('long identifiers are refused at the edge (finding 4)', () => {
  let r: Rig;
  beforeAll(async () => {
    r = await rig(0);
  });
  afterAll(async () => {
    await r.close();
  });

  const big = (bytes: number): string => 'm'.repeat(bytes);

  const cases: Array<[string, Partial<certifyV1.CertifyRequest>, string]> = [
    ['model 1 MB', { model: big(1 << 20) }, 'model'],
    ['model 64 kB', { model: big(64 << 10) }, 'model'],
    ['model 48 kB', { model: big(48 << 10) }, 'model'],
    ['model 10 kB', { model: big(10_000) }, 'model'],
    ['model with a space', { model: 'mnist cnn' }, 'model'],
    ['request_id 64 kB', { requestId: big(64 << 10) }, 'request_id'],
    ['request_id with a newline', { requestId: 'a\nb' }, 'request_id'],
    ['transform 64 kB', { threatModel: { ...BRIGHTNESS, transform: big(64 << 10) } }, 'threat_model.transform'],
    ['box name 64 kB', { threatModel: { ...BRIGHTNESS, box: [{ name: big(64 << 10), min: -0.05, max: 0.05 }] } }, 'threat_model.box[0].name'],
    ['smoothing name 1 MB', { threatModel: { ...BRIGHTNESS, smoothing: [{ name: big(1 << 20), distribution: Distribution.DISTRIBUTION_NORMAL, sigma: 0.3 }] } }, 'threat_model.smoothing[0].name'],
    ['preset 64 kB', { threatModel: undefined, preset: big(64 << 10) }, 'preset'],
    ['1000 box entries', { threatModel: { ...BRIGHTNESS, box: Array.from({ length: 1000 }, () => BRIGHTNESS.box[0]!) } }, 'threat_model.box'],
  ];
  it.each(cases.map(([what, over, field]) => ({ what, over, field })))('Certify, $what: INVALID_ARGUMENT naming $field, short, no downstream call', async ({ over, field }) => {
    const before = { counts: r.sampler.calls.length, models: r.sampler.getModelCalls.length, bounds: r.bounds.calls.length };
    const err = await failure(start(r.client, request(over), 30_000).result);
    expect(grpc.status[err.code]).toBe('INVALID_ARGUMENT');
    expect(decodeStatus(err)?.badRequest?.fieldViolations.map((v) => v.field)).toEqual([field]);
    expect(err.details.length).toBeLessThan(300);
    expect({ counts: r.sampler.calls.length, models: r.sampler.getModelCalls.length, bounds: r.bounds.calls.length }).toEqual(before);
  });

  it('StreamingCertify: a 1 MB config model ends the stream INVALID_ARGUMENT naming config.model, nothing sent downstream', async () => {
    const models = r.sampler.getModelCalls.length;
    const out = await streamAll(r.client, [{ request: { $case: 'config', config: { model: big(1 << 20), threatModel: BRIGHTNESS, n0: 100n, n: 500n, alpha: 0.001 } } }], {
      deadline: Date.now() + 30_000,
    });
    expect(grpc.status[out.status.code]).toBe('INVALID_ARGUMENT');
    expect(decodeStatus(out.status.metadata)?.badRequest?.fieldViolations.map((v) => v.field)).toEqual(['config.model']);
    expect(out.status.details.length).toBeLessThan(300);
    expect(r.sampler.getModelCalls.length).toBe(models);
  });

  it('StreamingCertify: a 64 kB item id is an in-band INVALID_ARGUMENT (not echoed back); the stream goes on', async () => {
    const config: certifyV1.StreamingCertifyRequest = {
      request: { $case: 'config', config: { model: FAKE_MODEL, threatModel: BRIGHTNESS, n0: 100n, n: 500n, alpha: 0.001, baseSeed: 1n } },
    };
    const item = (id: string): certifyV1.StreamingCertifyRequest => ({ request: { $case: 'item', item: { id, input: { $case: 'tensor', tensor: IMAGE } } } });
    const out = await streamAll(r.client, [config, item(big(64 << 10)), item('ok-1')], { deadline: Date.now() + 30_000 });
    expect(grpc.status[out.status.code]).toBe('OK');
    const bad = out.responses.find((x) => x.status!.code !== 0)!;
    expect(bad.id).toBe('');
    const status = decodeRpcStatus(bad.status!);
    expect(grpc.status[status.code]).toBe('INVALID_ARGUMENT');
    expect(status.badRequest?.fieldViolations.map((v) => v.field)).toEqual(['item.id']);
    expect(status.message.length).toBeLessThan(300);
    expect(out.responses.find((x) => x.id === 'ok-1')?.certificate?.requestId).toBe('ok-1');
  });

  it('an animated PNG (frames encoded by sharp) is refused: INVALID_ARGUMENT naming image, reason ANIMATED_IMAGE (finding 7)', async () => {
    const frame = (grey: number): Promise<Buffer> =>
      sharp({ create: { width: 28, height: 28, channels: 3, background: { r: grey, g: grey, b: grey } } }).png().toBuffer();
    const [first, second] = await Promise.all([frame(0), frame(255)]);
    const err = await failure(start(r.client, request({ input: { $case: 'image', image: apng(first, second) } }), 30_000).result);
    expect(grpc.status[err.code]).toBe('INVALID_ARGUMENT');
    expect(decodeStatus(err)?.badRequest?.fieldViolations.map((v) => [v.field, v.reason])).toEqual([['image', 'ANIMATED_IMAGE']]);
    // its first frame alone is certified
    const res = await start(r.client, request({ input: { $case: 'image', image: first } }), 30_000).result;
    expect(res.certificate?.preprocessing[0]).toMatch(/^decoded png 28x28x3/);
  });

  it('a normal Certify still works afterwards', async () => {
    const res = await start(r.client, request({ requestId: 'after-hostile' }), 30_000).result;
    expect(res.certificate?.requestId).toBe('after-hostile');
  });
});

describe('a request shared by request_id belongs to no one caller (finding 6)', () => {
  let r: Rig;
  afterEach(async () => {
    await r?.close();
  });

  it.each(['deadline', 'cancel'])(
    'the first caller leaving (%s) does not fail a duplicate that joined with a later deadline',
    async (how) => {
      // every chunk call takes 1.5 s: the work outlives the first caller's 1 s
      r = await rig(1_500);
      const req = request({ requestId: `shared-${how}` });
      const first = start(r.client, req, how === 'deadline' ? 1_000 : 60_000);
      await sleep(300);
      const second = start(r.client, req, 60_000);
      if (how === 'cancel') {
        await sleep(400);
        first.call.cancel();
      }
      const e1 = await failure(first.result);
      expect(grpc.status[e1.code]).toBe(how === 'deadline' ? 'DEADLINE_EXCEEDED' : 'CANCELLED');
      const res = await second.result;
      const cert = res.certificate!;
      expect(cert.requestId).toBe(`shared-${how}`);
      // the counts of the one shared certification, exactly as fresh work would give them
      expect(cert.selectionClassCounts.map(Number)).toEqual(fakeCounts(42n, 0, 0, 100));
      expect(Number(cert.na)).toBe(fakeCounts(42n, 1, 0, 500)[cert.predictedClass]);
      // one certification (1 + 5 chunks), none of it cancelled
      expect(r.sampler.calls).toHaveLength(6);
      expect(r.sampler.cancelled).toBe(0);
    },
    30_000,
  );

  it('when every joined caller has gone the work stops, and the request_id then runs afresh', async () => {
    r = await rig(1_500);
    const req = request({ requestId: 'abandoned' });
    const a = start(r.client, req, 400);
    await sleep(100);
    const b = start(r.client, req, 700);
    expect(grpc.status[(await failure(a.result)).code]).toBe('DEADLINE_EXCEEDED');
    expect(grpc.status[(await failure(b.result)).code]).toBe('DEADLINE_EXCEEDED');
    // the sampler calls of the abandoned work are cancelled, long before their 1.5 s
    await until('the sampler calls to stop', () => r.sampler.active === 0);
    expect(r.sampler.cancelled).toBeGreaterThan(0);
    const callsBefore = r.sampler.calls.length;
    const res = await start(r.client, req, 60_000).result;
    expect(res.certificate?.requestId).toBe('abandoned');
    expect(r.sampler.calls.length - callsBefore).toBe(6);
  }, 30_000);

  it.each(['', 'with-id'])(
    'a downstream deadline reaches the client without internal addresses (request_id %p)',
    async (requestId) => {
      // chunk calls capped at 200 ms against a sampler taking 1 s: grpc-js' DEADLINE_EXCEEDED
      // ("Deadline exceeded after 0.2s,LB pick: ...,remote_addr=127.0.0.1:port") passes through
      r = await rig(1_000, { chunkTimeoutMs: 200 });
      const err = await failure(start(r.client, request({ requestId }), 60_000).result);
      expect(grpc.status[err.code]).toBe('DEADLINE_EXCEEDED');
      expect(decodeStatus(err)?.errorInfo?.reason).toBe('UPSTREAM_DEADLINE_EXCEEDED');
      expectNoInternals(err);
    },
    30_000,
  );
});
