import * as grpc from '@grpc/grpc-js';
import { Distribution } from '@glcert/contracts';
import { decodeStatus, GlcertError, toStatus } from './errors';
import {
  identifierViolation,
  MAX_ID_BYTES,
  MAX_NAME_BYTES,
  MAX_THREAT_MODEL_ENTRIES,
  preview,
  rejectViolations,
  textViolation,
  threatModelIdentifierViolations,
} from './limits';

describe('identifierViolation', () => {
  it('accepts the names the product uses', () => {
    for (const name of ['mnist-cnn', 'cifar-resnet20-shape', 'fashion-cnn', 'b', 'cbt', 'tx', 'model_v2.1', 'x'.repeat(MAX_NAME_BYTES)]) {
      expect(identifierViolation(name, 'model', 'name')).toBeUndefined();
    }
  });

  it.each([
    ['1 MB', 1 << 20],
    ['64 kB', 64 << 10],
    ['48 kB', 48 << 10],
    ['one byte over', MAX_NAME_BYTES + 1],
  ])('a %s name is TOO_LONG, naming the field and its size, quoting none of it', (_what, size) => {
    const v = identifierViolation('a'.repeat(size), 'config.model', 'name')!;
    expect(v).toEqual({ field: 'config.model', description: `must be at most ${MAX_NAME_BYTES} bytes, got ${size}`, reason: 'TOO_LONG' });
  });

  it('counts UTF-8 bytes, not characters', () => {
    expect(identifierViolation('\u00e9'.repeat(MAX_ID_BYTES / 2), 'request_id', 'id')).toBeUndefined();
    expect(identifierViolation('\u00e9'.repeat(MAX_ID_BYTES / 2 + 1), 'request_id', 'id')?.reason).toBe('TOO_LONG');
  });

  it('names outside the charset are INVALID_FORMAT with a short JSON-quoted prefix', () => {
    for (const bad of ['mnist cnn', '../etc/passwd', '-x', '_hidden', 'a\nb', 'model:1', '\u00e9t\u00e9', 'x/y']) {
      const v = identifierViolation(bad, 'model', 'name')!;
      expect(v.reason).toBe('INVALID_FORMAT');
      expect(v.description).toContain(JSON.stringify(bad));
    }
    const long = identifierViolation(`${' '.repeat(100)}`, 'model', 'name')!;
    expect(long.description.length).toBeLessThan(200);
    expect(long.description).toContain('(100 characters)');
  });

  it('ids: anything printable up to MAX_ID_BYTES, no control characters', () => {
    expect(identifierViolation('2-0869.png', 'item.id', 'id')).toBeUndefined();
    expect(identifierViolation('req 1/\u00e9t\u00e9 #42', 'request_id', 'id')).toBeUndefined();
    expect(identifierViolation('a\u0000b', 'request_id', 'id')?.reason).toBe('INVALID_FORMAT');
    expect(identifierViolation('a\u2028b', 'request_id', 'id')?.reason).toBe('INVALID_FORMAT');
    expect(identifierViolation('x'.repeat(MAX_ID_BYTES + 1), 'request_id', 'id')?.reason).toBe('TOO_LONG');
  });

  it('sha256: 64 lowercase hex digits; empty passes unless required', () => {
    expect(identifierViolation('deadbeef'.repeat(8), 'expected_model_sha256', 'sha256')).toBeUndefined();
    expect(identifierViolation('', 'expected_model_sha256', 'sha256')).toBeUndefined();
    expect(identifierViolation('', 'model', 'name', { required: true })?.reason).toBe('REQUIRED');
    for (const bad of ['DEADBEEF'.repeat(8), 'deadbeef'.repeat(7), 'deadbeef'.repeat(9), 'g'.repeat(64), 'f'.repeat(1 << 20)]) {
      const v = identifierViolation(bad, 'expected_model_sha256', 'sha256')!;
      expect(v.reason).toBe('INVALID_FORMAT');
      expect(v.description.length).toBeLessThan(150);
    }
  });

  it('textViolation bounds free text by bytes', () => {
    expect(textViolation('x'.repeat(10), 'note', 10)).toBeUndefined();
    expect(textViolation('x'.repeat(11), 'note', 10)).toEqual({ field: 'note', description: 'must be at most 10 bytes, got 11', reason: 'TOO_LONG' });
  });
});

describe('preview', () => {
  it('quotes short input whole and long input as a prefix with its length', () => {
    expect(preview('abc')).toBe('"abc"');
    expect(preview('a\nb')).toBe('"a\\nb"');
    expect(preview('z'.repeat(1 << 20))).toBe(`"${'z'.repeat(32)}..." (${1 << 20} characters)`);
  });
});

describe('threatModelIdentifierViolations', () => {
  const tm = (over: object) => ({
    transform: 'b',
    box: [{ name: 'b', min: -0.1, max: 0.1 }],
    smoothing: [{ name: 'b', distribution: Distribution.DISTRIBUTION_NORMAL, sigma: 0.3 }],
    note: '',
    ...over,
  });

  it('a good threat model has none; an absent one is the validators\' business', () => {
    expect(threatModelIdentifierViolations(tm({}))).toEqual([]);
    expect(threatModelIdentifierViolations(undefined)).toEqual([]);
  });

  it('names every long transform or parameter name by its proto path', () => {
    const big = 'q'.repeat(64 << 10);
    const found = threatModelIdentifierViolations(
      tm({ transform: big, box: [{ name: big, min: 0, max: 1 }], smoothing: [{ name: 'b', distribution: 1, sigma: 1 }, { name: big, distribution: 1, sigma: 1 }] }),
      'config.threat_model',
    );
    expect(found.map((v) => v.field)).toEqual(['config.threat_model.transform', 'config.threat_model.box[0].name', 'config.threat_model.smoothing[1].name']);
  });

  it('too many entries and a long note', () => {
    const many = Array.from({ length: MAX_THREAT_MODEL_ENTRIES + 1 }, () => ({ name: 'b', min: 0, max: 1 }));
    expect(threatModelIdentifierViolations(tm({ box: many, note: 'n'.repeat(5000) })).map((v) => [v.field, v.reason])).toEqual([
      ['threat_model.box', 'TOO_MANY'],
      ['threat_model.note', 'TOO_LONG'],
    ]);
  });
});

describe('rejectViolations', () => {
  it('throws one INVALID_ARGUMENT naming every field, with a short status', () => {
    expect(() => rejectViolations([undefined, undefined])).not.toThrow();
    let thrown: unknown;
    try {
      rejectViolations([identifierViolation('m'.repeat(1 << 20), 'model', 'name'), undefined, identifierViolation('x\u0001', 'request_id', 'id')]);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(GlcertError);
    const status = toStatus(thrown);
    expect(status.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(status.details.length).toBeLessThan(200);
    expect(decodeStatus(status.metadata)?.badRequest?.fieldViolations.map((v) => v.field)).toEqual(['model', 'request_id']);
  });
});
