// The bounds process with an unusable cache directory: exit 78 and a message naming
// BOUNDS_CACHE_DIR, not a stack trace from mkdir.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

describe('the bounds process', () => {
  it('exits 78 naming BOUNDS_CACHE_DIR when the cache directory cannot be created', () => {
    const dir = mkdtempSync(join(tmpdir(), 'glcert-bounds-'));
    try {
      // a regular file where a directory must be: mkdir fails even for root (ENOTDIR)
      writeFileSync(join(dir, 'plain'), '');
      const cacheDir = join(dir, 'plain', 'cache');
      const r = spawnSync(process.execPath, ['--import', 'tsx', resolve(__dirname, 'main.ts')], {
        encoding: 'utf8',
        timeout: 60_000,
        env: { ...process.env, BOUNDS_PORT: '0', BOUNDS_CACHE_DIR: cacheDir, OTEL_SDK_DISABLED: 'true' },
      });
      expect(r.status).toBe(78);
      expect(r.stderr).toContain('BOUNDS_CACHE_DIR: cannot use');
      expect(r.stderr).toContain('(ENOTDIR): mount a writable volume there');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
