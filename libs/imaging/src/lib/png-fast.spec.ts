import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { deflateSync, inflateSync } from 'node:zlib';
import sharp from 'sharp';
import { decodeImage, decodeImageWithSharp, ImageDecodeError } from '../index';
import type { DecodedImage, DecodeTarget } from './decode';
import { crc32Ref, pngChunk, pseudoRandomBytes, writePng } from './fixtures';
import { crc32, decodePlainPng } from './png-fast';

const MNIST_DIR = path.resolve(__dirname, '../../../../data/mnist-test');
const MAX_PIXELS = 4096 * 4096;

interface Chunk {
  type: string;
  data: Buffer;
}
function chunks(png: Buffer): Chunk[] {
  const out: Chunk[] = [];
  for (let at = 8; at + 12 <= png.length; ) {
    const len = png.readUInt32BE(at);
    out.push({ type: png.toString('latin1', at + 4, at + 8), data: png.subarray(at + 8, at + 8 + len) });
    at += 12 + len;
  }
  return out;
}
const SIG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const build = (cs: Chunk[]) => Buffer.concat([SIG, ...cs.map((c) => pngChunk(c.type, c.data))]);
/** Inserts chunks right after IHDR. */
const withChunks = (png: Buffer, ...extra: Chunk[]) => {
  const cs = chunks(png);
  return build([cs[0], ...extra, ...cs.slice(1)]);
};
/** Replaces all IDATs by one holding `zdata`. */
const withIdat = (png: Buffer, zdata: Buffer) => {
  const cs = chunks(png).filter((c) => c.type !== 'IDAT');
  return build([...cs.slice(0, -1), { type: 'IDAT', data: zdata }, cs[cs.length - 1]]);
};
/** The filter byte of every row, read from the inflated IDAT data. */
function filterTypes(png: Buffer): Set<number> {
  const cs = chunks(png);
  const ihdr = cs[0].data;
  const w = ihdr.readUInt32BE(0);
  const h = ihdr.readUInt32BE(4);
  const c = ihdr[9] === 2 ? 3 : 1;
  const raw = inflateSync(Buffer.concat(cs.filter((x) => x.type === 'IDAT').map((x) => x.data)));
  const seen = new Set<number>();
  for (let y = 0; y < h; y++) seen.add(raw[y * (1 + w * c)]);
  return seen;
}

type Outcome = { ok: DecodedImage } | { err: { name: string; reason?: string; message: string } };
async function outcome(p: Promise<DecodedImage>): Promise<Outcome> {
  try {
    return { ok: await p };
  } catch (e) {
    const err = e as Error;
    return { err: { name: err.name, reason: e instanceof ImageDecodeError ? e.reason : undefined, message: err.message } };
  }
}

/** decodeImage (fast path taken) equals the sharp path exactly, tensor bytes included. */
async function expectSameAsSharp(png: Buffer, target: DecodeTarget) {
  expect(decodePlainPng(png, target.width, target.height, MAX_PIXELS)).toBeDefined();
  const fast = await decodeImage(png, target);
  const ref = await decodeImageWithSharp(png, target);
  expect(fast).toEqual(ref);
  expect(Buffer.from(fast.tensor.buffer).equals(Buffer.from(ref.tensor.buffer))).toBe(true);
}

describe('decodePlainPng (the fast path of decodeImage)', () => {
  it('decodes every MNIST test PNG exactly as the sharp path does, to 1 and 3 channels', async () => {
    const files = readdirSync(MNIST_DIR).filter((f) => f.endsWith('.png'));
    expect(files.length).toBeGreaterThan(1000);
    for (const f of files) {
      const png = readFileSync(path.join(MNIST_DIR, f));
      for (const channels of [1, 3] as const) await expectSameAsSharp(png, { channels, height: 28, width: 28 });
    }
  }, 120_000);

  it('decodes sharp-encoded grey and RGB PNGs using all five row filters exactly as the sharp path does', async () => {
    const filters = new Set<number>();
    for (const ch of [1, 3] as const) {
      for (const [w, h, seed] of [
        [40, 30, 1],
        [1, 9, 2],
        [17, 1, 3],
        [64, 48, 4],
      ]) {
        const n = w * h * ch;
        const noise = pseudoRandomBytes(n, seed);
        // rows of noise, gradients, near-copies of the row above and ramps: libpng's adaptive filtering
        // then picks every filter type somewhere
        const mixed = new Uint8Array(n);
        for (let i = 0; i < n; i++) {
          const p = Math.floor(i / ch);
          const x = p % w;
          const y = Math.floor(p / w);
          const k = i % ch;
          const kind = y % 6;
          mixed[i] =
            kind === 0
              ? noise[i]
              : kind === 1
                ? x * 6 + k * 40
                : kind === 2
                  ? mixed[i - w * ch] + (noise[i] & 3)
                  : kind === 3
                    ? x * 3 + y * 5 + (noise[i] & 1)
                    : kind === 4
                      ? x * x + y * k
                      : (x + y) * 4;
        }
        for (const px of [noise, mixed]) {
          const png = await sharp(Buffer.from(px), { raw: { width: w, height: h, channels: ch } })
            .png({ adaptiveFiltering: true, compressionLevel: 9 })
            .toBuffer();
          filterTypes(png).forEach((f) => filters.add(f));
          for (const channels of [1, 3] as const) await expectSameAsSharp(png, { channels, height: h, width: w });
        }
      }
    }
    expect([...filters].sort()).toEqual([0, 1, 2, 3, 4]);
  });

  it('matches the pixels independently: byte / 255 for grey, CHW for RGB', () => {
    const grey = pseudoRandomBytes(6 * 5, 11);
    expect(decodePlainPng(writePng(6, 5, 0, grey), 6, 5, MAX_PIXELS)).toEqual({ width: 6, height: 5, channels: 1, px: grey });
    const rgb = pseudoRandomBytes(6 * 5 * 3, 12);
    expect(decodePlainPng(writePng(6, 5, 2, rgb), 6, 5, MAX_PIXELS)).toEqual({ width: 6, height: 5, channels: 3, px: rgb });
  });

  it('reverses each filter type as the PNG spec defines it (rows filtered by a textbook encoder, ties included)', async () => {
    // samples in 0..3 make the Paeth predictor's ties frequent, where a wrong tie-break order shows
    for (const ch of [1, 3] as const) {
      const w = 13;
      const h = 25;
      const rowLen = w * ch;
      const px = Uint8Array.from(pseudoRandomBytes(w * h * ch, 40 + ch), (v) => v & 3);
      const raw = Buffer.alloc(h * (rowLen + 1));
      for (let y = 0; y < h; y++) {
        const f = y % 5;
        raw[y * (rowLen + 1)] = f;
        for (let i = 0; i < rowLen; i++) {
          const at = (yy: number, ii: number) => (yy >= 0 && ii >= 0 ? px[yy * rowLen + ii] : 0);
          const a = at(y, i - ch);
          const b = at(y - 1, i);
          const c = at(y - 1, i - ch);
          const p = a + b - c;
          const [pa, pb, pc] = [Math.abs(p - a), Math.abs(p - b), Math.abs(p - c)];
          const pred = [0, a, b, Math.floor((a + b) / 2), pa <= pb && pa <= pc ? a : pb <= pc ? b : c][f];
          raw[y * (rowLen + 1) + 1 + i] = (px[y * rowLen + i] - pred) & 0xff;
        }
      }
      const png = withIdat(writePng(w, h, ch === 1 ? 0 : 2, new Uint8Array(w * h * ch)), deflateSync(raw));
      expect(filterTypes(png)).toEqual(new Set([0, 1, 2, 3, 4]));
      expect(decodePlainPng(png, w, h, MAX_PIXELS)?.px).toEqual(px);
      for (const channels of [1, 3] as const) await expectSameAsSharp(png, { channels, height: h, width: w });
    }
  });

  it('takes text, time and pHYs chunks and split IDATs in its stride', async () => {
    const png = writePng(9, 7, 2, pseudoRandomBytes(9 * 7 * 3, 5));
    const meta = withChunks(
      png,
      { type: 'tEXt', data: Buffer.from('Title\0digit') },
      { type: 'zTXt', data: Buffer.concat([Buffer.from('Comment\0\0'), deflateSync(Buffer.from('hello'))]) },
      { type: 'iTXt', data: Buffer.from('Author\0\0\0en\0\0someone') },
      { type: 'tIME', data: Buffer.from([0x07, 0xea, 12, 7, 18, 30, 0]) },
      { type: 'pHYs', data: Buffer.from([0, 0, 0x0b, 0x13, 0, 0, 0x0b, 0x13, 1]) },
    );
    const z = chunks(png).find((c) => c.type === 'IDAT')!.data;
    const cs = chunks(meta);
    const split = build([...cs.slice(0, -2), { type: 'IDAT', data: z.subarray(0, 5) }, { type: 'IDAT', data: z.subarray(5) }, cs[cs.length - 1]]);
    for (const channels of [1, 3] as const) {
      await expectSameAsSharp(meta, { channels, height: 7, width: 9 });
      await expectSameAsSharp(split, { channels, height: 7, width: 9 });
    }
  });

  describe('leaves to sharp, with the same result or error as the sharp path', () => {
    const grey = writePng(8, 6, 0, pseudoRandomBytes(48, 21));
    const rgb = writePng(8, 6, 2, pseudoRandomBytes(144, 22));
    const greyRaw = (() => {
      const raw = Buffer.alloc(6 * 9); // 6 rows of filter byte 0 + 8 samples
      pseudoRandomBytes(48, 23).forEach((v, i) => (raw[Math.floor(i / 8) * 9 + 1 + (i % 8)] = v));
      return raw;
    })();
    const cases: Array<[string, () => Promise<Buffer>, { height: number; width: number }?]> = [
      ['gAMA chunk', async () => withChunks(grey, { type: 'gAMA', data: Buffer.from([0, 0, 0xb1, 0x8f]) })],
      [
        'iCCP chunk',
        async () => sharp(Buffer.from(pseudoRandomBytes(48, 24)), { raw: { width: 8, height: 6, channels: 1 } }).withIccProfile('srgb').png().toBuffer(),
      ],
      ['tRNS chunk (grey)', async () => withChunks(grey, { type: 'tRNS', data: Buffer.from([0, 7]) })],
      ['tRNS chunk (RGB)', async () => withChunks(rgb, { type: 'tRNS', data: Buffer.from([0, 7, 0, 8, 0, 9]) })],
      ['sRGB chunk', async () => withChunks(rgb, { type: 'sRGB', data: Buffer.from([0]) })],
      ['unknown ancillary chunk', async () => withChunks(rgb, { type: 'prVt', data: Buffer.from('x') })],
      ['palette', async () => sharp(Buffer.from(pseudoRandomBytes(144, 25)), { raw: { width: 8, height: 6, channels: 3 } }).png({ palette: true }).toBuffer()],
      ['16-bit grey', async () => writePng(8, 6, 0, Array.from(pseudoRandomBytes(48, 26), (v) => v * 257 + 3), 16)],
      ['16-bit RGB', async () => writePng(8, 6, 2, Array.from(pseudoRandomBytes(144, 27), (v) => v * 251), 16)],
      ['interlaced', async () => sharp(Buffer.from(pseudoRandomBytes(48, 28)), { raw: { width: 8, height: 6, channels: 1 } }).png({ progressive: true }).toBuffer()],
      ['size differs from the target (resize)', async () => grey, { height: 5, width: 8 }],
      ['grey + alpha', async () => writePng(8, 6, 4, pseudoRandomBytes(96, 29))],
      ['RGBA', async () => writePng(8, 6, 6, pseudoRandomBytes(192, 30))],
      [
        'bad CRC in IDAT',
        async () => {
          const b = Buffer.from(grey);
          b[b.length - 13] ^= 0x01; // last CRC byte of the IDAT (IEND is the last 12 bytes)
          return b;
        },
      ],
      [
        'bad CRC in tEXt',
        async () => {
          const b = withChunks(grey, { type: 'tEXt', data: Buffer.from('Title\0x') });
          b[33 + 8 + 7] ^= 0x01;
          return b;
        },
      ],
      ['data after IEND', async () => Buffer.concat([grey, Buffer.from('trailing')])],
      ['IDAT inflating to more than the image (bomb guard)', async () => withIdat(grey, deflateSync(Buffer.concat([greyRaw, Buffer.alloc(9 * 1000)])))],
      ['IDAT inflating to less than the image', async () => withIdat(grey, deflateSync(greyRaw.subarray(0, 5 * 9)))],
      ['bytes after the zlib stream in IDAT', async () => withIdat(grey, Buffer.concat([deflateSync(greyRaw), Buffer.from([1, 2, 3])]))],
      [
        'bad zlib checksum',
        async () => {
          const z = deflateSync(greyRaw);
          z[z.length - 1] ^= 0x01;
          return withIdat(grey, z);
        },
      ],
      [
        'row filter byte 5',
        async () => {
          const raw = Buffer.from(greyRaw);
          raw[2 * 9] = 5;
          return withIdat(grey, deflateSync(raw));
        },
      ],
      [
        'IDATs not consecutive',
        async () => {
          const z = deflateSync(greyRaw);
          const cs = chunks(grey);
          return build([cs[0], { type: 'IDAT', data: z.subarray(0, 4) }, { type: 'tEXt', data: Buffer.from('a\0b') }, { type: 'IDAT', data: z.subarray(4) }, cs[cs.length - 1]]);
        },
      ],
      [
        'chunk length past the end of the data',
        async () => {
          const b = Buffer.from(withChunks(grey, { type: 'tEXt', data: Buffer.from('Title\0x') }));
          b.writeUInt32BE(0x7fffffff, 33);
          return b;
        },
      ],
    ];

    // every row gets its size: with fewer row items than parameters jest would pass a done callback
    it.each(cases.map(([name, make, size]) => [name, make, size ?? { height: 6, width: 8 }] as const))('%s', async (_name, make, size) => {
      const png = await make();
      const { height, width } = size;
      expect(decodePlainPng(png, width, height, MAX_PIXELS)).toBeUndefined();
      for (const channels of [1, 3] as const) {
        const target = { channels, height, width };
        expect(await outcome(decodeImage(png, target))).toEqual(await outcome(decodeImageWithSharp(png, target)));
      }
    });

    it('above maxInputPixels', async () => {
      expect(decodePlainPng(grey, 8, 6, 47)).toBeUndefined();
      expect(decodePlainPng(grey, 8, 6, 48)).toBeDefined();
      const target = { channels: 1 as const, height: 6, width: 8 };
      const err = await outcome(decodeImage(grey, target, { maxInputPixels: 47 }));
      expect(err).toEqual(await outcome(decodeImageWithSharp(grey, target, { maxInputPixels: 47 })));
      expect(err).toMatchObject({ err: { reason: 'IMAGE_TOO_LARGE' } });
    });
  });

  it('crc32 is the PNG CRC-32', () => {
    expect(crc32(Buffer.from('IEND'))).toBe(0xae426082);
    const data = pseudoRandomBytes(1000, 31);
    expect(crc32(data)).toBe(crc32Ref(data));
    expect(crc32(data, 10, 500)).toBe(crc32Ref(data.subarray(10, 500)));
  });
});
