/**
 * A seeded pseudo-random source, so that a run with injected faults can be repeated exactly.
 * The generator is mulberry32: 32 bits of state, plenty for choosing faults.
 */

/** Returns numbers in `[0, 1)`, the same sequence for the same seed. */
export type Random = () => number;

/**
 * Creates a seeded random source.
 * @param seed - any number; only its low 32 bits are used
 * @returns a function giving the next number in `[0, 1)`
 */
export function createRandom(seed: number): Random {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Shuffles a list in place (Fisher–Yates) with the given random source.
 * @param items - the list to shuffle
 * @param random - where the randomness comes from
 * @returns the same list, shuffled
 */
export function shuffle<T>(items: T[], random: Random): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const a = items[i] as T;
    items[i] = items[j] as T;
    items[j] = a;
  }
  return items;
}
