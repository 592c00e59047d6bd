// glcert certify-dataset DIR|mnist-test|fashion-mnist-test --model M (--preset NAME | --transform ...)
// Streams a dataset through the certifier (StreamingCertify), appends one JSON line per item to
// the results file (resumable), prints the dataset table and writes the HTML report.

import { writeFileSync, mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

import { Sampling } from '@glcert/contracts';

import { UsageError, commandArgs, formatFlags } from '../args';
import type { FlagSpecs } from '../args';
import { ConnectError, DEFAULT_CERTIFIER_ADDR, certifierClient, ensureServing } from '../client';
import type { Command, Io } from '../command';
import { NAMED_DATASETS, openDataset, parseShard, type Shard } from '../dataset';
import { renderReport } from '../report';
import { formatSummary, summarize } from '../results';
import { ResultsMismatchError, runDataset, type DatasetRunResult } from '../run-dataset';
import { THREAT_FLAGS, threatModelFromFlags } from '../threat-args';

export const SAMPLING_FLAGS = {
  sampling: { type: 'string', value: 'fixed|sequential', description: 'sequential (default): stop as soon as the answer is known, n0 and n are maxima; fixed: exactly n0 and n' },
  n0: { type: 'integer', value: 'N0', description: 'selection samples per image (default 200; the maximum under sequential)' },
  n: { type: 'integer', value: 'N', description: 'estimation samples per image (default 2000 sequential, the maximum; 1000 fixed)' },
  alpha: { type: 'number', value: 'A', description: 'per-image error probability (default 0.001)' },
  seed: { type: 'string', value: 'S', description: 'base seed, 0 <= S < 2^63 (default: drawn by the certifier)' },
} as const satisfies FlagSpecs;

const FLAGS = {
  model: { type: 'string', value: 'M', description: 'model name (e.g. mnist-cnn)' },
  ...THREAT_FLAGS,
  ...SAMPLING_FLAGS,
  limit: { type: 'integer', value: 'N', description: 'the first N items of the dataset only' },
  shard: { type: 'string', value: 'i/N', description: 'only items with index % N == i (after --limit)' },
  out: { type: 'string', value: 'FILE', description: 'results, JSON Lines, appended; an existing file resumes (default results.jsonl, or results-<i>-of-<N>.jsonl with --shard)' },
  report: { type: 'string', value: 'FILE', description: 'write the HTML report there' },
  certifier: { type: 'string', value: 'ADDR', description: `certifier address (default ${DEFAULT_CERTIFIER_ADDR}, as \`glcert up\`)` },
  concurrency: { type: 'integer', value: 'K', description: 'items sent and not yet answered, at most (default 8)' },
  json: { type: 'boolean', description: 'print the summary as one JSON object instead of the table' },
  help: { type: 'boolean', description: 'show this help' },
} as const satisfies FlagSpecs;

export interface SamplingSettings {
  sampling: 'fixed' | 'sequential';
  n0: number;
  n: number;
  alpha: number;
  seed?: bigint;
}

/** The wire value of --sampling. */
export function samplingMessage(s: SamplingSettings['sampling']): Sampling {
  return s === 'fixed' ? Sampling.SAMPLING_FIXED : Sampling.SAMPLING_SEQUENTIAL;
}

/**
 * --sampling/--n0/--n/--alpha/--seed with defaults, checked. Sequential sampling (the default)
 * doubles the default n (`defaults.n`, the fixed default): n is then a maximum most images never
 * reach, and the doubled maximum buys certified accuracy for the borderline ones (ALGORITHM.md
 * section 9).
 */
export function samplingFromFlags(
  flags: { sampling?: string; n0?: number; n?: number; alpha?: number; seed?: string },
  defaults = { n0: 200, n: 1000, alpha: 0.001 },
): SamplingSettings {
  const mode = (flags.sampling ?? 'sequential').trim().toLowerCase();
  if (mode !== 'fixed' && mode !== 'sequential') throw new UsageError(`--sampling: expected fixed or sequential, got '${flags.sampling!.slice(0, 40)}'`);
  const n0 = flags.n0 ?? defaults.n0;
  const n = flags.n ?? (mode === 'sequential' ? 2 * defaults.n : defaults.n);
  const alpha = flags.alpha ?? defaults.alpha;
  if (n0 < 1) throw new UsageError(`--n0: must be >= 1, got ${n0}`);
  if (n < 1) throw new UsageError(`--n: must be >= 1, got ${n}`);
  if (!(alpha > 0 && alpha < 1)) throw new UsageError(`--alpha: must be in (0, 1), got ${alpha}`);
  let seed: bigint | undefined;
  if (flags.seed !== undefined) {
    if (!/^\d+$/.test(flags.seed.trim())) throw new UsageError(`--seed: expected an integer in [0, 2^63), got '${flags.seed}'`);
    seed = BigInt(flags.seed.trim());
    if (seed >= 2n ** 63n) throw new UsageError(`--seed: must be < 2^63, got '${flags.seed}'`);
  }
  return { sampling: mode, n0, n, alpha, seed };
}

/** Prints how a run ended (not the table). Returns the exit status. */
export function reportRunEnd(io: Io, r: DatasetRunResult, out: string, rerun: string): number {
  const parts = [`${r.answered} answered`];
  if (r.skipped > 0) parts.push(`${r.skipped} already in ${out} (skipped)`);
  io.err(`${parts.join(', ')}; results in ${out}\n`);
  if (r.streamError) {
    if (r.interrupted) io.err(`interrupted: ${r.missing} items left; rerun \`${rerun}\` to resume\n`);
    else io.err(`error: ${r.streamError}; ${r.missing} items without a final answer: rerun to resume\n`);
    return r.interrupted ? 130 : 1;
  }
  if (r.missing > 0) {
    io.err(`${r.missing} items failed transiently (UNAVAILABLE, ...): rerun to try them again\n`);
    return 1;
  }
  return 0;
}

/** Aborts on the first SIGINT/SIGTERM (a second one exits at once). */
export function interruptSignal(): { signal: AbortSignal; dispose(): void } {
  const ac = new AbortController();
  const handler = (sig: NodeJS.Signals): void => {
    if (ac.signal.aborted) process.exit(sig === 'SIGINT' ? 130 : 143);
    ac.abort();
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return {
    signal: ac.signal,
    dispose() {
      process.removeListener('SIGINT', handler);
      process.removeListener('SIGTERM', handler);
    },
  };
}

function help(): string {
  return [
    'usage: glcert certify-dataset DIR|mnist-test|fashion-mnist-test --model M (--preset NAME | --transform KEY --box ... --sigma ...) [options]',
    '',
    'Certifies every image of a dataset through the certifier (StreamingCertify; start one with',
    '`glcert up`). DIR holds labels.csv (file,label) and the images it lists; mnist-test is the',
    `shipped data/mnist-test; fashion-mnist-test the Debian package's test set. One JSON line per`,
    'item goes to --out as it is answered: rerun the same command to resume after an interruption.',
    'Prints accuracy, certified robust accuracy (CERTIFIED and prediction = label, over all images),',
    'abstentions, errors, per-image and family-wise alpha, the threshold and throughput.',
    '',
    formatFlags(FLAGS),
    '',
    'example: glcert certify-dataset mnist-test --model mnist-cnn --preset brightness --limit 100 --report report.html',
    '',
  ].join('\n');
}

export const certifyDatasetCommand: Command = {
  name: 'certify-dataset',
  summary: 'certify a dataset (streamed, resumable, shardable): table, JSON Lines results, HTML report',
  help,
  async run(argv, io) {
    const args = commandArgs(argv, FLAGS, io, help, {
      min: 1,
      max: 1,
      missing: `a dataset is required: a folder with labels.csv, or ${NAMED_DATASETS.join(' / ')}`,
    });
    if (!args) return 0;
    const { flags, positionals } = args;
    if (flags.model === undefined || flags.model.trim() === '') throw new UsageError('--model is required (e.g. --model mnist-cnn)');
    const { spec } = threatModelFromFlags(flags);
    const sampling = samplingFromFlags(flags);
    if (flags.limit !== undefined && flags.limit < 1) throw new UsageError(`--limit: must be >= 1, got ${flags.limit}`);
    const concurrency = flags.concurrency ?? 8;
    if (concurrency < 1 || concurrency > 1024) throw new UsageError(`--concurrency: must be in [1, 1024], got ${concurrency}`);
    const shard: Shard | undefined = flags.shard === undefined ? undefined : parseShard(flags.shard);
    const out = resolve(flags.out ?? (shard ? `results-${shard.index}-of-${shard.count}.jsonl` : 'results.jsonl'));
    const dataset = await openDataset(positionals[0], flags.limit);

    const addr = flags.certifier ?? DEFAULT_CERTIFIER_ADDR;
    try {
      await ensureServing('certifier', addr, '--certifier', DEFAULT_CERTIFIER_ADDR);
    } catch (e) {
      if (e instanceof ConnectError) {
        io.err(`glcert certify-dataset: ${e.message}\n`);
        return 1;
      }
      throw e;
    }
    const client = certifierClient(addr);
    const interrupt = interruptSignal();
    let result: DatasetRunResult;
    try {
      result = await runDataset({
        client,
        dataset,
        model: flags.model,
        threatModel: spec,
        ...sampling,
        shard,
        out,
        concurrency,
        progress: { write: (t) => io.err(t), tty: io.errIsTTY === true },
        signal: interrupt.signal,
      });
    } catch (e) {
      if (e instanceof ResultsMismatchError) {
        io.err(`glcert certify-dataset: ${e.message}\n`);
        return 1;
      }
      throw e;
    } finally {
      interrupt.dispose();
      client.close();
    }
    const summary = summarize(result.records, result.answered > 0 ? result.wallSeconds : undefined, result.answered);
    if (flags.json) io.out(`${JSON.stringify(summary)}\n`);
    else io.out(`${dataset.name}${shard ? ` (shard ${shard.index}/${shard.count})` : ''}\n${formatSummary(summary)}`);
    for (const note of result.notes.filter((n) => /unreachable|cannot/.test(n))) io.err(`note: ${note}\n`);
    if (flags.report !== undefined) {
      const file = resolve(flags.report);
      mkdirSync(dirname(file), { recursive: true });
      const title = `glcert: ${flags.model}, ${flags.preset ?? spec.transform} on ${positionals[0]}${shard ? ` (shard ${shard.index}/${shard.count})` : ''}`;
      writeFileSync(file, await renderReport(title, [{ title: flags.preset ?? `transform ${spec.transform}`, summary, records: result.records, threatModel: spec, strip: result.strip }]));
      io.err(`report: ${file}\n`);
    }
    return reportRunEnd(io, result, out, `glcert certify-dataset ${argv.join(' ')}`);
  },
};
