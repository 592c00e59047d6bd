// glcert merge-results FILES... [--report FILE]: one table (and report) from the results files
// of the shards of a run (`certify-dataset --shard i/N`, e.g. an Indexed Job's pods).

import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

import type { ThreatModelSpec, TransformKey } from '@glcert/transforms';

import { commandArgs, formatFlags } from '../args';
import type { FlagSpecs } from '../args';
import type { Command } from '../command';
import { openDataset } from '../dataset';
import { renderReport, type ReportStrip } from '../report';
import { type ResultRecord, describeSettings, formatSummary, isFinal, readResults, sameSettings, settingsOf, summarize } from '../results';

const FLAGS = {
  report: { type: 'string', value: 'FILE', description: 'write the HTML report of the merged results there' },
  out: { type: 'string', value: 'FILE', description: 'also write the merged results (JSON Lines, in dataset order)' },
  data: { type: 'string', value: 'DIR', description: 'the dataset (folder, mnist-test, fashion-mnist-test), for the report strip of transformed images' },
  json: { type: 'boolean', description: 'print the summary as one JSON object instead of the table' },
  help: { type: 'boolean', description: 'show this help' },
} as const satisfies FlagSpecs;

function help(): string {
  return [
    'usage: glcert merge-results FILE... [--report FILE] [--out FILE]',
    '',
    'Merges results files (JSON Lines from certify-dataset, typically one per --shard i/N) into',
    'one table: every id once (a final answer wins over a transient failure; otherwise the later',
    'file). Refuses files made with different model, threat model, n0, n or alpha.',
    '',
    formatFlags(FLAGS),
    '',
  ].join('\n');
}

/** Records of several files, one per id (final answers win, then later files), in dataset order. */
export function mergeRecords(lists: readonly (readonly ResultRecord[])[]): ResultRecord[] {
  const byId = new Map<string, ResultRecord>();
  for (const list of lists) {
    for (const r of list) {
      const prev = byId.get(r.id);
      if (prev && isFinal(prev) && !isFinal(r)) continue;
      byId.set(r.id, r);
    }
  }
  return [...byId.values()].sort((a, b) => a.index - b.index || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/** The threat model a certificate (proto3 JSON) records, for the report strip. */
export function threatSpecOf(certificate: unknown): ThreatModelSpec | undefined {
  const tm = (certificate as { threatModel?: { transform?: string; box?: Array<{ name: string; min?: number; max?: number }>; smoothing?: Array<{ name: string; sigma?: number }> } } | null)?.threatModel;
  if (!tm?.transform || !tm.box || !tm.smoothing) return undefined;
  return {
    transform: tm.transform as TransformKey,
    box: Object.fromEntries(tm.box.map((b) => [b.name, [b.min ?? 0, b.max ?? 0] as [number, number]])),
    sigma: Object.fromEntries(tm.smoothing.map((s) => [s.name, s.sigma ?? 0])),
  };
}

export const mergeResultsCommand: Command = {
  name: 'merge-results',
  summary: 'merge the results files of dataset shards into one table and report',
  help,
  async run(argv, io) {
    const args = commandArgs(argv, FLAGS, io, help, { min: 1, max: Infinity, missing: 'at least one results file is required' });
    if (!args) return 0;
    const { flags, positionals } = args;
    const lists: ResultRecord[][] = [];
    for (const file of positionals) {
      const r = readResults(file);
      if (r.records.length === 0 && r.badLines === 0) io.err(`warning: ${file} is empty or missing\n`);
      if (r.badLines > 0) io.err(`warning: ${file}: ${r.badLines} line${r.badLines > 1 ? 's are' : ' is'} not a result (ignored)\n`);
      lists.push(r.records);
    }
    let first: { file: string; settings: ReturnType<typeof settingsOf> } | undefined;
    for (const [i, list] of lists.entries()) {
      const s = list.map(settingsOf).find((x) => x !== undefined);
      if (!s) continue;
      if (!first) first = { file: positionals[i], settings: s };
      else if (!sameSettings(first.settings!, s)) {
        io.err(`glcert merge-results: ${positionals[i]} was made with other settings than ${first.file}:\n  ${describeSettings(s)}\n  ${describeSettings(first.settings!)}\n`);
        return 1;
      }
    }
    const records = mergeRecords(lists);
    const summary = summarize(records);
    if (flags.json) io.out(`${JSON.stringify(summary)}\n`);
    else io.out(`merged ${positionals.length} file${positionals.length > 1 ? 's' : ''}: ${records.length} images\n${formatSummary(summary)}`);
    const missing = records.filter((r) => !isFinal(r)).length;
    if (missing > 0) io.err(`${missing} items failed transiently (no final answer): rerun their shard to complete them\n`);
    if (flags.out !== undefined) {
      const file = resolve(flags.out);
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, records.map((r) => `${JSON.stringify(r)}\n`).join(''));
    }
    if (flags.report !== undefined) {
      const spec = threatSpecOf(records.find((r) => r.certificate)?.certificate);
      let strip: ReportStrip | undefined;
      if (flags.data !== undefined) {
        const ds = await openDataset(flags.data, 1);
        for await (const it of ds.items()) {
          strip = await it.decode();
          break;
        }
      }
      const file = resolve(flags.report);
      mkdirSync(dirname(file), { recursive: true });
      const title = `glcert: ${summary.model ?? 'results'}${summary.transform ? `, transform ${summary.transform}` : ''} (${positionals.length} files merged)`;
      writeFileSync(file, await renderReport(title, [{ title: summary.transform ? `transform ${summary.transform}` : 'results', summary, records, threatModel: spec, strip }]));
      io.err(`report: ${file}\n`);
    }
    return 0;
  },
};
