import { performance } from 'node:perf_hooks';
import type { Browser, Page } from 'puppeteer-core';
import {
  type LoadMarks,
  type LoadPath,
  loadProbeSource,
  MARKS_GLOBAL,
} from './firefox-load-probe.js';
import { measurePageClock } from './page-clock.js';

/** Options of {@link measurePageLoad}. */
export interface PageLoadOptions {
  browser: Browser;
  /** The inventory server's `url` (with the trailing slash). */
  baseUrl: string;
  graphqlUrl: string;
  /** A product no earlier round watched, so that no registration of a closed tab shares it. */
  productId: string;
  /** The path the visitor should end up on; the stock change is published once it is live there. */
  path: LoadPath;
  /**
   * Drop the origin's push subscription and service worker before the tab closes, so that the
   * next tab of this profile subscribes from scratch.
   * @defaultValue false
   */
  forgetPush?: boolean;
  /** @defaultValue 15_000 */
  timeoutMs?: number;
}

/** One measured page load; every time in ms since its navigation started, on the page's clock. */
export interface PageLoadSample {
  marks: LoadMarks & { live: number; result: number };
  /** When the page was live on the path asked for (`marks.stream` or `marks.push`). */
  reached: number;
  /** When Node sent the mutation, mapped onto the page's clock. */
  published: number;
  /** When the mutation's answer reached Node, on the page's clock. */
  answered: number;
  /** How far {@link PageLoadSample.published} may be off (the clock mapping's bound). */
  clockErrorMs: number;
  /** The navigation's `domContentLoadedEventEnd`, for scale. */
  domContentLoaded: number;
}

const BINDING = '__benchLive';
const RESTOCK = 'mutation ($id: ID!, $q: Int!) { restock(productId: $id, quantity: $q) { stock } }';

/**
 * Opens a product page in a new tab of `browser` and measures it: navigation start → live,
 * and navigation start → the first result of a stock change published from Node as soon as the
 * page is live on `path`.
 * @param options - see {@link PageLoadOptions}
 * @returns the sample; the tab is closed
 */
export async function measurePageLoad({
  browser,
  baseUrl,
  graphqlUrl,
  productId,
  path,
  forgetPush = false,
  timeoutMs = 15_000,
}: PageLoadOptions): Promise<PageLoadSample> {
  const page = await browser.newPage();
  try {
    let onLive = () => {};
    const live = new Promise<void>((resolve) => {
      onLive = resolve;
    });
    // The page calls this the moment it is live; the publish follows without a poll in between.
    await page.exposeFunction(BINDING, () => onLive());
    await page.evaluateOnNewDocument(
      loadProbeSource({ productId, path, binding: BINDING, timeoutMs }),
    );
    const navigated = page.goto(`${baseUrl}#/product/${productId}`, { timeout: timeoutMs });
    navigated.catch(() => {});
    await within(live, timeoutMs, () => describe(page, `live by ${path}`));

    const publishedNode = performance.now();
    await publishRestock(graphqlUrl, productId);
    const answeredNode = performance.now();
    await page
      .waitForFunction(
        (name: string) =>
          (window as unknown as Record<string, LoadMarks | undefined>)[name]?.result !== undefined,
        { timeout: timeoutMs, polling: 10 },
        MARKS_GLOBAL,
      )
      .catch(async () => {
        throw new Error(await describe(page, 'the first result'));
      });
    await navigated;

    const clock = await measurePageClock(page);
    const { marks, domContentLoaded } = await page.evaluate((name: string) => {
      const entry = window.performance.getEntriesByType('navigation')[0] as
        | PerformanceNavigationTiming
        | undefined;
      return {
        marks: (window as unknown as Record<string, LoadMarks>)[name] as LoadMarks,
        domContentLoaded: entry?.domContentLoadedEventEnd ?? Number.NaN,
      };
    }, MARKS_GLOBAL);
    if (marks.wasHidden) throw new Error(`the ${productId} tab was hidden while measured`);
    if (forgetPush) await forgetPushSubscription(page);
    return {
      marks: marks as PageLoadSample['marks'],
      reached: marks[path] as number,
      published: publishedNode + clock.offsetMs,
      answered: answeredNode + clock.offsetMs,
      clockErrorMs: clock.errorMs,
      domContentLoaded,
    };
  } finally {
    await page.close().catch(() => {});
  }
}

/** Publishes one stock change the way any other client of the shop would. */
async function publishRestock(graphqlUrl: string, productId: string): Promise<void> {
  const response = await fetch(graphqlUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query: RESTOCK, variables: { id: productId, q: 1 } }),
  });
  const body = (await response.json()) as { errors?: unknown[] };
  if (!response.ok || body.errors) {
    throw new Error(`restock failed (${response.status}): ${JSON.stringify(body)}`);
  }
}

/**
 * Unsubscribes the origin's push subscription and unregisters its service worker. The worker
 * goes once its last page has closed, which the round does next.
 */
async function forgetPushSubscription(page: Page): Promise<void> {
  await page.evaluate(async () => {
    const registration = await navigator.serviceWorker.getRegistration();
    const subscription = await registration?.pushManager.getSubscription();
    await subscription?.unsubscribe();
    await registration?.unregister();
  });
}

async function within(done: Promise<void>, ms: number, explain: () => Promise<string>) {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => {
    timer = setTimeout(() => resolve('late'), ms);
  });
  const outcome = await Promise.race([done, late]);
  clearTimeout(timer);
  if (outcome === 'late') throw new Error(await explain());
}

/** What the page had reached when a wait timed out. */
async function describe(page: Page, what: string): Promise<string> {
  const state = await page
    .evaluate((name: string) => {
      const page = window as unknown as Record<string, unknown>;
      const link = page.__inventoryLink as { inspect(): unknown } | undefined;
      return JSON.stringify({ marks: page[name], link: link?.inspect() });
    }, MARKS_GLOBAL)
    .catch((error: unknown) => String(error));
  return `timed out waiting for ${what}: ${state}`;
}
