import { UsageError, parseArgs } from './args';

const SPECS = {
  ns: { type: 'integer', description: '' },
  rate: { type: 'number', description: '' },
  name: { type: 'string', description: '' },
  mode: { type: 'string', choices: ['a', 'b'], description: '' },
  json: { type: 'boolean', description: '' },
  help: { type: 'boolean', description: '' },
} as const;

function usage(argv: string[]): string {
  try {
    parseArgs(argv, SPECS);
  } catch (e) {
    expect(e).toBeInstanceOf(UsageError);
    expect((e as UsageError).exitCode).toBe(2);
    return (e as Error).message;
  }
  throw new Error('expected a UsageError');
}

describe('parseArgs', () => {
  it('reads --flag value, --flag=value, booleans and positionals', () => {
    const { flags, positionals } = parseArgs(['x', '--ns', '20', '--rate=-0.5', '--json', '--name', 'n1', '--mode=b', 'y', '--', '--z'], SPECS);
    expect(flags).toEqual({ ns: 20, rate: -0.5, json: true, name: 'n1', mode: 'b' });
    expect(positionals).toEqual(['x', 'y', '--z']);
    expect(parseArgs(['-h'], SPECS).flags.help).toBe(true);
    expect(parseArgs(['--json=false'], SPECS).flags.json).toBe(false);
    expect(parseArgs(['-3'], SPECS).positionals).toEqual(['-3']);
  });

  it('names the flag in every error', () => {
    expect(usage(['--nope'])).toBe('unknown flag --nope');
    expect(usage(['-x'])).toBe('unknown flag -x');
    expect(usage(['--ns', '1.5'])).toMatch(/^--ns: expected an integer, got '1.5'/);
    expect(usage(['--ns', '1e400'])).toMatch(/^--ns/);
    expect(usage(['--rate', 'abc'])).toMatch(/^--rate: expected a number/);
    expect(usage(['--rate', ''])).toMatch(/^--rate/);
    expect(usage(['--mode', 'c'])).toMatch(/^--mode: expected one of a, b/);
    expect(usage(['--name'])).toMatch(/^--name: missing value/);
    expect(usage(['--name', '--json'])).toMatch(/^--name: missing value/);
    expect(usage(['--json=yes'])).toMatch(/^--json/);
    expect(usage(['--ns', '1', '--ns', '2'])).toMatch(/^--ns given more than once/);
  });
});
