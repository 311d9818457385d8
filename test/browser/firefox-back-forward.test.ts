import type { Browser, Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type InventoryServer, startInventoryServer } from '../../examples/inventory/server.js';
import type { EnablePushResult } from '../../link/index.js';
import { type PushService, startPushService } from '../../push-service/index.js';
import { createMemoryStore, type Store } from '../../server/index.js';
import { launchFirefox } from './firefox.js';
import {
  linkSnapshot,
  liveStats,
  newTabWith,
  restock,
  textOf,
  waitFor,
  waitForLive,
  waitForResults,
} from './helpers.js';

/*
 * A visitor leaves the product page for another page of the shop (the About link) and comes
 * back with the browser's Back button after the page's registration expired. The page must show
 * the latest stock at once and say it resynced: what changed while it was away is read again,
 * never silently skipped, and never replayed as results it did not get.
 *
 * Firefox keeps a page in the back/forward cache only when no request is in flight as it is left
 * (`BFCacheStatus::REQUEST`): a page on the stream holds one, the stream itself, so Firefox
 * unloads it and Back loads it again. A page on Web Push holds none, and Back restores it
 * (`pageshow` with `persisted`). Both ways are tested; each test checks which one happened.
 */

/** Short, so that the registration of the page that went away expires while it is away. */
const REGISTRATION_TTL_MS = 5_000;
/** How long the visitor stays on the other page. */
const AWAY_MS = 15_000;

interface PageShow {
  persisted: boolean;
  path: string;
}

/** Records every `pageshow` of the tab in `sessionStorage`, so that a reload keeps the record. */
function recordPageShows() {
  window.addEventListener('pageshow', (event) => {
    const key = 'test:pageshows';
    const shows = JSON.parse(sessionStorage.getItem(key) ?? '[]') as unknown[];
    shows.push({ persisted: event.persisted, path: location.pathname });
    sessionStorage.setItem(key, JSON.stringify(shows));
  });
}

const pageShows = (page: Page) =>
  page.evaluate(() => JSON.parse(sessionStorage.getItem('test:pageshows') ?? '[]') as PageShow[]);

/**
 * The browser's Back. Puppeteer's `goBack` waits for a navigation, which a page restored from
 * the back/forward cache does not report over WebDriver BiDi, so its answer is not awaited: the
 * test waits for what the page shows instead.
 */
const goBack = (page: Page) => {
  void page.goBack({ timeout: 60_000 }).catch(() => {});
};

let pushService: PushService;
let store: Store;
let server: InventoryServer;
let browser: Browser;

beforeAll(async () => {
  pushService = await startPushService({ port: 0 });
  store = createMemoryStore();
  server = await startInventoryServer({
    pushService,
    store,
    registrationTtlMs: REGISTRATION_TTL_MS,
    sweepIntervalMs: 100,
  });
  browser = await launchFirefox({ pushServiceWsUrl: pushService.wsUrl, permission: 'ask' });
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
  await pushService?.close();
});

/**
 * Leaves the live product page by the About link, changes the stock while away until the page's
 * registration has expired and for {@link AWAY_MS} in all, comes back with Back, and checks the
 * page shows the latest stock within 5 s, with one resync and no results it did not get.
 * @returns whether the page came back from the back/forward cache
 */
async function leaveAndComeBack(
  page: Page,
  productId: string,
  mode: 'stream' | 'push',
): Promise<boolean> {
  const { tabId, registrationIds } = await waitForLive(page, productId, mode);
  const [registrationId] = registrationIds;
  if (!registrationId) throw new Error('no registration');
  const before = [
    await restock(server.graphqlUrl, productId),
    await restock(server.graphqlUrl, productId),
  ];
  expect(await waitForResults(page, 2)).toEqual(before.map((stock) => ({ productId, stock })));
  expect(await textOf(page, 'status-resyncs')).toBe('0');
  // Survives only if the document itself comes back (the back/forward cache), not a reload.
  await page.evaluate(() => {
    (window as unknown as { __beforeLeaving: boolean }).__beforeLeaving = true;
  });

  await Promise.all([page.waitForNavigation(), page.click('[data-testid="about"]')]);
  expect(new URL(page.url()).pathname).toBe('/about.html');
  const leftAt = Date.now();
  const away = [await restock(server.graphqlUrl, productId)];
  // Nobody renews it: the registration expires and is swept.
  await waitFor(async () => (await store.getRegistration(registrationId)) === null, {
    what: 'the away page’s registration to expire',
    timeoutMs: AWAY_MS,
  });
  away.push(await restock(server.graphqlUrl, productId));
  await new Promise((resolve) => setTimeout(resolve, leftAt + AWAY_MS - Date.now()));
  const latest = String(away.at(-1));

  goBack(page);

  // `page.url()` is not updated by a restore from the back/forward cache: ask the page.
  await waitFor(
    async () => {
      const shown = {
        path: await page.evaluate(() => location.pathname),
        stock: await textOf(page, 'stock'),
      };
      if (shown.path === '/' && shown.stock === latest) return true;
      // What the page is at, for the timeout's message.
      const stats = await liveStats(page).catch(() => null);
      const link = await linkSnapshot(page).catch(() => null);
      throw new Error(
        JSON.stringify({
          ...shown,
          registration: stats?.registration,
          mode: stats?.mode,
          resyncs: stats?.resyncs,
          link: link?.registrations.map((r) => [r.registrationId, r.lastSeq, r.deliveredTo]),
        }),
      );
    },
    { what: `the page to show the latest stock ${latest}`, timeoutMs: 5_000 },
  );
  await waitFor(async () => (await textOf(page, 'status-resyncs')) === '1', {
    what: 'the page to count one resync',
    timeoutMs: 5_000,
  });
  const restored = await page.evaluate(
    () => (window as unknown as { __beforeLeaving?: boolean }).__beforeLeaving === true,
  );
  const shows = await pageShows(page);
  console.info(
    `${mode}: back ${restored ? 'from the back/forward cache' : 'by loading the page again'}; pageshow events ${JSON.stringify(shows)}`,
  );
  // The first page load and the return (the about page's own record may not survive it).
  expect(shows[0]?.path).toBe('/');
  expect(shows.at(-1)?.path).toBe('/');
  expect(shows.at(-1)?.persisted).toBe(restored);

  // A new registration, for the same tab. The changes made while away were not replayed as
  // results (the page never got them: the resync made it read the product again).
  const stats = await waitForLive(page, productId, mode);
  expect(stats.tabId).toBe(tabId);
  expect(stats.registrationIds).not.toEqual([registrationId]);
  expect(stats.resyncs).toBe(1);
  expect(stats.results).toEqual(before.map((stock) => ({ productId, stock })));
  // And it is live again: the next change arrives once.
  const after = await restock(server.graphqlUrl, productId);
  expect(await waitForResults(page, 3)).toEqual(
    [...before, after].map((stock) => ({ productId, stock })),
  );
  expect(await textOf(page, 'stock')).toBe(String(after));
  expect((await liveStats(page)).resyncs).toBe(1);
  return restored;
}

describe('the inventory example in Firefox when a visitor goes to another page and comes back', () => {
  it(
    'on the stream: Firefox loads the page again on Back, which shows the latest stock within 5 s and one resync',
    async () => {
      const page = await newTabWith(browser, `${server.url}#/product/p1`, recordPageShows);
      try {
        expect(await leaveAndComeBack(page, 'p1', 'stream')).toBe(false);
      } finally {
        await page.close();
      }
    },
    AWAY_MS + 30_000,
  );

  it(
    'on Web Push: Firefox restores the page from the back/forward cache, which renews, resyncs once and shows the latest stock within 5 s',
    async () => {
      const page = await newTabWith(browser, `${server.url}#/product/p2`, recordPageShows);
      try {
        await waitForLive(page, 'p2', 'stream');
        await browser.defaultBrowserContext().setPermission(new URL(server.url).origin, {
          permission: { name: 'notifications' },
          state: 'granted',
        });
        // Granted already, so no prompt and no click is needed; only push, no background alert.
        const enabled = await page.evaluate(() =>
          (
            window as unknown as { __inventoryLink: { enablePush(): Promise<EnablePushResult> } }
          ).__inventoryLink
            .enablePush()
            .then((result) => result.ok),
        );
        expect(enabled).toBe(true);
        expect(await leaveAndComeBack(page, 'p2', 'push')).toBe(true);
      } finally {
        await page.close();
      }
    },
    AWAY_MS + 30_000,
  );
});
