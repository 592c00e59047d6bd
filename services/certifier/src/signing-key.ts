// The signing key named by the configuration. In an image (CERTIFIER_SIGNING_KEY_CREATE=false) the
// key is a mounted, read-only file that is only read: its absence is a configuration error, never
// a reason to write under a read-only root. For `glcert up` and development (the default, true) a
// missing key is generated and kept, with its public half beside it.
import { createPrivateKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { loadOrCreateSigningKey, SigningKey } from '@glcert/certificate';
import { ConfigError } from '@glcert/runtime';
import type { CertifierConfig } from './config';

const FILE_ENV = 'CERTIFIER_SIGNING_KEY_FILE';

function problem(message: string): ConfigError {
  return new ConfigError([{ env: FILE_ENV, message }]);
}

/** Throws ConfigError (naming CERTIFIER_SIGNING_KEY_FILE) when the key cannot be had. */
export function loadSigningKey(cfg: Pick<CertifierConfig, 'signingKeyFile' | 'signingKeyCreate'>): { key: SigningKey; created: boolean } {
  const file = cfg.signingKeyFile;
  if (cfg.signingKeyCreate) {
    try {
      return loadOrCreateSigningKey(file);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      // fs errors carry E* codes; a malformed or non-Ed25519 key throws ERR_* or a plain Error
      if (code === undefined || code.startsWith('ERR_')) throw problem(`${JSON.stringify(file)} is not an Ed25519 private key (PKCS#8 PEM): ${(err as Error).message}`);
      throw problem(
        `cannot read or create the signing key at ${JSON.stringify(file)}: ${code}. On a read-only filesystem mount an Ed25519 private key ` +
          '(PKCS#8 PEM) there and set CERTIFIER_SIGNING_KEY_CREATE=false',
      );
    }
  }
  let pem: Buffer;
  try {
    pem = readFileSync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    throw problem(
      code === 'ENOENT'
        ? `no signing key at ${JSON.stringify(file)} (CERTIFIER_SIGNING_KEY_CREATE=false): mount an Ed25519 private key (PKCS#8 PEM) there, ` +
            'e.g. the Secret glcert-signing-key (deploy/README.md), or set CERTIFIER_SIGNING_KEY_CREATE=true on a writable disk to generate one'
        : `cannot read the signing key at ${JSON.stringify(file)}: ${code}`,
    );
  }
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(pem);
  } catch {
    throw problem(`${JSON.stringify(file)} is not a private key in PEM (expected an Ed25519 PKCS#8 PEM, e.g. from openssl genpkey -algorithm ed25519)`);
  }
  if (privateKey.asymmetricKeyType !== 'ed25519') throw problem(`${JSON.stringify(file)} is a ${privateKey.asymmetricKeyType} key; the certifier signs with Ed25519`);
  return { key: new SigningKey(privateKey), created: false };
}
