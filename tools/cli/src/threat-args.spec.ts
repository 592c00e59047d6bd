import { UsageError } from './args';
import { fieldToFlag, parseBox, parseSigma, threatModelFromFlags } from './threat-args';

function message(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(UsageError);
    return (e as Error).message;
  }
  throw new Error('expected a UsageError');
}

describe('threat-model flags', () => {
  it('parses boxes and sigmas, negative numbers included', () => {
    expect(parseBox('k=0.6:1.4,b=-0.4:0.4')).toEqual({ k: [0.6, 1.4], b: [-0.4, 0.4] });
    expect(parseBox('tx=-56:56')).toEqual({ tx: [-56, 56] });
    expect(parseSigma('k=0.3, b=3e-1')).toEqual({ k: 0.3, b: 0.3 });
  });

  it('rejects malformed syntax naming the flag and the part', () => {
    expect(message(() => parseBox('k=0.6-1.4'))).toMatch(/^--box: expected NAME=LO:HI.*'k=0.6-1.4'/);
    expect(message(() => parseBox('k:0.6:1.4'))).toMatch(/^--box/);
    expect(message(() => parseBox('k=a:1'))).toMatch(/^--box k: lo must be a number/);
    expect(message(() => parseBox('k=1:2,k=1:3'))).toMatch(/^--box: parameter k given twice/);
    expect(message(() => parseBox(''))).toMatch(/^--box: empty/);
    expect(message(() => parseSigma('k'))).toMatch(/^--sigma: expected NAME=S/);
  });

  it('builds and validates a model from flags or a preset', () => {
    const { model } = threatModelFromFlags({ transform: 'cb', box: 'k=0.6:1.4,b=-0.4:0.4', sigma: 'k=0.3,b=0.3' });
    expect(model.lo).toEqual([0.6, -0.4]);
    expect(model.sigma).toEqual([0.3, 0.3]);
    const preset = threatModelFromFlags({ preset: 'contrast-brightness', sigma: 'b=0.5' });
    expect(preset.spec.sigma).toEqual({ k: 0.3, b: 0.5 });
  });

  it('reports validation problems against the flag', () => {
    expect(message(() => threatModelFromFlags({ transform: 'cb', box: 'k=0.6:1.4,b=-0.4:0.4', sigma: 'k=-1,b=0.3' }))).toMatch(/^--sigma k: /);
    expect(message(() => threatModelFromFlags({ transform: 'cb', box: 'k=0.6:1.4', sigma: 'k=0.3,b=0.3' }))).toMatch(/^--box b: missing/);
    expect(message(() => threatModelFromFlags({ transform: 'cb', box: 'k=0.6:1.4,b=-0.4:0.4,z=0:1', sigma: 'k=0.3,b=0.3' }))).toMatch(/^--box z/);
    expect(message(() => threatModelFromFlags({ transform: 'nope', box: 'k=1:1', sigma: 'k=1' }))).toMatch(/^--transform: /);
    expect(message(() => threatModelFromFlags({ box: 'k=1:1', sigma: 'k=1' }))).toMatch(/^--transform is required/);
    expect(message(() => threatModelFromFlags({ preset: 'nope' }))).toMatch(/^--preset: unknown preset 'nope'/);
    expect(message(() => threatModelFromFlags({ preset: 'brightness', transform: 'c' }))).toMatch(/^--transform: 'c' contradicts/);
    expect(fieldToFlag('threat_model.box.k')).toBe('--box k');
    expect(fieldToFlag('threat_model.transform')).toBe('--transform');
  });
});
