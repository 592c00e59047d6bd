// The CLI end to end: spawn it as a user would (node + tsx, and the npm bin), check stdout,
// stderr and the exit status.
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

const ROOT = resolve(__dirname, '../../..');
const MAIN = join(ROOT, 'tools/cli/src/main.ts');
const BIN = join(ROOT, 'tools/cli/bin/glcert.js');
const FIXTURE = join(__dirname, '__fixtures__/clopper-pearson.json');

function glcert(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', MAIN, ...args], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** The same, without blocking: lets independent cases run side by side. */
function glcertAsync(...args: string[]): Promise<Run> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, ['--import', 'tsx', MAIN, ...args], { cwd: ROOT });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', fail);
    child.on('close', (status) => done({ status, stdout, stderr }));
  });
}

const CB = ['--transform', 'cb', '--box', 'k=0.6:1.4,b=-0.4:0.4', '--sigma', 'k=0.3,b=0.3'];

describe('glcert bounds', () => {
  it('prints the example as one JSON object with the result fields', () => {
    const r = glcert('bounds', ...CB, '--ns', '2000', '--grid', '5,4', '--seed', '3', '--json');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout.trim().split('\n')).toHaveLength(1);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({
      method: 'numeric',
      transform: 'cb',
      box: { k: [0.6, 1.4], b: [-0.4, 0.4] },
      sigma: { k: 0.3, b: 0.3 },
      ns: 2000,
      grid: [5, 4],
      seed: '3',
      certifiable: true,
    });
    expect(out.threshold).toBeGreaterThan(0.5);
    expect(out.threshold).toBeLessThan(1);
    expect(out.numericThreshold).toBe(out.threshold);
    expect(typeof out.seconds).toBe('number');
    expect(out.attackPoints).toBe(20); // b0 = 0 is not on a 4-point b axis
    expect(out.scoreEvaluations).toBe(2000 * 8 * 20);
    expect(out.cacheKey).toMatch(/^[0-9a-f]{64}$/);
    expect(typeof out.solverVersion).toBe('string');
    expect(Array.isArray(out.notes)).toBe(true);
  });

  it('takes a preset and a method; the closed form of brightness is Phi(4/3)', () => {
    const r = glcert('bounds', '--preset', 'brightness', '--method', 'closed-form', '--json');
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.method).toBe('closed-form');
    expect(out.threshold).toBeCloseTo(0.9087887802741321, 10);
  });

  it('prints a human summary without --json', () => {
    const r = glcert('bounds', ...CB, '--ns', '1000', '--grid', '3');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/threshold h\* = 0\.\d+ \(numeric\)/);
    expect(r.stdout).toMatch(/cache key [0-9a-f]{64}/);
  });
});

describe('glcert stats clopper-pearson', () => {
  it('reproduces the reference values (scipy beta.ppf) in order', () => {
    const r = glcert('stats', 'clopper-pearson', '--vectors', FIXTURE, '--json');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const got = JSON.parse(r.stdout) as Array<{ lower: number; upper: number }>;
    const want = (JSON.parse(readFileSync(FIXTURE, 'utf8')) as { vectors: Array<{ lower: number; upper: number }> }).vectors;
    expect(got).toHaveLength(want.length);
    got.forEach((g, i) => {
      expect(Object.keys(g).sort()).toEqual(['lower', 'upper']);
      expect(Math.abs(g.lower - want[i].lower)).toBeLessThanOrEqual(1e-9 * Math.max(want[i].lower, 1e-300) + 1e-300);
      expect(Math.abs(g.upper - want[i].upper)).toBeLessThanOrEqual(1e-9 * want[i].upper + 1e-300);
    });
  });
});

const USAGE_CASES: Array<[string, string[], RegExp]> = [
  ['an unknown flag', ['bounds', ...CB, '--frobnicate'], /--frobnicate/],
  ['bad box syntax', ['bounds', '--transform', 'cb', '--box', 'k=0.6-1.4,b=-0.4:0.4', '--sigma', 'k=0.3,b=0.3'], /--box/],
  ['an unknown transform', ['bounds', '--transform', 'zz', '--box', 'k=0.6:1.4', '--sigma', 'k=0.3'], /--transform/],
  ['sigma <= 0', ['bounds', '--transform', 'cb', '--box', 'k=0.6:1.4,b=-0.4:0.4', '--sigma', 'k=0,b=0.3'], /--sigma k/],
  ['a non-integer ns', ['bounds', ...CB, '--ns', 'many'], /--ns/],
  ['a closed form that does not exist', ['bounds', ...CB, '--method', 'closed-form'], /--method/],
  ['a missing vectors file', ['stats', 'clopper-pearson', '--vectors', '/nonexistent/v.json', '--json'], /--vectors/],
  ['an unknown command', ['frobnicate'], /unknown command 'frobnicate'/],
];

describe('usage errors: exit 2, one line naming the argument', () => {
  const runs = new Map<string, Run>();
  beforeAll(async () => {
    const results = await Promise.all(USAGE_CASES.map(([, args]) => glcertAsync(...args)));
    USAGE_CASES.forEach(([what], i) => runs.set(what, results[i]));
  });

  it.each(USAGE_CASES)('%s', (what, _args, names) => {
    const r = runs.get(what)!;
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.endsWith('\n')).toBe(true);
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(names);
  });
});

describe('glcert help', () => {
  it('lists the commands (help, --help, and through the npm bin)', () => {
    for (const r of [glcert('help'), glcert('--help')]) {
      expect(r.status).toBe(0);
      expect(r.stdout).toMatch(/bounds/);
      expect(r.stdout).toMatch(/stats/);
    }
    const bin = spawnSync(process.execPath, [BIN, 'help', 'bounds'], { cwd: ROOT, encoding: 'utf8' });
    expect(bin.status).toBe(0);
    expect(bin.stdout).toMatch(/usage: glcert bounds/);
  });
});
