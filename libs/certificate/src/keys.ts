import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, KeyObject, sign } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, renameSync, writeFileSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

export interface PublicKeyInfo {
  keyId: string;
  algorithm: 'ed25519';
  publicKey: KeyObject;
  der: Buffer;
  pem: string;
}

/** A signing key. The private part never leaves this object: no getter, no toJSON. */
export class SigningKey {
  readonly publicKey: PublicKeyInfo;
  readonly #privateKey: KeyObject;

  constructor(privateKey: KeyObject) {
    if (privateKey.asymmetricKeyType !== 'ed25519') throw new Error('signing key must be Ed25519');
    this.#privateKey = privateKey;
    this.publicKey = describePublicKey(createPublicKey(privateKey));
  }

  sign(data: Buffer): Buffer {
    // Ed25519 takes no digest argument (null): the message is hashed inside the scheme.
    return sign(null, data, this.#privateKey);
  }

  toJSON(): unknown {
    return { keyId: this.publicKey.keyId, algorithm: 'ed25519' };
  }
}

/** Key id: algorithm plus the first 16 hex digits of the SHA-256 of the SPKI DER public key. */
export function keyIdOf(publicKeyDer: Buffer): string {
  return `ed25519:${createHash('sha256').update(publicKeyDer).digest('hex').slice(0, 16)}`;
}

export function describePublicKey(key: KeyObject): PublicKeyInfo {
  if (key.asymmetricKeyType !== 'ed25519') throw new Error('public key must be Ed25519');
  const der = key.export({ type: 'spki', format: 'der' });
  const pem = key.export({ type: 'spki', format: 'pem' }).toString();
  return { keyId: keyIdOf(der), algorithm: 'ed25519', publicKey: key, der, pem };
}

export function parsePublicKey(pemOrDer: string | Buffer): PublicKeyInfo {
  const key =
    typeof pemOrDer === 'string' || pemOrDer.subarray(0, 10).toString().startsWith('-----')
      ? createPublicKey(pemOrDer.toString())
      : createPublicKey({ key: pemOrDer, format: 'der', type: 'spki' });
  return describePublicKey(key);
}

function writeAtomic(file: string, data: string, mode: number): void {
  mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, data, { mode });
  renameSync(tmp, file);
}

/**
 * Loads the PKCS#8 PEM private key at `file`, or generates one and keeps it there (mode 0600)
 * so that a restart signs with the same key. The public key is written next to it as
 * `<file>.pub.pem` so it can be published.
 */
export function loadOrCreateSigningKey(file: string): { key: SigningKey; created: boolean } {
  let created = false;
  let privateKey: KeyObject;
  if (existsSync(file)) {
    privateKey = createPrivateKey(readFileSync(file));
  } else {
    privateKey = generateKeyPairSync('ed25519').privateKey;
    writeAtomic(file, privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), 0o600);
    created = true;
  }
  const key = new SigningKey(privateKey);
  writeAtomic(`${file}.pub.pem`, key.publicKey.pem, 0o644);
  return { key, created };
}

/** Generates an in-memory key (tests, ephemeral runs). */
export function generateSigningKey(): SigningKey {
  return new SigningKey(generateKeyPairSync('ed25519').privateKey);
}

/**
 * Public keys by key id. Rotation: the current key plus every retired public key (PEM files
 * in a directory) stay here, so certificates signed before a rotation still verify.
 */
export class KeyRing {
  readonly #keys = new Map<string, PublicKeyInfo>();

  constructor(keys: Iterable<PublicKeyInfo> = []) {
    for (const k of keys) this.add(k);
  }

  add(key: PublicKeyInfo): void {
    this.#keys.set(key.keyId, key);
  }

  get(keyId: string): PublicKeyInfo | undefined {
    return this.#keys.get(keyId);
  }

  list(): PublicKeyInfo[] {
    return [...this.#keys.values()];
  }

  /** Adds every `*.pub.pem` public key of a directory (missing directory: nothing); private keys beside them are never read. */
  addDirectory(dir: string): void {
    if (!existsSync(dir)) return;
    for (const f of readdirSync(dir).filter((n) => n.endsWith('.pub.pem')).sort()) {
      this.add(parsePublicKey(readFileSync(join(dir, f), 'utf8')));
    }
  }
}
