// The npm bin runs the compiled CLI, and `glcert up` from it starts the compiled services: every
// child is `node --enable-source-maps ... services/<name>/dist/main.js`, none loads tsx.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const ROOT = resolve(__dirname, '../../..');
const BIN = join(ROOT, 'tools/cli/bin/glcert.js');

/** argv of every process whose parent is `ppid` (Linux /proc). */
function children(ppid: number): string[][] {
  const out: string[][] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (parent === ppid) out.push(readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').filter(Boolean));
    } catch {
      // the process ended meanwhile
    }
  }
  return out;
}

const linux = process.platform === 'linux' ? describe : describe.skip;

linux('the compiled CLI', () => {
  it('glcert up (through the npm bin) runs the five compiled services, no tsx', async () => {
    const keys = mkdtempSync(join(tmpdir(), 'glcert-compiled-'));
    const child = spawn(process.execPath, [BIN, 'up', '--base-port', '0', '--keys-dir', keys, '--log-level', 'warn'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
    const exited = new Promise<number | null>((done) => child.on('exit', (code) => done(code)));
    try {
      await new Promise<void>((ready, fail) => {
        const timer = setInterval(() => {
          if (out.includes('Ctrl-C stops every service')) {
            clearInterval(timer);
            ready();
          }
        }, 100);
        void exited.then((code) => {
          clearInterval(timer);
          fail(new Error(`glcert up exited ${code}:\n${out}`));
        });
      });
      const argvs = children(child.pid!);
      const mains = argvs.map((a) => a[a.length - 1]).sort();
      expect(mains).toEqual(['bounds', 'certifier', 'inference', 'sampler', 'verifier'].map((s) => join(ROOT, 'services', s, 'dist', 'main.js')));
      for (const argv of argvs) {
        expect(argv.slice(1)).toEqual(['--enable-source-maps', '--import', expect.stringMatching(/tools\/cli\/dist\/stack-child\.js$/), expect.any(String)]);
        expect(argv.join(' ')).not.toMatch(/\btsx\b/);
      }
    } finally {
      child.kill('SIGTERM');
      await exited;
      rmSync(keys, { recursive: true, force: true });
    }
  }, 180_000);
});
