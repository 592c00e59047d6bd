// The CLI against the real services: one stack (every service its own process, free ports, the
// real mnist-cnn) for the whole file. Commands run in-process through `run` (as main.ts does);
// `glcert up` itself is spawned as a user would and stopped with SIGINT.
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { checkHealth, createHealthClient } from '@glcert/runtime';

import { run } from './cli';
import type { Io } from './command';
import { readResults } from './results';
import { WORKSPACE_ROOT, startStack, type Stack } from './stack';

jest.setTimeout(180_000);

const MNIST = join(WORKSPACE_ROOT, 'data', 'mnist-test');
const BRIGHTNESS = ['--transform', 'b', '--box', 'b=-0.1:0.1', '--sigma', 'b=0.3'];
const SMALL_N = ['--n0', '100', '--n', '500', '--alpha', '0.001'];

interface Captured {
  code: number;
  out: string;
  err: string;
}

async function glcert(...argv: string[]): Promise<Captured> {
  let out = '';
  let err = '';
  const io: Io = { out: (t) => void (out += t), err: (t) => void (err += t) };
  const code = await run(argv, io);
  return { code, out, err };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** 10 digits from data/mnist-test plus 2 corrupt PNGs, with labels.csv. */
function writeFolder(dir: string): string[] {
  const labels = readFileSync(join(MNIST, 'labels.csv'), 'utf8').trim().split('\n').slice(1);
  const picked = labels.filter((_, i) => i % 200 === 0).slice(0, 10);
  const rows = ['file,label'];
  for (const line of picked) {
    const [file, label] = line.split(',');
    copyFileSync(join(MNIST, file), join(dir, file));
    rows.push(`${file},${label}`);
  }
  const png = readFileSync(join(MNIST, picked[0].split(',')[0]));
  writeFileSync(join(dir, 'truncated.png'), png.subarray(0, 40)); // a PNG signature, then nothing usable
  writeFileSync(join(dir, 'garbage.png'), Buffer.from('this is not an image at all'));
  rows.splice(4, 0, 'truncated.png,3');
  rows.push('garbage.png,5');
  writeFileSync(join(dir, 'labels.csv'), `${rows.join('\n')}\n`);
  return rows.slice(1).map((r) => r.split(',')[0]);
}

describe('glcert against a running stack', () => {
  let stack: Stack;
  let tmp: string;
  let keys: string;
  let folder: string;
  let ids: string[];
  const unexpected: string[] = [];

  beforeAll(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'glcert-cli-'));
    keys = join(tmp, 'keys');
    folder = join(tmp, 'digits');
    mkdirSync(folder);
    ids = writeFolder(folder);
    stack = await startStack({
      basePort: 0,
      keysDir: keys,
      boundsCacheDir: join(tmp, 'bounds-cache'),
      env: { LOG_LEVEL: 'warn', OTEL_SDK_DISABLED: 'true' },
      processEnv: { certifier: { CERTIFIER_SHUTDOWN_GRACE_MS: '2000' } },
      onUnexpectedExit: (p, e) => unexpected.push(`${p.name}: ${e.code ?? e.signal}`),
    });
  });

  afterAll(async () => {
    await stack?.stop();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('runs every service as its own process, each SERVING', async () => {
    const names = stack.processes.map((p) => p.name).sort();
    expect(names).toEqual(['bounds', 'certifier', 'inference', 'sampler', 'verifier']);
    const pids = stack.processes.map((p) => p.pid!);
    expect(new Set(pids).size).toBe(5);
    expect(pids).not.toContain(process.pid);
    for (const p of stack.processes) {
      expect(alive(p.pid!)).toBe(true);
      const h = createHealthClient(p.address);
      try {
        await expect(checkHealth(h)).resolves.toBe('SERVING');
      } finally {
        h.close();
      }
    }
    expect(stack.process('sampler').env.INFERENCE_ADDR).toBe(stack.addresses.inference[0]);
    expect(stack.process('certifier').env.SAMPLER_ADDRS).toBe(stack.addresses.samplers.join(','));
    expect(stack.process('certifier').env.CERTIFIER_SHUTDOWN_GRACE_MS).toBe('2000');
    expect(existsSync(join(keys, 'signing.pem.pub.pem'))).toBe(true);
  });

  it('certify: a clean digit under a small brightness box is CERTIFIED; verify accepts it and rejects a tampered copy', async () => {
    const cert = join(tmp, 'cert.json');
    const image = join(MNIST, ids[0]);
    const c = await glcert('certify', image, '--model', 'mnist-cnn', ...BRIGHTNESS, ...SMALL_N, '--seed', '7', '--certifier', stack.addresses.certifier, '--out', cert);
    expect(c.err).toBe('');
    expect(c.code).toBe(0);
    expect(c.out).toMatch(/^CERTIFIED: class 0 /);
    const json = JSON.parse(readFileSync(cert, 'utf8'));
    expect(json.outcome).toBe('OUTCOME_CERTIFIED');
    // version 2: the DSSE envelope carries the signed bytes (docs/certificate.md)
    expect(json.certificateVersion).toBe(2);
    expect(json.dsseEnvelope).toMatchObject({ payloadType: 'application/vnd.glcert.certificate+json; version=2', signatures: [{ keyid: json.keyId }] });

    const keyArgs = ['--no-default-keys', '--public-key', join(keys, 'signing.pem.pub.pem')];
    const ok = await glcert('verify', cert, ...keyArgs);
    expect(ok.code).toBe(0);
    expect(ok.out).toMatch(/^valid: /);

    const tampered = join(tmp, 'tampered.json');
    // the signed payload changed (what a forger must do): the signature fails
    const payload = JSON.parse(Buffer.from(json.dsseEnvelope.payload, 'base64').toString('utf8'));
    const forged = Buffer.from(JSON.stringify({ ...payload, predictedClass: 8 })).toString('base64');
    writeFileSync(tampered, JSON.stringify({ ...json, predictedClass: 8, dsseEnvelope: { ...json.dsseEnvelope, payload: forged } }));
    const bad = await glcert('verify', tampered, ...keyArgs);
    expect(bad.code).toBe(1);
    expect(bad.out).toMatch(/^INVALID: /);
    expect(bad.out).toMatch(/reason: signature: dsse_envelope: /);
    // only the unsigned copy outside the envelope changed: reported too
    const outer = join(tmp, 'outer.json');
    writeFileSync(outer, JSON.stringify({ ...json, predictedClass: 8 }));
    const badOuter = await glcert('verify', outer, ...keyArgs, '--json');
    expect(badOuter.code).toBe(1);
    expect(JSON.parse(badOuter.out).reasons.join('\n')).toMatch(/^certificate: fields outside the envelope differ from the signed payload \(predictedClass\)/m);
    // the bare DSSE envelope is a certificate on its own
    const bare = join(tmp, 'envelope.json');
    writeFileSync(bare, JSON.stringify(json.dsseEnvelope));
    expect((await glcert('verify', bare, ...keyArgs)).code).toBe(0);

    // without the key the signature cannot be checked
    const nokey = await glcert('verify', cert, '--no-default-keys', '--json');
    expect(nokey.code).toBe(1);
    expect(JSON.parse(nokey.out).reasons.join('\n')).toMatch(/^signature: /);

    // offline with the threshold recomputed, and through the verifier service
    const recomputed = await glcert('verify', cert, ...keyArgs, '--recompute-threshold', '--json');
    expect(recomputed.code).toBe(0);
    expect(JSON.parse(recomputed.out).recomputedThreshold).toBeCloseTo(json.threshold, 12);
    const viaService = await glcert('verify', cert, '--keys-dir', keys, '--verifier', stack.addresses.verifier);
    expect(viaService.code).toBe(0);
    const viaServiceBad = await glcert('verify', tampered, '--keys-dir', keys, '--verifier', stack.addresses.verifier, '--json');
    expect(viaServiceBad.code).toBe(1);
    expect(JSON.parse(viaServiceBad.out).valid).toBe(false);
  });

  it('certify says how to start the services when nothing answers', async () => {
    const r = await glcert('certify', join(MNIST, ids[0]), '--model', 'mnist-cnn', '--preset', 'brightness', '--certifier', '127.0.0.1:1');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/no certifier answers at 127\.0\.0\.1:1: .*glcert up/);
  });

  const datasetArgs = (out: string, ...more: string[]): string[] => [
    'certify-dataset',
    folder,
    '--model',
    'mnist-cnn',
    ...BRIGHTNESS,
    ...SMALL_N,
    '--seed',
    '11',
    '--certifier',
    stack.addresses.certifier,
    '--out',
    out,
    ...more,
  ];

  it('certify-dataset: 12 results with 2 in-band INVALID_ARGUMENT, the table and a report', async () => {
    const out = join(tmp, 'all.jsonl');
    const report = join(tmp, 'report.html');
    const r = await glcert(...datasetArgs(out, '--report', report, '--concurrency', '3'));
    expect(r.code).toBe(0);
    const { records } = readResults(out);
    expect(records.map((x) => x.id).sort()).toEqual([...ids].sort());
    const invalid = records.filter((x) => x.status.code === 'INVALID_ARGUMENT');
    expect(invalid.map((x) => x.id).sort()).toEqual(['garbage.png', 'truncated.png']);
    expect(records.filter((x) => x.status.code === 'OK')).toHaveLength(10);
    for (const x of records.filter((y) => y.status.code === 'OK')) {
      // sequential sampling (the default): n is at most the requested 500, and the record says where it stopped
      expect(x).toMatchObject({ outcome: expect.stringMatching(/^(CERTIFIED|ABSTAINED)$/), n: expect.any(Number), label: expect.any(Number), predictedClass: expect.any(Number) });
      expect(x.n!).toBeLessThanOrEqual(500);
      expect(x.certificate).toEqual(expect.objectContaining({ sequential: expect.objectContaining({ rule: 'glcert-sequential/1', nMax: '500', n0Max: '100' }) }));
      expect(x.certificate).toEqual(expect.objectContaining({ certificateVersion: 2, dsseEnvelope: expect.objectContaining({ payload: expect.any(String) }) }));
    }
    expect(r.out).toMatch(/images\s+12\n/);
    expect(r.out).toMatch(/accuracy \(smoothed\)\s+\d+\.\d %/);
    expect(r.out).toMatch(/certified robust acc\.\s+\d+\.\d %/);
    expect(r.out).toMatch(/errors\s+2 \(2 INVALID_ARGUMENT\)/);
    expect(r.out).toMatch(/family-wise alpha\s+0\.012 /);
    expect(r.out).toMatch(/samples\s+sequential, at most n0 100, n 500/);
    expect(r.out).toMatch(/samples per image\s+mean [\d.]+, median/);
    expect(r.out).toMatch(/threshold h\*\s+0\.6305\d* \(closed-form\)/);
    expect(r.out).toMatch(/throughput\s+[\d.]+ images\/s, [\d.]+ s\/image/);
    expect(r.err).toMatch(/12\/12 100%/); // plain progress lines (not a terminal)
    const html = readFileSync(report, 'utf8');
    expect(html).toMatch(/^<!doctype html>/);
    expect(html.match(/<svg /g)).toHaveLength(3); // CRA, pA and forward passes per image
    expect(html).toContain('data:image/png;base64,');
    expect(html).not.toMatch(/(src|href)="https?:/);
  });

  it('certify-dataset resumes: finished ids are skipped, the rest appended', async () => {
    const out = join(tmp, 'resume.jsonl');
    const full = readFileSync(join(tmp, 'all.jsonl'), 'utf8').trim().split('\n');
    // an interrupted run: 7 lines written, the 8th cut short
    writeFileSync(out, `${full.slice(0, 7).join('\n')}\n${full[7].slice(0, 25)}`);
    const r = await glcert(...datasetArgs(out));
    expect(r.code).toBe(0);
    expect(r.err).toMatch(/5 answered, 7 already in .* \(skipped\)/);
    const lines = readFileSync(out, 'utf8').trim().split('\n');
    const parsed = lines.flatMap((l) => {
      try {
        return [JSON.parse(l) as { id: string }];
      } catch {
        return [];
      }
    });
    expect(parsed).toHaveLength(12);
    expect(new Set(parsed.map((p) => p.id)).size).toBe(12);
    // nothing left: a rerun sends nothing
    const again = await glcert(...datasetArgs(out));
    expect(again.err).toMatch(/0 answered, 12 already in/);
    expect(readFileSync(out, 'utf8').trim().split('\n')).toHaveLength(lines.length);
    // other settings are refused rather than mixed in
    const other = await glcert('certify-dataset', folder, '--model', 'mnist-cnn', '--preset', 'brightness', '--certifier', stack.addresses.certifier, '--out', out);
    expect(other.code).toBe(1);
    expect(other.err).toMatch(/other settings/);
  });

  it('--shard i/N splits the items exactly once; merge-results recombines them', async () => {
    const files = [0, 1, 2].map((i) => join(tmp, `shard-${i}.jsonl`));
    for (const [i, f] of files.entries()) {
      const r = await glcert(...datasetArgs(f, '--shard', `${i}/3`));
      expect(r.code).toBe(0);
    }
    const shardIds = files.map((f) => readResults(f).records.map((x) => x.id));
    expect(shardIds.map((s) => s.length)).toEqual([4, 4, 4]);
    expect(shardIds.flat().sort()).toEqual([...ids].sort());
    shardIds.forEach((s, i) => s.forEach((id) => expect(ids.indexOf(id) % 3).toBe(i)));

    const report = join(tmp, 'merged.html');
    const merged = await glcert('merge-results', ...files, '--report', report, '--data', folder, '--json');
    expect(merged.code).toBe(0);
    const whole = await glcert('merge-results', join(tmp, 'all.jsonl'), '--json');
    const a = JSON.parse(merged.out);
    const b = JSON.parse(whole.out);
    // same base seed: item seeds derive from (seed, id), so shards give the very same certificates
    for (const k of ['images', 'correct', 'certified', 'certifiedCorrect', 'abstained', 'errors', 'accuracy', 'certifiedRobustAccuracy', 'familyWiseAlpha', 'threshold']) {
      expect([k, a[k]]).toEqual([k, b[k]]);
    }
    expect(a.images).toBe(12);
    expect(existsSync(report)).toBe(true);
    const table = await glcert('merge-results', ...files);
    expect(table.out).toMatch(/^merged 3 files: 12 images\n/);
  });

  it('reports a child that dies unexpectedly; restart brings it back', async () => {
    const verifier = stack.process('verifier');
    process.kill(verifier.pid!, 'SIGKILL');
    for (let i = 0; i < 100 && unexpected.length === 0; i++) await new Promise((r) => setTimeout(r, 50));
    expect(unexpected).toEqual(['verifier: SIGKILL']);
    unexpected.length = 0;
    await stack.restart('verifier');
    expect(stack.process('verifier').running).toBe(true);
  });

  it('kill and restart one child (fault tests); a kill asked for is not reported', async () => {
    const before = stack.process('sampler').pid!;
    const exit = await stack.kill('sampler');
    expect(exit.signal).toBe('SIGKILL');
    expect(stack.process('sampler').running).toBe(false);
    await stack.restart('sampler', { GLCERT_RESTART_MARK: 'second' });
    expect(stack.process('sampler').pid).not.toBe(before);
    // the extra environment reaches the new child (and stays for later restarts)
    expect(stack.process('sampler').env.GLCERT_RESTART_MARK).toBe('second');
    if (process.platform === 'linux') {
      expect(readFileSync(`/proc/${stack.process('sampler').pid}/environ`, 'utf8').split('\0')).toContain('GLCERT_RESTART_MARK=second');
    }
    const h = createHealthClient(stack.addresses.certifier);
    try {
      for (let i = 0; i < 50 && (await checkHealth(h).catch(() => 'DOWN')) !== 'SERVING'; i++) await new Promise((r) => setTimeout(r, 200));
      await expect(checkHealth(h)).resolves.toBe('SERVING');
    } finally {
      h.close();
    }
    expect(unexpected).toEqual([]);
  });

  it('stop() ends every child: no process left', async () => {
    const pids = stack.processes.map((p) => p.pid!);
    await stack.stop();
    expect(pids.filter(alive)).toEqual([]);
    expect(unexpected).toEqual([]);
  });
});

describe('a stack whose parent dies', () => {
  it('stops itself: the children do not outlive a SIGKILLed parent', async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'glcert-orphan-'));
    try {
      const parent = spawn(process.execPath, ['--import', 'tsx', join(__dirname, '__fixtures__', 'stack-parent.ts'), join(tmp, 'keys'), join(tmp, 'bc')], {
        cwd: WORKSPACE_ROOT,
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      let out = '';
      parent.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
      const exited = new Promise<void>((r) => parent.on('close', () => r()));
      for (let i = 0; i < 1200 && !out.includes('\n'); i++) await new Promise((r) => setTimeout(r, 100));
      const pids = JSON.parse(out) as number[];
      expect(pids).toHaveLength(5);
      expect(pids.every(alive)).toBe(true);
      parent.kill('SIGKILL');
      await exited;
      for (let i = 0; i < 100 && pids.some(alive); i++) await new Promise((r) => setTimeout(r, 100));
      expect(pids.filter(alive)).toEqual([]);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});

describe('glcert up', () => {
  it('prints the addresses once SERVING and stops every child on SIGINT', async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'glcert-up-'));
    try {
      const child = spawn(
        process.execPath,
        ['--import', 'tsx', join(WORKSPACE_ROOT, 'tools/cli/src/main.ts'), 'up', '--base-port', '0', '--keys-dir', join(tmp, 'keys'), '--bounds-cache', join(tmp, 'bc'), '--log-level', 'warn'],
        { cwd: WORKSPACE_ROOT, env: { ...process.env, OTEL_SDK_DISABLED: 'true' } },
      );
      let out = '';
      let err = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
      child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
      const exited = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
      for (let i = 0; i < 1200 && !out.includes('Ctrl-C stops'); i++) await new Promise((r) => setTimeout(r, 100));
      expect(out).toMatch(/glcert stack ready in [\d.]+ s:/);
      const pids = [...out.matchAll(/\(pid (\d+)\)/g)].map((m) => Number(m[1]));
      expect(pids).toHaveLength(5);
      for (const name of ['certifier', 'sampler', 'inference', 'bounds', 'verifier']) expect(out).toMatch(new RegExp(`^  ${name}\\s+127\\.0\\.0\\.1:\\d+ `, 'm'));
      expect(pids.every(alive)).toBe(true);
      child.kill('SIGINT');
      expect(await exited).toBe(0);
      expect(err).toMatch(/\[glcert\]\s+stopping/);
      expect(err).toMatch(/\[glcert\]\s+stopped/);
      expect(pids.filter(alive)).toEqual([]);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});
