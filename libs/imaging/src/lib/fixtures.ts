/**
 * Test fixtures: a minimal PNG writer built on zlib only (no sharp), so decode tests check
 * against bytes produced independently of the decoder.
 */
import { deflateSync } from 'node:zlib';

/** Bitwise CRC-32 (ISO 3309), written apart from png-fast's table version so tests check one against the other. */
export function crc32Ref(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  }
  return (c ^ 0xffffffff) >>> 0;
}

/** One PNG chunk: length, type, data, CRC-32 of type + data. */
export function pngChunk(type: string, data: Uint8Array): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32Ref(td));
  return Buffer.concat([len, td, crc]);
}

/** PNG colour types: 0 grey, 2 RGB, 4 grey+alpha, 6 RGBA. `samples` interleaved, row-major. */
export function writePng(
  width: number,
  height: number,
  colourType: 0 | 2 | 4 | 6,
  samples: ArrayLike<number>,
  bitDepth: 8 | 16 = 8,
  ihdrOverride?: { width: number; height: number },
): Buffer {
  const channels = { 0: 1, 2: 3, 4: 2, 6: 4 }[colourType];
  const bps = bitDepth / 8;
  const rowLen = width * channels * bps;
  const raw = Buffer.alloc(height * (rowLen + 1));
  for (let y = 0; y < height; y++) {
    raw[y * (rowLen + 1)] = 0; // filter: none
    for (let i = 0; i < width * channels; i++) {
      const v = samples[y * width * channels + i];
      const at = y * (rowLen + 1) + 1 + i * bps;
      if (bitDepth === 16) raw.writeUInt16BE(v, at);
      else raw[at] = v;
    }
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(ihdrOverride?.width ?? width, 0);
  ihdr.writeUInt32BE(ihdrOverride?.height ?? height, 4);
  ihdr[8] = bitDepth;
  ihdr[9] = colourType;
  ihdr[10] = 0;
  ihdr[11] = 0;
  ihdr[12] = 0;
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk('IHDR', ihdr),
    pngChunk('IDAT', deflateSync(raw)),
    pngChunk('IEND', new Uint8Array(0)),
  ]);
}

/** Deterministic pseudo-random bytes (xorshift32). */
export function pseudoRandomBytes(n: number, seed = 1): Uint8Array {
  const out = new Uint8Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    out[i] = s & 0xff;
  }
  return out;
}
