// Results files, their summary and merging, the report's curves, sharding and log lines:
// the pure parts of certify-dataset / merge-results / up, without services.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { clopperPearsonLower } from '@glcert/stats';

import { mergeRecords, threatSpecOf } from './commands/merge-results';
import { planThreatModel } from './commands/demo';
import { inShard, parseShard } from './dataset';
import { formatLogLine } from './log-format';
import { formatDuration } from './progress';
import { craCurve, craCurveAt, paHistogram, renderReport, stripParameters } from './report';
import { type ResultRecord, formatSummary, isFinal, readResults, samplesPerImage, sameSettings, settingsOf, summarize } from './results';

function rec(id: string, over: Partial<ResultRecord> = {}): ResultRecord {
  return {
    id,
    index: Number(id.replace(/\D/g, '')) || 0,
    label: 1,
    outcome: 'CERTIFIED',
    predictedClass: 1,
    paLower: 0.99,
    threshold: 0.9,
    n: 1000,
    na: 998,
    status: { code: 'OK', message: '' },
    seconds: 0.5,
    certificate: { alpha: 0.001, n0: '100', n: '1000', thresholdMethod: 'THRESHOLD_METHOD_CLOSED_FORM', modelName: 'm', threatModel: { transform: 'b' } },
    ...over,
  };
}
const err = (id: string, code: string): ResultRecord =>
  rec(id, { outcome: null, predictedClass: null, paLower: null, threshold: null, n: null, na: null, certificate: null, status: { code, message: 'x' } });

describe('samples per image (sequential sampling)', () => {
  const seq = (id: string, n0: number, n: number, over: Partial<ResultRecord> = {}): ResultRecord =>
    rec(id, {
      n,
      certificate: {
        ...(rec(id).certificate as object),
        n0: String(n0),
        n: String(n),
        sequential: { rule: 'glcert-sequential/1', look: 1, looks: 5, level: 0.001 / 3, beta: 0.001, n0Max: '200', nMax: '2000', stopReason: 'certified' },
      },
      ...over,
    });
  // 32 + 84 three times, 64 + 168, 200 + 2000; one error (not counted)
  const records = [seq('s1', 32, 84), seq('s2', 32, 84), seq('s3', 32, 84), seq('s4', 64, 168), seq('s5', 200, 2000, { outcome: 'ABSTAINED' }), err('s6', 'INVALID_ARGUMENT')];

  it('mean, median, range and power-of-two bins of n0 + n', () => {
    const p = samplesPerImage(records)!;
    expect(p.mean).toBeCloseTo((3 * 116 + 232 + 2200) / 5, 12);
    expect(p).toMatchObject({ min: 116, median: 116, max: 2200 });
    expect(p.histogram).toEqual([
      { lo: 64, hi: 128, count: 3 },
      { lo: 128, hi: 256, count: 1 },
      { lo: 2048, hi: 4096, count: 1 },
    ]);
    expect(samplesPerImage([err('x', 'UNAVAILABLE')])).toBeUndefined();
  });

  it('the summary gives the maxima as n0 and n, and the table shows samples per image next to CRA', () => {
    const s = summarize(records);
    expect(s).toMatchObject({ sampling: 'sequential', n: 2000, n0: 200 });
    const table = formatSummary(s);
    expect(table).toMatch(/samples\s+sequential, at most n0 200, n 2000/);
    expect(table).toMatch(/samples per image\s+mean 556\.0, median 116, min 116, max 2200 {2}\[64-127: 3, 128-255: 1, 2048-4095: 1\]/);
  });

  it('a results file of sequential runs compares by the maxima and the sampling, not the drawn counts', () => {
    const a = settingsOf(records[0]!)!;
    const b = settingsOf(records[4]!)!;
    expect(a).toMatchObject({ n0: '200', n: '2000', sampling: 'sequential' });
    expect(sameSettings(a, b)).toBe(true);
    const fixed = settingsOf(rec('f1'))!;
    expect(fixed.sampling).toBe('fixed');
    expect(sameSettings(fixed, { ...fixed, sampling: 'sequential' })).toBe(false);
    // records written before sequential sampling existed read as fixed
    expect(sameSettings(fixed, { ...fixed, sampling: undefined })).toBe(true);
  });
});

describe('summary', () => {
  const records = [
    rec('a1'),
    rec('a2', { predictedClass: 2 }), // certified, wrong class: not in CRA, not accurate
    rec('a3', { outcome: 'ABSTAINED', paLower: 0.7 }), // accurate, not certified
    err('a4', 'INVALID_ARGUMENT'),
  ];

  it('counts accuracy and CRA over all images, errors as wrong', () => {
    const s = summarize(records, 2, 4);
    expect(s).toMatchObject({ images: 4, ok: 3, correct: 2, certified: 2, certifiedCorrect: 1, abstained: 1, errors: 1, errorsByCode: { INVALID_ARGUMENT: 1 } });
    expect(s.accuracy).toBe(0.5);
    expect(s.certifiedRobustAccuracy).toBe(0.25);
    expect(s.alpha).toBe(0.001);
    expect(s.familyWiseAlpha).toBeCloseTo(0.004, 15);
    expect(s.threshold).toBe(0.9);
    expect(s.thresholdMethod).toBe('closed-form');
    expect(s.imagesPerSecond).toBe(2);
    expect(s.secondsPerImage).toBe(0.5);
    expect(s.minSamplesToCertify).toBeUndefined();
    const table = formatSummary(s);
    expect(table).toMatch(/certified robust acc\.\s+25\.0 %/);
    expect(table).toMatch(/family-wise alpha\s+0\.004 /);
  });

  it('gives the smallest n when the threshold is out of reach at this n', () => {
    const s = summarize([rec('b1', { threshold: 0.9988, outcome: 'ABSTAINED' })]);
    expect(s.minSamplesToCertify).toBeGreaterThan(1000);
    // the hint is sound: at that n, n of n could certify; one fewer could not
    expect(clopperPearsonLower(s.minSamplesToCertify!, s.minSamplesToCertify!, 0.001)).toBeGreaterThan(0.9988);
    expect(clopperPearsonLower(s.minSamplesToCertify! - 1, s.minSamplesToCertify! - 1, 0.001)).toBeLessThanOrEqual(0.9988);
    expect(formatSummary(s)).toMatch(new RegExp(`use n >= ${s.minSamplesToCertify}`));
  });

  it('empty results summarise to zeros', () => {
    expect(summarize([])).toMatchObject({ images: 0, accuracy: 0, certifiedRobustAccuracy: 0 });
  });
});

describe('results files', () => {
  let dir: string;
  beforeAll(() => (dir = mkdtempSync(join(tmpdir(), 'glcert-results-'))));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('keeps the last line per id, skips broken lines, notices a cut-off tail', () => {
    const f = join(dir, 'r.jsonl');
    writeFileSync(f, [JSON.stringify(err('x1', 'UNAVAILABLE')), JSON.stringify(rec('x2')), 'not json', JSON.stringify(rec('x1')), '{"id":"x3","sta'].join('\n'));
    const r = readResults(f);
    expect(r.records.map((x) => [x.id, x.status.code])).toEqual([
      ['x2', 'OK'],
      ['x1', 'OK'],
    ]);
    expect(r.badLines).toBe(2);
    expect(r.partialTail).toBe(true);
    expect(readResults(join(dir, 'missing.jsonl'))).toEqual({ records: [], badLines: 0, partialTail: false });
  });

  it('transient failures are retried on resume, answers about the item are not', () => {
    expect(isFinal(rec('a'))).toBe(true);
    expect(isFinal(err('a', 'INVALID_ARGUMENT'))).toBe(true);
    expect(isFinal(err('a', 'UNAVAILABLE'))).toBe(false);
    expect(isFinal(err('a', 'RESOURCE_EXHAUSTED'))).toBe(false);
  });

  it('merging: one record per id in dataset order, a final answer wins over a transient failure', () => {
    const merged = mergeRecords([[rec('i2'), rec('i0')], [err('i0', 'UNAVAILABLE'), rec('i1')], [err('i3', 'UNAVAILABLE')], [rec('i3', { outcome: 'ABSTAINED' })]]);
    expect(merged.map((r) => [r.id, r.status.code, r.outcome])).toEqual([
      ['i0', 'OK', 'CERTIFIED'],
      ['i1', 'OK', 'CERTIFIED'],
      ['i2', 'OK', 'CERTIFIED'],
      ['i3', 'OK', 'ABSTAINED'],
    ]);
  });

  it('reads the threat model back from a certificate', () => {
    const cert = { threatModel: { transform: 'cb', box: [{ name: 'k', min: 0.6, max: 1.4 }, { name: 'b', max: 0.4, min: -0.4 }], smoothing: [{ name: 'k', sigma: 0.3 }, { name: 'b', sigma: 0.3 }] } };
    expect(threatSpecOf(cert)).toEqual({ transform: 'cb', box: { k: [0.6, 1.4], b: [-0.4, 0.4] }, sigma: { k: 0.3, b: 0.3 } });
    expect(threatSpecOf(null)).toBeUndefined();
  });
});

describe('shards', () => {
  it('parses i/N and rejects the rest', () => {
    expect(parseShard('2/5')).toEqual({ index: 2, count: 5 });
    for (const bad of ['5/5', '1/0', '1', '-1/3', 'a/b', '1/2/3']) expect(() => parseShard(bad)).toThrow(/--shard/);
  });

  it('every index falls in exactly one shard', () => {
    for (const count of [1, 2, 3, 7]) {
      for (let index = 0; index < 50; index++) {
        const owners = Array.from({ length: count }, (_, i) => i).filter((i) => inShard(index, { index: i, count }));
        expect(owners).toEqual([index % count]);
      }
    }
  });
});

describe('report', () => {
  const records = [rec('r0', { paLower: 0.95 }), rec('r1', { paLower: 0.8 }), rec('r2', { paLower: 0.99, predictedClass: 3 }), err('r3', 'INVALID_ARGUMENT')];

  it('CRA(t) is non-increasing, starts at the accurate share, counts only correct predictions', () => {
    const curve = craCurve(records);
    expect(curve[0]).toEqual([0.5, 0.5]);
    for (let i = 1; i < curve.length; i++) expect(curve[i][1]).toBeLessThanOrEqual(curve[i - 1][1]);
    expect(craCurveAt(records, 0.9)).toBe(0.25);
    expect(craCurveAt(records, 0.96)).toBe(0);
    expect(curve[curve.length - 1]).toEqual([1, 0]);
  });

  it('the histogram draws one bar per occupied bin', () => {
    expect(paHistogram(records, 0.9).match(/<rect /g)).toHaveLength(3);
  });

  it('strip parameters: draws of the smoothing law around the identity, and the box corners', () => {
    const { sampled, corners } = stripParameters({ transform: 'cb', box: { k: [0.6, 1.4], b: [-0.4, 0.4] }, sigma: { k: 0.3, b: 0.3 } });
    expect(sampled).toHaveLength(8);
    for (const [k] of sampled) expect(k).toBeGreaterThan(0);
    expect(corners).toEqual([
      [0.6, -0.4],
      [0.6, 0.4],
      [1.4, -0.4],
      [1.4, 0.4],
    ]);
  });

  it('is one self-contained HTML document', async () => {
    const tensor = new Float32Array(28 * 28).map((_, i) => (i % 29) / 28);
    const html = await renderReport('t <&>', [
      { title: 'brightness', summary: summarize(records), records, threatModel: { transform: 'b', box: { b: [-0.4, 0.4] }, sigma: { b: 0.3 } }, strip: { tensor, shape: [1, 28, 28], id: 'x' } },
      { title: 'second', summary: summarize([]), records: [] },
    ]);
    expect(html.startsWith('<!doctype html>')).toBe(true);
    expect(html).toContain('t &lt;&amp;&gt;');
    // CRA, pA histogram, forward passes histogram for the section with records; CRA and pA for the empty one
    expect(html.match(/<svg /g)).toHaveLength(5);
    expect(html).toContain('histogram of forward passes per image');
    expect(html.match(/data:image\/png;base64,/g)).toHaveLength(2);
    expect(html).not.toMatch(/<script|(src|href)="(https?:)?\/\//);
  });
});

describe('demo plan', () => {
  it('keeps n where the threshold is reachable, raises it (on fewer images) where it is not', () => {
    const b = planThreatModel('brightness', 1000, 0.001, 100, 20, false);
    expect(b).toMatchObject({ n: 1000, limit: 100 });
    expect(b.note).toBeUndefined();
    const cb = planThreatModel('contrast-brightness', 1000, 0.001, 100, 20, false);
    expect(cb.threshold).toBeGreaterThan(0.99312);
    expect(cb.n % 5000).toBe(0);
    expect(Math.pow(0.001, 1 / cb.n)).toBeGreaterThan(cb.threshold);
    expect(cb.limit).toBe(20);
    expect(cb.note).toMatch(/smallest n that could certify at all is \d+/);
    const fixed = planThreatModel('contrast-brightness', 1000, 0.001, 100, 20, true);
    expect(fixed).toMatchObject({ n: 1000, limit: 100 });
    expect(fixed.note).toMatch(/--fixed-n/);
  });
});

describe('small formats', () => {
  it('log lines: JSON from the services as text, anything else unchanged', () => {
    const line = JSON.stringify({ time: '2026-11-28T05:39:52.187Z', level: 'warn', msg: 'listening', logger: 'certifier', address: '127.0.0.1:1', n: 2, s: 'a b' });
    expect(formatLogLine(line, false)).toBe('05:39:52.187 warn  listening address=127.0.0.1:1 n=2 s="a b"');
    expect(formatLogLine('plain text', false)).toBe('plain text');
    expect(formatLogLine('{not json', false)).toBe('{not json');
    expect(formatLogLine(line, true)).toContain('\x1b[33mwarn \x1b[0m');
  });

  it('durations', () => {
    expect(formatDuration(65)).toBe('1:05');
    expect(formatDuration(3725)).toBe('1:02:05');
    expect(formatDuration(NaN)).toBe('--:--');
  });
});
