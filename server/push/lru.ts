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

interface Entry<V> {
  readonly value: V;
  /** When it was last put at the end: the count of puts at that moment. */
  stamp: number;
}

/**
 * Creates a bounded LRU map on a `Map`'s insertion order (a hit is moved to the end).
 * @param maxEntries - most entries kept, at least 1
 * @returns the map
 * @remarks A hit is moved to the end only once more than half the bound has been put after it:
 * a fan-out reads the same entries thousands of times a second, and moving each one (a delete
 * and a set) was most of a lookup's cost. Nothing used within the last half-bound of puts is
 * ever dropped: at most half the map is newer than it, so it is never the oldest of a full map.
 */
export function createLru<V>(maxEntries: number): Lru<V> {
  const entries = new Map<string, Entry<V>>();
  const half = Math.floor(maxEntries / 2);
  let puts = 0;
  const put = (key: string, entry: Entry<V>) => {
    entries.delete(key);
    entry.stamp = puts;
    puts += 1;
    entries.set(key, entry);
  };
  return {
    get(key) {
      const hit = entries.get(key);
      if (hit === undefined) return undefined;
      if (puts - hit.stamp > half) put(key, hit);
      return hit.value;
    },
    set(key, value) {
      put(key, { value, stamp: 0 });
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
