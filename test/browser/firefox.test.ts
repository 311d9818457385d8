import { mkdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'puppeteer-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type InventoryServer, startInventoryServer } from '../../examples/inventory/server.js';
import { type PushService, startPushService } from '../../push-service/index.js';
import { createMemoryStore, type Store } from '../../server/index.js';
import { launchFirefox } from './firefox.js';
import {
  closeTab,
  linkSnapshot,
  liveStats,
  openProduct,
  type PushTap,
  restock,
  tapPushService,
  waitFor,
  waitForLive,
  waitForResults,
} from './helpers.js';

/** How long a hidden tab's registrations outlive it (the link's `reloadGraceMs`). */
const GRACE_MS = 2_000;
const ARTIFACTS = fileURLToPath(new URL('../.artifacts/', import.meta.url));

let pushService: PushService;
let store: Store;
let server: InventoryServer;
let browser: Browser;
let tap: PushTap;
/** Pages opened by the running test, with their tab ids, closed after it. */
const opened: { page: Page; tabId: string }[] = [];

const open = async (productId: string) => {
  const page = await openProduct(browser, server.url, productId);
  const { tabId } = await liveStats(page);
  opened.push({ page, tabId });
  return page;
};

const stockOn = (page: Page, testId: string) =>
  page.$eval(`[data-testid="${testId}"]`, (element) => element.textContent);

beforeAll(async () => {
  pushService = await startPushService({ port: 0 });
  store = createMemoryStore();
  server = await startInventoryServer({
    pushService,
    store,
    sweepIntervalMs: 100,
    page: { reloadGraceMs: GRACE_MS },
  });
  browser = await launchFirefox({ pushServiceWsUrl: pushService.wsUrl });
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
  await pushService?.close();
});

afterEach(async () => {
  tap?.close();
  for (const { page } of opened) if (!page.isClosed()) await closeTab(page);
  // Every test starts with no registrations left: closed tabs expire after the grace period.
  const tabIds = opened.splice(0).map((entry) => entry.tabId);
  await waitFor(
    async () => {
      for (const tabId of tabIds) if ((await store.listByTab(tabId)).length > 0) return false;
      return true;
    },
    { what: 'the closed tabs’ registrations to expire' },
  );
});

describe('the inventory example in Firefox', () => {
  it('renders a pushed stock change on the product page and in the list, acked by Firefox with 100', async () => {
    const page = await open('p1');
    tap = tapPushService(pushService);

    const stock = await restock(server.graphqlUrl, 'p1', 3);

    await waitFor(async () => (await stockOn(page, 'stock')) === String(stock), {
      what: 'the page to show the new stock',
    });
    // The list has no subscription of its own: the normalized cache updated it.
    expect(await stockOn(page, 'list-stock-p1')).toBe(String(stock));
    const stats = await liveStats(page);
    expect(stats.results).toEqual([{ productId: 'p1', stock }]);
    expect(stats.pushes).toBe(1);
    expect(await tap.settled(1)).toEqual([[tap.messages[0]?.id, 100]]);
    expect(tap.messages).toHaveLength(1);
  });

  it('gives each tab only its own registrations, though the tabs share one push subscription', async () => {
    const a = await open('p2');
    const b = await open('p3');
    tap = tapPushService(pushService);
    const [linkA, linkB] = [await linkSnapshot(a), await linkSnapshot(b)];
    expect(linkA.tabId).not.toBe(linkB.tabId);
    expect(linkA.subscriptionId).toBe(linkB.subscriptionId);

    const a1 = await restock(server.graphqlUrl, 'p2');
    const b1 = await restock(server.graphqlUrl, 'p3');
    const a2 = await restock(server.graphqlUrl, 'p2');

    expect(await waitForResults(a, 2)).toEqual([
      { productId: 'p2', stock: a1 },
      { productId: 'p2', stock: a2 },
    ]);
    expect(await waitForResults(b, 1)).toEqual([{ productId: 'p3', stock: b1 }]);
    // Every push reached both tabs; each dropped the other's.
    await waitFor(async () => (await linkSnapshot(a)).otherTab === 1, { what: 'a to drop 1' });
    await waitFor(async () => (await linkSnapshot(b)).otherTab === 2, { what: 'b to drop 2' });
    expect((await tap.settled(3)).map(([, code]) => code)).toEqual([100, 100, 100]);

    // Now both tabs watch the same product: one event, one push carrying both tabs' envelopes,
    // which the service worker splits; one result each.
    await b.evaluate(() => {
      window.location.hash = '#/product/p2';
    });
    await waitForLive(b, 'p2');
    const both = await restock(server.graphqlUrl, 'p2');

    expect(await waitForResults(a, 3)).toEqual([
      { productId: 'p2', stock: a1 },
      { productId: 'p2', stock: a2 },
      { productId: 'p2', stock: both },
    ]);
    expect(await waitForResults(b, 2)).toEqual([
      { productId: 'p3', stock: b1 },
      { productId: 'p2', stock: both },
    ]);
    expect((await tap.settled(4)).map(([, code]) => code)).toEqual([100, 100, 100, 100]);
    expect(tap.messages).toHaveLength(4);
    expect((await liveStats(a)).results).toHaveLength(3);
    expect((await liveStats(b)).results).toHaveLength(2);
  });

  it('keeps the tab id and the registration across a reload, with every event exactly once', async () => {
    const page = await open('p4');
    const before = await liveStats(page);
    const [registrationId] = before.registrationIds;
    const stocks = [await restock(server.graphqlUrl, 'p4')];
    await waitForResults(page, 1);

    stocks.push(await restock(server.graphqlUrl, 'p4')); // just before the reload
    const reloading = page.reload();
    stocks.push(await restock(server.graphqlUrl, 'p4')); // while the page reloads
    await reloading;
    stocks.push(await restock(server.graphqlUrl, 'p4')); // before the link has resumed
    const after = await waitForLive(page, 'p4');
    stocks.push(await restock(server.graphqlUrl, 'p4')); // once it has

    const results = await waitForResults(page, 5, 15_000);
    expect(results).toEqual(stocks.map((stock) => ({ productId: 'p4', stock })));
    expect(after.tabId).toBe(before.tabId);
    expect(after.registrationIds).toEqual([registrationId]);
    const stored = await store.listByTab(before.tabId);
    expect(stored.map((r) => [r.id, r.seq])).toEqual([[registrationId, 5]]);
  });

  it('unregisters a closed tab’s registrations at the server once the grace period is over', async () => {
    const page = await open('p5');
    const { tabId, registrationIds } = await liveStats(page);
    const [registrationId] = registrationIds;
    if (!registrationId) throw new Error('no registration');
    const live = await store.getRegistration(registrationId);
    expect(live?.tabId).toBe(tabId);
    const closedAt = Date.now();

    await closeTab(page);

    // The pagehide beacon shortened the expiry to the grace period...
    await waitFor(
      async () => {
        const record = await store.getRegistration(registrationId);
        return record === null || record.expiresAt <= Date.now() + GRACE_MS;
      },
      { what: 'the unregister beacon' },
    );
    // ...after which the sweeper removed it.
    await waitFor(async () => (await store.listByTab(tabId)).length === 0, {
      what: 'no registrations left for the closed tab',
    });
    expect(await store.getRegistration(registrationId)).toBeNull();
    expect(live?.expiresAt).toBeGreaterThan(closedAt + GRACE_MS);
  });

  it('pushes only the background alert once no page of the origin is open, and Firefox acks it with 100', async () => {
    const page = await open('p5');
    // "Notify me in the background": push is on already, so this adds the background alert.
    await page.click('[data-testid="enable-push"]');
    await waitFor(
      async () =>
        (await liveStats(page)).registrationIds.length === 2 &&
        (await page.$('[data-testid="push-on"]')),
      { what: 'the background alert to be registered' },
    );
    const [data, alert] = await Promise.all(
      (await liveStats(page)).registrationIds.map((id) => store.getRegistration(id)),
    ).then((records) => [
      records.find((record) => record && !record.background),
      records.find((record) => record?.background),
    ]);
    if (!data || !alert) throw new Error('expected a data-only and a background registration');
    tap = tapPushService(pushService);

    await page.goto('about:blank');
    // The page said it is hidden as it went: its data-only registration's pushes are held.
    await waitFor(async () => (await store.getRegistration(data.id))?.held === true, {
      what: 'the data-only registration to be held',
    });
    await restock(server.graphqlUrl, 'p5');

    // The registrations outlive the page by the grace period: the background one is pushed (the
    // service worker wakes with no window open), the data-only one only logged.
    expect(await tap.settled(1)).toEqual([[tap.messages[0]?.id, 100]]);
    await waitFor(async () => (await store.getRegistration(data.id))?.seq === 1, {
      what: 'the data-only registration to log the change',
    });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(tap.messages).toHaveLength(1);
    // Back to the page (Firefox loads a page opened by window.open again rather than restoring
    // it; its tab id and registrations survive): it catches up on the held change.
    await page.goBack();
    expect(await waitForResults(page, 1)).toEqual([{ productId: 'p5', stock: expect.any(Number) }]);
  });

  it('moves the tab’s registrations to a new push subscription when the browser’s one changes', async () => {
    const page = await open('p3');
    tap = tapPushService(pushService);
    const { tabId, registrationIds } = await liveStats(page);
    const [registrationId] = registrationIds;
    if (!registrationId) throw new Error('no registration');
    const oldSubscriptionId = (await linkSnapshot(page)).subscriptionId;
    const first = await restock(server.graphqlUrl, 'p3');
    await waitForResults(page, 1);

    // The browser drops the subscription; the service worker tells the tabs (as on
    // `pushsubscriptionchange`), and the link subscribes again and moves its registrations.
    await page.evaluate(async () => {
      const registration = await navigator.serviceWorker.ready;
      const subscription = await registration.pushManager.getSubscription();
      await subscription?.unsubscribe();
      navigator.serviceWorker.dispatchEvent(
        new MessageEvent('message', {
          data: { source: 'graphql-web-push', kind: 'subscriptionchange', subscription: null },
        }),
      );
    });
    const newSubscriptionId = await waitFor(
      async () => {
        const { subscriptionId } = await linkSnapshot(page);
        const record = await store.getRegistration(registrationId);
        return subscriptionId !== oldSubscriptionId && record?.subscriptionId === subscriptionId
          ? subscriptionId
          : null;
      },
      { what: 'the registration to move to the new subscription' },
    );
    expect((await store.listBySubscription(newSubscriptionId)).map((r) => r.id)).toEqual([
      registrationId,
    ]);

    const second = await restock(server.graphqlUrl, 'p3');
    expect(await waitForResults(page, 2)).toEqual([
      { productId: 'p3', stock: first },
      { productId: 'p3', stock: second },
    ]);
    const codes = await tap.settled(2);
    expect(codes.map(([, code]) => code)).toEqual([100, 100]);
    // The second push went to a new channel: the old endpoint is gone.
    expect(tap.messages[1]?.channelID).not.toBe(tap.messages[0]?.channelID);
    expect((await liveStats(page)).registrationIds).toEqual([registrationId]);
    expect((await store.listByTab(tabId)).map((r) => [r.id, r.seq])).toEqual([[registrationId, 2]]);
  });

  it('follows a real pushsubscriptionchange when the push service forgets the browser', async () => {
    const page = await open('p2');
    const { tabId, registrationIds } = await liveStats(page);
    const [registrationId] = registrationIds;
    if (!registrationId) throw new Error('no registration');
    const oldSubscriptionId = (await linkSnapshot(page)).subscriptionId;
    const first = await restock(server.graphqlUrl, 'p2');
    await waitForResults(page, 1);

    // A restarted push service on the same port knows no uaid: Firefox gets a new one, drops its
    // subscriptions and fires `pushsubscriptionchange` in the service worker.
    const { port } = pushService;
    await pushService.close();
    pushService = await startPushService({ port });
    tap = tapPushService(pushService);
    await waitFor(
      async () => {
        const { subscriptionId } = await linkSnapshot(page);
        const record = await store.getRegistration(registrationId);
        return subscriptionId !== oldSubscriptionId && record?.subscriptionId === subscriptionId;
      },
      { what: 'the registration to move to the new subscription', timeoutMs: 20_000 },
    );

    const second = await restock(server.graphqlUrl, 'p2');
    expect(await waitForResults(page, 2)).toEqual([
      { productId: 'p2', stock: first },
      { productId: 'p2', stock: second },
    ]);
    expect((await tap.settled(1)).map(([, code]) => code)).toEqual([100]);
    expect((await store.listByTab(tabId)).map((r) => [r.id, r.seq])).toEqual([[registrationId, 2]]);
  }, 30_000);

  it('updates another tab when a person clicks Buy', async () => {
    const watcher = await open('p1');
    const buyer = await open('p1');
    const before = server.products.get('p1')?.stock ?? 0;

    await buyer.waitForSelector('[data-testid="buy"]:not([disabled])');
    await buyer.click('[data-testid="buy"]');

    await waitFor(async () => (await stockOn(watcher, 'stock')) === String(before - 1), {
      what: 'the watching tab to show the sale',
    });
    expect(await stockOn(watcher, 'list-stock-p1')).toBe(String(before - 1));
    expect((await liveStats(watcher)).results).toEqual([{ productId: 'p1', stock: before - 1 }]);
    await waitFor(async () => (await stockOn(buyer, 'stock')) === String(before - 1), {
      what: 'the buying tab to show its sale',
    });

    await watcher.bringToFront();
    await watcher.setViewport({ width: 1280, height: 800 });
    // Let the highlight on the changed number fade before the picture.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    await mkdir(ARTIFACTS, { recursive: true });
    await watcher.screenshot({ path: `${ARTIFACTS}inventory-firefox.png` });
  });
});
