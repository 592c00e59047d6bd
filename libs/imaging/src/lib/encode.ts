import sharp from 'sharp';

function checkShape(tensor: Float32Array, shape: readonly number[]): [number, number, number] {
  if (shape.length !== 3) throw new RangeError(`shape must be [channels, height, width], got [${shape.join(', ')}]`);
  const [c, h, w] = shape;
  if (c !== 1 && c !== 3) throw new RangeError(`channels must be 1 or 3, got ${c}`);
  if (!Number.isInteger(h) || !Number.isInteger(w) || h < 1 || w < 1) throw new RangeError(`height and width must be positive integers, got ${h}x${w}`);
  if (tensor.length !== c * h * w) throw new RangeError(`tensor has ${tensor.length} values, shape [${shape.join(', ')}] needs ${c * h * w}`);
  return [c, h, w];
}

/** CHW float32 -> interleaved 8-bit pixels: values clamped to [0, 1], byte = round(255 x). NaN is rejected. */
export function toBytesHwc(tensor: Float32Array, shape: readonly number[]): Buffer {
  const [c, h, w] = checkShape(tensor, shape);
  const hw = h * w;
  const out = Buffer.alloc(c * hw);
  for (let ch = 0; ch < c; ch++) {
    for (let p = 0; p < hw; p++) {
      const v = tensor[ch * hw + p];
      if (Number.isNaN(v)) throw new RangeError(`tensor value at channel ${ch}, pixel ${p} is NaN`);
      out[p * c + ch] = Math.round(255 * Math.min(1, Math.max(0, v)));
    }
  }
  return out;
}

/**
 * Encodes a CHW float32 tensor ([1|3, H, W], values in [0, 1]; outside values are clamped) as an
 * 8-bit PNG (grayscale for 1 channel, RGB for 3). decodeImage of the result gives back
 * round(255 x) / 255 exactly.
 */
export async function encodePng(tensor: Float32Array, shape: readonly number[]): Promise<Buffer> {
  const [c, h, w] = checkShape(tensor, shape);
  const img = sharp(toBytesHwc(tensor, shape), { raw: { width: w, height: h, channels: c as 1 | 3 } });
  return (c === 1 ? img.toColourspace('b-w') : img).png({ compressionLevel: 9, adaptiveFiltering: false, palette: false }).toBuffer();
}

export interface TileOptions {
  /** Images per row. Default: all in one row (a strip). */
  columns?: number;
  /** Pixels between images. Default 2. */
  gap?: number;
  /** Value of the gap pixels. Default 1 (white). */
  background?: number;
}

/** Lays images of one shape out on a grid (for report strips: an image and its transformed samples). */
export function tileImages(
  tensors: readonly Float32Array[],
  shape: readonly number[],
  options: TileOptions = {},
): { tensor: Float32Array; shape: [number, number, number] } {
  if (tensors.length === 0) throw new RangeError('tileImages needs at least one image');
  const [c, h, w] = checkShape(tensors[0], shape);
  const cols = Math.max(1, Math.min(options.columns ?? tensors.length, tensors.length));
  const rows = Math.ceil(tensors.length / cols);
  const gap = options.gap ?? 2;
  const H = rows * h + (rows - 1) * gap;
  const W = cols * w + (cols - 1) * gap;
  const out = new Float32Array(c * H * W).fill(options.background ?? 1);
  tensors.forEach((t, i) => {
    checkShape(t, shape);
    const oy = Math.floor(i / cols) * (h + gap);
    const ox = (i % cols) * (w + gap);
    for (let ch = 0; ch < c; ch++) {
      for (let y = 0; y < h; y++) {
        const src = ch * h * w + y * w;
        out.set(t.subarray(src, src + w), ch * H * W + (oy + y) * W + ox);
      }
    }
  });
  return { tensor: out, shape: [c, H, W] };
}
