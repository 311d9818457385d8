import type { Browser, Page, Target } from 'puppeteer-core';
import type { LiveStats } from '../../examples/inventory/client/live-stats.js';
import type { WebPushLinkSnapshot } from '../../link/index.js';
import { MESSAGE_SOURCE } from '../../protocol/index.js';
import type { AckRecord, MessageEvent, PushService } from '../../push-service/index.js';

/** Options of {@link waitFor}. */
export interface WaitForOptions {
  /** What is awaited, for the error message. */
  what: string;
  /** @defaultValue 10_000 */
  timeoutMs?: number;
  /** @defaultValue 50 */
  intervalMs?: number;
}

/**
 * Polls `read` until it returns a truthy value.
 * @param read - the condition; its last value goes into the timeout error
 * @param options - see {@link WaitForOptions}
 * @returns the truthy value
 * @remarks A condition, not a duration: the tests never assert how long something took.
 */
export async function waitFor<T>(
  read: () => T | Promise<T>,
  { what, timeoutMs = 10_000, intervalMs = 50 }: WaitForOptions,
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  let lastError: unknown;
  for (;;) {
    try {
      last = await read();
      lastError = undefined;
      if (last) return last as NonNullable<T>;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      const detail = lastError === undefined ? JSON.stringify(last) : String(lastError);
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${detail})`);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/**
 * Sends a GraphQL request with `fetch`, as another client of the shop would.
 * @param graphqlUrl - the endpoint
 * @param query - the document
 * @param variables - its variables
 * @returns `data`; GraphQL errors throw
 */
export async function graphql<T>(
  graphqlUrl: string,
  query: string,
  variables: Record<string, unknown> = {},
): Promise<T> {
  const response = await fetch(graphqlUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await response.json()) as { data?: T; errors?: unknown[] };
  if (!response.ok || body.errors || !body.data) {
    throw new Error(`GraphQL request failed (${response.status}): ${JSON.stringify(body)}`);
  }
  return body.data;
}

/**
 * Adds items to a product's stock through the API; the subscription publishes the change.
 * @returns the new stock
 */
export async function restock(graphqlUrl: string, productId: string, quantity = 1) {
  const data = await graphql<{ restock: { stock: number } }>(
    graphqlUrl,
    'mutation ($id: ID!, $q: Int!) { restock(productId: $id, quantity: $q) { stock } }',
    { id: productId, q: quantity },
  );
  return data.restock.stock;
}

/** The page's live stats (`window.__inventory`). */
export function liveStats(page: Page): Promise<LiveStats> {
  return page.evaluate(() => (window as unknown as { __inventory: LiveStats }).__inventory);
}

/** What the page's Web Push exchange holds (`window.__inventoryLink.inspect()`). */
export function linkSnapshot(page: Page): Promise<WebPushLinkSnapshot> {
  return page.evaluate(() =>
    (
      window as unknown as { __inventoryLink: { inspect(): WebPushLinkSnapshot } }
    ).__inventoryLink.inspect(),
  );
}

/**
 * Opens a product page in a new tab and waits until its subscription is registered and reaches
 * the page the way asked.
 * @param mode - `push` (the default: the push-path suites, whose profile grants the permission,
 * wait for the move from the stream to Web Push) or `stream`
 * @returns the page
 */
export async function openProduct(
  browser: Browser,
  baseUrl: string,
  productId: string,
  mode: 'push' | 'stream' = 'push',
) {
  const page = await openTab(browser, `${baseUrl}#/product/${productId}`);
  await waitForLive(page, productId, mode);
  return page;
}

const openers = new WeakMap<Browser, Promise<Page>>();

/**
 * Opens `url` in a new tab that the page itself may close (see {@link closeTab}).
 * @param browser - the browser
 * @param url - where the tab goes
 * @returns the tab's page
 * @remarks The tab is opened with `window.open` from a blank tab kept for the purpose, which makes
 * it closable by script, in a window of its own so that it is visible.
 */
export async function openTab(browser: Browser, url: string): Promise<Page> {
  let opener = openers.get(browser);
  if (!opener) {
    opener = browser.newPage();
    openers.set(browser, opener);
  }
  const blank = await opener;
  const created = new Promise<Page | null>((resolve) =>
    browser.once('targetcreated', (target: Target) => resolve(target.page())),
  );
  // A window of its own: every page the tests open is visible (a tab behind another is hidden,
  // and a hidden tab asks the server to hold its pushes).
  await blank.evaluate((href) => {
    window.open(href, '_blank', 'popup,width=900,height=700');
  }, url);
  const page = await created;
  if (!page) throw new Error(`no page for ${url}`);
  await page.waitForFunction(() => document.readyState === 'complete', { timeout: 10_000 });
  return page;
}

/**
 * Closes a tab the way a person does: the page gets `pagehide` and the link's beacon goes out.
 * @param page - a tab from {@link openTab}
 * @remarks Firefox's WebDriver BiDi `browsingContext.close` (puppeteer's `page.close()`) often
 * discards a tab without running its unload handlers, so a test of what happens on `pagehide`
 * cannot use it. `window.close()` on a script-opened tab runs them every time.
 */
export async function closeTab(page: Page): Promise<void> {
  if (page.isClosed()) return;
  const closed = new Promise<void>((resolve) => page.once('close', () => resolve()));
  // The evaluation may lose its context as the tab goes away; the close event is what counts.
  await page.evaluate(() => window.close()).catch(() => {});
  await closed;
}

/**
 * Waits until the page's link holds exactly one registration, for `productId`'s page, and its
 * updates come the way asked.
 */
export async function waitForLive(page: Page, productId: string, mode: 'push' | 'stream' = 'push') {
  return waitFor(
    async () => {
      const stats = await liveStats(page);
      if (
        stats?.registration !== 'live' ||
        stats.watching !== productId ||
        stats.registrationIds.length !== 1 ||
        stats.mode !== mode
      ) {
        return null;
      }
      // Every registration is where the mode says (a move onto push may still be under way).
      const link = await linkSnapshot(page);
      const placed = link.registrations.every((r) =>
        mode === 'stream' ? r.deliveredTo === null : r.deliveredTo === link.subscriptionId,
      );
      return placed && (mode === 'stream' || link.stream === 'closed') ? stats : null;
    },
    { what: `the ${productId} page to be live by ${mode}` },
  );
}

/** Waits until the page has recorded `count` results (across reloads of the tab). */
export async function waitForResults(page: Page, count: number, timeoutMs = 10_000) {
  const stats = await waitFor(
    async () => {
      const stats = await liveStats(page);
      return stats && stats.results.length >= count ? stats : null;
    },
    { what: `${count} results on the page`, timeoutMs },
  );
  return stats.results;
}

/** What the push service did while a tap was open. */
export interface PushTap {
  /** Messages the application server posted (201). */
  messages: MessageEvent[];
  /** Ack updates and nacks from user agents. */
  acks: AckRecord[];
  /** Waits until every message so far has an ack, and returns `[messageId, code]` pairs. */
  settled(count: number): Promise<[string, number][]>;
  close(): void;
}

/**
 * Records the push service's messages and acks from now on.
 * @param pushService - the push service
 * @returns the tap; close it at the end of the test
 */
export function tapPushService(pushService: PushService): PushTap {
  const messages: MessageEvent[] = [];
  const acks: AckRecord[] = [];
  const stops = [
    pushService.on('message', (event) => messages.push(event)),
    pushService.on('ack', (record) => acks.push(record)),
  ];
  return {
    messages,
    acks,
    async settled(count) {
      await waitFor(
        () =>
          messages.length >= count && messages.every((m) => acks.some((a) => a.version === m.id)),
        { what: `acks for ${count} push messages` },
      );
      return messages.map((m): [string, number] => [
        m.id,
        acks.find((a) => a.version === m.id)?.code ?? -1,
      ]);
    },
    close() {
      for (const stop of stops) stop();
    },
  };
}

/**
 * Opens a tab like {@link openTab}, with `init` run in every document the tab loads, before the
 * page's own scripts (a preload script).
 * @param browser - the browser
 * @param url - where the tab goes
 * @param init - runs first in each document; it cannot close over anything
 * @returns the tab's page
 */
export async function openTabWith(browser: Browser, url: string, init: () => void): Promise<Page> {
  const page = await openTab(browser, 'about:blank');
  await page.evaluateOnNewDocument(init);
  await page.goto(url);
  return page;
}

/** The text of the element with this `data-testid`, or null when there is none. */
export function textOf(page: Page, testId: string): Promise<string | null> {
  return page
    .$(`[data-testid="${testId}"]`)
    .then((element) => element?.evaluate((e) => e.textContent) ?? null);
}

/** A loop of stock changes running in the background, from {@link keepRestocking}. */
export interface Restocker {
  /** The stocks published so far, in the order the server applied them. */
  readonly stocks: readonly number[];
  /** Waits until `count` more changes than now were published. */
  more(count: number): Promise<void>;
  /** Stops after the change in flight, and returns every stock published. */
  stop(): Promise<number[]>;
}

/**
 * Restocks a product by one every `everyMs` until stopped, one change at a time (each waits for
 * the previous answer), so the stocks come back in the order the server published them.
 * @param graphqlUrl - the endpoint
 * @param productId - the product
 * @param everyMs - pause between changes
 * @returns the running loop
 */
export function keepRestocking(graphqlUrl: string, productId: string, everyMs = 50): Restocker {
  const stocks: number[] = [];
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      stocks.push(await restock(graphqlUrl, productId));
      await new Promise((resolve) => setTimeout(resolve, everyMs));
    }
  })();
  return {
    stocks,
    async more(count) {
      const target = stocks.length + count;
      await waitFor(() => stocks.length >= target, {
        what: `${count} more stock changes of ${productId}`,
      });
    },
    async stop() {
      stopped = true;
      await loop;
      return [...stocks];
    },
  };
}

/**
 * Records, from now on, every envelope for this tab that the service worker posts to the page
 * (one per push that reached the page), as `[registrationId, seq]` pairs.
 * @param page - a product page
 * @returns a function reading what was recorded so far
 */
export async function recordPushes(page: Page): Promise<() => Promise<[string, number][]>> {
  const { tabId } = await liveStats(page);
  await page.evaluate(
    (tab, source) => {
      const pushes: [string, number][] = [];
      (window as unknown as { __recordedPushes: typeof pushes }).__recordedPushes = pushes;
      navigator.serviceWorker.addEventListener('message', (event) => {
        const data = event.data as {
          source?: unknown;
          kind?: unknown;
          envelope?: { tab?: unknown; reg?: unknown; seq?: unknown };
        } | null;
        const envelope = data?.kind === 'envelope' ? data.envelope : undefined;
        if (
          data?.source === source &&
          envelope?.tab === tab &&
          typeof envelope.reg === 'string' &&
          typeof envelope.seq === 'number'
        ) {
          pushes.push([envelope.reg, envelope.seq]);
        }
      });
    },
    tabId,
    MESSAGE_SOURCE,
  );
  return () =>
    page.evaluate(() => [
      ...(window as unknown as { __recordedPushes: [string, number][] }).__recordedPushes,
    ]);
}

/** The channel of the page's push subscription at the push service (the endpoint's last part). */
export async function pushChannelOf(page: Page): Promise<string | null> {
  const endpoint = await page.evaluate(async () => {
    const registration = await navigator.serviceWorker.getRegistration();
    return (await registration?.pushManager.getSubscription())?.endpoint ?? null;
  });
  return endpoint ? (new URL(endpoint).pathname.split('/').pop() ?? null) : null;
}

/**
 * Opens `url` (absolute, or relative to the opener's page) in a new tab of the opener's window,
 * in front of it: the opener's page becomes hidden. The new tab may close itself
 * ({@link closeTab}), which shows the opener again.
 * @param opener - the page whose window gets the tab
 * @param url - where the tab goes
 * @returns the new tab's page
 */
export async function openTabInFront(opener: Page, url: string): Promise<Page> {
  const browser = opener.browser();
  const created = new Promise<Page | null>((resolve) =>
    browser.once('targetcreated', (target: Target) => resolve(target.page())),
  );
  // No window features: a tab in the same window, not a window of its own.
  await opener.evaluate((href) => {
    window.open(href);
  }, url);
  const page = await created;
  if (!page) throw new Error(`no page for ${url}`);
  await page.waitForFunction(() => document.readyState === 'complete', { timeout: 10_000 });
  return page;
}

/** `document.visibilityState` of the page. */
export function visibilityOf(page: Page): Promise<DocumentVisibilityState> {
  return page.evaluate(() => document.visibilityState);
}

/**
 * Opens `url` in a new tab made by the browser itself (no opener), with `init` run first in every
 * document the tab loads.
 * @param browser - the browser
 * @param url - where the tab goes
 * @param init - runs first in each document; it cannot close over anything
 * @returns the tab's page; close it with `page.close()`
 * @remarks Unlike {@link openTab}'s script-opened tabs, such a tab is alone in its browsing
 * context group, which Firefox requires to keep a page in the back/forward cache.
 */
export async function newTabWith(browser: Browser, url: string, init: () => void): Promise<Page> {
  const page = await browser.newPage();
  await page.evaluateOnNewDocument(init);
  await page.goto(url);
  return page;
}
