// Configuration of the bounds service, from the environment (validated, fail fast).
import * as path from 'node:path';
import { type ConfigOf, env, serverConfigSchema } from '@glcert/runtime';

export const SERVICE_NAME = 'bounds';
export const DEFAULT_CACHE_DIR = path.resolve(__dirname, '..', '..', '..', '.glcert', 'bounds-cache');

export function boundsConfigSchema() {
  return {
    ...serverConfigSchema(SERVICE_NAME, { host: '127.0.0.1', port: 50054 }),
    cacheDir: env.string('BOUNDS_CACHE_DIR', { default: DEFAULT_CACHE_DIR }),
    /** Solves running at once (each one a worker thread, about one core). */
    maxConcurrentSolves: env.int('BOUNDS_MAX_CONCURRENT_SOLVES', { default: 1, min: 1, max: 64 }),
    /** Solves waiting beyond that: past it, RESOURCE_EXHAUSTED rather than an unbounded queue. */
    maxQueuedSolves: env.int('BOUNDS_MAX_QUEUED_SOLVES', { default: 16, min: 0 }),
    /** Largest ns x attack points x 8 a request may ask for (about 1 s per 1e8 on one core). */
    maxScoreEvaluations: env.float('BOUNDS_MAX_SCORE_EVALUATIONS', { default: 2e10, min: 1 }),
  };
}

export type BoundsConfig = ConfigOf<ReturnType<typeof boundsConfigSchema>>;
