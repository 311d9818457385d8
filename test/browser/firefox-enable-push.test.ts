import type { Browser, Page } from 'puppeteer-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type InventoryServer, startInventoryServer } from '../../examples/inventory/server.js';
import { type PushService, startPushService } from '../../push-service/index.js';
import { createMemoryStore } from '../../server/index.js';
import { launchFirefox } from './firefox.js';
import {
  closeTab,
  keepRestocking,
  linkSnapshot,
  liveStats,
  openProduct,
  openTabWith,
  type PushTap,
  pushChannelOf,
  recordPushes,
  tapPushService,
  textOf,
  waitFor,
  waitForLive,
  waitForResults,
} from './helpers.js';

/*
 * A visitor who turns push on: the page starts on the stream (Firefox's permission is "ask"),
 * the notification permission is granted during the run (WebDriver BiDi
 * `permissions.setPermission`, as a person answering the prompt would), and "Notify me in the
 * background" moves the tab onto Web Push while stock changes keep coming. Then push stops
 * working, and the page goes back to the stream by itself. Every change exactly once, in order,
 * throughout.
 */

/** Renewals come often, so that a renewal reporting a registration `streamed` comes soon. */
const RENEW_INTERVAL_MS = 500;

let pushService: PushService;
let server: InventoryServer;
let browser: Browser;
let origin: string;
let tap: PushTap | undefined;
/** Firefox's `unregister` frames (code 202: permission revoked). */
const unregisters: { channelID: string; code: number }[] = [];
const opened: Page[] = [];

const setNotifications = (state: 'granted' | 'denied' | 'prompt') =>
  browser
    .defaultBrowserContext()
    .setPermission(origin, { permission: { name: 'notifications' }, state });

const modeShown = (page: Page) =>
  page.$eval('[data-testid="status-mode"]', (element) => element.getAttribute('data-mode'));

/** Waits until every registration of the page is delivered over the open stream. */
const waitForStream = (page: Page) =>
  waitFor(
    async () => {
      const link = await linkSnapshot(page);
      return (
        link.mode === 'stream' &&
        link.path === 'stream' &&
        link.stream === 'open' &&
        link.registrations.length > 0 &&
        link.registrations.every((r) => r.deliveredTo === null)
      );
    },
    { what: 'the page to be back on the stream' },
  );

/** The registrations the server holds for the page's tab, data-only and background. */
async function registrationsOf(page: Page) {
  const records = await server.store.listByTab((await liveStats(page)).tabId);
  return {
    data: records.filter((record) => !record.background),
    background: records.filter((record) => record.background),
  };
}

beforeAll(async () => {
  pushService = await startPushService({ port: 0 });
  pushService.on('unregister', ({ channelID, code }) => unregisters.push({ channelID, code }));
  server = await startInventoryServer({
    pushService,
    store: createMemoryStore(),
    page: { renewIntervalMs: RENEW_INTERVAL_MS },
  });
  origin = new URL(server.url).origin;
  browser = await launchFirefox({ pushServiceWsUrl: pushService.wsUrl, permission: 'ask' });
});

afterAll(async () => {
  for (const page of opened) await closeTab(page);
  await browser?.close();
  await server?.close();
  await pushService?.close();
});

afterEach(() => {
  tap?.close();
  tap = undefined;
});

describe('the inventory example in Firefox when a visitor turns push on and push later stops', () => {
  it('moves from the stream to Web Push on "Notify me in the background", with every change exactly once across the switch', async () => {
    const page = await openProduct(browser, server.url, 'p1', 'stream');
    opened.push(page);
    expect(await page.evaluate(() => Notification.permission)).toBe('default');
    await setNotifications('granted');
    expect(await page.evaluate(() => Notification.permission)).toBe('granted');
    // Granted, but nobody asked for push yet: the page is still on the stream.
    expect((await linkSnapshot(page)).path).toBe('stream');
    tap = tapPushService(pushService);
    const restocker = keepRestocking(server.graphqlUrl, 'p1');
    await restocker.more(5);

    const atClick = restocker.stocks.length;
    await page.click('[data-testid="enable-push"]');

    await page.waitForSelector('[data-testid="push-on"]', { visible: true });
    const pushed = await recordPushes(page);
    // The data-only registration and the background alert, both on the push subscription.
    const { data, background } = await waitFor(
      async () => {
        const link = await linkSnapshot(page);
        const found = await registrationsOf(page);
        return link.mode === 'push' &&
          link.stream === 'closed' &&
          link.registrations.length === 2 &&
          link.registrations.every((r) => r.deliveredTo === link.subscriptionId) &&
          found.data.length === 1 &&
          found.background.length === 1
          ? found
          : null;
      },
      { what: 'both registrations to be delivered by push' },
    );
    const [own] = data;
    if (!own) throw new Error('no data-only registration');
    const link = await linkSnapshot(page);
    expect(own.subscriptionId).toBe(link.subscriptionId);
    expect(background[0]?.subscriptionId).toBe(link.subscriptionId);
    // From here on, nothing reaches the page but pushes.
    const switchedAt = (await server.store.getRegistration(own.id))?.seq ?? 0;
    // Ten changes past the switch. A restock in flight can already count in `switchedAt` (its
    // event is published before its answer comes back), so count from the seq, not the answers.
    await restocker.more(Math.max(0, switchedAt + 10 - restocker.stocks.length));
    const stocks = await restocker.stop();

    expect(await waitForResults(page, stocks.length)).toEqual(
      stocks.map((stock) => ({ productId: 'p1', stock })),
    );
    const lastSeq = (await server.store.getRegistration(own.id))?.seq ?? 0;
    expect(lastSeq).toBe(stocks.length);
    expect(lastSeq - switchedAt).toBeGreaterThanOrEqual(10);
    // Changes kept coming while the tab moved.
    expect(switchedAt).toBeGreaterThan(atClick);
    // Every change after the switch came by push, for this tab's own registration.
    const ownPushes = await waitFor(
      async () => {
        const seqs = (await pushed()).filter(([reg]) => reg === own.id).map(([, seq]) => seq);
        return seqs.filter((seq) => seq > switchedAt).length >= lastSeq - switchedAt ? seqs : null;
      },
      { what: 'pushes of every change after the switch' },
    );
    const afterSwitch = Array.from({ length: lastSeq - switchedAt }, (_, i) => switchedAt + i + 1);
    expect(ownPushes.filter((seq) => seq > switchedAt)).toEqual(afterSwitch);
    // The push service carried them on the page's channel, and Firefox acked each with 100.
    const channel = await pushChannelOf(page);
    expect(channel).not.toBeNull();
    const codes = await tap.settled(tap.messages.length);
    expect(tap.messages.length).toBeGreaterThanOrEqual(2 * afterSwitch.length);
    expect(new Set(tap.messages.map((m) => m.channelID))).toEqual(new Set([channel]));
    expect(new Set(codes.map(([, code]) => code))).toEqual(new Set([100]));
    expect(await modeShown(page)).toBe('push');
    expect(Number(await textOf(page, 'status-pushes'))).toBeGreaterThanOrEqual(afterSwitch.length);
    expect((await liveStats(page)).pushError).toBeNull();
  });

  it('returns to the stream by itself when the permission is revoked, losing and repeating nothing', async () => {
    const [page] = opened;
    if (!page) throw new Error('the first test opens the page');
    const channel = await pushChannelOf(page);
    const before = (await liveStats(page)).results.length;
    const restocker = keepRestocking(server.graphqlUrl, 'p1');
    await restocker.more(5);

    await setNotifications('denied');

    await waitForStream(page);
    await restocker.more(10);
    const stocks = await restocker.stop();

    const results = await waitForResults(page, before + stocks.length);
    expect(results.slice(before)).toEqual(stocks.map((stock) => ({ productId: 'p1', stock })));
    expect(await page.evaluate(() => Notification.permission)).toBe('denied');
    // Firefox told the push service the permission was revoked.
    expect(unregisters).toContainEqual({ channelID: channel, code: 202 });
    const { data, background } = await registrationsOf(page);
    expect([...data, ...background].map((record) => record.subscriptionId)).toEqual([null, null]);
    expect(await modeShown(page)).toBe('stream');
    expect((await linkSnapshot(page)).subscriptionId).toBeNull();
    await closeTab(page);
  });

  it('returns to the stream when the push subscription dies and the page is not told: renewals report the registrations streamed', async () => {
    // A browser whose Permissions API does not know notifications (older Safari): the page
    // cannot hear a revocation, only the server can, from the push service's 410.
    await setNotifications('granted');
    const page = await openTabWith(browser, `${server.url}#/product/p2`, () => {
      const query = navigator.permissions.query.bind(navigator.permissions);
      navigator.permissions.query = (descriptor) =>
        descriptor.name === 'notifications'
          ? Promise.reject(new TypeError('notifications is not a permission name here'))
          : query(descriptor);
      // What the renewals answer, to tell how the page learned that push had stopped.
      const streamed: string[][] = [];
      (window as unknown as { __streamed: string[][] }).__streamed = streamed;
      const fetch = window.fetch.bind(window);
      window.fetch = async (input, init) => {
        const response = await fetch(input, init);
        if (String(input instanceof Request ? input.url : input).endsWith('/push/renew')) {
          void response
            .clone()
            .json()
            .then((body: { streamed?: string[] }) => {
              if (body.streamed?.length) streamed.push(body.streamed);
            });
        }
        return response;
      };
    });
    opened.push(page);
    // The permission is granted already: the page moves to push by itself, without a click.
    await waitForLive(page, 'p2', 'push');
    const channel = await pushChannelOf(page);
    const { subscriptionId } = await linkSnapshot(page);
    const before = (await liveStats(page)).results.length;
    const gone = pushService.stats().rejected[410] ?? 0;
    const restocker = keepRestocking(server.graphqlUrl, 'p2');
    await restocker.more(5);

    await setNotifications('denied');

    // Firefox unregisters (202); the next push is answered 410; the server deletes the push
    // subscription and puts the registration on the stream; a renewal reports it `streamed`.
    await waitFor(() => unregisters.some((u) => u.channelID === channel && u.code === 202), {
      what: 'Firefox to unregister the channel',
    });
    await waitFor(() => (pushService.stats().rejected[410] ?? 0) > gone, {
      what: 'the push service to answer 410',
    });
    await waitForStream(page);
    await restocker.more(10);
    const stocks = await restocker.stop();

    const results = await waitForResults(page, before + stocks.length);
    expect(results.slice(before)).toEqual(stocks.map((stock) => ({ productId: 'p2', stock })));
    const [registrationId] = (await liveStats(page)).registrationIds;
    const streamed = await page.evaluate(
      () => (window as unknown as { __streamed: string[][] }).__streamed,
    );
    expect(streamed.flat()).toContain(registrationId);
    expect(subscriptionId).not.toBeNull();
    if (subscriptionId) expect(await server.store.getSubscription(subscriptionId)).toBeNull();
    const { data } = await registrationsOf(page);
    expect(data.map((record) => [record.subscriptionId, record.seq])).toEqual([
      [null, stocks.length],
    ]);
    expect(await modeShown(page)).toBe('stream');
    await closeTab(page);
  });
});
