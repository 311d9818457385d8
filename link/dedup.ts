/** Options of {@link createDedupMemory}. */
export interface DedupMemoryOptions {
  /**
   * Most ids remembered; the oldest go first.
   * @defaultValue 2000
   */
  maxEntries?: number;
  /**
   * Ids older than this are forgotten.
   * @defaultValue 600_000 (10 minutes)
   */
  maxAgeMs?: number;
  /** Entries to start from (`[id, seenAt]`, oldest first), e.g. read back after a reload. */
  entries?: readonly (readonly [string, number])[];
  /**
   * Clock.
   * @defaultValue `Date.now`
   */
  now?: () => number;
}

/** A bounded memory of message ids already handed to the app. */
export interface DedupMemory {
  /** True when `id` was added and is not yet forgotten. */
  has(id: string): boolean;
  /** Remembers `id` as seen now. */
  add(id: string): void;
  /** How many ids are remembered (after forgetting expired ones). */
  readonly size: number;
  /** `[id, seenAt]` pairs, oldest first, for persisting. */
  entries(): [string, number][];
}

/**
 * Creates a memory of seen message ids bounded by count and by age, so that it never grows
 * without limit however long a tab stays open.
 * @param options - see {@link DedupMemoryOptions}.
 * @returns the memory.
 * @remarks Ids are kept in insertion order, which is also time order, so forgetting is always
 * from the front.
 */
export function createDedupMemory({
  maxEntries = 2000,
  maxAgeMs = 10 * 60_000,
  entries = [],
  now = Date.now,
}: DedupMemoryOptions = {}): DedupMemory {
  const seen = new Map<string, number>();

  const prune = (): void => {
    const oldest = now() - maxAgeMs;
    for (const [id, at] of seen) {
      if (at > oldest && seen.size <= maxEntries) break;
      seen.delete(id);
    }
  };

  for (const [id, at] of entries) {
    seen.delete(id);
    seen.set(id, at);
  }
  prune();

  return {
    has(id) {
      prune();
      return seen.has(id);
    },
    add(id) {
      seen.delete(id);
      seen.set(id, now());
      prune();
    },
    get size() {
      prune();
      return seen.size;
    },
    entries() {
      prune();
      return [...seen];
    },
  };
}
