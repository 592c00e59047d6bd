import { mkdirSync, readFileSync, renameSync, writeFileSync, openSync, fsyncSync, closeSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import type { BoundResult } from '@glcert/bounds';

/**
 * Solved bounds on disk, one JSON file per cache key. Writes are atomic (temp file, fsync,
 * rename), so a crash mid-write leaves the old state, never a torn file; a file that does not
 * parse or whose key does not match is treated as absent (and solved again).
 */
export class BoundCache {
  readonly #memory = new Map<string, BoundResult>();

  constructor(readonly dir: string) {
    mkdirSync(dir, { recursive: true });
  }

  #file(key: string): string {
    if (!/^[0-9a-f]{64}$/.test(key)) throw new Error(`bad cache key ${key}`);
    return join(this.dir, `${key}.json`);
  }

  get(key: string): BoundResult | undefined {
    const hit = this.#memory.get(key);
    if (hit) return hit;
    let parsed: BoundResult;
    try {
      parsed = JSON.parse(readFileSync(this.#file(key), 'utf8')) as BoundResult;
    } catch {
      return undefined;
    }
    if (parsed?.cacheKey !== key || typeof parsed.threshold !== 'number') return undefined;
    this.#memory.set(key, parsed);
    return parsed;
  }

  put(result: BoundResult): void {
    const file = this.#file(result.cacheKey);
    const tmp = `${file}.${process.pid}.${Date.now()}.tmp`;
    try {
      writeFileSync(tmp, JSON.stringify(result, null, 1));
      const fd = openSync(tmp, 'r');
      fsyncSync(fd);
      closeSync(fd);
      renameSync(tmp, file);
    } catch (err) {
      try {
        unlinkSync(tmp);
      } catch {
        /* nothing to clean */
      }
      throw err;
    }
    this.#memory.set(result.cacheKey, result);
  }
}
