import sharp from 'sharp';
import { encodePng, tileImages, toBytesHwc } from '../index';

describe('encodePng', () => {
  it('writes 8-bit grayscale for 1 channel and RGB for 3, clamping to [0,1]', async () => {
    const gray = await encodePng(new Float32Array([-0.5, 0.5, 1.5, 1]), [1, 2, 2]);
    const m = await sharp(gray).metadata();
    expect([m.format, m.width, m.height, m.channels, m.depth]).toEqual(['png', 2, 2, 1, 'uchar']);
    const { data } = await sharp(gray).toColourspace('b-w').raw().toBuffer({ resolveWithObject: true });
    expect(Array.from(data)).toEqual([0, 128, 255, 255]);
    const rgb = await encodePng(new Float32Array(12).fill(0.2), [3, 2, 2]);
    expect((await sharp(rgb).metadata()).channels).toBe(3);
  });

  it('rejects NaN, bad shapes and lengths', async () => {
    expect(() => toBytesHwc(new Float32Array([NaN]), [1, 1, 1])).toThrow(/NaN/);
    await expect(encodePng(new Float32Array(4), [2, 1, 2])).rejects.toThrow(/channels must be 1 or 3/);
    await expect(encodePng(new Float32Array(5), [1, 2, 2])).rejects.toThrow(/5 values, shape \[1, 2, 2\] needs 4/);
  });
});

describe('tileImages', () => {
  it('lays images out in a row with gaps', () => {
    const a = new Float32Array([0, 0, 0, 0]);
    const b = new Float32Array([0.5, 0.5, 0.5, 0.5]);
    const t = tileImages([a, b], [1, 2, 2], { gap: 1 });
    expect(t.shape).toEqual([1, 2, 5]);
    expect(Array.from(t.tensor)).toEqual([0, 0, 1, 0.5, 0.5, 0, 0, 1, 0.5, 0.5]);
  });

  it('wraps into rows', () => {
    const imgs = [0, 1, 2].map((v) => new Float32Array([v / 2]));
    const t = tileImages(imgs, [1, 1, 1], { columns: 2, gap: 0, background: 0.25 });
    expect(t.shape).toEqual([1, 2, 2]);
    expect(Array.from(t.tensor)).toEqual([0, 0.5, 1, 0.25]);
  });
});
