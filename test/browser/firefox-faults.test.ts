import type { Browser, Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type InventoryServer, startInventoryServer } from '../../examples/inventory/server.js';
import { type Envelope, MESSAGE_SOURCE } from '../../protocol/index.js';
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
  waitForResults,
} from './helpers.js';

/** Stock changes published, one after the other. */
const EVENTS = 40;
/** Fixed, so that a failing run injects the same faults again. */
const SEED = 7;
/** Renewals report the server's last seq: they find a gap that ends with a dropped push. */
const RENEW_INTERVAL_MS = 500;

/** A store that remembers every envelope the message log served to a link. */
function recordLogReads(store: Store): { store: Store; served: Envelope[]; reads: () => number } {
  const served: Envelope[] = [];
  let reads = 0;
  return {
    served,
    reads: () => reads,
    store: {
      ...store,
      async getMessages(registrationId, afterSeq, limit) {
        const envelopes = await store.getMessages(registrationId, afterSeq, limit);
        reads++;
        served.push(...envelopes);
        return envelopes;
      },
    },
  };
}

/** The seqs of this tab's envelopes as the service worker posts them to the page, one per push. */
async function recordPushedSeqs(page: Page, tabId: string): Promise<() => Promise<number[]>> {
  await page.evaluate(
    (source, tab) => {
      const seqs: number[] = [];
      (window as unknown as { __pushedSeqs: number[] }).__pushedSeqs = seqs;
      navigator.serviceWorker.addEventListener('message', (event: MessageEvent) => {
        const data = event.data as { source?: unknown; kind?: unknown; envelope?: Envelope };
        if (data?.source === source && data.kind === 'envelope' && data.envelope?.tab === tab) {
          seqs.push(data.envelope.seq);
        }
      });
    },
    MESSAGE_SOURCE,
    tabId,
  );
  return () =>
    page.evaluate(() => [...(window as unknown as { __pushedSeqs: number[] }).__pushedSeqs]);
}

let pushService: PushService;
let server: InventoryServer;
let browser: Browser;
let page: Page | undefined;
let tap: PushTap | undefined;
const log = recordLogReads(createMemoryStore());

beforeAll(async () => {
  pushService = await startPushService({
    port: 0,
    faults: { drop: 0.3, duplicate: 0.3, seed: SEED },
  });
  server = await startInventoryServer({
    pushService,
    store: log.store,
    page: { renewIntervalMs: RENEW_INTERVAL_MS },
  });
  browser = await launchFirefox({ pushServiceWsUrl: pushService.wsUrl });
});

afterAll(async () => {
  tap?.close();
  if (page) await closeTab(page);
  await browser?.close();
  await server?.close();
  await pushService?.close();
});

describe('the inventory example in Firefox behind a push service that drops and duplicates 30%', () => {
  it('hands urql every stock change exactly once and in order, filling dropped pushes from the log', async () => {
    page = await openProduct(browser, server.url, 'p1');
    const { tabId } = await liveStats(page);
    const pushedSeqs = await recordPushedSeqs(page, tabId);
    tap = tapPushService(pushService);

    const stocks: number[] = [];
    for (let i = 0; i < EVENTS; i++) stocks.push(await restock(server.graphqlUrl, 'p1'));

    expect(await waitForResults(page, EVENTS, 20_000)).toEqual(
      stocks.map((stock) => ({ productId: 'p1', stock })),
    );

    // The faults really happened: some pushes never left the push service, others twice.
    const stats = pushService.stats();
    const dropped = tap.messages.filter((m) => m.dropped).length;
    const copies = tap.messages.filter((m) => m.duplicateOf !== null).length;
    expect(stats.accepted).toBe(EVENTS);
    expect(stats.dropped).toBe(dropped);
    expect(stats.duplicated).toBe(copies);
    expect(dropped).toBeGreaterThan(0);
    expect(copies).toBeGreaterThan(0);
    const sent = EVENTS - dropped + copies;
    expect(stats.delivered).toBe(sent);
    // Firefox took every notification it got, copies included.
    await waitFor(() => pushService.stats().acked[100] === sent, {
      what: `Firefox to ack ${sent} notifications`,
    });
    expect(pushService.stats().acked).toEqual({ 100: sent });

    // The page saw each delivered push (copies twice); the seqs no push carried came from the log.
    const pushed = await waitFor(
      async () => {
        const seqs = await pushedSeqs();
        return seqs.length === sent ? seqs : null;
      },
      { what: `the page to see ${sent} pushes` },
    );
    const all = Array.from({ length: EVENTS }, (_, i) => i + 1);
    const missing = all.filter((seq) => !pushed.includes(seq));
    expect(missing).toHaveLength(dropped);
    const fromLog = new Set(log.served.map((envelope) => envelope.seq));
    expect(missing.filter((seq) => !fromLog.has(seq))).toEqual([]);

    expect((await linkSnapshot(page)).registrations).toMatchObject([
      { lastSeq: EVENTS, held: 0, skipped: 0 },
    ]);
    console.info(
      `faults: ${dropped} dropped, ${copies} duplicated of ${EVENTS}; ${sent} notifications; ` +
        `missing seqs [${missing.join(', ')}] filled by ${log.reads()} log reads (${log.served.length} envelopes)`,
    );
  });
});
