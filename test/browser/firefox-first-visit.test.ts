import type { Browser, Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type InventoryServer, startInventoryServer } from '../../examples/inventory/server.js';
import { LinkErrorCode } from '../../link/index.js';
import { type PushService, startPushService } from '../../push-service/index.js';
import { launchFirefox } from './firefox.js';
import {
  closeTab,
  linkSnapshot,
  liveStats,
  openTabWith,
  type PushTap,
  restock,
  tapPushService,
  textOf,
  waitFor,
  waitForLive,
  waitForResults,
} from './helpers.js';

/*
 * A first-time visitor: Firefox's own permission defaults ("ask", or notifications blocked), no
 * prompt anybody answers. The page must be live at once on the stream, without asking for
 * anything, and get every change exactly once.
 */

/** Stock changes published per test: some one after the other, the rest all at once. */
const SEQUENTIAL = 10;
const CONCURRENT = 10;

/** Counts calls that could prompt, before the page's own scripts run. */
function countPrompts() {
  const calls = { subscribe: 0, requestPermission: 0 };
  (window as unknown as { __prompts: typeof calls }).__prompts = calls;
  const subscribe = PushManager.prototype.subscribe;
  PushManager.prototype.subscribe = function (this: PushManager, ...args) {
    calls.subscribe++;
    return subscribe.apply(this, args);
  };
  const requestPermission = Notification.requestPermission;
  Notification.requestPermission = (...args) => {
    calls.requestPermission++;
    return requestPermission.apply(Notification, args);
  };
}

const prompts = (page: Page) =>
  page.evaluate(
    () =>
      (window as unknown as { __prompts: { subscribe: number; requestPermission: number } })
        .__prompts,
  );

/** What the browser knows of push for this page: the permission and any push subscription. */
const pushState = (page: Page) =>
  page.evaluate(async () => {
    const registration = await navigator.serviceWorker.getRegistration();
    const subscription = (await registration?.pushManager.getSubscription()) ?? null;
    return { permission: Notification.permission, subscribed: subscription !== null };
  });

/**
 * Publishes {@link SEQUENTIAL} changes one after the other and then {@link CONCURRENT} at once.
 * @returns the stocks in the order the server published them
 */
async function publishChanges(graphqlUrl: string, productId: string): Promise<number[]> {
  const stocks: number[] = [];
  for (let i = 0; i < SEQUENTIAL; i++) stocks.push(await restock(graphqlUrl, productId));
  const together = await Promise.all(
    Array.from({ length: CONCURRENT }, () => restock(graphqlUrl, productId)),
  );
  // Each restock adds one: the order the server applied them is the order of the stocks.
  stocks.push(...together.sort((a, b) => a - b));
  return stocks;
}

describe.each([
  { permission: 'ask' as const, browserPermission: 'default' },
  { permission: 'denied' as const, browserPermission: 'denied' },
])(
  'the inventory example in Firefox for a first-time visitor (notifications $permission)',
  ({ permission, browserPermission }) => {
    let pushService: PushService;
    let server: InventoryServer;
    let browser: Browser;
    let tap: PushTap;
    const opened: Page[] = [];

    const open = async (productId: string) => {
      const page = await openTabWith(browser, `${server.url}#/product/${productId}`, countPrompts);
      opened.push(page);
      return page;
    };

    beforeAll(async () => {
      pushService = await startPushService({ port: 0 });
      server = await startInventoryServer({ pushService });
      browser = await launchFirefox({ pushServiceWsUrl: pushService.wsUrl, permission });
      tap = tapPushService(pushService);
    });

    afterAll(async () => {
      tap?.close();
      for (const page of opened) await closeTab(page);
      await browser?.close();
      await server?.close();
      await pushService?.close();
    });

    it('is live on the stream at once, without asking for anything', async () => {
      const page = await open('p1');

      const stats = await waitFor(
        async () => {
          const stats = await liveStats(page);
          return stats?.registration === 'live' && stats.mode === 'stream' ? stats : null;
        },
        { what: 'the page to be live on the stream', timeoutMs: 5_000 },
      );

      expect(stats.registrationIds).toHaveLength(1);
      expect(
        await page.$eval('[data-testid="status-mode"]', (e) => e.getAttribute('data-mode')),
      ).toBe('stream');
      const link = await linkSnapshot(page);
      expect(link).toMatchObject({ mode: 'stream', path: 'stream', stream: 'open' });
      expect(link.subscriptionId).toBeNull();
      expect(link.registrations.map((r) => r.deliveredTo)).toEqual([null]);
      expect(await prompts(page)).toEqual({ subscribe: 0, requestPermission: 0 });
      expect(await pushState(page)).toEqual({ permission: browserPermission, subscribed: false });
      expect(stats.pushError).toBeNull();
    });

    it('gets every stock change exactly once, in order, over the stream and never by push', async () => {
      const [page] = opened;
      if (!page) throw new Error('the first test opens the page');
      await waitForLive(page, 'p1', 'stream');

      const stocks = await publishChanges(server.graphqlUrl, 'p1');

      expect(await waitForResults(page, stocks.length)).toEqual(
        stocks.map((stock) => ({ productId: 'p1', stock })),
      );
      expect(await textOf(page, 'stock')).toBe(String(stocks.at(-1)));
      const [registration] = (await linkSnapshot(page)).registrations;
      expect(registration).toMatchObject({ lastSeq: stocks.length, held: 0, deliveredTo: null });
      expect(await textOf(page, 'status-pushes')).toBe('0');
      expect((await liveStats(page)).pushes).toBe(0);
      expect(tap.messages).toEqual([]);
      expect(pushService.stats().accepted).toBe(0);
      expect(await prompts(page)).toEqual({ subscribe: 0, requestPermission: 0 });
      expect(await pushState(page)).toEqual({ permission: browserPermission, subscribed: false });
    });

    if (permission === 'denied') {
      it('names the denial when asked to notify in the background, and stays on the stream', async () => {
        const [page] = opened;
        if (!page) throw new Error('the first test opens the page');
        const before = (await liveStats(page)).results.length;

        await page.click('[data-testid="enable-push"]');

        await page.waitForSelector('[data-testid="push-refusal"]', { visible: true });
        expect(await textOf(page, 'push-refusal')).toMatch(/blocked/);
        // The code sits in the status bar's details.
        await page.click('.status-details summary');
        await page.waitForSelector('[data-testid="status-push-error"]', { visible: true });
        expect(await textOf(page, 'status-push-error')).toBe(LinkErrorCode.PermissionDenied);
        expect(LinkErrorCode.PermissionDenied).toBe('WEB_PUSH_LINK_PERMISSION_DENIED');
        expect((await liveStats(page)).pushError?.code).toBe(LinkErrorCode.PermissionDenied);
        expect(await page.$('[data-testid="push-on"]')).toBeNull();

        const stocks = await publishChanges(server.graphqlUrl, 'p1');

        const results = await waitForResults(page, before + stocks.length);
        expect(results.slice(before)).toEqual(stocks.map((stock) => ({ productId: 'p1', stock })));
        const stats = await liveStats(page);
        expect(stats).toMatchObject({ mode: 'stream', pushes: 0 });
        expect(stats.registrationIds).toHaveLength(1);
        expect(
          await page.$eval('[data-testid="status-mode"]', (e) => e.getAttribute('data-mode')),
        ).toBe('stream');
        expect(await textOf(page, 'status-pushes')).toBe('0');
        expect(tap.messages).toEqual([]);
        // Blocked: the browser was never asked, and it has no push subscription.
        expect(await prompts(page)).toEqual({ subscribe: 0, requestPermission: 0 });
        expect(await pushState(page)).toEqual({ permission: 'denied', subscribed: false });
      });
    }
  },
);
