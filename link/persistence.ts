import { type LinkStorage, readItem, writeItem } from './storage.js';

/** What the tab remembers about one operation's registration across reloads. */
export interface StoredRegistration {
  registrationId: string;
  /** Last seq handed to the app. */
  lastSeq: number;
  /** When this entry was last written (epoch ms); the oldest entries go first. */
  updatedAt: number;
}

/** Everything the link keeps in storage. */
export interface PersistedState {
  /** By operation key. */
  registrations: Map<string, StoredRegistration>;
  /** Dedup memory: `[messageId, seenAt]`, oldest first. */
  seen: [string, number][];
}

/** Options of {@link createPersistence}. */
export interface PersistenceOptions {
  storage: LinkStorage | null;
  /** Storage key. */
  key: string;
  /**
   * Most registrations kept.
   * @defaultValue 100
   */
  maxRegistrations?: number;
  /**
   * Most dedup entries kept.
   * @defaultValue 2000
   */
  maxSeen?: number;
}

/** Reads and writes {@link PersistedState} as one JSON item. */
export interface Persistence {
  /** The stored state; empty when there is none or it is unreadable. */
  load(): PersistedState;
  /** Stores the state, trimmed to its bounds. */
  save(state: PersistedState): void;
}

const isStoredRegistration = (value: unknown): value is StoredRegistration => {
  const v = value as StoredRegistration | null;
  return (
    typeof v === 'object' &&
    v !== null &&
    typeof v.registrationId === 'string' &&
    Number.isSafeInteger(v.lastSeq) &&
    v.lastSeq >= 0 &&
    typeof v.updatedAt === 'number'
  );
};

const isSeenEntry = (value: unknown): value is [string, number] =>
  Array.isArray(value) &&
  value.length === 2 &&
  typeof value[0] === 'string' &&
  typeof value[1] === 'number';

/**
 * Creates a {@link Persistence} over a Web Storage.
 * @param options - see {@link PersistenceOptions}.
 * @returns load and save; both are no-ops without storage, and never throw.
 */
export function createPersistence({
  storage,
  key,
  maxRegistrations = 100,
  maxSeen = 2000,
}: PersistenceOptions): Persistence {
  return {
    load() {
      const state: PersistedState = { registrations: new Map(), seen: [] };
      const text = readItem(storage, key);
      if (!text) return state;
      let parsed: { registrations?: unknown; seen?: unknown };
      try {
        parsed = JSON.parse(text);
      } catch {
        return state;
      }
      if (typeof parsed !== 'object' || parsed === null) return state;
      if (typeof parsed.registrations === 'object' && parsed.registrations !== null) {
        for (const [operationKey, value] of Object.entries(parsed.registrations)) {
          if (isStoredRegistration(value)) state.registrations.set(operationKey, value);
        }
      }
      if (Array.isArray(parsed.seen)) state.seen = parsed.seen.filter(isSeenEntry).slice(-maxSeen);
      return state;
    },
    save({ registrations, seen }) {
      const newest = [...registrations]
        .sort(([, a], [, b]) => b.updatedAt - a.updatedAt)
        .slice(0, maxRegistrations);
      writeItem(
        storage,
        key,
        JSON.stringify({ registrations: Object.fromEntries(newest), seen: seen.slice(-maxSeen) }),
      );
    },
  };
}
