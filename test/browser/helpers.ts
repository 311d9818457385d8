import type { Browser, Page, Target } from 'puppeteer-core';
import type { LiveStats } from '../../examples/inventory/client/live-stats.js';
import type { WebPushLinkSnapshot } from '../../link/index.js';
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
 * Opens a product page in a new tab and waits until its subscription is registered.
 * @returns the page
 */
export async function openProduct(browser: Browser, baseUrl: string, productId: string) {
  const page = await openTab(browser, `${baseUrl}#/product/${productId}`);
  await waitForLive(page, productId);
  return page;
}

const openers = new WeakMap<Browser, Promise<Page>>();

/**
 * Opens `url` in a new tab that the page itself may close (see {@link closeTab}).
 * @param browser - the browser
 * @param url - where the tab goes
 * @returns the tab's page
 * @remarks The tab is opened with `window.open` from a blank tab kept for the purpose, which makes
 * it closable by script.
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
  await blank.evaluate((href) => {
    window.open(href);
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

/** Waits until the page's link holds exactly one registration, for `productId`'s page. */
export async function waitForLive(page: Page, productId: string) {
  return waitFor(
    async () => {
      const stats = await liveStats(page);
      return stats?.registration === 'live' &&
        stats.watching === productId &&
        stats.registrationIds.length === 1
        ? stats
        : null;
    },
    { what: `the ${productId} page to be live` },
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
