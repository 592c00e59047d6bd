// glcert verify CERT.json [--public-key FILE ...] [--verifier ADDR]: checks a certificate.
// Offline (default): only public keys are needed: the signature, the Clopper-Pearson bound
// recomputed from (na, n, alpha), the verdict, and with --recompute-threshold the threshold
// solved again locally. With --verifier the verification service does it (and recomputes the
// threshold through the bound service). Exit 0 valid, 1 invalid.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { BOUND_METHODS, InvalidBoundRequestError, solveBound, type BoundMethodName } from '@glcert/bounds';
import { KeyRing, certificateContent, checkCertificate, parsePublicKey } from '@glcert/certificate';
import { BoundMethod, Certificate, DsseEnvelope, Outcome, ThresholdMethod, type certifyV1, type verifyV1 } from '@glcert/contracts';

import { UsageError, commandArgs, formatFlags } from '../args';
import type { FlagSpecs } from '../args';
import { ConnectError, DEFAULT_VERIFIER_ADDR, describeCallError, ensureServing, unary, verifierClient } from '../client';
import type { Command } from '../command';
import { WORKSPACE_ROOT } from '../stack';

export const DEFAULT_KEYS_DIR = join(WORKSPACE_ROOT, '.glcert', 'keys');

const FLAGS = {
  'public-key': { type: 'string', value: 'FILE', repeat: true, description: 'an Ed25519 public key (SPKI PEM or DER); may be repeated' },
  'keys-dir': { type: 'string', value: 'DIR', description: `also every *.pub.pem there (default ${DEFAULT_KEYS_DIR}, where \`glcert up\` keeps them)` },
  'no-default-keys': { type: 'boolean', description: 'use only the keys given with --public-key' },
  'recompute-threshold': { type: 'boolean', description: 'offline: solve the bound again (a few seconds) and compare it with the certificate' },
  verifier: { type: 'string', value: 'ADDR', description: `check through the verification service instead (e.g. ${DEFAULT_VERIFIER_ADDR}, as \`glcert up\`)` },
  json: { type: 'boolean', description: 'print {valid, reasons, ...} as one JSON object' },
  help: { type: 'boolean', description: 'show this help' },
} as const satisfies FlagSpecs;

function help(): string {
  return [
    'usage: glcert verify CERT.json [--public-key FILE ...] [--verifier ADDR] [options]',
    '',
    'Checks a certificate (as written by glcert certify --out, or its bare DSSE envelope) without',
    'the model: the Ed25519 signature, the Clopper-Pearson lower bound recomputed from (na, n, alpha), and the verdict',
    '(CERTIFIED iff pA > max(threshold, 1/2)). Exit status 0 valid, 1 invalid, 2 usage error.',
    '',
    formatFlags(FLAGS),
    '',
  ].join('\n');
}

interface VerifyOutcome {
  valid: boolean;
  reasons: string[];
  signatureValid: boolean;
  recomputedPaLower: number | null;
  recomputedThreshold: number | null;
  recomputedOutcome: string | null;
  via: string;
  keys: string[];
}

function readCertificate(file: string): Certificate {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new UsageError(`cannot read '${file}': ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new UsageError(`'${file}' is not JSON: ${(e as Error).message}`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new UsageError(`'${file}' is not a certificate (a JSON object)`);
  // a results line holds the certificate under "certificate"
  const obj = json as Record<string, unknown>;
  const body = typeof obj['certificate'] === 'object' && obj['certificate'] !== null && obj['signature'] === undefined ? obj['certificate'] : obj;
  try {
    // a bare DSSE envelope (payload, payloadType, signatures) is a whole certificate
    if (typeof (body as Record<string, unknown>)['payloadType'] === 'string') return Certificate.fromPartial({ dsseEnvelope: DsseEnvelope.fromJSON(body) });
    return Certificate.fromJSON(body);
  } catch (e) {
    throw new UsageError(`'${file}' is not a certificate: ${(e as Error).message}`);
  }
}

function loadKeys(files: readonly string[], dir: string | undefined): KeyRing {
  const ring = new KeyRing();
  if (dir !== undefined) {
    try {
      ring.addDirectory(dir);
    } catch (e) {
      throw new UsageError(`--keys-dir: cannot read the keys in '${dir}': ${(e as Error).message}`);
    }
  }
  for (const f of files) {
    let bytes: Buffer;
    try {
      bytes = readFileSync(f);
    } catch (e) {
      throw new UsageError(`--public-key: cannot read '${f}': ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    try {
      ring.add(parsePublicKey(bytes));
    } catch {
      throw new UsageError(`--public-key: '${f}' is not an Ed25519 public key (SPKI PEM or DER)`);
    }
  }
  return ring;
}

const METHOD: Record<number, BoundMethodName> = {
  [BoundMethod.BOUND_METHOD_UNSPECIFIED]: 'auto',
  [BoundMethod.BOUND_METHOD_AUTO]: 'auto',
  [BoundMethod.BOUND_METHOD_NUMERIC]: 'numeric',
  [BoundMethod.BOUND_METHOD_CLOSED_FORM]: 'closed-form',
};

/** The threshold of the certificate's threat model and bound settings, solved here. */
function recomputeThreshold(c: Certificate): { value: number; method: ThresholdMethod } | { problem: string } {
  const tm = c.threatModel;
  if (!tm) return { problem: 'threat_model: missing' };
  const bs = c.boundSettings;
  const method = METHOD[bs?.method ?? 0];
  if (!method || !BOUND_METHODS.includes(method)) return { problem: `bound_settings.method: unknown (${bs?.method})` };
  try {
    const r = solveBound({
      transform: tm.transform,
      box: Object.fromEntries(tm.box.map((b) => [b.name, [b.min, b.max] as const])),
      sigma: Object.fromEntries(tm.smoothing.map((s) => [s.name, s.sigma])),
      ns: bs && bs.ns !== 0n ? Number(bs.ns) : undefined,
      grid: bs && bs.gridPoints.length > 0 ? bs.gridPoints : undefined,
      seed: bs?.seed ?? 0n,
      method,
    });
    return { value: r.threshold, method: r.method === 'numeric' ? ThresholdMethod.THRESHOLD_METHOD_NUMERIC : ThresholdMethod.THRESHOLD_METHOD_CLOSED_FORM };
  } catch (e) {
    if (e instanceof InvalidBoundRequestError) return { problem: `${e.field}: ${e.message}` };
    throw e;
  }
}

const outcomeName = (o: Outcome | null | undefined): string | null =>
  o === null || o === undefined ? null : (Outcome[o] ?? String(o)).replace(/^OUTCOME_/, '');

export const verifyCommand: Command = {
  name: 'verify',
  summary: 'check a certificate offline with public keys only, or through the verifier service',
  help,
  async run(argv, io) {
    const args = commandArgs(argv, FLAGS, io, help, { min: 1, max: 1, missing: 'CERT.json is required' });
    if (!args) return 0;
    const { flags, positionals } = args;
    if (flags['no-default-keys'] && flags['keys-dir'] !== undefined) throw new UsageError('--keys-dir contradicts --no-default-keys');
    const received = readCertificate(positionals[0]);
    // what the summary shows and the threshold is solved for: the signed payload (version 2);
    // checkCertificate verifies the signature before it trusts it
    let cert = received;
    try {
      cert = certificateContent(received);
    } catch {
      // unparsable payload: checkCertificate reports it
    }
    const keyFiles = flags['public-key'] ?? [];
    const ring = loadKeys(keyFiles, flags['no-default-keys'] ? undefined : (flags['keys-dir'] ?? DEFAULT_KEYS_DIR));

    let result: VerifyOutcome;
    if (flags.verifier !== undefined) {
      if (flags['recompute-threshold']) throw new UsageError('--recompute-threshold is for offline checks (the verifier service always recomputes it)');
      try {
        await ensureServing('verifier', flags.verifier, '--verifier', DEFAULT_VERIFIER_ADDR);
      } catch (e) {
        if (e instanceof ConnectError) {
          io.err(`glcert verify: ${e.message}\n`);
          return 1;
        }
        throw e;
      }
      const client = verifierClient(flags.verifier);
      const publicKeys: certifyV1.PublicKey[] = ring.list().map((k) => ({ keyId: k.keyId, algorithm: 'ed25519', publicKeyDer: k.der, publicKeyPem: '' }));
      let res: verifyV1.VerifyCertificateResponse;
      try {
        res = await unary(client.verifyCertificate.bind(client), { certificate: received, publicKeys });
      } catch (e) {
        io.err(`glcert verify: ${describeCallError(e)}\n`);
        return 1;
      } finally {
        client.close();
      }
      result = {
        valid: res.valid,
        reasons: res.reasons,
        signatureValid: res.signatureValid,
        recomputedPaLower: res.recomputedPaLower,
        recomputedThreshold: res.recomputedThreshold ?? null,
        recomputedOutcome: outcomeName(res.recomputedOutcome),
        via: `verifier ${flags.verifier}`,
        keys: ring.list().map((k) => k.keyId),
      };
    } else {
      let threshold: { value: number; method: ThresholdMethod } | undefined;
      const extra: string[] = [];
      if (flags['recompute-threshold']) {
        const r = recomputeThreshold(cert);
        if ('problem' in r) extra.push(`threshold: cannot be recomputed: ${r.problem}`);
        else threshold = r;
      }
      const check = checkCertificate(received, { keys: ring, threshold });
      result = {
        valid: check.valid && extra.length === 0,
        reasons: [...check.reasons, ...extra],
        signatureValid: check.signatureValid,
        recomputedPaLower: check.recomputedPaLower,
        recomputedThreshold: threshold?.value ?? null,
        recomputedOutcome: outcomeName(check.recomputedOutcome),
        via: 'offline',
        keys: ring.list().map((k) => k.keyId),
      };
    }

    if (flags.json) io.out(`${JSON.stringify(result)}\n`);
    else {
      const lines = [
        `${result.valid ? 'valid' : 'INVALID'}: ${positionals[0]} (${result.via}; key ${cert.keyId || '-'}; ${result.keys.length} public key${result.keys.length === 1 ? '' : 's'} known)`,
        `  signature      ${result.signatureValid ? 'ok' : 'bad'}`,
        `  pA lower bound ${cert.paLower} in the certificate; recomputed ${result.recomputedPaLower ?? '-'}`,
        `  threshold      ${cert.threshold} in the certificate; ${
          result.recomputedThreshold !== null ? `recomputed ${result.recomputedThreshold}` : 'taken as given (use --recompute-threshold or --verifier to recompute it)'
        }`,
        `  outcome        ${outcomeName(cert.outcome)} in the certificate; recomputed ${result.recomputedOutcome ?? '-'}`,
        ...result.reasons.map((r) => `  reason: ${r}`),
      ];
      io.out(`${lines.join('\n')}\n`);
    }
    return result.valid ? 0 : 1;
  },
};
