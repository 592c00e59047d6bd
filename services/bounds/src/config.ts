// Configuration of the bounds service, from the environment (validated, fail fast).
import * as path from 'node:path';
import { type ConfigOf, env, readConfig, serverConfigSchema } from '@glcert/runtime';

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
    /**
     * Largest estimated cost of one solve (estimateSolveCost, in score evaluations: attack points
     * x 8 x ns x dims plus the pilot sorts); above it, RESOURCE_EXHAUSTED naming ns and
     * grid_points. 4e9 is 6 s to 6 minutes of one core on the dev VM depending on the transform
     * (README); the presets and the bench cost at most 1.2e9 (cb 35 x 31 at ns 20000: 7.7e8).
     */
    maxSolveCost: env.float('BOUNDS_MAX_SOLVE_COST', { default: 4e9, min: 1 }),
    /**
     * Cost units per second assumed when checking a new solve against the caller's deadline:
     * deliberately fast (about 3x the fastest measured, t and bt), so only a solve that surely
     * cannot finish in time is refused; one that overruns is stopped at the deadline anyway.
     */
    solveRate: env.float('BOUNDS_SOLVE_RATE', { default: 2e9, min: 1 }),
  };
}

export type BoundsConfig = ConfigOf<ReturnType<typeof boundsConfigSchema>>;

/** Defaults of every field (what an empty environment gives). */
export function defaultBoundsConfig(): BoundsConfig {
  return readConfig(boundsConfigSchema(), {});
}
