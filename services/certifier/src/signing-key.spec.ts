// The certifier's signing key from configuration: read-only when creation is off (images), a
// clear ConfigError naming CERTIFIER_SIGNING_KEY_FILE otherwise, and exit 78 from the process.
import { spawnSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ConfigError } from '@glcert/runtime';
import { loadSigningKey } from './signing-key';

describe('loadSigningKey', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'glcert-key-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  function problemOf(fn: () => unknown): { env: string; message: string } {
    try {
      fn();
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      return (err as ConfigError).problems[0];
    }
    throw new Error('expected a ConfigError');
  }

  it('creation off: a missing key is a configuration error saying where to mount one, and nothing is written', () => {
    const file = join(dir, 'keys', 'signing-key.pem');
    const p = problemOf(() => loadSigningKey({ signingKeyFile: file, signingKeyCreate: false }));
    expect(p.env).toBe('CERTIFIER_SIGNING_KEY_FILE');
    expect(p.message).toContain(`no signing key at "${file}"`);
    expect(p.message).toContain('mount an Ed25519 private key');
    expect(existsSync(join(dir, 'keys'))).toBe(false);
  });

  it('creation off: an existing key is read from a read-only directory without writing its public half', () => {
    const keys = join(dir, 'ro');
    mkdirSync(keys);
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    writeFileSync(join(keys, 'signing-key.pem'), privateKey.export({ type: 'pkcs8', format: 'pem' }));
    chmodSync(keys, 0o555);
    const { key, created } = loadSigningKey({ signingKeyFile: join(keys, 'signing-key.pem'), signingKeyCreate: false });
    expect(created).toBe(false);
    expect(key.publicKey.pem).toBe(publicKey.export({ type: 'spki', format: 'pem' }).toString());
    expect(readdirSync(keys)).toEqual(['signing-key.pem']);
  });

  it('rejects a file that is not a PEM private key, and a key that is not Ed25519', () => {
    const junk = join(dir, 'junk.pem');
    writeFileSync(junk, 'not a key');
    expect(problemOf(() => loadSigningKey({ signingKeyFile: junk, signingKeyCreate: false })).message).toMatch(/is not a private key in PEM/);
    expect(problemOf(() => loadSigningKey({ signingKeyFile: junk, signingKeyCreate: true })).message).toMatch(/is not an Ed25519 private key/);
    const rsa = join(dir, 'rsa.pem');
    writeFileSync(rsa, generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs8', format: 'pem' }));
    expect(problemOf(() => loadSigningKey({ signingKeyFile: rsa, signingKeyCreate: false })).message).toMatch(/is a rsa key; the certifier signs with Ed25519/);
  });

  it('creation on: generates and keeps a key; a place it cannot be created is a configuration error', () => {
    const file = join(dir, 'keys', 'signing.pem');
    const first = loadSigningKey({ signingKeyFile: file, signingKeyCreate: true });
    expect(first.created).toBe(true);
    expect(existsSync(`${file}.pub.pem`)).toBe(true);
    const again = loadSigningKey({ signingKeyFile: file, signingKeyCreate: true });
    expect([again.created, again.key.publicKey.keyId]).toEqual([false, first.key.publicKey.keyId]);
    // a regular file where a directory must be: mkdir fails even for root (ENOTDIR)
    writeFileSync(join(dir, 'plain'), '');
    const p = problemOf(() => loadSigningKey({ signingKeyFile: join(dir, 'plain', 'keys', 'signing.pem'), signingKeyCreate: true }));
    expect(p.message).toMatch(/cannot read or create the signing key at .*: ENOTDIR\. On a read-only filesystem mount .* CERTIFIER_SIGNING_KEY_CREATE=false/);
  });
});

describe('the certifier process', () => {
  it('exits 78 with the message when CERTIFIER_SIGNING_KEY_CREATE=false and no key is there', () => {
    const dir = mkdtempSync(join(tmpdir(), 'glcert-key-'));
    try {
      const file = join(dir, 'signing-key.pem');
      const main = resolve(__dirname, 'main.ts');
      const r = spawnSync(process.execPath, ['--import', 'tsx', main], {
        encoding: 'utf8',
        timeout: 60_000,
        env: { ...process.env, CERTIFIER_PORT: '0', CERTIFIER_SIGNING_KEY_FILE: file, CERTIFIER_SIGNING_KEY_CREATE: 'false', OTEL_SDK_DISABLED: 'true' },
      });
      expect(r.status).toBe(78);
      expect(r.stderr).toContain('CERTIFIER_SIGNING_KEY_FILE: no signing key at');
      expect(r.stderr).not.toContain('EACCES');
      expect(existsSync(file)).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
