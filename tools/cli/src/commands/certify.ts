// glcert certify IMAGE --model M (--preset NAME | --transform ... --box ... --sigma ...): one
// certificate from the certifier (`glcert up` by default), printed as a summary or as JSON
// (Certificate.toJSON, the form `glcert verify` reads).

import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

import { Certificate, Outcome, ThresholdMethod, type certifyV1 } from '@glcert/contracts';

import { UsageError, commandArgs, formatFlags } from '../args';
import type { FlagSpecs } from '../args';
import { ConnectError, DEFAULT_CERTIFIER_ADDR, certifierClient, describeCallError, ensureServing, threatModelMessage, unary } from '../client';
import type { Command } from '../command';
import { exampleDigit } from '../dataset';
import { THREAT_FLAGS, threatModelFromFlags } from '../threat-args';
import { SAMPLING_FLAGS, samplingFromFlags, samplingMessage } from './certify-dataset';

const FLAGS = {
  model: { type: 'string', value: 'M', description: 'model name (e.g. mnist-cnn)' },
  ...THREAT_FLAGS,
  ...SAMPLING_FLAGS,
  certifier: { type: 'string', value: 'ADDR', description: `certifier address (default ${DEFAULT_CERTIFIER_ADDR}, as \`glcert up\`)` },
  json: { type: 'boolean', description: 'print the certificate as JSON (Certificate.toJSON) instead of the summary' },
  out: { type: 'string', value: 'FILE', description: 'also write the certificate as JSON there (for glcert verify)' },
  help: { type: 'boolean', description: 'show this help' },
} as const satisfies FlagSpecs;

function help(): string {
  return [
    'usage: glcert certify IMAGE --model M (--preset NAME | --transform KEY --box P=LO:HI,... --sigma P=S,...) [options]',
    '',
    'Asks the certifier for a signed certificate: with probability at least 1 - alpha the smoothed',
    'classifier keeps its prediction for every transformation in the attack box. Exit status 0',
    'whether CERTIFIED or ABSTAINED (abstaining is an answer), 1 on errors.',
    '',
    formatFlags(FLAGS),
    '',
    `example: glcert certify ${exampleDigit()} --model mnist-cnn --preset brightness --out cert.json`,
    '',
  ].join('\n');
}

/** The human summary of a Certify answer. */
export function formatCertificate(c: Certificate, extra: { notes?: readonly string[]; minSamplesToCertify?: bigint } = {}): string {
  const tm = c.threatModel;
  const box = tm?.box.map((b) => `${b.name} in [${b.min}, ${b.max}]`).join(', ') ?? '';
  const sigma = tm?.smoothing.map((s) => `${s.name} ${s.sigma}`).join(', ') ?? '';
  const outcome = c.outcome === Outcome.OUTCOME_CERTIFIED ? 'CERTIFIED' : c.outcome === Outcome.OUTCOME_ABSTAINED ? 'ABSTAINED' : Outcome[c.outcome];
  const method = (ThresholdMethod[c.thresholdMethod] ?? '').replace(/^THRESHOLD_METHOD_/, '').toLowerCase().replace('_', '-');
  const lines = [
    `${outcome}: class ${c.predictedClass}` +
      (c.outcome === Outcome.OUTCOME_CERTIFIED ? ` is kept for every ${tm?.transform} transformation with ${box}` : ` (not certified for ${box})`),
    c.sequential
      ? `  pA lower bound  ${c.paLower.toFixed(6)}  (Clopper-Pearson at look ${c.sequential.look} of ${c.sequential.looks}, level ${Number(c.sequential.level.toPrecision(4))} of alpha ${c.alpha}, na ${c.na} of n ${c.n}; n0 ${c.n0})`
      : `  pA lower bound  ${c.paLower.toFixed(6)}  (Clopper-Pearson, alpha ${c.alpha}, na ${c.na} of n ${c.n}; n0 ${c.n0})`,
    ...(c.sequential ? [`  samples         ${Number(c.n0) + Number(c.n)} forward passes (sequential, at most n0 ${c.sequential.n0Max} + n ${c.sequential.nMax}; stopped: ${c.sequential.stopReason})`] : []),
    `  threshold h*    ${c.threshold.toFixed(6)}  (${method}; certified iff pA > ${Math.max(c.threshold, 0.5).toFixed(6)})`,
    `  smoothing       ${sigma}`,
    `  model           ${c.modelName} ${c.modelVersion} (sha256 ${c.modelSha256.slice(0, 16)}...)`,
    `  input           sha256 ${c.inputSha256.slice(0, 16)}..., shape [${c.inputShape.join(', ')}]`,
    `  seed            ${c.seed} (${c.generator})`,
    `  signed          ${c.keyId} at ${c.issueTime?.toISOString() ?? '-'}`,
  ];
  if (extra.minSamplesToCertify !== undefined) {
    lines.push(`  unreachable     pA can not exceed ${Math.pow(c.alpha, 1 / Number(c.n)).toFixed(6)} at n = ${c.n}: use n >= ${extra.minSamplesToCertify}`);
  }
  for (const n of extra.notes ?? []) lines.push(`  note: ${n}`);
  return `${lines.join('\n')}\n`;
}

export const certifyCommand: Command = {
  name: 'certify',
  summary: 'certify one image through the certifier service; print or save the signed certificate',
  help,
  async run(argv, io) {
    const args = commandArgs(argv, FLAGS, io, help, { min: 1, max: 1, missing: 'IMAGE is required (a PNG, JPEG or WebP file)' });
    if (!args) return 0;
    const { flags, positionals } = args;
    if (flags.model === undefined || flags.model.trim() === '') throw new UsageError('--model is required (e.g. --model mnist-cnn)');
    const { spec } = threatModelFromFlags(flags);
    const sampling = samplingFromFlags(flags);
    let image: Buffer;
    try {
      image = readFileSync(positionals[0]);
    } catch (e) {
      throw new UsageError(`cannot read IMAGE '${positionals[0]}': ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    const addr = flags.certifier ?? DEFAULT_CERTIFIER_ADDR;
    try {
      await ensureServing('certifier', addr, '--certifier', DEFAULT_CERTIFIER_ADDR);
    } catch (e) {
      if (e instanceof ConnectError) {
        io.err(`glcert certify: ${e.message}\n`);
        return 1;
      }
      throw e;
    }
    const client = certifierClient(addr);
    let res: certifyV1.CertifyResponse;
    try {
      res = await unary(client.certify.bind(client), {
        requestId: '',
        model: flags.model,
        input: { $case: 'image', image },
        threatModel: threatModelMessage(spec),
        n0: BigInt(sampling.n0),
        n: BigInt(sampling.n),
        alpha: sampling.alpha,
        seed: sampling.seed,
        sampling: samplingMessage(sampling.sampling),
      });
    } catch (e) {
      io.err(`glcert certify: ${describeCallError(e)}\n`);
      return 1;
    } finally {
      client.close();
    }
    const cert = res.certificate;
    if (!cert) {
      io.err('glcert certify: the certifier answered without a certificate\n');
      return 1;
    }
    const json = `${JSON.stringify(Certificate.toJSON(cert), null, 2)}\n`;
    if (flags.out !== undefined) {
      const file = resolve(flags.out);
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, json);
    }
    if (flags.json) io.out(json);
    else {
      io.out(formatCertificate(cert, { notes: res.notes, minSamplesToCertify: res.minSamplesToCertifyCount }));
      if (flags.out !== undefined) io.out(`certificate written to ${flags.out} (check it with: glcert verify ${flags.out})\n`);
    }
    return 0;
  },
};
