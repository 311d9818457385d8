/**
 * What runs inside the inventory page while a load is measured: it stamps, on the page's own
 * clock, the moments the page becomes live and receives its first result, so that no round trip
 * to Node sits between an event and its timestamp.
 */

/** The path a visitor is expected to end up on. */
export type LoadPath = 'stream' | 'push';

/**
 * Moments of one page load, in milliseconds since the navigation started (the page's
 * `performance.now()`, whose origin is the navigation start).
 */
export interface LoadMarks {
  productId: string;
  /** `document.visibilityState` was `hidden` at some check: the server would hold pushes. */
  wasHidden: boolean;
  /** A service worker controlled the page from the start: one was installed by an earlier visit. */
  controlled: boolean;
  /** Live on either path: the first moment any of the two conditions below held. */
  live?: number;
  /** Which path {@link LoadMarks.live} was on. */
  liveVia?: LoadPath;
  /** Every registration delivered over the stream, the stream open, mode `stream`. */
  stream?: number;
  /** Mode `push`, every registration delivered to the push subscription, the stream closed. */
  push?: number;
  /** The push subscription's server id at {@link LoadMarks.push}. */
  subscriptionId?: string;
  /** `window.__inventory.registration` turned `live` (the status bar's view, polled by the page). */
  statsLive?: number;
  /** The first `stockChanged` result for the product reached `window.__inventory.results`. */
  result?: number;
}

/** Options of {@link loadProbe}, passed into the page as JSON. */
export interface LoadProbeOptions {
  productId: string;
  /** Node is told (through `binding`) once the page is live on this path. */
  path: LoadPath;
  /** Name of the function Node exposed on `window`. */
  binding: string;
  /** Stop checking after this long, whatever happened. */
  timeoutMs: number;
}

/** Global the marks are kept in, for Node to read. */
export const MARKS_GLOBAL = '__benchLoad';

interface RegistrationLike {
  deliveredTo: string | null;
}

interface LinkLike {
  inspect(): {
    mode: string;
    stream: string;
    subscriptionId: string | null;
    registrations: RegistrationLike[];
  };
}

interface StatsLike {
  registration: string;
  results: { productId: string }[];
}

/**
 * Installs the probe; runs as a preload script, before any script of the page.
 *
 * @param options - see {@link LoadProbeOptions}
 * @remarks The results are caught exactly: the page assigns `window.__inventory` on every change,
 * so a setter there checks at once. The link's state has no event for every part of the
 * condition (a registration's `deliveredTo`, the stream's state), so a `setTimeout(0)` loop
 * checks it too: about every 4 ms once the browser clamps nested timers, cheap next to the
 * hundreds of milliseconds measured. `requestAnimationFrame` would tie the checks to 16 ms frames.
 * The page's own `registration: 'live'` lags the link by up to its 250 ms poll, so the live
 * conditions read the link, and the lagging view is kept apart as `statsLive`.
 */
export function loadProbe({
  productId,
  path,
  binding,
  timeoutMs,
  marksGlobal,
}: LoadProbeOptions & { marksGlobal: string }): void {
  const page = window as unknown as Record<string, unknown>;
  const marks: LoadMarks = {
    productId,
    wasHidden: false,
    controlled: Boolean(navigator.serviceWorker?.controller),
  };
  page[marksGlobal] = marks;
  let stats: StatsLike | undefined;
  let told = false;

  const check = () => {
    const now = performance.now();
    if (document.visibilityState === 'hidden') marks.wasHidden = true;
    if (marks.statsLive === undefined && stats?.registration === 'live') marks.statsLive = now;
    if (marks.result === undefined && stats?.results.some((r) => r.productId === productId)) {
      marks.result = now;
    }
    const link = page.__inventoryLink as LinkLike | undefined;
    const snapshot = link?.inspect();
    if (snapshot && snapshot.registrations.length > 0) {
      const { mode, stream, subscriptionId, registrations } = snapshot;
      const onStream =
        mode === 'stream' &&
        stream === 'open' &&
        registrations.every((r) => r.deliveredTo === null);
      const onPush =
        mode === 'push' &&
        stream === 'closed' &&
        subscriptionId !== null &&
        registrations.every((r) => r.deliveredTo === subscriptionId);
      if (onStream && marks.stream === undefined) marks.stream = now;
      if (onPush && marks.push === undefined) {
        marks.push = now;
        marks.subscriptionId = subscriptionId;
      }
      if ((onStream || onPush) && marks.live === undefined) {
        marks.live = now;
        marks.liveVia = onPush ? 'push' : 'stream';
      }
    }
    if (!told && marks[path] !== undefined) {
      told = true;
      (page[binding] as (() => void) | undefined)?.();
    }
  };

  Object.defineProperty(window, '__inventory', {
    configurable: true,
    get: () => stats,
    set(value: StatsLike) {
      stats = value;
      check();
    },
  });
  const loop = () => {
    check();
    if (marks.result === undefined && performance.now() < timeoutMs) setTimeout(loop, 0);
  };
  setTimeout(loop, 0);
}

/**
 * The probe as a preload script's source.
 * @param options - see {@link LoadProbeOptions}
 * @returns JavaScript that installs the probe
 * @remarks The probe goes into the page as its source text, so it can refer to nothing outside
 * itself: what it needs comes in as JSON. Node runs this file through esbuild with `keepNames`,
 * which wraps inner functions in calls to a `__name` helper that exists only in Node; the page
 * gets a stand-in.
 */
export function loadProbeSource(options: LoadProbeOptions): string {
  const input = JSON.stringify({ ...options, marksGlobal: MARKS_GLOBAL });
  return `(() => { const __name = (f) => f; (${loadProbe.toString()})(${input}); })();`;
}
