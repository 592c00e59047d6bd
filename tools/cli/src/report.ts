// The dataset report: one self-contained HTML file (no scripts, no external resources), one
// section per threat model: the summary, inline SVG plots (certified robust accuracy if the
// threshold were t, for t in [0.5, 1]; histogram of the pA lower bounds) and a strip of the
// image under sampled smoothing transformations and at the attack box's corners (rendered
// locally with @glcert/transforms, the same code the samplers run).

import { encodePng, tileImages } from '@glcert/imaging';
import { sampleNormals } from '@glcert/stats';
import { TRANSFORMS, applyTransform, type ThreatModelSpec } from '@glcert/transforms';

import { formatSamplesPerImage, type ResultRecord, type SamplesPerImage, type Summary } from './results';

export interface ReportStrip {
  /** CHW float32 in [0, 1]. */
  tensor: Float32Array;
  shape: [number, number, number];
  id: string;
}

export interface ReportSection {
  title: string;
  summary: Summary;
  records: readonly ResultRecord[];
  /** For the strip of transformed images; without it the strip is left out. */
  threatModel?: ThreatModelSpec;
  strip?: ReportStrip;
  notes?: readonly string[];
}

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const pct = (x: number): string => `${(100 * x).toFixed(1)}%`;
const f = (x: number, d = 1): string => x.toFixed(d);

/** CRA(t) = share of images with prediction == label and pA lower bound > t (and > 1/2). */
export function craCurve(records: readonly ResultRecord[], points = 201): Array<[number, number]> {
  const images = records.length;
  const pas = records
    .filter((r) => r.status.code === 'OK' && r.label !== null && r.predictedClass === r.label && r.paLower !== null)
    .map((r) => r.paLower as number);
  const out: Array<[number, number]> = [];
  for (let i = 0; i < points; i++) {
    const t = 0.5 + (0.5 * i) / (points - 1);
    out.push([t, images === 0 ? 0 : pas.filter((p) => p > t).length / images]);
  }
  return out;
}

/** CRA at one threshold t (exact, not from the grid). */
export function craCurveAt(records: readonly ResultRecord[], t: number): number {
  if (records.length === 0) return 0;
  const hits = records.filter((r) => r.status.code === 'OK' && r.label !== null && r.predictedClass === r.label && r.paLower !== null && r.paLower > t);
  return hits.length / records.length;
}

const W = 460;
const H = 260;
const M = { l: 48, r: 14, t: 14, b: 38 };

function axes(xTicks: number[], yTicks: number[], x: (v: number) => number, y: (v: number) => number, xLabel: string, yLabel: string, fmtX: (v: number) => string, fmtY: (v: number) => string): string {
  const parts: string[] = [];
  parts.push(`<line x1="${M.l}" y1="${H - M.b}" x2="${W - M.r}" y2="${H - M.b}" stroke="#333"/>`);
  parts.push(`<line x1="${M.l}" y1="${M.t}" x2="${M.l}" y2="${H - M.b}" stroke="#333"/>`);
  for (const t of xTicks) {
    parts.push(`<line x1="${f(x(t))}" y1="${H - M.b}" x2="${f(x(t))}" y2="${H - M.b + 4}" stroke="#333"/>`);
    parts.push(`<text x="${f(x(t))}" y="${H - M.b + 16}" text-anchor="middle">${fmtX(t)}</text>`);
  }
  for (const t of yTicks) {
    parts.push(`<line x1="${M.l - 4}" y1="${f(y(t))}" x2="${W - M.r}" y2="${f(y(t))}" stroke="#ddd"/>`);
    parts.push(`<text x="${M.l - 7}" y="${f(y(t) + 4)}" text-anchor="end">${fmtY(t)}</text>`);
  }
  parts.push(`<text x="${(M.l + W - M.r) / 2}" y="${H - 4}" text-anchor="middle">${esc(xLabel)}</text>`);
  parts.push(`<text transform="translate(12 ${(M.t + H - M.b) / 2}) rotate(-90)" text-anchor="middle">${esc(yLabel)}</text>`);
  return parts.join('');
}

function svg(body: string, label: string): string {
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="${esc(label)}" font-family="sans-serif" font-size="11">${body}</svg>`;
}

/** Certified robust accuracy against the pA threshold t in [0.5, 1], with the actual threshold marked. */
export function craPlot(records: readonly ResultRecord[], threshold?: number): string {
  const curve = craCurve(records);
  const x = (t: number): number => M.l + ((t - 0.5) / 0.5) * (W - M.l - M.r);
  const y = (v: number): number => H - M.b - v * (H - M.t - M.b);
  // a step function: CRA only drops at the pA values
  let d = `M${f(x(curve[0][0]))},${f(y(curve[0][1]))}`;
  for (let i = 1; i < curve.length; i++) d += ` H${f(x(curve[i][0]))} V${f(y(curve[i][1]))}`;
  let body = axes([0.5, 0.6, 0.7, 0.8, 0.9, 1], [0, 0.25, 0.5, 0.75, 1], x, y, 'pA threshold t', 'certified robust accuracy', (v) => v.toFixed(1), (v) => `${Math.round(v * 100)}%`);
  body += `<path d="${d}" fill="none" stroke="#1f77b4" stroke-width="2"/>`;
  if (threshold !== undefined) {
    const t = Math.min(1, Math.max(0.5, threshold));
    const at = [t, craCurveAt(records, t)];
    body += `<line x1="${f(x(t))}" y1="${M.t}" x2="${f(x(t))}" y2="${H - M.b}" stroke="#d62728" stroke-dasharray="4 3"/>`;
    body += `<text x="${f(Math.min(x(t) - 4, W - M.r - 4))}" y="${M.t + 12}" text-anchor="end" fill="#d62728">h* = ${threshold.toFixed(4)} (CRA ${pct(at[1])})</text>`;
  }
  return svg(body, 'certified robust accuracy against the pA threshold');
}

/**
 * Histogram of the forward passes per image (n0 + n drawn), in the power-of-two bins of
 * `samplesPerImage` (sequential looks double), the mean marked.
 */
export function samplesHistogram(p: SamplesPerImage): string {
  const bins = p.histogram;
  const maxCount = Math.max(1, ...bins.map((b) => b.count));
  const step = Math.max(1, Math.ceil(maxCount / 4));
  const top = step * Math.ceil(maxCount / step);
  // log2 axis over the occupied bins
  const lo = Math.log2(Math.max(1, bins[0]!.lo));
  const hi = Math.log2(Math.max(2, bins[bins.length - 1]!.hi));
  const x = (v: number): number => M.l + ((Math.log2(Math.max(1, v)) - lo) / Math.max(1, hi - lo)) * (W - M.l - M.r);
  const y = (c: number): number => H - M.b - (c / top) * (H - M.t - M.b);
  const yTicks = [];
  for (let c = 0; c <= top; c += step) yTicks.push(c);
  const xTicks = [];
  for (let e = Math.ceil(lo); e <= Math.floor(hi); e++) xTicks.push(2 ** e);
  let body = axes(xTicks, yTicks, x, y, 'forward passes per image (n0 + n, log scale)', 'images', (v) => String(v), (v) => String(v));
  for (const b of bins) {
    const x0 = x(Math.max(1, b.lo));
    const x1 = x(b.hi);
    body += `<rect x="${f(x0 + 0.5)}" y="${f(y(b.count))}" width="${f(Math.max(0.5, x1 - x0 - 1))}" height="${f(H - M.b - y(b.count))}" fill="#9467bd"><title>${b.lo}-${b.hi - 1}: ${b.count}</title></rect>`;
  }
  body += `<line x1="${f(x(p.mean))}" y1="${M.t}" x2="${f(x(p.mean))}" y2="${H - M.b}" stroke="#d62728" stroke-dasharray="4 3"/>`;
  body += `<text x="${f(Math.min(x(p.mean) + 4, W - M.r - 4))}" y="${M.t + 12}" fill="#d62728">mean ${p.mean.toFixed(0)}</text>`;
  return svg(body, 'histogram of forward passes per image');
}

/** Histogram of the pA lower bounds (items with a certificate), threshold marked. */
export function paHistogram(records: readonly ResultRecord[], threshold?: number, bins = 40): string {
  const pas = records.filter((r) => r.paLower !== null && r.status.code === 'OK').map((r) => r.paLower as number);
  const counts = new Array<number>(bins).fill(0);
  for (const p of pas) counts[Math.min(bins - 1, Math.max(0, Math.floor(p * bins)))]++;
  const step = Math.max(1, Math.ceil(Math.max(1, ...counts) / 4));
  const maxCount = step * Math.ceil(Math.max(1, ...counts) / step);
  const x = (v: number): number => M.l + v * (W - M.l - M.r);
  const y = (c: number): number => H - M.b - (c / maxCount) * (H - M.t - M.b);
  const yTicks = [];
  for (let c = 0; c <= maxCount; c += step) yTicks.push(c);
  let body = axes([0, 0.25, 0.5, 0.75, 1], yTicks, x, y, 'pA lower bound (Clopper-Pearson)', 'images', (v) => String(v), (v) => String(v));
  counts.forEach((c, i) => {
    if (c === 0) return;
    const x0 = x(i / bins);
    const x1 = x((i + 1) / bins);
    body += `<rect x="${f(x0 + 0.5)}" y="${f(y(c))}" width="${f(Math.max(0.5, x1 - x0 - 1))}" height="${f(H - M.b - y(c))}" fill="#2ca02c"><title>${(i / bins).toFixed(3)}-${((i + 1) / bins).toFixed(3)}: ${c}</title></rect>`;
  });
  if (threshold !== undefined && threshold <= 1) {
    body += `<line x1="${f(x(threshold))}" y1="${M.t}" x2="${f(x(threshold))}" y2="${H - M.b}" stroke="#d62728" stroke-dasharray="4 3"/>`;
  }
  return svg(body, 'histogram of pA lower bounds');
}

/** Parameter vectors: `count` draws of the smoothing distribution (around the identity) and the attack box's corners. */
export function stripParameters(tm: ThreatModelSpec, count = 8, seed = 1n): { sampled: number[][]; corners: number[][] } {
  const t = TRANSFORMS[tm.transform];
  const sigma = t.params.map((p) => tm.sigma[p]);
  const z = new Float64Array(t.normalsPerSample);
  const out = new Float64Array(t.params.length);
  const sampled: number[][] = [];
  for (let i = 0; i < count; i++) {
    sampleNormals(seed, 0, i, t.normalsPerSample, z);
    t.resolve(t.identity, sigma, z, out);
    sampled.push(Array.from(out));
  }
  let corners: number[][] = [[]];
  for (const p of t.params) corners = corners.flatMap((c) => [...new Set(tm.box[p])].map((v) => [...c, v]));
  return { sampled, corners };
}

async function stripHtml(tm: ThreatModelSpec, strip: ReportStrip): Promise<string> {
  const t = TRANSFORMS[tm.transform];
  const shape = { channels: strip.shape[0], height: strip.shape[1], width: strip.shape[2] };
  const { sampled, corners } = stripParameters(tm);
  const render = async (params: number[][]): Promise<string> => {
    const images = [strip.tensor, ...params.map((b) => applyTransform(tm.transform, strip.tensor, shape, b))];
    const tiled = tileImages(images, strip.shape, { gap: 2, background: 1 });
    const png = await encodePng(tiled.tensor, tiled.shape);
    const scale = Math.max(1, Math.floor(72 / strip.shape[1]));
    return `<img alt="" style="image-rendering:pixelated" width="${tiled.shape[2] * scale}" height="${tiled.shape[1] * scale}" src="data:image/png;base64,${png.toString('base64')}">`;
  };
  const fmtB = (b: number[]): string => t.params.map((p, i) => `${p}=${Number(b[i].toFixed(3))}`).join(' ');
  return [
    `<p>Image <code>${esc(strip.id)}</code>, then 8 draws of the smoothing distribution (what the samplers classify; values clipped to [0,1] only for display):</p>`,
    await render(sampled),
    `<p class="small">${sampled.map(fmtB).map(esc).join(' &middot; ')}</p>`,
    `<p>The original, then the attack box's corners (the worst cases the certificate covers):</p>`,
    await render(corners),
    `<p class="small">${corners.map(fmtB).map(esc).join(' &middot; ')}</p>`,
  ].join('\n');
}

function summaryRows(s: Summary): Array<[string, string]> {
  const rows: Array<[string, string]> = [
    ['images', String(s.images)],
    ['accuracy of the smoothed classifier', `${pct(s.accuracy)} (${s.correct}/${s.images})`],
    ['certified robust accuracy', `${pct(s.certifiedRobustAccuracy)} (${s.certifiedCorrect}/${s.images}; ${s.certified} certified in all)`],
    ['abstained', String(s.abstained)],
    ['errors', s.errors === 0 ? '0' : `${s.errors} (${Object.entries(s.errorsByCode).map(([c, k]) => `${k} ${c}`).join(', ')})`],
  ];
  if (s.model) rows.unshift(['model', s.model]);
  if (s.n !== undefined) rows.push(['samples', s.sampling === 'sequential' ? `sequential: at most n0 = ${s.n0}, n = ${s.n}` : `n0 = ${s.n0}, n = ${s.n}`]);
  if (s.samplesPerImage) rows.push(['forward passes per image', formatSamplesPerImage(s.samplesPerImage)]);
  if (s.alpha !== undefined) {
    rows.push(['alpha per image', String(s.alpha)]);
    rows.push(['family-wise alpha (Bonferroni)', `${s.familyWiseAlpha} = alpha x ${s.images}`]);
  }
  if (s.threshold !== undefined) rows.push(['threshold h*', `${s.threshold.toFixed(6)} (${s.thresholdMethod})`]);
  if (s.minSamplesToCertify !== undefined) rows.push(['threshold unreachable at this n', `pA <= alpha^(1/n); smallest n that could certify: ${s.minSamplesToCertify}`]);
  if (s.imagesPerSecond !== undefined) rows.push(['throughput', `${s.imagesPerSecond.toFixed(2)} images/s, ${s.secondsPerImage!.toFixed(3)} s/image`]);
  rows.push(['mean latency per image', `${s.meanItemSeconds.toFixed(3)} s`]);
  return rows;
}

/** The whole report as one HTML string. */
export async function renderReport(title: string, sections: readonly ReportSection[], generatedAt = new Date()): Promise<string> {
  const parts: string[] = [];
  parts.push(`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title>`);
  parts.push(
    '<style>body{font-family:sans-serif;max-width:1000px;margin:2em auto;padding:0 1em;color:#222}' +
      'table{border-collapse:collapse;margin:.5em 0}td,th{padding:.2em .8em;border-bottom:1px solid #ddd;text-align:left}' +
      'td.num{text-align:right}.plots{display:flex;flex-wrap:wrap;gap:1em}.small{font-size:.85em;color:#555}section{margin-bottom:2.5em}</style>',
  );
  parts.push(`</head><body><h1>${esc(title)}</h1><p class="small">generated ${esc(generatedAt.toISOString())}</p>`);
  if (sections.length > 1) {
    parts.push('<table><tr><th>threat model</th><th>images</th><th>CRA</th><th>passes/image</th><th>accuracy</th><th>abstained</th><th>errors</th><th>h*</th><th>s/image</th></tr>');
    for (const s of sections) {
      const m = s.summary;
      parts.push(
        `<tr><td>${esc(s.title)}</td><td class="num">${m.images}</td><td class="num">${pct(m.certifiedRobustAccuracy)}</td><td class="num">${m.samplesPerImage ? m.samplesPerImage.mean.toFixed(0) : '-'}</td><td class="num">${pct(m.accuracy)}</td>` +
          `<td class="num">${m.abstained}</td><td class="num">${m.errors}</td><td class="num">${m.threshold?.toFixed(4) ?? '-'}</td><td class="num">${(m.secondsPerImage ?? m.meanItemSeconds).toFixed(3)}</td></tr>`,
      );
    }
    parts.push('</table>');
  }
  for (const s of sections) {
    parts.push(`<section><h2>${esc(s.title)}</h2><table>`);
    for (const [k, v] of summaryRows(s.summary)) parts.push(`<tr><th>${esc(k)}</th><td>${esc(v)}</td></tr>`);
    parts.push('</table>');
    for (const n of s.notes ?? []) parts.push(`<p>${esc(n)}</p>`);
    parts.push('<div class="plots">');
    parts.push(`<figure>${craPlot(s.records, s.summary.threshold)}<figcaption class="small">Certified robust accuracy if the pA threshold were t: the share of all images predicted correctly with pA lower bound &gt; t. The dashed line is the sound threshold h*.</figcaption></figure>`);
    parts.push(`<figure>${paHistogram(s.records, s.summary.threshold)}<figcaption class="small">Clopper-Pearson lower bounds of pA (one-sided, level alpha) of every certified or abstained image.</figcaption></figure>`);
    if (s.summary.samplesPerImage) {
      parts.push(
        `<figure>${samplesHistogram(s.summary.samplesPerImage)}<figcaption class="small">Forward passes per image (selection + estimation samples drawn; sequential sampling stops each image at the first look that decides it), next to CRA ${pct(s.summary.certifiedRobustAccuracy)}.</figcaption></figure>`,
      );
    }
    parts.push('</div>');
    if (s.threatModel && s.strip) parts.push(await stripHtml(s.threatModel, s.strip));
    else if (s.threatModel) parts.push('<p class="small">(no image available for the strip of transformed samples)</p>');
    parts.push('</section>');
  }
  parts.push('</body></html>\n');
  return parts.join('\n');
}
