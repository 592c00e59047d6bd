// One fast-check seed for every property of every project (jest setupFiles, via jest.preset.js),
// so that CI runs the same cases each time: a property that fails in CI fails the same way
// locally. FC_SEED overrides it (an integer, or `random` to explore new cases); a failure
// report ends with the command that replays it.
const fc = require('fast-check');

/** The default seed: any fixed 32-bit integer; changing it changes the cases every property sees. */
const DEFAULT_SEED = 20261207;

function seedFromEnv(raw) {
  if (raw === undefined || raw.trim() === '') return DEFAULT_SEED;
  if (raw.trim() === 'random') return (Date.now() ^ (Math.random() * 0x100000000)) | 0;
  const seed = Number(raw);
  if (!Number.isInteger(seed) || seed < -0x80000000 || seed > 0xffffffff) {
    throw new Error(`FC_SEED must be an integer (a 32-bit seed) or 'random', got '${raw.slice(0, 40)}'`);
  }
  return seed | 0;
}

const seed = seedFromEnv(process.env.FC_SEED);

fc.configureGlobal({
  seed,
  // fast-check's own report (seed, counterexample path, shrunk counterexample, the error as
  // cause), plus how to rerun it; a property that pins its own seed says so instead.
  reporter(out) {
    if (!out.failed) return;
    const file = globalThis.expect?.getState?.().testPath;
    const rel = file ? require('node:path').relative(process.cwd(), file) : '<spec file>';
    const how =
      out.seed === seed
        ? `Reproduce: FC_SEED=${out.seed} npx jest ${rel} (global fast-check seed, tools/jest-env/fast-check-seed.js)`
        : `Reproduce: npx jest ${rel} (this property pins its own seed ${out.seed})`;
    throw new Error(`${fc.defaultReportMessage(out)}\n\n${how}`, { cause: out.errorInstance });
  },
});

module.exports = { DEFAULT_SEED, seedFromEnv };
