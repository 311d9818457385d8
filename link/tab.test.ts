import { describe, expect, it } from 'vitest';
import type { LinkStorage } from './storage.js';
import { resolveTabId, TAB_STORAGE_KEY } from './tab.js';

const memoryStorage = (): LinkStorage & { map: Map<string, string> } => {
  const map = new Map<string, string>();
  return {
    map,
    getItem: (key) => map.get(key) ?? null,
    setItem: (key, value) => {
      map.set(key, value);
    },
    removeItem: (key) => {
      map.delete(key);
    },
  };
};

describe('tab id', () => {
  it('creates a 128-bit base64url id and stores it for the next load', () => {
    const storage = memoryStorage();
    const id = resolveTabId({ storage });
    expect(id).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(storage.map.get(TAB_STORAGE_KEY)).toBe(id);
    expect(resolveTabId({ storage })).toBe(id);
  });

  it('uses an id the app gives and does not store it', () => {
    const storage = memoryStorage();
    expect(resolveTabId({ tabId: 'my-tab', storage })).toBe('my-tab');
    expect(storage.map.size).toBe(0);
  });

  it('gives a new id per call without storage', () => {
    expect(resolveTabId({ storage: null })).not.toBe(resolveTabId({ storage: null }));
  });

  it('replaces a malformed stored id and survives a storage that throws', () => {
    const storage = memoryStorage();
    storage.map.set(TAB_STORAGE_KEY, 'bad id!');
    expect(resolveTabId({ storage })).toMatch(/^[A-Za-z0-9_-]{22}$/);
    const broken: LinkStorage = {
      getItem: () => {
        throw new Error('SecurityError');
      },
      setItem: () => {
        throw new Error('QuotaExceededError');
      },
      removeItem: () => {},
    };
    expect(resolveTabId({ storage: broken })).toMatch(/^[A-Za-z0-9_-]{22}$/);
  });
});
