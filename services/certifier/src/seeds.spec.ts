import { deriveItemSeed, drawSeed, SEED_MAX } from './seeds';

describe('seeds', () => {
  it('drawn seeds are 63-bit and differ', () => {
    const seen = new Set<bigint>();
    for (let i = 0; i < 200; i++) {
      const s = drawSeed();
      expect(s).toBeGreaterThanOrEqual(0n);
      expect(s).toBeLessThanOrEqual(SEED_MAX);
      seen.add(s);
    }
    expect(seen.size).toBe(200);
    // the top bit of 63 is used (not a 53-bit number in disguise)
    expect([...seen].some((s) => s > 1n << 60n)).toBe(true);
  });

  it('item seeds are deterministic in (base seed, id) and separate ids and bases', () => {
    expect(deriveItemSeed(42n, 'img-1')).toBe(deriveItemSeed(42n, 'img-1'));
    expect(deriveItemSeed(42n, 'img-1')).not.toBe(deriveItemSeed(42n, 'img-2'));
    expect(deriveItemSeed(42n, 'img-1')).not.toBe(deriveItemSeed(43n, 'img-1'));
    // no ambiguity between the base seed and the id
    expect(deriveItemSeed(1n, '2')).not.toBe(deriveItemSeed(12n, ''));
    const s = deriveItemSeed(SEED_MAX, 'x'.repeat(300));
    expect(s).toBeGreaterThanOrEqual(0n);
    expect(s).toBeLessThanOrEqual(SEED_MAX);
  });
});
