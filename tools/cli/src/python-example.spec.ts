// examples/python against a real stack (every service its own process, the real mnist-cnn):
// a Python backend with only Debian's python3-grpcio, python3-protobuf, python3-cryptography and
// stubs from Debian's protoc certifies an image, streams a folder, and verifies certificates
// offline from the DSSE envelope and the public key alone. Skipped, saying why, when python3 or
// those packages are missing; under CI (which installs them) their absence fails instead.
import { spawnSync } from 'node:child_process';
import { createPrivateKey, sign } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { clopperPearsonLower } from '@glcert/stats';

import { run } from './cli';
import { WORKSPACE_ROOT, startStack, type Stack } from './stack';

jest.setTimeout(300_000);

const PYTHON = '/usr/bin/python3';
const EXAMPLES = join(WORKSPACE_ROOT, 'examples', 'python');
const MNIST = join(WORKSPACE_ROOT, 'data', 'mnist-test');

/** Why the example cannot run here, or undefined when it can. */
function missingPrerequisite(): string | undefined {
  if (!existsSync(PYTHON)) return `${PYTHON} is missing (apt-get install python3)`;
  const probe = spawnSync(PYTHON, ['-c', 'import grpc, google.protobuf, cryptography'], { encoding: 'utf8' });
  if (probe.status !== 0) return `python packages missing (apt-get install python3-grpcio python3-protobuf python3-cryptography): ${probe.stderr.trim().split('\n').pop()}`;
  for (const tool of ['/usr/bin/protoc', '/usr/bin/grpc_python_plugin']) {
    if (!existsSync(tool)) return `${tool} is missing (apt-get install protobuf-compiler protobuf-compiler-grpc)`;
  }
  return undefined;
}

const missing = missingPrerequisite();
if (missing && process.env.CI === 'true') throw new Error(`python example: ${missing}; CI installs these (.ci/run)`);
if (missing) console.warn(`python example skipped: ${missing}`);
const suite = missing ? describe.skip : describe;

suite('examples/python against a running stack', () => {
  let stack: Stack;
  let tmp: string;
  let keys: string;
  let pubKey: string;
  let folder: string;
  const env = (): NodeJS.ProcessEnv => ({ ...process.env, GLCERT_PY_STUBS: join(tmp, 'stubs'), PYTHONDONTWRITEBYTECODE: '1' });
  const python = (script: string, ...args: string[]) => {
    const r = spawnSync(PYTHON, [join(EXAMPLES, script), ...args], { env: env(), encoding: 'utf8', timeout: 240_000 });
    return { code: r.status, out: r.stdout, err: r.stderr };
  };

  beforeAll(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'glcert-py-'));
    keys = join(tmp, 'keys');
    pubKey = join(keys, 'signing.pem.pub.pem');
    folder = join(tmp, 'digits');
    mkdirSync(folder);
    const rows = readFileSync(join(MNIST, 'labels.csv'), 'utf8').trim().split('\n').slice(1, 5);
    for (const r of rows) copyFileSync(join(MNIST, r.split(',')[0]!), join(folder, r.split(',')[0]!));
    writeFileSync(join(folder, 'garbage.png'), 'not an image');
    writeFileSync(join(folder, 'labels.csv'), `file,label\n${rows.join('\n')}\ngarbage.png,0\n`);
    stack = await startStack({
      basePort: 0,
      keysDir: keys,
      boundsCacheDir: join(tmp, 'bounds-cache'),
      env: { LOG_LEVEL: 'warn', OTEL_SDK_DISABLED: 'true' },
    });
  });

  afterAll(async () => {
    await stack?.stop();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('certify_image.py: one image with a preset and the server defaults; the certificate carries its DSSE envelope', () => {
    const image = join(MNIST, readFileSync(join(MNIST, 'labels.csv'), 'utf8').split('\n')[1]!.split(',')[0]!);
    const r = python('certify_image.py', image, '--addr', stack.addresses.certifier, '--preset', 'brightness', '--seed', '7', '--out', join(tmp, 'cert.json'));
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const m = /^(CERTIFIED|ABSTAINED): class \d, pA >= 0\.\d+, threshold 0\.\d+ \(n0 (\d+), n (\d+), alpha 0\.001, seed 7, key ed25519:[0-9a-f]{16}\)/.exec(r.out);
    expect(m).not.toBeNull();
    // the server defaults 200 and 1000 (maxima when the certifier samples sequentially)
    expect(Number(m![2])).toBeLessThanOrEqual(200);
    expect(Number(m![3])).toBeLessThanOrEqual(1000);
    const cert = JSON.parse(readFileSync(join(tmp, 'cert.json'), 'utf8'));
    expect(cert.dsseEnvelope.payloadType).toBe('application/vnd.glcert.certificate+json; version=2');
    expect(cert.threatModel.box).toEqual([{ name: 'b', min: -0.4, max: 0.4 }]);
  });

  it('verify_certificate.py: valid with the public key alone, pA recomputed; a tampered payload, a wrong key and a forged outcome are caught', () => {
    const file = join(tmp, 'cert.json');
    const ok = python('verify_certificate.py', file, '--public-key', pubKey, '--json');
    expect(ok.err).toBe('');
    expect(ok.code).toBe(0);
    const res = JSON.parse(ok.out);
    const cert = JSON.parse(readFileSync(file, 'utf8'));
    expect(res).toMatchObject({ valid: true, reasons: [], keyId: cert.keyId, outcome: cert.outcome });
    // the Python Clopper-Pearson against the TypeScript one
    // (a sequential certificate is tested at its look's level)
    const level = cert.sequential?.level ?? cert.alpha;
    expect(Math.abs(res.recomputedPaLower - clopperPearsonLower(Number(cert.na), Number(cert.n), level))).toBeLessThan(1e-12);

    const payload = JSON.parse(Buffer.from(cert.dsseEnvelope.payload, 'base64').toString('utf8'));
    const tampered = join(tmp, 'tampered.json');
    const forgedPayload = Buffer.from(JSON.stringify({ ...payload, predictedClass: (payload.predictedClass ?? 0) + 1 }));
    writeFileSync(tampered, JSON.stringify({ dsseEnvelope: { ...cert.dsseEnvelope, payload: forgedPayload.toString('base64') } }));
    const bad = python('verify_certificate.py', tampered, '--public-key', pubKey, '--json');
    expect(bad.code).toBe(1);
    expect(JSON.parse(bad.out).reasons[0]).toMatch(/^signature: no signature verifies/);

    // signed with the real key but claiming the other verdict: the recomputation catches it
    const flipped = cert.outcome === 'OUTCOME_CERTIFIED' ? 'OUTCOME_ABSTAINED' : 'OUTCOME_CERTIFIED';
    const lying = Buffer.from(JSON.stringify({ ...payload, outcome: flipped }));
    const type = cert.dsseEnvelope.payloadType as string;
    const pae = Buffer.concat([Buffer.from(`DSSEv1 ${Buffer.byteLength(type)} ${type} ${lying.length} `), lying]);
    const sig = sign(null, pae, createPrivateKey(readFileSync(join(keys, 'signing.pem')))).toString('base64');
    const liar = join(tmp, 'liar.json');
    writeFileSync(liar, JSON.stringify({ ...cert.dsseEnvelope, payload: lying.toString('base64'), signatures: [{ keyid: cert.keyId, sig }] }));
    const caught = python('verify_certificate.py', liar, '--public-key', pubKey, '--json');
    expect(caught.code).toBe(1);
    expect(JSON.parse(caught.out).reasons).toEqual([expect.stringMatching(new RegExp(`^outcome: certificate says ${flipped}, the verdict rule gives ${cert.outcome}`))]);

    const otherKey = join(tmp, 'other.pub.pem');
    writeFileSync(otherKey, spawnSync('openssl', ['genpkey', '-algorithm', 'ed25519'], { encoding: 'utf8' }).stdout);
    const pub = spawnSync('openssl', ['pkey', '-pubout', '-in', otherKey], { encoding: 'utf8' }).stdout;
    writeFileSync(otherKey, pub);
    expect(python('verify_certificate.py', file, '--public-key', otherKey).code).toBe(1);
  });

  it('glcert verify accepts the certificate the Python client wrote (proto3 JSON from python3-protobuf)', async () => {
    let out = '';
    const code = await run(['verify', join(tmp, 'cert.json'), '--no-default-keys', '--public-key', pubKey, '--json'], { out: (t) => void (out += t), err: () => undefined });
    expect({ code, ...JSON.parse(out) }).toMatchObject({ code: 0, valid: true, signatureValid: true, reasons: [] });
  });

  it('every service of the stack answers server reflection (v1) with its own service, as grpcurl list does', async () => {
    const def = protoLoader.loadSync('grpc/reflection/v1/reflection.proto', { includeDirs: [join(require.resolve('@grpc/reflection/package.json'), '..', 'build', 'proto')] });
    const Ctor = (grpc.loadPackageDefinition(def) as any).grpc.reflection.v1.ServerReflection as grpc.ServiceClientConstructor;
    const a = stack.addresses;
    const expected: Array<[string, string, string]> = [
      ['certifier', a.certifier, 'glcert.certify.v1.CertificationService'],
      ['verifier', a.verifier, 'glcert.verify.v1.VerificationService'],
      ['sampler', a.samplers[0]!, 'glcert.sampling.v1.SamplingService'],
      ['bounds', a.bounds, 'glcert.bounds.v1.BoundService'],
      ['inference', a.inference[0]!, 'glcert.inference.v1.InferenceService'],
    ];
    for (const [name, address, service] of expected) {
      const client = new Ctor(address, grpc.credentials.createInsecure()) as any;
      const listed = await new Promise<string[]>((resolve, reject) => {
        const call = client.serverReflectionInfo();
        call.on('data', (r: { listServicesResponse: { service: Array<{ name: string }> } }) => {
          resolve(r.listServicesResponse.service.map((x) => x.name));
          call.end();
        });
        call.on('error', reject);
        call.write({ listServices: '*' });
      });
      client.close();
      expect([name, listed]).toEqual([name, [service]]);
    }
  });

  it('certify_folder.py: StreamingCertify with progress, the bad image answered in-band, seeds as documented; stream certificates verify in Python', () => {
    const results = join(tmp, 'results.jsonl');
    const r = python('certify_folder.py', folder, '--addr', stack.addresses.certifier, '--preset', 'brightness', '--base-seed', '11', '--n0', '100', '--n', '300', '--out', results);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const progress = r.out.split('\n').filter((l) => l.startsWith('['));
    expect(progress).toHaveLength(5);
    expect(progress.map((l) => /^\[(\d)\/5\]/.exec(l)![1])).toEqual(['1', '2', '3', '4', '5']);
    expect(progress.find((l) => l.includes('garbage.png'))).toMatch(/garbage\.png: error 3: /);
    expect(r.out).toMatch(/5 images: \d certified \(\d with the right label\), \d abstained, 1 errors/);
    const rows = readFileSync(results, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    const good = rows.filter((x) => x.code === 0);
    expect(good).toHaveLength(4);
    for (const row of good) {
      expect(Number(row.certificate.n)).toBeLessThanOrEqual(300);
      const f = join(tmp, `${row.id}.cert.json`);
      writeFileSync(f, JSON.stringify(row.certificate));
      expect(python('verify_certificate.py', f, '--public-key', pubKey).code).toBe(0);
    }
  });
});
