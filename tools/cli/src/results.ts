// Dataset results: one JSON object per item in a JSON Lines file (appended as items finish, so
// an interrupted run resumes), their summary (ALGORITHM.md section 6: accuracy, certified
// robust accuracy, per-image and family-wise alpha, threshold, min n hint) and its table.

import { existsSync, readFileSync } from 'node:fs';

import * as grpc from '@grpc/grpc-js';
import { Certificate, Outcome, ThresholdMethod, type certifyV1 } from '@glcert/contracts';
import { decodeRpcStatus } from '@glcert/runtime';
import { familyWiseAlpha, minSamplesToCertify } from '@glcert/stats';

export type OutcomeName = 'CERTIFIED' | 'ABSTAINED';

export interface ItemStatus {
  /** gRPC code name: OK, INVALID_ARGUMENT, ... */
  code: string;
  message: string;
  /** Fields named by the status' BadRequest details. */
  fields?: string[];
}

/** One line of a results file. */
export interface ResultRecord {
  id: string;
  /** Position in the dataset (after --limit, before --shard). */
  index: number;
  label: number | null;
  outcome: OutcomeName | null;
  predictedClass: number | null;
  paLower: number | null;
  threshold: number | null;
  n: number | null;
  na: number | null;
  status: ItemStatus;
  /** From sending the item to its response. */
  seconds: number;
  /** When the threshold is out of reach at this n: the smallest n that could certify. */
  minSamplesToCertify?: number;
  /** Certificate.toJSON (proto3 JSON); null on error. */
  certificate: unknown;
}

/** Codes worth another try when a run is resumed (the rest are answers about the item). */
const RETRYABLE = new Set(['UNAVAILABLE', 'RESOURCE_EXHAUSTED', 'DEADLINE_EXCEEDED', 'CANCELLED', 'ABORTED', 'INTERNAL', 'UNKNOWN']);

export function isFinal(r: ResultRecord): boolean {
  return !RETRYABLE.has(r.status.code);
}

export function codeName(code: number): string {
  return grpc.status[code] ?? `CODE_${code}`;
}

function outcomeName(o: Outcome): OutcomeName | null {
  return o === Outcome.OUTCOME_CERTIFIED ? 'CERTIFIED' : o === Outcome.OUTCOME_ABSTAINED ? 'ABSTAINED' : null;
}

/** The record of one StreamingCertify response. */
export function recordFromResponse(res: certifyV1.StreamingCertifyResponse, index: number, label: number | null, seconds: number): ResultRecord {
  const code = res.status?.code ?? 0;
  const status: ItemStatus = { code: codeName(code), message: res.status?.message ?? '' };
  if (res.status && code !== 0) {
    const fields = decodeRpcStatus(res.status).badRequest?.fieldViolations.map((v) => v.field) ?? [];
    if (fields.length > 0) status.fields = fields;
  }
  const c = code === 0 ? res.certificate : undefined;
  return recordFromCertificate(res.id, index, res.label ?? label, c, status, seconds, res.minSamplesToCertifyCount);
}

export function recordFromCertificate(
  id: string,
  index: number,
  label: number | null,
  c: Certificate | undefined,
  status: ItemStatus,
  seconds: number,
  minN?: bigint,
): ResultRecord {
  const r: ResultRecord = {
    id,
    index,
    label,
    outcome: c ? outcomeName(c.outcome) : null,
    predictedClass: c ? c.predictedClass : null,
    paLower: c ? c.paLower : null,
    threshold: c ? c.threshold : null,
    n: c ? Number(c.n) : null,
    na: c ? Number(c.na) : null,
    status,
    seconds: Math.round(seconds * 1e4) / 1e4,
    certificate: c ? Certificate.toJSON(c) : null,
  };
  if (minN !== undefined) r.minSamplesToCertify = Number(minN);
  return r;
}

export interface ReadResults {
  /** Last record per id, in file order of first appearance. */
  records: ResultRecord[];
  /** Lines that are not records (e.g. a line cut short by a crash). */
  badLines: number;
  /** The file does not end with a newline (append one before adding records). */
  partialTail: boolean;
}

/** Reads a results file; a missing file is empty. Later lines for an id replace earlier ones. */
export function readResults(file: string): ReadResults {
  if (!existsSync(file)) return { records: [], badLines: 0, partialTail: false };
  const text = readFileSync(file, 'utf8');
  const byId = new Map<string, ResultRecord>();
  let badLines = 0;
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    let r: ResultRecord;
    try {
      r = JSON.parse(line) as ResultRecord;
    } catch {
      badLines++;
      continue;
    }
    if (typeof r?.id !== 'string' || typeof r.status?.code !== 'string') {
      badLines++;
      continue;
    }
    byId.delete(r.id); // keep order of the latest
    byId.set(r.id, r);
  }
  return { records: [...byId.values()], badLines, partialTail: text.length > 0 && !text.endsWith('\n') };
}

/** The settings a results file was made with (from its certificates), to refuse mixing runs. */
export interface RunSettings {
  model: string;
  threatModel: string;
  /** The requested n0 and n: the maxima under sequential sampling (the drawn counts vary per image). */
  n0: string;
  n: string;
  alpha: number;
  /** 'fixed' or 'sequential' (records from before sequential sampling: 'fixed'). */
  sampling?: string;
}

export function settingsOf(r: ResultRecord): RunSettings | undefined {
  const c = r.certificate as Record<string, unknown> | null;
  if (!c) return undefined;
  const tm = c['threatModel'] as { transform?: string; box?: unknown; smoothing?: unknown } | undefined;
  const seq = c['sequential'] as Record<string, unknown> | undefined;
  return {
    model: String(c['modelName'] ?? ''),
    threatModel: JSON.stringify({ transform: tm?.transform, box: tm?.box, smoothing: tm?.smoothing }),
    n0: String((seq ? seq['n0Max'] : c['n0']) ?? ''),
    n: String((seq ? seq['nMax'] : c['n']) ?? ''),
    alpha: Number(c['alpha']),
    sampling: seq ? 'sequential' : 'fixed',
  };
}

export function describeSettings(s: RunSettings): string {
  const tm = JSON.parse(s.threatModel) as { transform?: string; box?: Array<{ name: string; min?: number; max?: number }> };
  const box = (tm.box ?? []).map((b) => `${b.name}=${b.min ?? 0}:${b.max ?? 0}`).join(',');
  return `model ${s.model}, transform ${tm.transform} box ${box}, ${s.sampling ?? 'fixed'} sampling, n0 ${s.n0}, n ${s.n}, alpha ${s.alpha}`;
}

export function sameSettings(a: RunSettings, b: RunSettings): boolean {
  return a.model === b.model && a.threatModel === b.threatModel && a.n0 === b.n0 && a.n === b.n && a.alpha === b.alpha && (a.sampling ?? 'fixed') === (b.sampling ?? 'fixed');
}

/** Forward passes per image (selection + estimation samples drawn): mean, spread and a histogram. */
export interface SamplesPerImage {
  mean: number;
  min: number;
  median: number;
  max: number;
  /** Power-of-two bins [lo, hi) (sequential looks double, so each look falls in one or two bins); empty bins left out. */
  histogram: Array<{ lo: number; hi: number; count: number }>;
}

/** Samples drawn (n0 + n) of every answered image; undefined when there is none. */
export function samplesPerImage(records: readonly ResultRecord[]): SamplesPerImage | undefined {
  const xs: number[] = [];
  for (const r of records) {
    const c = r.certificate as Record<string, unknown> | null;
    if (r.status.code !== 'OK' || !c) continue;
    xs.push(Number(c['n0'] ?? 0) + Number(c['n'] ?? 0));
  }
  if (xs.length === 0) return undefined;
  xs.sort((a, b) => a - b);
  const bins = new Map<number, number>();
  for (const x of xs) {
    const lo = x < 1 ? 0 : 2 ** Math.floor(Math.log2(x));
    bins.set(lo, (bins.get(lo) ?? 0) + 1);
  }
  const mid = xs.length >> 1;
  return {
    mean: xs.reduce((a, b) => a + b, 0) / xs.length,
    min: xs[0]!,
    median: xs.length % 2 === 1 ? xs[mid]! : (xs[mid - 1]! + xs[mid]!) / 2,
    max: xs[xs.length - 1]!,
    histogram: [...bins.entries()].sort((a, b) => a[0] - b[0]).map(([lo, count]) => ({ lo, hi: lo === 0 ? 1 : 2 * lo, count })),
  };
}

/** One line: mean, median, range and the histogram bins. */
export function formatSamplesPerImage(p: SamplesPerImage): string {
  const bins = p.histogram.map((b) => `${b.lo}-${b.hi - 1}: ${b.count}`).join(', ');
  return `mean ${p.mean.toFixed(1)}, median ${p.median}, min ${p.min}, max ${p.max}  [${bins}]`;
}

export interface Summary {
  images: number;
  ok: number;
  /** Prediction (cA) equals the label, among all images (errors count as wrong). */
  correct: number;
  accuracy: number;
  certified: number;
  /** CERTIFIED with prediction == label. */
  certifiedCorrect: number;
  /** certifiedCorrect / images. */
  certifiedRobustAccuracy: number;
  abstained: number;
  errors: number;
  errorsByCode: Record<string, number>;
  /** Per-image alpha (undefined when no certificate; the smallest and largest when they differ). */
  alpha?: number;
  alphaMax?: number;
  familyWiseAlpha?: number;
  threshold?: number;
  thresholdMethod?: string;
  /** The requested n and n0 (the maxima under sequential sampling). */
  n?: number;
  n0?: number;
  /** 'sequential' when the certificates carry a sequential record, else 'fixed'. */
  sampling?: 'fixed' | 'sequential';
  /** Forward passes per image (n0 + n drawn). */
  samplesPerImage?: SamplesPerImage;
  /** When max(threshold, 1/2) >= alpha^(1/n): the smallest n that could certify. */
  minSamplesToCertify?: number;
  model?: string;
  transform?: string;
  /** Wall time of the run, when known. */
  wallSeconds?: number;
  imagesPerSecond?: number;
  secondsPerImage?: number;
  /** Mean of the per-item latencies. */
  meanItemSeconds: number;
}

/** The summary of a set of records (one per image). */
export function summarize(records: readonly ResultRecord[], wallSeconds?: number, processedInWall?: number): Summary {
  const s: Summary = {
    images: records.length,
    ok: 0,
    correct: 0,
    accuracy: 0,
    certified: 0,
    certifiedCorrect: 0,
    certifiedRobustAccuracy: 0,
    abstained: 0,
    errors: 0,
    errorsByCode: {},
    meanItemSeconds: 0,
  };
  const alphas: number[] = [];
  let latency = 0;
  for (const r of records) {
    latency += r.seconds;
    if (r.status.code !== 'OK') {
      s.errors++;
      s.errorsByCode[r.status.code] = (s.errorsByCode[r.status.code] ?? 0) + 1;
      continue;
    }
    s.ok++;
    const right = r.label !== null && r.predictedClass === r.label;
    if (right) s.correct++;
    if (r.outcome === 'CERTIFIED') {
      s.certified++;
      if (right) s.certifiedCorrect++;
    } else if (r.outcome === 'ABSTAINED') s.abstained++;
    const c = r.certificate as Record<string, unknown> | null;
    if (c) {
      alphas.push(Number(c['alpha']));
      if (s.threshold === undefined) {
        s.threshold = r.threshold ?? undefined;
        s.thresholdMethod = String(c['thresholdMethod'] ?? ThresholdMethod[ThresholdMethod.THRESHOLD_METHOD_UNSPECIFIED]).replace(/^THRESHOLD_METHOD_/, '').toLowerCase().replace('_', '-');
        const seq = c['sequential'] as Record<string, unknown> | undefined;
        s.sampling = seq ? 'sequential' : 'fixed';
        s.n = seq ? Number(seq['nMax']) : (r.n ?? undefined);
        const n0 = seq ? seq['n0Max'] : c['n0'];
        s.n0 = n0 !== undefined ? Number(n0) : undefined;
        s.model = c['modelName'] !== undefined ? String(c['modelName']) : undefined;
        s.transform = (c['threatModel'] as { transform?: string } | undefined)?.transform;
      }
    }
  }
  s.samplesPerImage = samplesPerImage(records);
  if (s.images > 0) {
    s.accuracy = s.correct / s.images;
    s.certifiedRobustAccuracy = s.certifiedCorrect / s.images;
    s.meanItemSeconds = latency / s.images;
  }
  if (alphas.length > 0) {
    s.alpha = Math.min(...alphas);
    const hi = Math.max(...alphas);
    if (hi !== s.alpha) s.alphaMax = hi;
    s.familyWiseAlpha = familyWiseAlpha(hi, Math.max(1, s.images));
  }
  if (s.threshold !== undefined && s.n !== undefined && s.alpha !== undefined) {
    const effective = Math.max(s.threshold, 0.5);
    if (!(Math.pow(s.alpha, 1 / s.n) > effective)) s.minSamplesToCertify = minSamplesToCertify(effective, s.alpha);
  }
  if (wallSeconds !== undefined && wallSeconds > 0) {
    const done = processedInWall ?? s.images;
    s.wallSeconds = wallSeconds;
    if (done > 0) {
      s.imagesPerSecond = done / wallSeconds;
      s.secondsPerImage = wallSeconds / done;
    }
  }
  return s;
}

const pct = (x: number): string => `${(100 * x).toFixed(1)} %`;
const num = (x: number | undefined, d = 4): string => (x === undefined ? '-' : String(Number(x.toPrecision(d))));

/** The summary as a two-column table. */
export function formatSummary(s: Summary): string {
  const rows: Array<[string, string]> = [];
  if (s.model) rows.push(['model', `${s.model}${s.transform ? `, transform ${s.transform}` : ''}`]);
  rows.push(['images', String(s.images)]);
  rows.push(['accuracy (smoothed)', `${pct(s.accuracy)}  (${s.correct}/${s.images} predicted = label)`]);
  rows.push(['certified robust acc.', `${pct(s.certifiedRobustAccuracy)}  (${s.certifiedCorrect}/${s.images} certified and = label; ${s.certified} certified in all)`]);
  rows.push(['abstained', String(s.abstained)]);
  const codes = Object.entries(s.errorsByCode).map(([c, k]) => `${k} ${c}`);
  rows.push(['errors', codes.length > 0 ? `${s.errors} (${codes.join(', ')})` : '0']);
  if (s.n !== undefined) rows.push(['samples', s.sampling === 'sequential' ? `sequential, at most n0 ${s.n0 ?? '-'}, n ${s.n}` : `n0 ${s.n0 ?? '-'}, n ${s.n}`]);
  if (s.samplesPerImage) rows.push(['samples per image', formatSamplesPerImage(s.samplesPerImage)]);
  if (s.alpha !== undefined) {
    rows.push(['alpha per image', s.alphaMax !== undefined ? `${num(s.alpha)} .. ${num(s.alphaMax)}` : num(s.alpha)]);
    rows.push(['family-wise alpha', `${num(s.familyWiseAlpha)}  (Bonferroni: alpha x ${s.images} images)`]);
  }
  if (s.threshold !== undefined) rows.push(['threshold h*', `${num(s.threshold, 6)} (${s.thresholdMethod}); certified iff pA > ${num(Math.max(s.threshold, 0.5), 6)}`]);
  if (s.minSamplesToCertify !== undefined && s.n !== undefined && s.alpha !== undefined) {
    rows.push([
      'unreachable at this n',
      `pA <= alpha^(1/n) = ${num(Math.pow(s.alpha, 1 / s.n), 6)} at n = ${s.n}: nothing can certify; ` +
        (Number.isFinite(s.minSamplesToCertify) ? `use n >= ${s.minSamplesToCertify} (and more to tolerate a few misclassified samples)` : 'no n can'),
    ]);
  }
  if (s.imagesPerSecond !== undefined) rows.push(['throughput', `${s.imagesPerSecond.toFixed(2)} images/s, ${s.secondsPerImage!.toFixed(3)} s/image (wall ${s.wallSeconds!.toFixed(1)} s)`]);
  rows.push(['latency per image', `${s.meanItemSeconds.toFixed(3)} s (mean, send to answer)`]);
  const w = Math.max(...rows.map((r) => r[0].length));
  return `${rows.map(([a, b]) => `  ${a.padEnd(w)}  ${b}`).join('\n')}\n`;
}

/** A plain table: header, rule, rows; numbers right-aligned. */
export function formatTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const numeric = header.map((_, i) => rows.length > 0 && rows.every((r) => /^[-+]?[\d.]+( ?%)?$|^-$/.test(r[i] ?? '')));
  const line = (cells: readonly string[]): string =>
    cells
      .map((c, i) => (numeric[i] ? c.padStart(widths[i]) : c.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n') + '\n';
}
