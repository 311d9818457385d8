/**
 * A bounded map that forgets the least recently used entry first.
 * @packageDocumentation
 */

/** A bounded least-recently-used map. */
export interface Lru<V> {
  /**
   * The value for `key`, marking it most recently used.
   * @param key - the key
   * @returns the value, or `undefined`
   */
  get(key: string): V | undefined;
  /**
   * Stores `value` as the most recently used entry; drops the oldest beyond the bound.
   * @param key - the key
   * @param value - the value
   */
  set(key: string, value: V): void;
  /** How many entries are kept. */
  readonly size: number;
}

/**
 * Creates a bounded LRU map on a `Map`'s insertion order (a hit is moved to the end).
 * @param maxEntries - most entries kept, at least 1
 * @returns the map
 */
export function createLru<V>(maxEntries: number): Lru<V> {
  const entries = new Map<string, V>();
  return {
    get(key) {
      const hit = entries.get(key);
      if (hit === undefined) return undefined;
      entries.delete(key);
      entries.set(key, hit);
      return hit;
    },
    set(key, value) {
      entries.delete(key);
      entries.set(key, value);
      if (entries.size > maxEntries) {
        const oldest = entries.keys().next();
        if (!oldest.done) entries.delete(oldest.value);
      }
    },
    get size() {
      return entries.size;
    },
  };
}
