/** The part of the Web Storage API the link uses (`sessionStorage` fits). */
export type LinkStorage = Pick<Storage, 'getItem' | 'setItem' | 'removeItem'>;

/**
 * Reads a key, treating a storage that throws (disabled, private mode, quota) as empty.
 * @param storage - where to read, or null for none.
 * @param key - the key.
 * @returns the stored text, or null.
 */
export function readItem(storage: LinkStorage | null, key: string): string | null {
  if (!storage) return null;
  try {
    return storage.getItem(key);
  } catch {
    return null;
  }
}

/**
 * Writes a key; a failing storage only costs the ability to resume after a reload, so errors
 * are swallowed.
 * @param storage - where to write, or null for none.
 * @param key - the key.
 * @param value - the text to store.
 */
export function writeItem(storage: LinkStorage | null, key: string, value: string): void {
  if (!storage) return;
  try {
    storage.setItem(key, value);
  } catch {
    // Quota or disabled storage: nothing to do but carry on without persistence.
  }
}

/**
 * The `sessionStorage` of the page, when there is one and it can be used.
 * @returns the storage, or null (Node, workers, storage disabled).
 */
export function defaultStorage(): LinkStorage | null {
  try {
    return (globalThis as { sessionStorage?: LinkStorage }).sessionStorage ?? null;
  } catch {
    // Some browsers throw on access when storage is blocked.
    return null;
  }
}
