// glcert demo (what `npm start` runs): brings the stack up on free loopback ports, certifies the
// first images of data/mnist-test with mnist-cnn under the default threat models, prints one
// table (a row per threat model), writes results and one combined report under .glcert/demo/,
// and shuts the stack down.
//
// contrast-brightness: its sound threshold (~0.9988) is above the largest pA lower bound that
// n = 1000 can give at alpha = 0.001 (0.001^(1/1000) = 0.99312), so at n = 1000 nothing could be
// certified whatever the model does. The demo runs such a threat model at a larger n instead:
// 1.5 x the smallest n that could certify at all, rounded up to a multiple of 5000 (10,000 for
// contrast-brightness: an image then certifies with up to 2 misclassified samples). That costs
// 10x the samples, so it runs on the first 20 images only (--raised-limit) to keep the demo
// within 5 minutes on 2 CPU cores; --fixed-n keeps n = 1000 instead and reports the smallest n.

import { rmSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';

import { solveBound } from '@glcert/bounds';
import { minSamplesToCertify } from '@glcert/stats';
import { PRESETS } from '@glcert/transforms';

import { UsageError, commandArgs, formatFlags, type ParsedFlags } from '../args';
import type { FlagSpecs } from '../args';
import { certifierClient } from '../client';
import type { Command, Io } from '../command';
import { openDataset } from '../dataset';
import { Prefixer } from '../log-format';
import { renderReport, type ReportSection } from '../report';
import { formatTable, summarize, type Summary } from '../results';
import { runDataset } from '../run-dataset';
import { StackError, WORKSPACE_ROOT, startStack, type Stack } from '../stack';
import { interruptSignal, samplingFromFlags } from './certify-dataset';

export const DEMO_PRESETS = ['brightness', 'contrast', 'gamma', 'translation', 'contrast-brightness'] as const;
const DEFAULT_OUT = join(WORKSPACE_ROOT, '.glcert', 'demo');

const FLAGS = {
  limit: { type: 'integer', value: 'N', description: 'first N images of data/mnist-test (default 100)' },
  presets: { type: 'string', value: 'A,B', description: `threat models (default ${DEMO_PRESETS.join(',')})` },
  model: { type: 'string', value: 'M', description: 'model (default mnist-cnn)' },
  sampling: { type: 'string', value: 'fixed|sequential', description: 'sequential (default): each image pays only the samples its answer needs, n0 and n are maxima; fixed: exactly n0 and n' },
  n0: { type: 'integer', value: 'N0', description: 'selection samples (default 100; the maximum under sequential)' },
  n: { type: 'integer', value: 'N', description: 'estimation samples (default 2000 sequential, the maximum; 1000 fixed; raised where the threshold is out of its reach, see --fixed-n)' },
  alpha: { type: 'number', value: 'A', description: 'per-image alpha (default 0.001)' },
  seed: { type: 'string', value: 'S', description: 'base seed (default 2024: reruns give the same certificates)' },
  'fixed-n': { type: 'boolean', description: 'keep n for every threat model, even where no image can be certified at it' },
  'raised-limit': { type: 'integer', value: 'N', description: 'images for a threat model run at a raised n (default 20; at most --limit)' },
  samplers: { type: 'integer', value: 'K', description: 'sampler processes (default 1)' },
  concurrency: { type: 'integer', value: 'K', description: 'items in flight per threat model (default 8)' },
  'out-dir': { type: 'string', value: 'DIR', description: `results (<preset>.jsonl) and report.html (default ${relative(process.cwd(), DEFAULT_OUT) || '.'})` },
  verbose: { type: 'boolean', description: 'show the services\' info logs (default: warnings and errors only)' },
  help: { type: 'boolean', description: 'show this help' },
} as const satisfies FlagSpecs;

function help(): string {
  return [
    'usage: glcert demo [--limit N] [--presets A,B,...] [options]',
    '',
    'Starts the services (free loopback ports), certifies the first images of data/mnist-test with',
    'mnist-cnn under the default threat models, prints a table (one row per threat model), writes',
    'the results and a report, and stops the services. A threat model whose threshold is out of',
    "reach at n (contrast-brightness at n = 1000) runs at a larger n; the output says why.",
    '',
    formatFlags(FLAGS),
    '',
  ].join('\n');
}

interface Plan {
  preset: string;
  n: number;
  /** Images (fewer for a raised n). */
  limit: number;
  threshold: number;
  method: string;
  /** Why n differs from the requested one, or why nothing can certify. */
  note?: string;
}

/**
 * n and images for each threat model: the requested ones, or (unless fixedN) a larger n on
 * `raisedLimit` images when the threshold is out of reach at n.
 */
export function planThreatModel(preset: string, n: number, alpha: number, limit: number, raisedLimit: number, fixedN: boolean): Plan {
  const bound = solveBound(PRESETS[preset]); // the bound service's defaults: the same threshold, cached there too
  const effective = Math.max(bound.threshold, 0.5);
  const reach = Math.pow(alpha, 1 / n);
  const plan: Plan = { preset, n, limit, threshold: bound.threshold, method: bound.method };
  if (reach > effective) return plan;
  const minN = minSamplesToCertify(effective, alpha);
  if (!Number.isFinite(minN)) {
    plan.note = `${preset}: h* = ${bound.threshold.toFixed(5)}: no n can certify this box at this smoothing`;
    return plan;
  }
  const why = `${preset}: h* = ${bound.threshold.toFixed(5)} (${bound.method}) is above ${reach.toFixed(5)}, the largest pA lower bound n = ${n} can give at alpha = ${alpha}; the smallest n that could certify at all is ${minN} (and only if every sample agrees)`;
  if (fixedN) {
    plan.note = `${why}: kept at n = ${n} (--fixed-n), so every image abstains`;
    return plan;
  }
  plan.n = Math.ceil((1.5 * minN) / 5000) * 5000;
  plan.limit = Math.min(limit, raisedLimit);
  plan.note =
    `${why}. So it runs at n = ${plan.n} (1.5x that, rounded up to 5000: a few misclassified samples are tolerated)` +
    (plan.limit < limit ? ` on the first ${plan.limit} images only, to keep the demo short (--raised-limit ${limit} for all; --fixed-n to keep n = ${n})` : '');
  return plan;
}

function row(plan: Plan, s: Summary): string[] {
  const pct = (x: number): string => `${(100 * x).toFixed(1)} %`;
  return [
    plan.preset,
    String(s.images),
    String(plan.n),
    (s.threshold ?? plan.threshold).toFixed(4),
    pct(s.certifiedRobustAccuracy),
    s.samplesPerImage ? s.samplesPerImage.mean.toFixed(0) : '-',
    pct(s.accuracy),
    String(s.abstained),
    String(s.errors),
    (s.secondsPerImage ?? s.meanItemSeconds).toFixed(3),
  ];
}

async function runDemo(io: Io, flags: ParsedFlags<typeof FLAGS>): Promise<number> {
  const t0 = Date.now();
  const limit = flags.limit ?? 100;
  if (limit < 1) throw new UsageError(`--limit: must be >= 1, got ${limit}`);
  const presets = flags.presets === undefined ? [...DEMO_PRESETS] : flags.presets.split(',').map((s) => s.trim()).filter(Boolean);
  for (const p of presets) if (!Object.prototype.hasOwnProperty.call(PRESETS, p)) throw new UsageError(`--presets: unknown preset '${p}' (expected ${Object.keys(PRESETS).join(', ')})`);
  if (presets.length === 0) throw new UsageError('--presets: empty');
  const sampling = samplingFromFlags({ ...flags, seed: flags.seed ?? '2024' }, { n0: 100, n: 1000, alpha: 0.001 });
  const model = flags.model ?? 'mnist-cnn';
  const concurrency = flags.concurrency ?? 8;
  const samplers = flags.samplers ?? 1;
  const outDir = resolve(flags['out-dir'] ?? DEFAULT_OUT);
  const dataset = await openDataset('mnist-test', limit);

  const raisedLimit = flags['raised-limit'] ?? 20;
  if (raisedLimit < 1) throw new UsageError(`--raised-limit: must be >= 1, got ${raisedLimit}`);
  const plans = presets.map((p) => planThreatModel(p, sampling.n, sampling.alpha, dataset.entries.length, raisedLimit, flags['fixed-n'] === true));
  const prefixer = new Prefixer(['glcert', 'certifier', 'verifier', 'bounds', 'sampler', 'inference'], io.errIsTTY === true);
  const say = (text: string): void => io.err(prefixer.line('glcert', text));
  say(`demo: ${model} on the first ${dataset.entries.length} images of data/mnist-test; ${presets.join(', ')}; ${sampling.sampling} sampling, n0 ${sampling.n0}, n ${sampling.n}${sampling.sampling === 'sequential' ? ' (maxima)' : ''}, alpha ${sampling.alpha}`);
  for (const p of plans) if (p.note) say(p.note);

  const interrupt = interruptSignal();
  let stack: Stack | undefined;
  try {
    say(`starting the services (${4 + samplers} processes)`);
    try {
      stack = await startStack({
        samplers,
        basePort: 0,
        env: flags.verbose ? undefined : { LOG_LEVEL: 'warn' },
        signal: interrupt.signal,
        onLine: (proc, line) => io.err(prefixer.line(proc.role, line)),
        onUnexpectedExit: (proc, exit) => say(`${proc.name} exited unexpectedly (${exit.signal ? `signal ${exit.signal}` : `code ${exit.code}`})`),
      });
    } catch (e) {
      if (e instanceof StackError) {
        io.err(`glcert demo: ${e.message}\n`);
        return interrupt.signal.aborted ? 130 : 1;
      }
      throw e;
    }
    say(`services ready in ${((Date.now() - t0) / 1000).toFixed(1)} s (certifier ${stack.addresses.certifier})`);
    mkdirSync(outDir, { recursive: true });
    const client = certifierClient(stack.addresses.certifier);
    const sections: ReportSection[] = [];
    const rows: string[][] = [];
    let status = 0;
    try {
      for (const plan of plans) {
        const out = join(outDir, `${plan.preset}.jsonl`);
        rmSync(out, { force: true }); // a demo run starts afresh
        const r = await runDataset({
          client,
          dataset: plan.limit < dataset.entries.length ? await openDataset('mnist-test', plan.limit) : dataset,
          model,
          threatModel: PRESETS[plan.preset],
          sampling: sampling.sampling,
          n0: sampling.n0,
          n: plan.n,
          alpha: sampling.alpha,
          seed: sampling.seed,
          out,
          concurrency,
          progress: { write: (t) => io.err(t), tty: io.errIsTTY === true, label: plan.preset.padEnd(19) },
          signal: interrupt.signal,
        });
        const summary = summarize(r.records, r.wallSeconds, r.answered);
        rows.push(row(plan, summary));
        sections.push({ title: `${plan.preset} (n = ${plan.n})`, summary, records: r.records, threatModel: PRESETS[plan.preset], strip: r.strip, notes: plan.note ? [plan.note] : [] });
        if (r.streamError) {
          io.err(`glcert demo: ${plan.preset}: ${r.streamError}\n`);
          status = r.interrupted ? 130 : 1;
          break;
        }
      }
    } finally {
      client.close();
    }
    if (rows.length > 0) {
      const family = sampling.alpha * dataset.entries.length;
      io.out(
        `\n${model} on data/mnist-test (n0 ${sampling.n0}, alpha ${sampling.alpha} per image; family-wise alpha = alpha x images, ` +
          `${family.toPrecision(3)} for ${dataset.entries.length} images, Bonferroni)\n`,
      );
      io.out(formatTable(['threat model', 'images', 'n', 'h*', 'CRA', 'passes/image', 'accuracy', 'abstain', 'errors', 's/image'], rows));
      for (const p of plans) if (p.note) io.out(`note: ${p.note}\n`);
      const report = join(outDir, 'report.html');
      writeFileSync(report, await renderReport(`glcert demo: ${model} on data/mnist-test`, sections));
      io.out(`results: ${relative(process.cwd(), outDir) || '.'}/<threat model>.jsonl; report: ${relative(process.cwd(), report)}\n`);
    }
    return status;
  } finally {
    if (stack) {
      say('stopping the services');
      await stack.stop();
    }
    interrupt.dispose();
    say(`done in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  }
}

export const demoCommand: Command = {
  name: 'demo',
  summary: 'start the services, certify data/mnist-test under five threat models, table and report (npm start)',
  help,
  async run(argv, io) {
    const args = commandArgs(argv, FLAGS, io, help);
    if (!args) return 0;
    const { flags } = args;
    return runDemo(io, flags);
  },
};
