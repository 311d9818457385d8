import { describe, expect, it } from 'vitest';
import { createRandom, shuffle } from './prng.js';

const take = (seed: number, count: number) => {
  const random = createRandom(seed);
  return Array.from({ length: count }, () => random());
};

describe('createRandom', () => {
  it('repeats the same sequence for the same seed and another for another seed', () => {
    expect(take(7, 50)).toEqual(take(7, 50));
    expect(take(8, 50)).not.toEqual(take(7, 50));
  });

  it('stays in [0, 1) and spreads over it', () => {
    const values = take(1, 10_000);
    expect(values.every((v) => v >= 0 && v < 1)).toBe(true);
    const low = values.filter((v) => v < 0.5).length;
    // 10 000 fair coin flips land within 4.5 standard deviations of 5000 (±225).
    expect(Math.abs(low - 5000)).toBeLessThan(225);
  });
});

describe('shuffle', () => {
  it('permutes in place, the same way for the same seed', () => {
    const a = shuffle([0, 1, 2, 3, 4, 5, 6, 7], createRandom(3));
    const b = shuffle([0, 1, 2, 3, 4, 5, 6, 7], createRandom(3));
    expect(a).toEqual(b);
    expect([...a].sort()).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(a).not.toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
  });
});
