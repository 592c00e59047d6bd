import sharp from 'sharp';
import type { Metadata, OutputInfo } from 'sharp';
import { ImageDecodeError } from './errors';
import { decodePlainPng } from './png-fast';

/** Container formats decodeImage accepts. */
export type ImageFormat = 'png' | 'jpeg' | 'webp';
export const SUPPORTED_FORMATS: readonly ImageFormat[] = ['png', 'jpeg', 'webp'];

export interface DecodeTarget {
  channels: 1 | 3;
  height: number;
  width: number;
}

export interface DecodeOptions {
  /** Reject images with more pixels than this (decompression-bomb guard). Default 4096 * 4096. */
  maxInputPixels?: number;
  /** Reject inputs larger than this many bytes. Default 32 MiB. */
  maxInputBytes?: number;
  /** How to resize when the size differs (sharp's `fit`). Default 'fill' (stretch, no crop). */
  fit?: 'fill' | 'cover' | 'contain';
  /** Resampling kernel. Default 'lanczos3'. */
  kernel?: 'nearest' | 'linear' | 'cubic' | 'mitchell' | 'lanczos2' | 'lanczos3';
  /** Grey level in [0, 1] that transparent pixels are flattened onto (and 'contain' pads with). Default 0 (black). */
  background?: number;
}

export interface DecodedImage {
  /** CHW float32, values in [0, 1]. */
  tensor: Float32Array;
  /** [channels, height, width] */
  shape: [number, number, number];
  /** Every step applied, in order, human readable (goes into certificates and reports). */
  preprocessing: string[];
  sourceFormat: ImageFormat;
  source: { width: number; height: number; channels: number; hasAlpha: boolean; bitDepth: 8 | 16; space: string };
}

export const DEFAULT_MAX_INPUT_PIXELS = 4096 * 4096;
export const DEFAULT_MAX_INPUT_BYTES = 32 * 1024 * 1024;
const MAX_TARGET_SIDE = 8192;

/** ITU-R BT.601 luma on the gamma-encoded values, as PIL's 'L' mode and torchvision's rgb_to_grayscale. */
export const LUMA_WEIGHTS = [0.299, 0.587, 0.114] as const;

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

function startsWith(bytes: Uint8Array, prefix: ArrayLike<number>, at = 0): boolean {
  if (bytes.length < at + prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (bytes[at + i] !== prefix[i]) return false;
  return true;
}

const ascii = (s: string): number[] => Array.from(s, (c) => c.charCodeAt(0));

/** Sniffs the container from magic bytes: a supported format, the name of a known unsupported one, or undefined. */
export function sniffFormat(bytes: Uint8Array): { format: ImageFormat } | { unsupported: string } | undefined {
  if (startsWith(bytes, PNG_SIGNATURE)) return { format: 'png' };
  if (startsWith(bytes, [0xff, 0xd8, 0xff])) return { format: 'jpeg' };
  if (startsWith(bytes, ascii('RIFF')) && startsWith(bytes, ascii('WEBP'), 8)) return { format: 'webp' };
  const others: Array<[string, number[], number]> = [
    ['gif', ascii('GIF8'), 0],
    ['bmp', ascii('BM'), 0],
    ['tiff', [0x49, 0x49, 0x2a, 0x00], 0],
    ['tiff', [0x4d, 0x4d, 0x00, 0x2a], 0],
    ['heif/avif', ascii('ftyp'), 4],
    ['jpeg 2000', [0x00, 0x00, 0x00, 0x0c, 0x6a, 0x50, 0x20, 0x20], 0],
    ['jpeg xl', [0xff, 0x0a], 0],
    ['pdf', ascii('%PDF'), 0],
    ['ico', [0x00, 0x00, 0x01, 0x00], 0],
    ['svg/xml', ascii('<'), 0],
    ['gzip', [0x1f, 0x8b], 0],
  ];
  for (const [name, magic, at] of others) if (startsWith(bytes, magic, at)) return { unsupported: name };
  const head = bytes.subarray(0, 12);
  if (head.length > 0 && head.every((b) => b === 0x09 || b === 0x0a || b === 0x0d || (b >= 0x20 && b < 0x7f))) {
    return { unsupported: 'text' };
  }
  return undefined;
}

function lastIndexOf(bytes: Uint8Array, needle: number[]): number {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).lastIndexOf(Buffer.from(needle));
}

/**
 * Frames announced by a PNG's acTL chunk (an animated PNG), or 0 for a still PNG. acTL must
 * come before the first IDAT, so only the chunks before it are walked (a few, bounded by the data).
 */
export function apngFrames(bytes: Uint8Array): number {
  const view = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let at = 8; at + 8 <= view.length; ) {
    const type = view.toString('latin1', at + 4, at + 8);
    if (type === 'acTL') return at + 12 <= view.length ? Math.max(1, view.readUInt32BE(at + 8)) : 1;
    if (type === 'IDAT' || type === 'IEND') return 0;
    at += 12 + view.readUInt32BE(at);
  }
  return 0;
}

/** Cheap structural checks that name truncation precisely (decoders often just say "read error"). */
function checkComplete(bytes: Uint8Array, format: ImageFormat): void {
  const truncated = (why: string) =>
    new ImageDecodeError('TRUNCATED_IMAGE', `image data is truncated: ${why} (${bytes.length} bytes)`, format);
  if (format === 'png') {
    if (bytes.length < 8 + 25) throw truncated('png ends inside its header');
    if (lastIndexOf(bytes, ascii('IEND')) < 0) throw truncated('png has no IEND chunk');
  } else if (format === 'jpeg') {
    if (lastIndexOf(bytes, [0xff, 0xd9]) < 0) throw truncated('jpeg has no end-of-image marker');
  } else {
    if (bytes.length < 12) throw truncated('webp ends inside its RIFF header');
    const riffSize = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).readUInt32LE(4);
    if (riffSize + 8 > bytes.length) throw truncated(`webp RIFF header announces ${riffSize + 8} bytes`);
  }
}

function decoderError(err: unknown, format: ImageFormat): ImageDecodeError {
  const raw = err instanceof Error ? err.message : String(err);
  const detail = raw.split('\n').map((s) => s.trim()).filter(Boolean).slice(-1)[0] ?? raw;
  if (/pixel limit/i.test(raw)) {
    return new ImageDecodeError('IMAGE_TOO_LARGE', `image exceeds the pixel limit: ${detail}`, format, { cause: err });
  }
  if (/premature end|truncat|unexpected end|end of (file|stream|input)/i.test(raw)) {
    return new ImageDecodeError('TRUNCATED_IMAGE', `image data is truncated: ${detail}`, format, { cause: err });
  }
  return new ImageDecodeError('CORRUPT_IMAGE', `corrupt ${format} data: ${detail}`, format, { cause: err });
}

function checkTarget(target: DecodeTarget): void {
  if (target.channels !== 1 && target.channels !== 3) {
    throw new RangeError(`decode target channels must be 1 or 3, got ${String(target.channels)}`);
  }
  for (const k of ['height', 'width'] as const) {
    const v = target[k];
    if (!Number.isInteger(v) || v < 1 || v > MAX_TARGET_SIDE) {
      throw new RangeError(`decode target ${k} must be an integer in [1, ${MAX_TARGET_SIDE}], got ${String(v)}`);
    }
  }
}

const isGreySpace = (space: string | undefined) => space === 'b-w' || space === 'grey16';

/**
 * Decodes PNG, JPEG or WebP bytes into a CHW float32 tensor in [0, 1] of the target size.
 *
 * Steps (each one applied is recorded in `preprocessing`): EXIF orientation (JPEG/WebP with an
 * orientation tag), alpha flattened onto `background`, CMYK -> sRGB, resize only when the size
 * differs, colour conversion (RGB -> grey by BT.601 luma on the encoded values; grey -> RGB by
 * replication), integer -> float scaling (/255, or /65535 for 16-bit PNG), HWC -> CHW.
 *
 * Plain 8-bit grey/RGB PNGs already at the target size are decoded in pure JS (png-fast.ts), with
 * exactly the output sharp's path gives them; everything else goes through sharp (libvips).
 *
 * Rejects, with an ImageDecodeError saying why: zero bytes, formats other than the three, data
 * that ends early, data the decoder cannot read, images above `maxInputPixels` (checked from the
 * header before any pixel is decoded), animations (APNG, animated WebP: ANIMATED_IMAGE).
 */
export async function decodeImage(bytes: Uint8Array, target: DecodeTarget, options: DecodeOptions = {}): Promise<DecodedImage> {
  return decode(bytes, target, options, true);
}

/** decodeImage without the plain-PNG fast path: the reference the fast path must match byte for byte (tests). */
export async function decodeImageWithSharp(bytes: Uint8Array, target: DecodeTarget, options: DecodeOptions = {}): Promise<DecodedImage> {
  return decode(bytes, target, options, false);
}

async function decode(bytes: Uint8Array, target: DecodeTarget, options: DecodeOptions, fastPng: boolean): Promise<DecodedImage> {
  checkTarget(target);
  const maxPixels = options.maxInputPixels ?? DEFAULT_MAX_INPUT_PIXELS;
  const maxBytes = options.maxInputBytes ?? DEFAULT_MAX_INPUT_BYTES;
  const fit = options.fit ?? 'fill';
  const kernel = options.kernel ?? 'lanczos3';
  const bg = options.background ?? 0;
  if (!(bg >= 0 && bg <= 1)) throw new RangeError(`background must be in [0, 1], got ${bg}`);

  if (!(bytes instanceof Uint8Array)) throw new TypeError('image bytes must be a Buffer or Uint8Array');
  if (bytes.length === 0) throw new ImageDecodeError('EMPTY_IMAGE', 'image is empty (0 bytes)');
  if (bytes.length > maxBytes) {
    throw new ImageDecodeError('IMAGE_TOO_LARGE', `image is ${bytes.length} bytes, above the limit of ${maxBytes}`);
  }
  const sniffed = sniffFormat(bytes);
  if (sniffed === undefined || 'unsupported' in sniffed) {
    const what =
      sniffed === undefined
        ? `unrecognised image data (first bytes ${Buffer.from(bytes.subarray(0, 8)).toString('hex')})`
        : `unsupported image format: ${sniffed.unsupported}`;
    throw new ImageDecodeError('UNSUPPORTED_FORMAT', `${what}; accepted formats: ${SUPPORTED_FORMATS.join(', ')}`, sniffed && 'unsupported' in sniffed ? sniffed.unsupported : undefined);
  }
  const format = sniffed.format;
  checkComplete(bytes, format);

  const input = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (fastPng && format === 'png') {
    // plain 8-bit grey/RGB PNG at the target size: pure-JS zlib decode, identical output to sharp's path
    // (35-100 us vs 1.5-1.7 ms of CPU per 28x28 MNIST PNG, 500 files); anything else falls through to sharp
    const plain = decodePlainPng(input, target.width, target.height, maxPixels);
    if (plain) {
      const space = plain.channels === 1 ? 'b-w' : 'srgb'; // what sharp's metadata() reports for these
      const { width, height, channels } = plain;
      return toTensor(plain.px, channels, 8, target, [`decoded png ${height}x${width}x${channels} (HxWxC, 8-bit ${space})`], format, {
        width,
        height,
        channels,
        hasAlpha: false,
        bitDepth: 8,
        space,
      });
    }
  }
  const open = () => sharp(input, { failOn: 'error', limitInputPixels: maxPixels, pages: 1 });

  let meta: Metadata;
  try {
    // header only: no pixels are decoded, so no pixel limit here; the size is checked below
    meta = await sharp(input, { failOn: 'error', limitInputPixels: false, pages: 1 }).metadata();
  } catch (err) {
    throw decoderError(err, format);
  }
  if (meta.format !== format) {
    throw new ImageDecodeError('CORRUPT_IMAGE', `${format} signature but the decoder read ${String(meta.format)}`, format);
  }
  // an animation is not one image: certifying its first frame would not say what was certified
  // (libvips reads an APNG as its default image and reports no pages, hence the acTL check)
  const frames = format === 'png' ? apngFrames(bytes) : (meta.pages ?? 1);
  if (frames > 1 || (format === 'png' && frames === 1)) {
    throw new ImageDecodeError(
      'ANIMATED_IMAGE',
      `animated ${format === 'png' ? 'PNG (APNG)' : format} with ${frames} frame(s): send one still image (a certificate is about one image)`,
      format,
    );
  }
  const srcW0 = meta.width ?? 0;
  const srcH0 = meta.height ?? 0;
  if (srcW0 < 1 || srcH0 < 1) throw new ImageDecodeError('CORRUPT_IMAGE', `${format} header gives size ${srcW0}x${srcH0}`, format);
  if (srcW0 * srcH0 > maxPixels) {
    throw new ImageDecodeError('IMAGE_TOO_LARGE', `image is ${srcW0}x${srcH0} = ${srcW0 * srcH0} pixels, above the limit of ${maxPixels}`, format);
  }

  const space = meta.space ?? 'srgb';
  const hasAlpha = meta.hasAlpha === true;
  const bitDepth: 8 | 16 = meta.depth === 'ushort' ? 16 : 8;
  const srcGrey = isGreySpace(space);
  const orientation = meta.orientation ?? 1;
  const swap = orientation >= 5 && orientation <= 8;
  const srcH = swap ? srcW0 : srcH0;
  const srcW = swap ? srcH0 : srcW0;
  const depthWord = bitDepth === 16 ? '16-bit' : '8-bit';
  const steps: string[] = [
    `decoded ${format} ${srcH0}x${srcW0}x${meta.channels ?? '?'} (HxWxC, ${depthWord} ${space}${hasAlpha ? ' with alpha' : ''}${meta.isPalette ? ', palette' : ''})`,
  ];

  let pipe = open();
  if (orientation !== 1 && orientation >= 2 && orientation <= 8) {
    pipe = pipe.rotate();
    steps.push(`applied EXIF orientation ${orientation}${swap ? ` (now ${srcH}x${srcW})` : ''}`);
  }
  const bgByte = Math.round(bg * 255);
  const bgColour = { r: bgByte, g: bgByte, b: bgByte };
  if (hasAlpha) {
    pipe = pipe.flatten({ background: bgColour });
    steps.push(`flattened alpha onto grey ${bg}`);
  }
  if (!srcGrey && space !== 'srgb' && space !== 'rgb16') steps.push(`converted ${space} -> srgb (libvips)`);
  if (srcH !== target.height || srcW !== target.width) {
    pipe = pipe.resize({ width: target.width, height: target.height, fit, kernel, position: 'centre', background: bgColour });
    steps.push(`resized ${srcH}x${srcW} -> ${target.height}x${target.width} (HxW, ${fit}, ${kernel})`);
  }
  const outSpace = srcGrey ? (bitDepth === 16 ? 'grey16' : 'b-w') : bitDepth === 16 ? 'rgb16' : 'srgb';
  let raw: { data: Buffer; info: OutputInfo };
  try {
    raw = await pipe
      .toColourspace(outSpace)
      .raw({ depth: bitDepth === 16 ? 'ushort' : 'uchar' })
      .toBuffer({ resolveWithObject: true });
  } catch (err) {
    throw decoderError(err, format);
  }
  const { info } = raw;
  const c = info.channels;
  if (info.width !== target.width || info.height !== target.height || (c !== 1 && c !== 3)) {
    throw new Error(`internal: decoder produced ${info.width}x${info.height}x${c}, expected ${target.width}x${target.height}x(1|3)`);
  }
  const hw = target.height * target.width;
  const px: Uint8Array | Uint16Array =
    bitDepth === 16
      ? new Uint16Array(raw.data.buffer.slice(raw.data.byteOffset, raw.data.byteOffset + hw * c * 2))
      : raw.data;
  if (px.length !== hw * c) throw new Error(`internal: decoder produced ${px.length} samples, expected ${hw * c}`);
  return toTensor(px, c, bitDepth, target, steps, format, { width: srcW0, height: srcH0, channels: meta.channels ?? 0, hasAlpha, bitDepth, space });
}

/** HWC integer samples (c = 1 or 3) -> the CHW float32 DecodedImage, converting channels to the target's. */
function toTensor(
  px: Uint8Array | Uint16Array,
  c: number,
  bitDepth: 8 | 16,
  target: DecodeTarget,
  steps: string[],
  format: ImageFormat,
  source: DecodedImage['source'],
): DecodedImage {
  const hw = target.height * target.width;
  const maxVal = bitDepth === 16 ? 65535 : 255;
  const out = new Float32Array(target.channels * hw);
  if (c === target.channels) {
    for (let ch = 0; ch < c; ch++) for (let p = 0; p < hw; p++) out[ch * hw + p] = px[p * c + ch] / maxVal;
  } else if (c === 3 && target.channels === 1) {
    const [wr, wg, wb] = LUMA_WEIGHTS;
    for (let p = 0; p < hw; p++) out[p] = Math.min(1, (wr * px[3 * p] + wg * px[3 * p + 1] + wb * px[3 * p + 2]) / maxVal);
    steps.push(`converted rgb -> grayscale (BT.601 luma ${wr} R + ${wg} G + ${wb} B)`);
  } else {
    for (let p = 0; p < hw; p++) {
      const v = px[p] / maxVal;
      out[p] = v;
      out[hw + p] = v;
      out[2 * hw + p] = v;
    }
    steps.push('converted grayscale -> rgb (replicated)');
  }
  steps.push(`scaled ${bitDepth === 16 ? 'uint16 /65535' : 'uint8 /255'} to [0,1], HWC -> CHW float32`);
  return {
    tensor: out,
    shape: [target.channels, target.height, target.width],
    preprocessing: steps,
    sourceFormat: format,
    source,
  };
}
