import { UsageError, commandArgs, parseArgs } from './args';

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

describe('commandArgs', () => {
  const printed: string[] = [];
  const io = { out: (text: string) => void printed.push(text) };
  const help = (): string => 'usage: glcert thing FILE\n';

  it('prints the help and returns nothing with --help or -h, whatever the positionals', () => {
    expect(commandArgs(['--help'], SPECS, io, help, { min: 1, max: 1 })).toBeUndefined();
    expect(commandArgs(['-h', 'a', 'b'], SPECS, io, help)).toBeUndefined();
    expect(printed).toEqual(['usage: glcert thing FILE\n', 'usage: glcert thing FILE\n']);
  });

  it('returns flags and positionals within the count, and names what is missing or extra', () => {
    expect(commandArgs(['f.png', '--ns', '3'], SPECS, io, help, { min: 1, max: 1 })).toEqual({ flags: { ns: 3 }, positionals: ['f.png'] });
    expect(commandArgs(['a', 'b', 'c'], SPECS, io, help, { min: 1, max: Infinity })?.positionals).toEqual(['a', 'b', 'c']);
    expect(() => commandArgs([], SPECS, io, help, { min: 1, max: 1, missing: 'FILE is required' })).toThrow(new UsageError('FILE is required'));
    expect(() => commandArgs(['a', 'b'], SPECS, io, help, { min: 1, max: 1 })).toThrow("unexpected argument 'b'");
    expect(() => commandArgs(['x'], SPECS, io, help)).toThrow("unexpected argument 'x'");
    expect(() => commandArgs(['--bogus'], SPECS, io, help)).toThrow(UsageError);
  });
});
