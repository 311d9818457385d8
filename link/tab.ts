import { randomBase64UrlId as randomId } from '../protocol/base64url.js';
import { type LinkStorage, readItem, writeItem } from './storage.js';

/** `sessionStorage` key of the tab id: a reload keeps it, another tab gets its own. */
export const TAB_STORAGE_KEY = 'graphql-web-push:tab';

const TAB_ID = /^[A-Za-z0-9_-]{16,128}$/;

/**
 * The id of this tab.
 * @param options.tabId - an id chosen by the app; used as is and not stored.
 * @param options.storage - where the id lives across reloads, or null.
 * @returns `tabId` when given, else the stored id, else a new random 128-bit base64url id
 * (stored for the next load).
 * @remarks A browser's "duplicate tab" copies `sessionStorage`, so both tabs start with the
 * same id; pass `tabId` when that matters.
 */
export function resolveTabId({
  tabId,
  storage,
}: {
  tabId?: string | undefined;
  storage: LinkStorage | null;
}): string {
  if (tabId) return tabId;
  const stored = readItem(storage, TAB_STORAGE_KEY);
  if (stored && TAB_ID.test(stored)) return stored;
  const created = randomId();
  writeItem(storage, TAB_STORAGE_KEY, created);
  return created;
}
