/**
 * A pure-JS decoder for the plain PNGs that make up almost all certifier inputs (8-bit grey or RGB,
 * not interlaced, no colour-management or transparency chunks, already at the target size). It
 * skips libvips' metadata() + toBuffer() round trip, which cost most of the per-image decode CPU.
 *
 * It is deliberately narrow: whenever anything is outside that plain case (another chunk, a bad CRC,
 * a zlib stream that is not exactly the expected image data, ...) it returns undefined and the
 * caller falls back to sharp, so every error, limit and odd file is handled exactly as before.
 */
import { inflateSync } from 'node:zlib';

/** Pixels of a plain 8-bit PNG: `channels` interleaved samples per pixel, row-major. */
export interface PlainPng {
  width: number;
  height: number;
  channels: 1 | 3;
  px: Uint8Array;
}

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC-32 (ISO 3309, as PNG uses) of bytes[from, to); Node 20's zlib has no crc32. */
export function crc32(bytes: Uint8Array, from = 0, to = bytes.length): number {
  let c = 0xffffffff;
  for (let i = from; i < to; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

// Ancillary chunks that carry only text, time or physical pixel size: they never change pixel values,
// and libpng (behind sharp) ignores them for decoding. Everything else (gAMA, iCCP, tRNS, PLTE, eXIf
// orientation, acTL, unknown chunks...) changes pixels or what is reported, so it goes to sharp.
const IGNORABLE = new Set(['tEXt', 'zTXt', 'iTXt', 'tIME', 'pHYs']);

/**
 * Decodes `bytes` (a whole PNG, signature already checked) when it is plain 8-bit grey (colour type 0)
 * or RGB (2), non-interlaced, exactly `width` x `height` with at most `maxPixels` pixels, built only of
 * IHDR, consecutive IDATs, IEND (last byte of the data) and the chunks in IGNORABLE, with every CRC right
 * and IDAT data inflating to exactly the filtered image size. Anything else: undefined.
 */
export function decodePlainPng(bytes: Uint8Array, width: number, height: number, maxPixels: number): PlainPng | undefined {
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // IHDR first: length 13, then width, height, depth, colour type, compression, filter, interlace
  if (buf.length < 8 + 25 || buf.readUInt32BE(8) !== 13 || buf.toString('latin1', 12, 16) !== 'IHDR') return undefined;
  const w = buf.readUInt32BE(16);
  const h = buf.readUInt32BE(20);
  const colourType = buf[25];
  if (w !== width || h !== height || w * h > maxPixels) return undefined;
  if (buf[24] !== 8 || (colourType !== 0 && colourType !== 2) || buf[26] !== 0 || buf[27] !== 0 || buf[28] !== 0) return undefined;
  const c = colourType === 0 ? 1 : 3;

  const idat: Buffer[] = [];
  let idatDone = false; // IDATs must be consecutive
  let at = 8;
  for (;;) {
    if (at + 12 > buf.length) return undefined;
    const len = buf.readUInt32BE(at);
    if (len > buf.length - at - 12) return undefined;
    const type = buf.toString('latin1', at + 4, at + 8);
    const end = at + 12 + len;
    if (crc32(buf, at + 4, at + 8 + len) !== buf.readUInt32BE(at + 8 + len)) return undefined;
    if (type === 'IDAT') {
      if (idatDone) return undefined;
      idat.push(buf.subarray(at + 8, at + 8 + len));
    } else {
      if (idat.length > 0) idatDone = true;
      if (type === 'IEND') {
        if (len !== 0 || end !== buf.length || idat.length === 0) return undefined;
        break;
      }
      if (at !== 8 && !IGNORABLE.has(type)) return undefined; // at 8: the IHDR read above
    }
    at = end;
  }

  const stride = 1 + w * c;
  const expected = h * stride;
  let raw: Buffer;
  try {
    const zdata = idat.length === 1 ? idat[0] : Buffer.concat(idat);
    // maxOutputLength: a stream that inflates to more than the image (a bomb, or trailing rows) throws
    const res = inflateSync(zdata, { maxOutputLength: expected, info: true }) as unknown as {
      buffer: Buffer;
      engine: { bytesWritten: number };
    };
    // every IDAT byte must belong to the zlib stream (libpng tolerates trailing data; sharp decides that)
    if (res.buffer.length !== expected || res.engine.bytesWritten !== zdata.length) return undefined;
    raw = res.buffer;
  } catch {
    return undefined;
  }
  const px = unfilter(raw, w, h, c);
  return px && { width: w, height: h, channels: c, px };
}

/** Reverses the PNG row filters (None, Sub, Up, Average, Paeth; bytes per pixel = c), or undefined on a bad filter byte. */
function unfilter(raw: Uint8Array, w: number, h: number, c: number): Uint8Array | undefined {
  const rowLen = w * c;
  const px = new Uint8Array(h * rowLen);
  for (let y = 0; y < h; y++) {
    const f = raw[y * (rowLen + 1)];
    const src = y * (rowLen + 1) + 1;
    const o = y * rowLen;
    const up = o - rowLen; // previous row in px (only read when y > 0)
    switch (f) {
      case 0:
        px.set(raw.subarray(src, src + rowLen), o);
        break;
      case 1:
        for (let i = 0; i < rowLen; i++) px[o + i] = raw[src + i] + (i >= c ? px[o + i - c] : 0);
        break;
      case 2:
        if (y === 0) px.set(raw.subarray(src, src + rowLen), o);
        else for (let i = 0; i < rowLen; i++) px[o + i] = raw[src + i] + px[up + i];
        break;
      case 3:
        for (let i = 0; i < rowLen; i++) {
          const a = i >= c ? px[o + i - c] : 0;
          const b = y > 0 ? px[up + i] : 0;
          px[o + i] = raw[src + i] + ((a + b) >> 1);
        }
        break;
      case 4:
        for (let i = 0; i < rowLen; i++) {
          const a = i >= c ? px[o + i - c] : 0;
          const b = y > 0 ? px[up + i] : 0;
          const d = i >= c && y > 0 ? px[up + i - c] : 0;
          const p = a + b - d;
          const pa = Math.abs(p - a);
          const pb = Math.abs(p - b);
          const pc = Math.abs(p - d);
          px[o + i] = raw[src + i] + (pa <= pb && pa <= pc ? a : pb <= pc ? b : d);
        }
        break;
      default:
        return undefined;
    }
  }
  return px;
}
