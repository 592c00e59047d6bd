// Security, with the real services as separate processes: mutual TLS between all of them
// (GLCERT_TLS_*, certificates made with openssl in a temporary directory), and the
// certificate-signing key: never logged nor returned, its public half published, certificates
// verifiable offline, and key rotation keeping old certificates verifiable by key id.
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import {
  CertificationServiceClient,
  Outcome,
  SamplingServiceClient,
  VerificationServiceClient,
  type Certificate,
  type certifyV1,
  type samplingV1,
  type verifyV1,
} from '@glcert/contracts';
import { certificateContent, certificatePayload, checkCertificate, KeyRing, parsePublicKey } from '@glcert/certificate';
import { createClient, deadlineIn } from '@glcert/runtime';
import { goodCertify, goodCount } from './bad-input-cases';
import { answerOfError, unary } from './calls';
import { digits, png, ROOT, tensor } from './fixtures';
import { startLocalStack, type LocalStack } from './processes';

/** A CA, a certificate for the services (server and client use, SAN 127.0.0.1), one for a client, and a client certificate from another CA. */
function makePki(dir: string) {
  const ssl = (...args: string[]): void => void execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  const key = (name: string): void => ssl('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-out', `${name}.key`);
  const ca = (name: string): void => {
    key(name);
    ssl('req', '-x509', '-new', '-key', `${name}.key`, '-out', `${name}.pem`, '-days', '2', '-subj', `/CN=${name}`);
  };
  const issue = (name: string, by: string, ext: string): void => {
    key(name);
    ssl('req', '-new', '-key', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`);
    writeFileSync(path.join(dir, `${name}.ext`), ext);
    ssl('x509', '-req', '-in', `${name}.csr`, '-CA', `${by}.pem`, '-CAkey', `${by}.key`, '-CAcreateserial', '-out', `${name}.pem`, '-days', '2', '-extfile', `${name}.ext`);
  };
  ca('glcert-test-ca');
  ca('rogue-ca');
  const leaf = 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n';
  issue('service', 'glcert-test-ca', `${leaf}extendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n`);
  issue('client', 'glcert-test-ca', `${leaf}extendedKeyUsage=clientAuth\n`);
  issue('rogue-client', 'rogue-ca', `${leaf}extendedKeyUsage=clientAuth\n`);
  const file = (name: string): string => path.join(dir, name);
  const read = (name: string): Buffer => readFileSync(file(name));
  return {
    file,
    ca: read('glcert-test-ca.pem'),
    client: { key: read('client.key'), cert: read('client.pem') },
    rogue: { key: read('rogue-client.key'), cert: read('rogue-client.pem') },
    env: {
      GLCERT_TLS_CERT_FILE: file('service.pem'),
      GLCERT_TLS_KEY_FILE: file('service.key'),
      GLCERT_TLS_CA_FILE: file('glcert-test-ca.pem'),
      // the services dial 127.0.0.1 and check the name in the certificate (its SAN) instead
      GLCERT_TLS_SERVER_NAME: 'localhost',
    },
  };
}

/** The base64 body of a PEM, on one line. */
const pemBody = (pem: string): string =>
  pem
    .split('\n')
    .filter((l) => l !== '' && !l.startsWith('-----'))
    .join('');

/** The private key in every form it could leak in: PEM body, its lines, the raw 32-byte seed (hex, base64, base64url). */
function secretForms(privatePem: string): string[] {
  const body = pemBody(privatePem);
  const der = Buffer.from(body, 'base64');
  const seed = der.subarray(der.length - 32);
  const lines = privatePem.split('\n').filter((l) => l !== '' && !l.startsWith('-----'));
  return [body, ...lines, seed.toString('hex'), seed.toString('base64').replace(/=+$/, ''), seed.toString('base64url')];
}

/** Everything a response carries, as text (bytes as hex and base64). */
function textOf(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => {
    if (typeof v === 'bigint') return v.toString();
    if (v instanceof Uint8Array) return `${Buffer.from(v).toString('hex')} ${Buffer.from(v).toString('base64')}`;
    if (v && typeof v === 'object' && (v as { type?: string }).type === 'Buffer') return `${Buffer.from((v as { data: number[] }).data).toString('hex')} ${Buffer.from((v as { data: number[] }).data).toString('base64')}`;
    return v;
  });
}

describe('security, with every service a separate process', () => {
  let dir: string;
  let pki: ReturnType<typeof makePki>;
  let stack: LocalStack;
  let good: grpc.ChannelCredentials;
  const digit = png(digits().find((d) => d.label === 7)!.file);

  const certifier = (credentials: grpc.ChannelCredentials): CertificationServiceClient =>
    createClient(CertificationServiceClient, stack.certifier.address, { credentials, defaultDeadlineMs: 60_000 });

  async function refused(credentials: grpc.ChannelCredentials): Promise<string> {
    const c = certifier(credentials);
    try {
      const err = await unary(c, 'getPublicKeys', {}, { deadline: deadlineIn(10_000) }).then(
        () => undefined,
        (e: unknown) => e,
      );
      return err === undefined ? 'OK' : answerOfError(err).code;
    } finally {
      c.close();
    }
  }

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'glcert-security-'));
    pki = makePki(dir);
    good = grpc.credentials.createSsl(pki.ca, pki.client.key, pki.client.cert);
    // this process's own clients (startStack's readiness checks among them) present the client
    // certificate; the services get theirs through `env`, which wins over the inherited one
    Object.assign(process.env, {
      GLCERT_TLS_CERT_FILE: pki.file('client.pem'),
      GLCERT_TLS_KEY_FILE: pki.file('client.key'),
      GLCERT_TLS_CA_FILE: pki.env.GLCERT_TLS_CA_FILE,
      GLCERT_TLS_SERVER_NAME: 'localhost',
    });
    stack = await startLocalStack({ samplers: 1, env: pki.env, dir: path.join(dir, 'stack') });
  });

  afterAll(async () => {
    await stack?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  describe('mutual TLS (GLCERT_TLS_CERT_FILE, GLCERT_TLS_KEY_FILE, GLCERT_TLS_CA_FILE)', () => {
    it('a client with a certificate from the CA is served, end to end (certifier -> bounds, samplers -> inference, all over mTLS)', async () => {
      const c = certifier(good);
      try {
        const res = await unary<certifyV1.CertifyResponse>(c, 'certify', goodCertify({ png: digit }, { n: 200n }));
        expect(res.certificate!.outcome).toBe(Outcome.OUTCOME_CERTIFIED);
      } finally {
        c.close();
      }
      expect(stack.certifier.logs().some((l) => l['msg'] === 'mutual TLS: client certificates required')).toBe(true);
    });

    it('a plaintext client is refused', async () => {
      expect(await refused(grpc.credentials.createInsecure())).toBe('UNAVAILABLE');
    });

    it('a TLS client without a certificate is refused', async () => {
      expect(await refused(grpc.credentials.createSsl(pki.ca))).toBe('UNAVAILABLE');
    });

    it('a TLS client with a certificate from another CA is refused', async () => {
      expect(await refused(grpc.credentials.createSsl(pki.ca, pki.rogue.key, pki.rogue.cert))).toBe('UNAVAILABLE');
    });

    it('internal services refuse a client without a certificate too (sampler CountSamples)', async () => {
      const req = goodCount({ chw: tensor([1, 28, 28], 0.2) });
      for (const [credentials, want] of [
        [grpc.credentials.createSsl(pki.ca), 'UNAVAILABLE'],
        [good, 'OK'],
      ] as const) {
        const c = createClient(SamplingServiceClient, stack.samplers[0]!.address, { credentials });
        try {
          const got = await unary<samplingV1.CountSamplesResponse>(c, 'countSamples', req, { deadline: deadlineIn(20_000) }).then(
            () => 'OK',
            (e: unknown) => answerOfError(e).code,
          );
          expect(got).toBe(want);
        } finally {
          c.close();
        }
      }
    });

    it('only some of the TLS files set is a configuration error: exit 78 naming the missing variable', () => {
      const env: NodeJS.ProcessEnv = { ...process.env, BOUNDS_PORT: '0', OTEL_TRACES_EXPORTER: 'none', GLCERT_TLS_CERT_FILE: pki.env.GLCERT_TLS_CERT_FILE };
      delete env['GLCERT_TLS_KEY_FILE'];
      delete env['GLCERT_TLS_CA_FILE'];
      delete env['GLCERT_TLS_SERVER_NAME'];
      const run = spawnSync(process.execPath, ['--import', 'tsx', 'services/bounds/src/main.ts'], { cwd: ROOT, env, encoding: 'utf8', timeout: 60_000 });
      expect(run.status).toBe(78);
      expect(`${run.stdout}${run.stderr}`).toContain('GLCERT_TLS_KEY_FILE');
      expect(`${run.stdout}${run.stderr}`).not.toContain('"msg":"listening"');
    });
  });

  describe('the signing key', () => {
    let certificate: Certificate;
    let keys: certifyV1.GetPublicKeysResponse;
    const keyFile = (): string => path.join(stack.dir, 'keys', 'signing.pem');

    beforeAll(async () => {
      const c = certifier(good);
      try {
        certificate = (await unary<certifyV1.CertifyResponse>(c, 'certify', goodCertify({ png: digit }, { n: 300n, requestId: 'before-rotation' }))).certificate!;
        keys = await unary<certifyV1.GetPublicKeysResponse>(c, 'getPublicKeys', {});
      } finally {
        c.close();
      }
    });

    it('is kept with mode 0600, and never appears in any process output nor in GetPublicKeys', () => {
      const privatePem = readFileSync(keyFile(), 'utf8');
      expect(privatePem).toContain('PRIVATE KEY');
      expect(statSync(keyFile()).mode & 0o777).toBe(0o600);
      const forms = secretForms(privatePem);
      const published = textOf(keys);
      for (const p of stack.all()) {
        const out = p.output();
        expect(out.length).toBeGreaterThan(0);
        for (const s of forms) expect({ process: p.name, leaked: out.includes(s) }).toEqual({ process: p.name, leaked: false });
      }
      for (const s of forms) expect(published.includes(s)).toBe(false);
      expect(published).not.toContain('PRIVATE');
    });

    it('its public half is published: GetPublicKeys and the .pub.pem file agree with the certificate key id', () => {
      const pubPem = readFileSync(`${keyFile()}.pub.pem`, 'utf8');
      const fromFile = parsePublicKey(pubPem);
      expect(keys.keys[0]).toMatchObject({ keyId: certificate.keyId, algorithm: 'ed25519' });
      expect(fromFile.keyId).toBe(certificate.keyId);
      expect(keys.keys[0]!.publicKeyPem.trim()).toBe(pubPem.trim());
      expect(Buffer.from(keys.keys[0]!.publicKeyDer).equals(fromFile.der)).toBe(true);
    });

    it('certificates verify offline with only the public key (checkCertificate with a KeyRing from the PEM); a tampered one does not', () => {
      const ring = new KeyRing([parsePublicKey(readFileSync(`${keyFile()}.pub.pem`, 'utf8'))]);
      expect(checkCertificate(certificate, { keys: ring })).toMatchObject({ valid: true, signatureValid: true, reasons: [] });
      // the signed payload changed (version 2: the DSSE envelope carries the signed bytes)
      const payload = certificatePayload({ ...certificateContent(certificate), predictedClass: (certificate.predictedClass + 1) % 10 });
      const tampered = { ...certificate, dsseEnvelope: { ...certificate.dsseEnvelope!, payload } };
      expect(checkCertificate(tampered, { keys: ring }).signatureValid).toBe(false);
      expect(checkCertificate(certificate, { keys: new KeyRing() }).signatureValid).toBe(false);
    });

    it('key rotation: a new key signs, the old public key stays published (CERTIFIER_RETIRED_KEYS_DIR) and old certificates still verify by key id', async () => {
      const retired = path.join(stack.dir, 'retired');
      mkdirSync(retired, { recursive: true });
      copyFileSync(`${keyFile()}.pub.pem`, path.join(retired, 'signing-1.pub.pem'));
      await stack.restart(
        'certifier',
        { CERTIFIER_SIGNING_KEY_FILE: path.join(stack.dir, 'keys', 'signing-2.pem'), CERTIFIER_RETIRED_KEYS_DIR: retired },
        'SIGTERM',
      );
      const c = certifier(good);
      let after: Certificate;
      let rotated: certifyV1.GetPublicKeysResponse;
      try {
        after = (await unary<certifyV1.CertifyResponse>(c, 'certify', goodCertify({ png: digit }, { n: 300n }))).certificate!;
        rotated = await unary<certifyV1.GetPublicKeysResponse>(c, 'getPublicKeys', {});
      } finally {
        c.close();
      }
      expect(after.keyId).not.toBe(certificate.keyId);
      expect(rotated.keys.map((k) => k.keyId)).toEqual([after.keyId, certificate.keyId]); // current first
      // offline, with only what GetPublicKeys published: each certificate finds its key by id
      const ring = new KeyRing(rotated.keys.map((k) => parsePublicKey(k.publicKeyPem)));
      expect(checkCertificate(certificate, { keys: ring })).toMatchObject({ valid: true, reasons: [] });
      expect(checkCertificate(after, { keys: ring })).toMatchObject({ valid: true, reasons: [] });
      // and the verifier service (trusting the keys directory) accepts both
      const v = createClient(VerificationServiceClient, stack.verifier.address, { credentials: good });
      try {
        for (const cert of [certificate, after]) {
          const res = await unary<verifyV1.VerifyCertificateResponse>(v, 'verifyCertificate', { certificate: cert, publicKeys: [] });
          expect(res).toMatchObject({ valid: true, signatureValid: true, reasons: [] });
        }
      } finally {
        v.close();
      }
      // neither private key leaked through the restarted certifier either
      for (const file of [keyFile(), path.join(stack.dir, 'keys', 'signing-2.pem')]) {
        const forms = secretForms(readFileSync(file, 'utf8'));
        for (const p of stack.all()) for (const s of forms) expect(p.output().includes(s)).toBe(false);
        for (const s of forms) expect(textOf(rotated).includes(s)).toBe(false);
      }
    });
  });
});
