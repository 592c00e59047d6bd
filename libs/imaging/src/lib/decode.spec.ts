import * as zlib from 'node:zlib';
import sharp from 'sharp';
import { apngFrames, decodeImage, ImageDecodeError, sha256Hex, encodePng, LUMA_WEIGHTS } from '../index';
import { pseudoRandomBytes, writePng } from './fixtures';

async function expectDecodeError(bytes: Uint8Array, reason: string, message: RegExp) {
  const err = await decodeImage(bytes, { channels: 1, height: 28, width: 28 }).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ImageDecodeError);
  expect((err as ImageDecodeError).reason).toBe(reason);
  expect((err as ImageDecodeError).code).toBe('INVALID_ARGUMENT');
  expect((err as ImageDecodeError).message).toMatch(message);
}

describe('decodeImage', () => {
  it('decodes an 8-bit grayscale PNG exactly (byte / 255, CHW) with no resize', async () => {
    const px = pseudoRandomBytes(28 * 28, 3);
    const out = await decodeImage(writePng(28, 28, 0, px), { channels: 1, height: 28, width: 28 });
    expect(out.shape).toEqual([1, 28, 28]);
    expect(out.sourceFormat).toBe('png');
    for (let i = 0; i < px.length; i++) expect(out.tensor[i]).toBe(Math.fround(px[i] / 255));
    expect(out.preprocessing).toEqual(['decoded png 28x28x1 (HxWxC, 8-bit b-w)', 'scaled uint8 /255 to [0,1], HWC -> CHW float32']);
    expect(out.preprocessing.join(' ')).not.toMatch(/resized|converted/);
  });

  it('round-trips encodePng exactly: decode(encode(x)) = round(255 x) / 255, for 1 and 3 channels', async () => {
    for (const c of [1, 3] as const) {
      const shape = [c, 5, 7] as const;
      const x = Float32Array.from(pseudoRandomBytes(c * 35, 9 + c), (b) => b / 256 + 0.001);
      const out = await decodeImage(await encodePng(x, shape), { channels: c, height: 5, width: 7 });
      for (let i = 0; i < x.length; i++) expect(out.tensor[i]).toBe(Math.fround(Math.round(255 * x[i]) / 255));
      expect(out.preprocessing.join(' ')).not.toMatch(/resized|converted/);
    }
  });

  it('keeps the CHW layout of an RGB PNG', async () => {
    // 1x2 image: pixel 0 = (10, 20, 30), pixel 1 = (40, 50, 60)
    const out = await decodeImage(writePng(2, 1, 2, [10, 20, 30, 40, 50, 60]), { channels: 3, height: 1, width: 2 });
    expect(Array.from(out.tensor, (v) => Math.round(v * 255))).toEqual([10, 40, 20, 50, 30, 60]);
  });

  it('converts RGB to grayscale with BT.601 luma and records it', async () => {
    const rgb = [255, 0, 0, 0, 255, 0, 0, 0, 255, 200, 100, 50];
    const out = await decodeImage(writePng(4, 1, 2, rgb), { channels: 1, height: 1, width: 4 });
    const expected = [0.299, 0.587, 0.114, (0.299 * 200 + 0.587 * 100 + 0.114 * 50) / 255];
    expected.forEach((v, i) => expect(out.tensor[i]).toBeCloseTo(v, 6));
    expect(LUMA_WEIGHTS).toEqual([0.299, 0.587, 0.114]);
    expect(out.preprocessing).toContain('converted rgb -> grayscale (BT.601 luma 0.299 R + 0.587 G + 0.114 B)');
  });

  it('replicates grayscale into 3 channels and records it', async () => {
    const out = await decodeImage(writePng(2, 1, 0, [0, 255]), { channels: 3, height: 1, width: 2 });
    expect(Array.from(out.tensor)).toEqual([0, 1, 0, 1, 0, 1]);
    expect(out.preprocessing).toContain('converted grayscale -> rgb (replicated)');
  });

  it('resizes only when the size differs, and records it', async () => {
    const flat = new Array(32 * 32).fill(77);
    const out = await decodeImage(writePng(32, 32, 0, flat), { channels: 1, height: 28, width: 28 });
    expect(out.shape).toEqual([1, 28, 28]);
    for (const v of out.tensor) expect(Math.round(v * 255)).toBe(77);
    expect(out.preprocessing).toContain('resized 32x32 -> 28x28 (HxW, fill, lanczos3)');
    const wide = await decodeImage(writePng(40, 20, 0, new Array(800).fill(0)), { channels: 1, height: 28, width: 28 }, { fit: 'contain', kernel: 'nearest' });
    expect(wide.preprocessing).toContain('resized 20x40 -> 28x28 (HxW, contain, nearest)');
  });

  it('reads 16-bit PNGs at full precision', async () => {
    const v = [0, 1, 257, 32768, 65534, 65535];
    const out = await decodeImage(writePng(6, 1, 0, v, 16), { channels: 1, height: 1, width: 6 });
    v.forEach((s, i) => expect(out.tensor[i]).toBeCloseTo(s / 65535, 7));
    expect(out.source.bitDepth).toBe(16);
    expect(out.preprocessing.at(-1)).toMatch(/uint16 \/65535/);
  });

  it('flattens alpha onto black by default (recorded), or onto the given grey', async () => {
    const rgba = [255, 255, 255, 0, 255, 255, 255, 255];
    const out = await decodeImage(writePng(2, 1, 6, rgba), { channels: 1, height: 1, width: 2 });
    expect(Array.from(out.tensor)).toEqual([0, 1]);
    expect(out.preprocessing).toContain('flattened alpha onto grey 0');
    const white = await decodeImage(writePng(2, 1, 4, [0, 0, 0, 255]), { channels: 1, height: 1, width: 2 }, { background: 1 });
    expect(Array.from(white.tensor)).toEqual([1, 0]);
  });

  it('decodes JPEG and WebP (lossless WebP exactly)', async () => {
    const px = Buffer.from(pseudoRandomBytes(16 * 16 * 3, 5));
    const raw = { raw: { width: 16, height: 16, channels: 3 as const } };
    const webp = await decodeImage(await sharp(px, raw).webp({ lossless: true }).toBuffer(), { channels: 3, height: 16, width: 16 });
    expect(webp.sourceFormat).toBe('webp');
    for (let c = 0; c < 3; c++) for (let p = 0; p < 256; p++) expect(Math.round(webp.tensor[c * 256 + p] * 255)).toBe(px[p * 3 + c]);
    const smooth = Buffer.alloc(16 * 16 * 3, 120);
    const jpeg = await decodeImage(await sharp(smooth, raw).jpeg({ quality: 95 }).toBuffer(), { channels: 3, height: 16, width: 16 });
    expect(jpeg.sourceFormat).toBe('jpeg');
    for (const v of jpeg.tensor) expect(Math.abs(v * 255 - 120)).toBeLessThanOrEqual(2);
    expect(jpeg.preprocessing[0]).toMatch(/^decoded jpeg 16x16x3/);
  });

  it('applies and records EXIF orientation', async () => {
    const jpeg = await sharp(Buffer.alloc(2 * 4 * 3, 200), { raw: { width: 4, height: 2, channels: 3 } })
      .jpeg()
      .withMetadata({ orientation: 6 })
      .toBuffer();
    const out = await decodeImage(jpeg, { channels: 1, height: 4, width: 2 });
    expect(out.preprocessing).toContain('applied EXIF orientation 6 (now 4x2)');
    expect(out.preprocessing.join(' ')).not.toMatch(/resized/);
  });

  describe('rejects bad input with a typed error that says why', () => {
    const png = writePng(28, 28, 0, pseudoRandomBytes(784, 2));

    it('zero bytes', () => expectDecodeError(Buffer.alloc(0), 'EMPTY_IMAGE', /empty \(0 bytes\)/));

    it('truncated PNG / JPEG / WebP', async () => {
      await expectDecodeError(png.subarray(0, png.length - 20), 'TRUNCATED_IMAGE', /truncated: png has no IEND/);
      await expectDecodeError(png.subarray(0, 20), 'TRUNCATED_IMAGE', /truncated/);
      const raw = { raw: { width: 32, height: 32, channels: 3 as const } };
      const px = Buffer.from(pseudoRandomBytes(32 * 32 * 3, 4));
      const jpeg = await sharp(px, raw).jpeg().toBuffer();
      await expectDecodeError(jpeg.subarray(0, jpeg.length >> 1), 'TRUNCATED_IMAGE', /truncated/);
      const webp = await sharp(px, raw).webp().toBuffer();
      await expectDecodeError(webp.subarray(0, webp.length >> 1), 'TRUNCATED_IMAGE', /webp RIFF header announces/);
    });

    it('corrupt data', async () => {
      const bad = Buffer.from(png);
      const idat = bad.indexOf('IDAT');
      bad.fill(0x55, idat + 4, idat + 40); // garble the compressed stream (and its CRC no longer matches)
      await expectDecodeError(bad, 'CORRUPT_IMAGE', /corrupt png data/);
      const jpeg = await sharp(Buffer.alloc(32 * 32 * 3, 9), { raw: { width: 32, height: 32, channels: 3 } }).jpeg().toBuffer();
      const badJpeg = Buffer.concat([jpeg.subarray(0, 30), Buffer.alloc(100, 0), jpeg.subarray(130)]);
      await expectDecodeError(badJpeg, 'CORRUPT_IMAGE', /corrupt jpeg data/);
    });

    it('unsupported formats, named when recognised', async () => {
      const gif = await sharp(Buffer.alloc(8 * 8 * 3), { raw: { width: 8, height: 8, channels: 3 } }).gif().toBuffer();
      await expectDecodeError(gif, 'UNSUPPORTED_FORMAT', /unsupported image format: gif; accepted formats: png, jpeg, webp/);
      await expectDecodeError(Buffer.from('BM\x00\x00'), 'UNSUPPORTED_FORMAT', /bmp/);
      await expectDecodeError(Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"/>'), 'UNSUPPORTED_FORMAT', /svg/);
      await expectDecodeError(Buffer.from([0x00, 0x01, 0x02, 0x03, 0xfe]), 'UNSUPPORTED_FORMAT', /unrecognised image data \(first bytes 00010203fe\)/);
    });

    it('decompression bombs: too many pixels, refused from the header', async () => {
      const bomb = writePng(1, 1, 0, [0], 8, { width: 100_000, height: 100_000 });
      await expectDecodeError(bomb, 'IMAGE_TOO_LARGE', /pixel/);
      const big = writePng(64, 64, 0, new Array(64 * 64).fill(0));
      const err = await decodeImage(big, { channels: 1, height: 28, width: 28 }, { maxInputPixels: 1000 }).catch((e: unknown) => e);
      expect((err as ImageDecodeError).reason).toBe('IMAGE_TOO_LARGE');
      expect((err as Error).message).toMatch(/64x64 = 4096 pixels, above the limit of 1000/);
      const bytesErr = await decodeImage(big, { channels: 1, height: 28, width: 28 }, { maxInputBytes: 10 }).catch((e: unknown) => e);
      expect((bytesErr as ImageDecodeError).reason).toBe('IMAGE_TOO_LARGE');
    });
  });

  it('rejects a bad target as a programming error (RangeError)', async () => {
    const png = writePng(2, 2, 0, [0, 0, 0, 0]);
    await expect(decodeImage(png, { channels: 2 as 1, height: 2, width: 2 })).rejects.toThrow(RangeError);
    await expect(decodeImage(png, { channels: 1, height: 0, width: 2 })).rejects.toThrow(/height/);
  });
});

describe('sha256Hex', () => {
  it('matches the FIPS 180-2 test vector', () => {
    expect(sha256Hex(Buffer.from('abc'))).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(sha256Hex(new Float32Array([1]))).toBe(sha256Hex(Buffer.from([0, 0, 0x80, 0x3f])));
  });
});

/** A PNG chunk: length, type, data, CRC-32 over type and data. */
function chunk(type: string, data: Buffer): Buffer {
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(zlib.crc32(body));
  return Buffer.concat([len, body, crc]);
}

/** A real APNG (as browsers play it) from PNG frames sharp encoded: IDAT is frame 1, fdAT the rest. */
function apng(frames: Buffer[]): Buffer {
  const chunksOf = (png: Buffer) => {
    const out: { type: string; data: Buffer }[] = [];
    for (let at = 8; at < png.length; at += 12 + png.readUInt32BE(at)) {
      out.push({ type: png.toString('latin1', at + 4, at + 8), data: png.subarray(at + 8, at + 8 + png.readUInt32BE(at)) });
    }
    return out;
  };
  const first = chunksOf(frames[0]!);
  const ihdr = first.find((c) => c.type === 'IHDR')!.data;
  const u32 = (...v: number[]) => Buffer.concat(v.map((x) => { const b = Buffer.alloc(4); b.writeUInt32BE(x); return b; }));
  const fctl = (seq: number) => chunk('fcTL', Buffer.concat([u32(seq, ihdr.readUInt32BE(0), ihdr.readUInt32BE(4), 0, 0), Buffer.from([0, 1, 0, 10, 0, 0])]));
  const idat = (png: Buffer) => Buffer.concat(chunksOf(png).filter((c) => c.type === 'IDAT').map((c) => c.data));
  const parts = [frames[0]!.subarray(0, 8), chunk('IHDR', ihdr), chunk('acTL', u32(frames.length, 0)), fctl(0), chunk('IDAT', idat(frames[0]!))];
  let seq = 1;
  for (const f of frames.slice(1)) {
    parts.push(fctl(seq++), chunk('fdAT', Buffer.concat([u32(seq++), idat(f)])));
  }
  parts.push(chunk('IEND', Buffer.alloc(0)));
  return Buffer.concat(parts);
}

describe('animated images are refused, not certified on one frame (issue 11)', () => {
  const frame = (grey: number) => sharp({ create: { width: 28, height: 28, channels: 3, background: { r: grey, g: grey, b: grey } } }).png().toBuffer();

  it('an APNG of two frames built from sharp PNGs: ANIMATED_IMAGE; its first frame alone decodes', async () => {
    const [black, white] = await Promise.all([frame(0), frame(255)]);
    const animated = apng([black, white]);
    // what libvips sees: one still image, no pages (so the decoder alone would take frame 1 silently)
    const meta = await sharp(animated).metadata();
    expect(meta.format).toBe('png');
    expect(meta.pages ?? 1).toBe(1);
    expect(apngFrames(animated)).toBe(2);
    await expectDecodeError(animated, 'ANIMATED_IMAGE', /animated PNG \(APNG\) with 2 frame\(s\)/);
    expect(apngFrames(black)).toBe(0);
    expect((await decodeImage(black, { channels: 1, height: 28, width: 28 })).tensor.every((v) => v === 0)).toBe(true);
  });

  it('an animated WebP of three frames (sharp, pageHeight): ANIMATED_IMAGE; a still WebP decodes', async () => {
    const raw = Buffer.alloc(28 * 28 * 3 * 3);
    raw.fill(128, 28 * 28 * 3).fill(255, 2 * 28 * 28 * 3); // frames black, grey, white (libwebp merges equal frames)
    const animated = await sharp(raw, { raw: { width: 28, height: 28 * 3, channels: 3, pageHeight: 28 } }).webp({ lossless: true, loop: 0 }).toBuffer();
    expect((await sharp(animated).metadata()).pages).toBe(3);
    await expectDecodeError(animated, 'ANIMATED_IMAGE', /animated webp with 3 frame\(s\)/);
    const still = await sharp({ create: { width: 28, height: 28, channels: 3, background: '#000' } }).webp({ lossless: true }).toBuffer();
    expect((await decodeImage(still, { channels: 1, height: 28, width: 28 })).sourceFormat).toBe('webp');
  });

  it('a chunk walk over hostile bytes ends (huge lengths, truncation)', () => {
    const sig = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    expect(apngFrames(Buffer.concat([sig, Buffer.from([0xff, 0xff, 0xff, 0xff]), Buffer.from('tEXt')]))).toBe(0);
    expect(apngFrames(Buffer.concat([sig, Buffer.from([0, 0, 0, 8]), Buffer.from('acTL')]))).toBe(1);
    expect(apngFrames(sig)).toBe(0);
  });
});
