import type { Browser, Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type InventoryServer, startInventoryServer } from '../../examples/inventory/server.js';
import { type PushService, startPushService } from '../../push-service/index.js';
import { createMemoryStore, type Store } from '../../server/index.js';
import { launchChromium } from './chromium.js';
import {
  closeTab,
  keepRestocking,
  linkSnapshot,
  liveStats,
  openProduct,
  restock,
  textOf,
  waitForResults,
} from './helpers.js';

/*
 * Chromium with its default settings: no push service it can reach here, and the notification
 * permission not asked for. The product page goes live over the resumable stream, end to end:
 * the server's stream route, Chromium's fetch reading Server-Sent Events, the link, urql's cache
 * and the view.
 */

let pushService: PushService;
let store: Store;
let server: InventoryServer;
let browser: Browser;
const opened: Page[] = [];

beforeAll(async () => {
  pushService = await startPushService({ port: 0 });
  store = createMemoryStore();
  server = await startInventoryServer({ pushService, store });
  browser = await launchChromium();
});

afterAll(async () => {
  for (const page of opened) await closeTab(page);
  await browser?.close();
  await server?.close();
  await pushService?.close();
});

describe('the inventory example in Chromium over the stream', () => {
  it('is live on the stream without any permission, and gets every stock change exactly once, in order', async () => {
    const page = await openProduct(browser, server.url, 'p1', 'stream');
    opened.push(page);
    const { tabId, registrationIds } = await liveStats(page);
    expect(
      await page.evaluate(async () => ({
        permission: Notification.permission,
        serviceWorker: (await navigator.serviceWorker.getRegistration()) !== undefined,
      })),
    ).toEqual({ permission: 'default', serviceWorker: false });
    expect(
      await page.$eval('[data-testid="status-mode"]', (e) => e.getAttribute('data-mode')),
    ).toBe('stream');
    expect(await linkSnapshot(page)).toMatchObject({
      mode: 'stream',
      path: 'stream',
      stream: 'open',
      subscriptionId: null,
    });

    const stocks: number[] = [];
    for (let i = 0; i < 10; i++) stocks.push(await restock(server.graphqlUrl, 'p1'));
    const together = await Promise.all(
      Array.from({ length: 10 }, () => restock(server.graphqlUrl, 'p1')),
    );
    // Each restock adds one: the order the server applied them is the order of the stocks.
    stocks.push(...together.sort((a, b) => a - b));

    expect(await waitForResults(page, stocks.length)).toEqual(
      stocks.map((stock) => ({ productId: 'p1', stock })),
    );
    expect(await textOf(page, 'stock')).toBe(String(stocks.at(-1)));
    expect(await textOf(page, 'list-stock-p1')).toBe(String(stocks.at(-1)));
    expect((await linkSnapshot(page)).registrations).toMatchObject([
      { lastSeq: stocks.length, held: 0, skipped: 0, deliveredTo: null },
    ]);
    expect((await store.listByTab(tabId)).map((r) => [r.id, r.subscriptionId, r.seq])).toEqual([
      [registrationIds[0], null, stocks.length],
    ]);
    expect(await textOf(page, 'status-pushes')).toBe('0');
    expect(pushService.stats().accepted).toBe(0);
  });

  it('keeps two tabs on their own streams, each with exactly its own product’s changes', async () => {
    const a = await openProduct(browser, server.url, 'p2', 'stream');
    const b = await openProduct(browser, server.url, 'p3', 'stream');
    opened.push(a, b);
    expect((await liveStats(a)).tabId).not.toBe((await liveStats(b)).tabId);
    const p2 = keepRestocking(server.graphqlUrl, 'p2', 20);
    const p3 = keepRestocking(server.graphqlUrl, 'p3', 20);
    await Promise.all([p2.more(15), p3.more(15)]);
    const [stocksA, stocksB] = await Promise.all([p2.stop(), p3.stop()]);

    expect(await waitForResults(a, stocksA.length)).toEqual(
      stocksA.map((stock) => ({ productId: 'p2', stock })),
    );
    expect(await waitForResults(b, stocksB.length)).toEqual(
      stocksB.map((stock) => ({ productId: 'p3', stock })),
    );
    for (const page of [a, b]) {
      expect((await liveStats(page)).mode).toBe('stream');
      expect((await linkSnapshot(page)).otherTab).toBe(0);
    }
  });
});
