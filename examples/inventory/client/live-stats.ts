import { useSyncExternalStore } from 'react';
import type { ClientMode, WebPushLinkError } from '../../../link/index.js';
import type { WebPushExchangeHandle } from '../../../link/urql/index.js';
import { isEnvelope, MESSAGE_SOURCE } from '../../../protocol/index.js';
import { ANNOUNCEMENT_SOURCE, type AnnouncementMessage } from './announcement.js';

/** Where this tab's live subscription stands. */
export type RegistrationStatus = 'idle' | 'registering' | 'live' | 'error';

/** One pushed result the page handed to its view. */
export interface RecordedResult {
  productId: string;
  stock: number;
}

/**
 * What the status bar shows. Also on `window.__inventory` (and the link's handle on
 * `window.__inventoryLink`), for the browser tests and for a curious person's console.
 */
export interface LiveStats {
  tabId: string;
  /** Product whose page is open, if any. */
  watching: string | null;
  registration: RegistrationStatus;
  /** How the tab's registrations reach it: `stream`, `push`, `connecting` or `offline`. */
  mode: ClientMode;
  /** The last reason push could not be used, if any (the stream serves meanwhile). */
  pushError: { code: string; message: string } | null;
  /** Times continuity was lost and the page refetched (a registration gone while away). */
  resyncs: number;
  /** Server ids of the registrations the link holds for this tab. */
  registrationIds: string[];
  /** Push messages for this tab that reached this page. */
  pushes: number;
  /**
   * Results of `stockChanged` handed to the view, across reloads of this tab (kept in
   * `sessionStorage`, like the link's own state), oldest first.
   */
  results: RecordedResult[];
  /** Pushes that were not ours, as the service worker passed them on. */
  announcements: unknown[];
}

const RESULTS_KEY = 'inventory:results';
const MAX_RESULTS = 500;
/** Registrations have no change event; the link's state is small, so polling it is fine. */
const POLL_MS = 250;

const listeners = new Set<() => void>();
let failed = false;
let connected: WebPushExchangeHandle | undefined;

/**
 * The page's Web Push exchange handle.
 * @returns the handle given to {@link connectLiveStats}
 */
export function pushLink(): WebPushExchangeHandle {
  if (!connected) throw new Error('connectLiveStats was not called');
  return connected;
}
let stats: LiveStats = {
  tabId: '',
  watching: null,
  registration: 'idle',
  mode: 'connecting',
  pushError: null,
  resyncs: 0,
  registrationIds: [],
  pushes: 0,
  results: loadResults(),
  announcements: [],
};

function loadResults(): RecordedResult[] {
  try {
    const parsed: unknown = JSON.parse(sessionStorage.getItem(RESULTS_KEY) ?? '[]');
    return Array.isArray(parsed) ? (parsed as RecordedResult[]) : [];
  } catch {
    return [];
  }
}

function update(patch: Partial<LiveStats>): void {
  stats = { ...stats, ...patch };
  (window as { __inventory?: LiveStats }).__inventory = stats;
  for (const listener of listeners) listener();
}

const sameIds = (a: string[], b: string[]) =>
  a.length === b.length && a.every((id, i) => id === b[i]);

/**
 * Starts following the link's state and the service worker's messages.
 * @param link - the handle of the page's Web Push exchange
 */
export function connectLiveStats(link: WebPushExchangeHandle): void {
  connected = link;
  (window as { __inventoryLink?: WebPushExchangeHandle }).__inventoryLink = link;
  const refresh = () => {
    const snapshot = link.inspect();
    const registrationIds = snapshot.registrations.map((r) => r.registrationId);
    let registration: RegistrationStatus = 'idle';
    if (failed) registration = 'error';
    else if (registrationIds.length > 0) registration = 'live';
    else if (stats.watching) registration = 'registering';
    if (
      snapshot.tabId !== stats.tabId ||
      registration !== stats.registration ||
      !sameIds(registrationIds, stats.registrationIds)
    ) {
      update({ tabId: snapshot.tabId, registration, registrationIds });
    }
  };
  refresh();
  setInterval(refresh, POLL_MS);
  update({ mode: link.mode });
  link.on('mode', (mode) => update({ mode }));
  link.on('push-error', (error: WebPushLinkError) =>
    update({ pushError: { code: error.code, message: error.message } }),
  );
  link.on('resync', () => update({ resyncs: stats.resyncs + 1 }));

  navigator.serviceWorker?.addEventListener('message', (event: MessageEvent) => {
    const message = event.data as { source?: unknown; kind?: unknown; envelope?: unknown } | null;
    if (message?.source === ANNOUNCEMENT_SOURCE) {
      update({ announcements: [...stats.announcements, (message as AnnouncementMessage).data] });
      return;
    }
    if (message?.source !== MESSAGE_SOURCE || message.kind !== 'envelope') return;
    if (isEnvelope(message.envelope) && message.envelope.tab === stats.tabId) {
      update({ pushes: stats.pushes + 1 });
    }
  });
}

/**
 * Sets which product page is open.
 * @param productId - the product, or null on the list
 */
export function setWatching(productId: string | null): void {
  failed = false;
  update({ watching: productId, registration: productId ? 'registering' : 'idle' });
}

/** Marks the live subscription as failed (the link reported an error result). */
export function setFailed(): void {
  failed = true;
  update({ registration: 'error' });
}

/**
 * Records a result handed to the view.
 * @param productId - the product the result is about
 * @param stock - its new stock
 */
export function recordResult(productId: string, stock: number): void {
  const results = [...stats.results, { productId, stock }].slice(-MAX_RESULTS);
  try {
    sessionStorage.setItem(RESULTS_KEY, JSON.stringify(results));
  } catch {
    // Without storage the record covers this page load only; the view is unaffected.
  }
  update({ results });
}

/** Forgets the announcement shown first. */
export function dismissAnnouncement(): void {
  update({ announcements: stats.announcements.slice(1) });
}

/**
 * The live stats, re-rendering on change.
 * @returns the current stats
 */
export function useLiveStats(): LiveStats {
  return useSyncExternalStore(
    (listener) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    () => stats,
  );
}
