// Usage errors of the service commands (exit 2, one line naming the argument), no services needed.
import { run } from './cli';
import type { Io } from './command';

async function glcert(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io: Io = { out: (t) => void (out += t), err: (t) => void (err += t) };
  const code = await run(argv, io);
  return { code, out, err };
}

describe('usage errors', () => {
  it.each([
    [['certify'], /IMAGE is required/],
    [['certify', 'x.png', '--preset', 'brightness'], /--model is required/],
    [['certify', 'x.png', '--model', 'm'], /--transform is required/],
    [['certify', 'missing.png', '--model', 'm', '--preset', 'brightness'], /cannot read IMAGE 'missing.png'/],
    [['certify', 'x.png', '--model', 'm', '--preset', 'brightness', '--alpha', '1'], /--alpha: must be in \(0, 1\)/],
    [['certify', 'x.png', '--model', 'm', '--preset', 'brightness', '--seed', '-1'], /--seed/],
    [['certify-dataset', '--model', 'm', '--preset', 'brightness'], /a dataset is required/],
    [['certify-dataset', 'no-such-dir', '--model', 'm', '--preset', 'brightness'], /neither a folder with labels.csv nor one of/],
    [['certify-dataset', 'mnist-test', '--model', 'm', '--preset', 'brightness', '--shard', '3/3'], /--shard: i must be in \[0, N\)/],
    [['certify-dataset', 'mnist-test', '--model', 'm', '--preset', 'brightness', '--concurrency', '0'], /--concurrency/],
    [['verify'], /CERT.json is required/],
    [['verify', 'missing.json'], /cannot read 'missing.json'/],
    [['verify', 'package.json', '--public-key', 'a', '--public-key', 'b'], /--public-key: cannot read 'a'/],
    [['merge-results'], /at least one results file/],
    [['up', '--samplers', '0'], /--samplers: must be in \[1, 64\]/],
    [['up', '--log-level', 'loud'], /--log-level: expected one of/],
    [['demo', '--presets', 'nope'], /--presets: unknown preset 'nope'/],
  ])('%j', async (argv, message) => {
    const r = await glcert(...argv);
    expect(r.code).toBe(2);
    expect(r.out).toBe('');
    expect(r.err).toMatch(message);
    expect(r.err.trim().split('\n')).toHaveLength(1);
  });

  it('every command has help', async () => {
    for (const name of ['up', 'certify', 'certify-dataset', 'merge-results', 'verify', 'demo']) {
      const r = await glcert(name, '--help');
      expect([name, r.code]).toEqual([name, 0]);
      expect(r.out).toMatch(new RegExp(`^usage: glcert ${name}`));
    }
  });
});
