// Issue 11 finding 8: every fast-check property runs with one seed, set once for all projects
// in jest's setup (tools/jest-env/fast-check-seed.js, via jest.preset.js), so CI sees the same
// cases on every run; FC_SEED overrides it, and a failure says how to replay it.
import * as path from 'node:path';
import fc from 'fast-check';
import { ROOT } from './fixtures';

// the jest setup file itself (plain CommonJS, outside any project)
const { DEFAULT_SEED, seedFromEnv } = require(path.join(ROOT, 'tools', 'jest-env', 'fast-check-seed.js')) as {
  DEFAULT_SEED: number;
  seedFromEnv(raw: string | undefined): number;
};

describe('the global fast-check seed', () => {
  const seed = fc.readConfigureGlobal().seed;

  it('is set for this file: FC_SEED when given, else the fixed default', () => {
    expect(seed).toBe(process.env.FC_SEED ? seedFromEnv(process.env.FC_SEED) : DEFAULT_SEED);
  });

  it('makes every property see the same values, run after run', () => {
    const values = (): number[] => {
      const seen: number[] = [];
      fc.assert(fc.property(fc.double(), (x) => void seen.push(x)), { numRuns: 20 });
      return seen;
    };
    expect(values()).toEqual(values());
  });

  it('a failure reports the seed and the command that replays it', () => {
    let report = '';
    try {
      fc.assert(fc.property(fc.integer(), (x) => x < 1000), { numRuns: 200 });
    } catch (err) {
      report = (err as Error).message;
    }
    expect(report).toContain(`{ seed: ${seed},`);
    expect(report).toContain(`Reproduce: FC_SEED=${seed} npx jest`);
    expect(report).toContain('fast-check-seed.spec.ts');
  });

  it('reads FC_SEED as a 32-bit integer or `random`, and refuses anything else', () => {
    expect(seedFromEnv(undefined)).toBe(DEFAULT_SEED);
    expect(seedFromEnv('')).toBe(DEFAULT_SEED);
    expect(seedFromEnv('42')).toBe(42);
    expect(seedFromEnv('-7')).toBe(-7);
    expect(Number.isInteger(seedFromEnv('random'))).toBe(true);
    expect(() => seedFromEnv('1.5')).toThrow(/FC_SEED/);
    expect(() => seedFromEnv('abc')).toThrow(/FC_SEED/);
  });
});
