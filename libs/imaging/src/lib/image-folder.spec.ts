import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatasetError, decodeImage, defaultMnistTestDir, parseLabelsCsv, readImageFolder, readLabelsCsv } from '../index';
import { writePng } from './fixtures';

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

describe('labels.csv', () => {
  it('parses file,label with CRLF, a BOM, extra columns, quotes and blank lines', () => {
    const text = '\uFEFFlabel,file,note\r\n3,a.png,x\r\n\r\n0,"sub/b c.png","say ""hi"", ok"\r\n';
    expect(parseLabelsCsv(text)).toEqual([
      { file: 'a.png', label: 3, line: 2 },
      { file: 'sub/b c.png', label: 0, line: 4 },
    ]);
  });

  it.each([
    ['name,class\na.png,1\n', /:1: header must name the columns 'file' and 'label'/],
    ['file,label\na.png,x\n', /:2: label 'x' is not a non-negative integer/],
    ['file,label\na.png,-1\n', /label '-1'/],
    ['file,label\na.png,1\na.png,2\n', /:3: file 'a.png' is listed twice/],
    ['file,label\n../etc/passwd,1\n', /must be a relative path inside the folder/],
    ['file,label\n/abs.png,1\n', /must be a relative path/],
    ['file,label\na.png\n', /:2: 1 columns, the header has 2/],
    ['file,label\n"a.png,1\n', /unterminated quoted field/],
  ])('rejects %j', (text, message) => {
    expect(() => parseLabelsCsv(text, 'x/labels.csv')).toThrow(message);
    try {
      parseLabelsCsv(text);
    } catch (e) {
      expect(e).toBeInstanceOf(DatasetError);
      expect((e as DatasetError).reason).toBe('LABELS_INVALID');
    }
  });
});

describe('readImageFolder', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'glcert-imaging-'));
    writeFileSync(join(dir, 'one.png'), writePng(2, 2, 0, [1, 2, 3, 4]));
    writeFileSync(join(dir, 'two.png'), writePng(2, 2, 0, [5, 6, 7, 8]));
    writeFileSync(join(dir, 'labels.csv'), 'file,label\ntwo.png,9\none.png,4\n');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('yields the items in labels.csv order with their bytes', async () => {
    const items = await collect(readImageFolder(dir));
    expect(items.map((i) => [i.id, i.label])).toEqual([
      ['two.png', 9],
      ['one.png', 4],
    ]);
    expect(items[0].file).toBe(join(dir, 'two.png'));
    const img = await decodeImage(items[1].bytes, { channels: 1, height: 2, width: 2 });
    expect(Array.from(img.tensor, (v) => Math.round(v * 255))).toEqual([1, 2, 3, 4]);
    expect((await collect(readImageFolder(dir, { offset: 1, limit: 5 }))).map((i) => i.id)).toEqual(['one.png']);
  });

  it('names a missing labels.csv and a missing image file', async () => {
    await expect(readLabelsCsv(join(dir, 'nope'))).rejects.toMatchObject({ reason: 'LABELS_NOT_FOUND' });
    const broken = mkdtempSync(join(tmpdir(), 'glcert-imaging-'));
    try {
      writeFileSync(join(broken, 'labels.csv'), 'file,label\nghost.png,1\n');
      await expect(collect(readImageFolder(broken))).rejects.toThrow(/ghost\.png \(labels\.csv line 2\): cannot read .*ENOENT/);
    } finally {
      rmSync(broken, { recursive: true, force: true });
    }
  });

  it('reads the shipped MNIST held-out set: 2004 grayscale 28x28 PNGs, about 200 per digit', async () => {
    const mnist = defaultMnistTestDir();
    expect(mnist).toBeDefined();
    const labels = await readLabelsCsv(mnist!);
    expect(labels).toHaveLength(2004);
    const perClass = new Array(10).fill(0);
    for (const e of labels) perClass[e.label]++;
    expect(perClass).toEqual([201, 226, 199, 207, 196, 173, 203, 214, 189, 196]);
    const [first] = await collect(readImageFolder(mnist!, { limit: 1 }));
    const img = await decodeImage(first.bytes, { channels: 1, height: 28, width: 28 });
    expect(img.preprocessing).toEqual(['decoded png 28x28x1 (HxWxC, 8-bit b-w)', 'scaled uint8 /255 to [0,1], HWC -> CHW float32']);
    expect(Math.max(...img.tensor)).toBeGreaterThan(0.9);
    expect(Math.min(...img.tensor)).toBe(0);
  });
});
