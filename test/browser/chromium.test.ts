import type { Browser, CDPSession, Page } from 'puppeteer-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type InventoryServer, startInventoryServer } from '../../examples/inventory/server.js';
import { EXAMPLE_VAPID_SUBJECT } from '../../examples/inventory/vapid-file.js';
import { type Envelope, envelopeId, parseEnvelope } from '../../protocol/index.js';
import {
  createUserAgent,
  type PushService,
  startPushService,
  type UserAgent,
} from '../../push-service/index.js';
import { createMemoryStore, generateVapidKeys } from '../../server/index.js';
import { launchChromium } from './chromium.js';
import {
  closeTab,
  linkSnapshot,
  liveStats,
  openProduct,
  restock,
  waitFor,
  waitForResults,
} from './helpers.js';

/*
 * Chromium cannot create a push subscription offline (its push service is Google's). So the
 * subscription is made by the push service's Node user agent and handed to the page; the server
 * pushes to it as to any browser; the test decrypts what arrives there and injects the plaintext
 * into Chromium's service worker with the DevTools Protocol (`ServiceWorker.deliverPushMessage`).
 * Everything after the push event (service worker, tabs, link, cache, view) is Chromium's own.
 */

let pushService: PushService;
let userAgent: UserAgent;
let server: InventoryServer;
let browser: Browser;
/** Plaintexts the server pushed, by registration id, in arrival order. */
const pushed = new Map<string, string[]>();
const opened: Page[] = [];

const open = async (productId: string) => {
  const page = await openProduct(browser, server.url, productId);
  opened.push(page);
  return page;
};

/** The service worker registration of the example's origin, as the DevTools Protocol names it. */
async function serviceWorkerOf(page: Page): Promise<{ cdp: CDPSession; registrationId: string }> {
  const cdp = await page.createCDPSession();
  const found = new Promise<string>((resolve) => {
    cdp.on('ServiceWorker.workerRegistrationUpdated', ({ registrations }) => {
      const live = registrations.find((r) => r.scopeURL === server.url && !r.isDeleted);
      if (live) resolve(live.registrationId);
    });
  });
  await cdp.send('ServiceWorker.enable');
  const registrationId = await Promise.race([
    found,
    new Promise<never>((_, reject) =>
      setTimeout(() => reject(new Error('no service worker registration')), 10_000),
    ),
  ]);
  return { cdp, registrationId };
}

/** Fires a `push` event with `data` in the origin's service worker. */
async function deliver(page: Page, data: string): Promise<void> {
  const { cdp, registrationId } = await serviceWorkerOf(page);
  try {
    await cdp.send('ServiceWorker.deliverPushMessage', {
      origin: new URL(server.url).origin,
      registrationId,
      data,
    });
  } finally {
    await cdp.detach();
  }
}

/** Waits for `count` pushes of a registration at the Node user agent. */
const pushedTo = (registrationId: string, count: number) =>
  waitFor(
    () => {
      const list = pushed.get(registrationId) ?? [];
      return list.length >= count ? list.slice(0, count) : null;
    },
    { what: `${count} pushes for ${registrationId}` },
  );

const registrationOf = async (page: Page) => {
  const [registrationId] = (await liveStats(page)).registrationIds;
  if (!registrationId) throw new Error('the page holds no registration');
  return registrationId;
};

beforeAll(async () => {
  pushService = await startPushService({ port: 0 });
  const vapid = { subject: EXAMPLE_VAPID_SUBJECT, ...generateVapidKeys() };
  userAgent = createUserAgent({ serviceUrl: pushService.wsUrl });
  const pushSubscription = await userAgent.subscribe(vapid.publicKey);
  userAgent.onMessage((bytes) => {
    const text = new TextDecoder().decode(bytes);
    const envelope = parseEnvelope(text);
    if (!envelope) return;
    pushed.set(envelope.reg, [...(pushed.get(envelope.reg) ?? []), text]);
  });
  server = await startInventoryServer({
    pushService,
    store: createMemoryStore(),
    vapid,
    page: { pushSubscription },
  });
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
  await userAgent?.close();
  await pushService?.close();
});

afterEach(async () => {
  for (const page of opened.splice(0)) await closeTab(page);
});

describe('the inventory example in Chromium, with pushes injected over the DevTools Protocol', () => {
  it('hands an envelope to the exchange of the tab it belongs to, and to no other tab', async () => {
    const a = await open('p1');
    const b = await open('p2');
    const registrationA = await registrationOf(a);
    expect((await linkSnapshot(a)).subscriptionId).toBe((await linkSnapshot(b)).subscriptionId);

    const stock = await restock(server.graphqlUrl, 'p1', 2);
    const [text] = await pushedTo(registrationA, 1);
    await deliver(a, text ?? '');

    expect(await waitForResults(a, 1)).toEqual([{ productId: 'p1', stock }]);
    await waitFor(
      async () => (await a.$eval('[data-testid="stock"]', (e) => e.textContent)) === String(stock),
      { what: 'the page to render the pushed stock' },
    );
    await waitFor(async () => (await linkSnapshot(b)).otherTab === 1, {
      what: 'the other tab to drop the envelope',
    });
    expect((await liveStats(b)).results).toEqual([]);
  });

  it('emits each event once and in order when pushes arrive duplicated and out of order', async () => {
    const page = await open('p3');
    const registrationId = await registrationOf(page);
    const stocks = [
      await restock(server.graphqlUrl, 'p3'),
      await restock(server.graphqlUrl, 'p3'),
      await restock(server.graphqlUrl, 'p3'),
    ];
    const [first, second, third] = await pushedTo(registrationId, 3);

    for (const text of [first, first, third, second, third, second])
      await deliver(page, text ?? '');

    expect(await waitForResults(page, 3)).toEqual(
      stocks.map((stock) => ({ productId: 'p3', stock })),
    );
    // Six pushes reached the tab; the link handed on three.
    await waitFor(async () => (await liveStats(page)).pushes === 6, { what: 'six pushes' });
    expect((await liveStats(page)).results).toHaveLength(3);
    const [snapshot] = (await linkSnapshot(page)).registrations;
    expect(snapshot?.lastSeq).toBe(3);
  });

  it('drops a hand-built envelope for another tab, and passes a push that is not ours to onPush', async () => {
    const page = await open('p4');
    const registrationId = await registrationOf(page);
    const foreign: Envelope = {
      v: 1,
      id: envelopeId(registrationId, 1),
      tab: 'another-tab-id-000000',
      reg: registrationId,
      seq: 1,
      type: 'next',
      payload: { data: { stockChanged: { __typename: 'Product', id: 'p4', stock: 999 } } },
    };

    await deliver(page, JSON.stringify(foreign));
    await deliver(page, JSON.stringify({ text: 'Espresso machines are back in stock' }));

    await waitFor(async () => (await liveStats(page)).announcements.length === 1, {
      what: 'the announcement from onPush',
    });
    expect((await liveStats(page)).announcements).toEqual([
      { text: 'Espresso machines are back in stock' },
    ]);
    expect(await page.$eval('[data-testid="announcement"] span', (e) => e.textContent)).toBe(
      'Espresso machines are back in stock',
    );
    expect((await linkSnapshot(page)).otherTab).toBe(1);
    expect((await liveStats(page)).results).toEqual([]);
    expect(await page.$eval('[data-testid="stock"]', (e) => e.textContent)).not.toBe('999');
  });
});
