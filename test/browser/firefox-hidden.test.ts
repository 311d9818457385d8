import type { Browser, Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type InventoryServer, startInventoryServer } from '../../examples/inventory/server.js';
import { type PushService, startPushService } from '../../push-service/index.js';
import { createMemoryStore, type Store } from '../../server/index.js';
import { launchFirefox } from './firefox.js';
import {
  closeTab,
  keepRestocking,
  linkSnapshot,
  liveStats,
  openTabInFront,
  type PushTap,
  pushChannelOf,
  recordPushes,
  restock,
  tapPushService,
  textOf,
  visibilityOf,
  waitFor,
  waitForLive,
  waitForResults,
} from './helpers.js';

/*
 * A tab behind another tab of its window is hidden: it tells the server in its renewal, and the
 * server logs its data-only registrations' messages without pushing them (browsers punish pushes
 * that reach no visible page). Shown again, the tab catches up from the log.
 */

/** How long the product page stays behind the other tab. */
const HIDDEN_FOR_MS = 30_000;
/** Pause between stock changes while it is hidden. */
const PUBLISH_EVERY_MS = 500;

let pushService: PushService;
let store: Store;
let server: InventoryServer;
let browser: Browser;
/** A tab of an ordinary window (not a popup), so that other tabs can go in front of the pages. */
let opener: Page;
let tap: PushTap | undefined;
const opened: Page[] = [];

beforeAll(async () => {
  pushService = await startPushService({ port: 0 });
  store = createMemoryStore();
  server = await startInventoryServer({ pushService, store });
  browser = await launchFirefox({ pushServiceWsUrl: pushService.wsUrl, permission: 'granted' });
  opener = await browser.newPage();
});

afterAll(async () => {
  tap?.close();
  for (const page of opened.reverse()) await closeTab(page);
  await browser?.close();
  await server?.close();
  await pushService?.close();
});

describe('the inventory example in Firefox with the product page in a hidden tab', () => {
  it(
    'pushes nothing for the data-only registration while the tab is hidden, and the tab catches up on every change once shown',
    async () => {
      const page = await openTabInFront(opener, `${server.url}#/product/p1`);
      opened.push(page);
      const { registrationIds } = await waitForLive(page, 'p1', 'push');
      const [registrationId] = registrationIds;
      if (!registrationId) throw new Error('no registration');
      expect(await visibilityOf(page)).toBe('visible');
      const registration = await store.getRegistration(registrationId);
      expect(registration).toMatchObject({ background: false, held: false });
      const channel = await pushChannelOf(page);
      const pushed = await recordPushes(page);

      // A change while visible comes by push.
      const stocks = [await restock(server.graphqlUrl, 'p1')];
      await waitFor(async () => (await pushed()).length === 1, { what: 'the first push' });

      const front = await openTabInFront(page, '/about.html');
      opened.push(front);
      expect(await visibilityOf(page)).toBe('hidden');
      expect(await visibilityOf(front)).toBe('visible');
      await waitFor(async () => (await store.getRegistration(registrationId))?.held === true, {
        what: 'the server to hold the hidden tab’s registration',
      });
      const pushesBefore = (await liveStats(page)).pushes;
      tap = tapPushService(pushService);
      const restocker = keepRestocking(server.graphqlUrl, 'p1', PUBLISH_EVERY_MS);
      await new Promise((resolve) => setTimeout(resolve, HIDDEN_FOR_MS));
      stocks.push(...(await restocker.stop()));

      // Every change was logged, none pushed: the push service got nothing at all.
      const held = await store.getRegistration(registrationId);
      expect(held).toMatchObject({ held: true, seq: stocks.length });
      expect(stocks.length).toBeGreaterThan(20);
      expect(tap.messages).toEqual([]);
      expect(await visibilityOf(page)).toBe('hidden');
      expect((await liveStats(page)).pushes).toBe(pushesBefore);

      await closeTab(front);

      expect(await visibilityOf(page)).toBe('visible');
      expect(await waitForResults(page, stocks.length)).toEqual(
        stocks.map((stock) => ({ productId: 'p1', stock })),
      );
      await waitFor(async () => (await store.getRegistration(registrationId))?.held === false, {
        what: 'the server to push to the tab again',
      });
      expect(tap.messages).toEqual([]);
      // Pushed again from here on.
      stocks.push(await restock(server.graphqlUrl, 'p1'));
      expect(await waitForResults(page, stocks.length)).toEqual(
        stocks.map((stock) => ({ productId: 'p1', stock })),
      );
      await waitFor(
        async () =>
          (await pushed()).some(([reg, seq]) => reg === registrationId && seq === stocks.length),
        { what: 'the change after the tab was shown to come by push' },
      );
      expect((await tap.settled(1)).map(([, code]) => code)).toEqual([100]);
      expect(tap.messages.map((m) => m.channelID)).toEqual([channel]);
      expect((await pushed()).map(([, seq]) => seq)).toEqual([1, stocks.length]);
      expect(await textOf(page, 'status-pushes')).toBe('2');
      const link = await linkSnapshot(page);
      expect(link.registrations).toMatchObject([
        { registrationId, lastSeq: stocks.length, held: 0, deliveredTo: link.subscriptionId },
      ]);
      await closeTab(page);
    },
    HIDDEN_FOR_MS + 30_000,
  );

  it('keeps pushing the background alert while the tab is hidden, and holds only the data-only registration', async () => {
    const page = await openTabInFront(opener, `${server.url}#/product/p2`);
    opened.push(page);
    await waitForLive(page, 'p2', 'push');
    // Push is on already: "Notify me in the background" adds the background alert.
    await page.click('[data-testid="enable-push"]');
    await page.waitForSelector('[data-testid="push-on"]', { visible: true });
    const records = await waitFor(
      async () => {
        const records = await store.listByTab((await liveStats(page)).tabId);
        return records.length === 2 ? records : null;
      },
      { what: 'the background alert to be registered' },
    );
    const data = records.find((record) => !record.background);
    const alert = records.find((record) => record.background);
    if (!data || !alert) throw new Error('expected a data-only and a background registration');
    const pushed = await recordPushes(page);

    const front = await openTabInFront(page, '/about.html');
    opened.push(front);
    expect(await visibilityOf(page)).toBe('hidden');
    await waitFor(async () => (await store.getRegistration(data.id))?.held === true, {
      what: 'the server to hold the data-only registration',
    });
    expect((await store.getRegistration(alert.id))?.held).toBe(false);
    tap = tapPushService(pushService);
    const stocks: number[] = [];
    for (let i = 0; i < 5; i++) stocks.push(await restock(server.graphqlUrl, 'p2'));

    // Only the alert's five changes reach the push service, and the hidden page gets them.
    expect((await tap.settled(5)).map(([, code]) => code)).toEqual([100, 100, 100, 100, 100]);
    await waitFor(async () => (await pushed()).length === 5, { what: 'five pushes on the page' });
    expect(await pushed()).toEqual([1, 2, 3, 4, 5].map((seq) => [alert.id, seq]));
    expect(await store.getRegistration(data.id)).toMatchObject({ held: true, seq: 5 });
    expect(tap.messages).toHaveLength(5);
    // The data-only subscription's results wait for the page to be shown.
    expect((await liveStats(page)).results).toEqual([]);

    await closeTab(front);

    expect(await waitForResults(page, stocks.length)).toEqual(
      stocks.map((stock) => ({ productId: 'p2', stock })),
    );
    expect(await store.getRegistration(data.id)).toMatchObject({ held: false });
    expect(tap.messages).toHaveLength(5);
    await closeTab(page);
  });
});
