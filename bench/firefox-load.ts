import { existsSync } from 'node:fs';
import puppeteer, { type Browser } from 'puppeteer-core';
import { initialProducts, type Product } from '../examples/inventory/catalog.js';
import {
  firefoxGrantedPushPrefs,
  firefoxPushServicePrefs,
} from '../examples/inventory/firefox-prefs.js';
import { type InventoryServer, startInventoryServer } from '../examples/inventory/server.js';
import { startPushService } from '../push-service/index.js';
import type { LoadPath } from './firefox-load-probe.js';
import { measurePageLoad, type PageLoadSample } from './firefox-load-round.js';
import { compare, type Measurement, measurement, median, type SuiteResult } from './harness.js';

const FIREFOX_PATH = '/usr/bin/firefox-esr';
/** Measured rounds per visitor, after one warm-up round each. */
const ROUNDS = 9;
const WARMUP = 1;

/** The three visitors, one tab of each per round, in this order. */
const VISITORS = {
  /** Permission "ask", as on a first visit: live over the stream, no service worker. */
  stream: { prefix: 's', path: 'stream' },
  /** Permission granted, but no service worker or push subscription yet: subscribes from scratch. */
  'push-first': { prefix: 'f', path: 'push' },
  /** Permission granted, the worker and the push subscription kept from an earlier visit. */
  'push-returning': { prefix: 'r', path: 'push' },
} as const;
type Visitor = keyof typeof VISITORS;

/**
 * Page load in real Firefox (`firefox-esr` over WebDriver BiDi), the example's product page
 * against the local push service: navigation start → live, and navigation start → the first
 * result of a stock change published from Node once the page is live, for a first-time visitor
 * (stream) and for one who granted notifications (push), both from scratch and returning.
 *
 * Times come from inside the page, on its own clock (see `firefox-load-probe.ts`). One browser
 * per permission, started once; every round opens a new tab for a product no earlier tab
 * watched, so no registration of a closed tab receives the change.
 */
export async function run(): Promise<SuiteResult> {
  if (!existsSync(FIREFOX_PATH)) {
    throw new Error(`Firefox not found at ${FIREFOX_PATH}: apt-get install -y firefox-esr`);
  }
  const pushService = await startPushService({ port: 0 });
  const browsers: Browser[] = [];
  let server: InventoryServer | undefined;
  try {
    server = await startInventoryServer({ pushService, products: benchProducts() });
    // Started together (about 3 s each); one that did start is closed even if the other failed.
    const launched = await Promise.allSettled([
      launch(firefoxPushServicePrefs(pushService.wsUrl)),
      launch(firefoxGrantedPushPrefs(pushService.wsUrl)),
    ]);
    for (const outcome of launched) {
      if (outcome.status === 'fulfilled') browsers.push(outcome.value);
    }
    for (const outcome of launched) if (outcome.status === 'rejected') throw outcome.reason;
    const [askBrowser, grantedBrowser] = browsers as [Browser, Browser];
    return report(await measureRounds(server, { stream: askBrowser, push: grantedBrowser }));
  } finally {
    await Promise.allSettled(browsers.map((browser) => browser.close()));
    await server?.close();
    await pushService.close();
  }
}

/**
 * Every round, one tab per visitor in turn; the warm-up round is measured and dropped.
 * @param server - the inventory server
 * @param browsers - the browser of each path's visitors
 * @returns the samples per visitor
 */
async function measureRounds(
  server: InventoryServer,
  browsers: Record<LoadPath, Browser>,
): Promise<Record<Visitor, PageLoadSample[]>> {
  const samples: Record<Visitor, PageLoadSample[]> = {
    stream: [],
    'push-first': [],
    'push-returning': [],
  };
  const subscriptionIds = new Set<string>();
  for (let round = 0; round < WARMUP + ROUNDS; round++) {
    const load = (visitor: Visitor) =>
      measurePageLoad({
        browser: browsers[VISITORS[visitor].path],
        baseUrl: server.url,
        graphqlUrl: server.graphqlUrl,
        productId: `${VISITORS[visitor].prefix}${round}`,
        path: VISITORS[visitor].path,
        // The returning tab leaves the profile as the next round's first visit needs it.
        forgetPush: visitor === 'push-returning',
      });
    const stream = await load('stream');
    const first = await load('push-first');
    const returning = await load('push-returning');
    checkPushVisits(first, returning, subscriptionIds);
    if (round < WARMUP) continue;
    samples.stream.push(stream);
    samples['push-first'].push(first);
    samples['push-returning'].push(returning);
  }
  return samples;
}

function launch(prefs: Record<string, string | number | boolean>): Promise<Browser> {
  return puppeteer.launch({
    browser: 'firefox',
    executablePath: FIREFOX_PATH,
    headless: true,
    extraPrefsFirefox: prefs,
  });
}

/**
 * One product per visitor and round, named after the example's products so the page looks the
 * same, with a longer list in the sidebar.
 */
function benchProducts(): Product[] {
  const examples = initialProducts();
  return Object.values(VISITORS).flatMap(({ prefix }) =>
    Array.from({ length: WARMUP + ROUNDS }, (_, round) => ({
      ...(examples[round % examples.length] as Product),
      id: `${prefix}${round}`,
    })),
  );
}

/**
 * Both push visits of a round must be what they claim: the first one without a service worker
 * and with a new push subscription, the returning one with the worker and the same subscription.
 */
function checkPushVisits(first: PageLoadSample, returning: PageLoadSample, seen: Set<string>) {
  if (first.marks.controlled || !returning.marks.controlled) {
    throw new Error(
      `service worker at the start: first visit ${first.marks.controlled}, returning ${returning.marks.controlled}`,
    );
  }
  const firstId = first.marks.subscriptionId;
  if (!firstId || seen.has(firstId)) {
    throw new Error(`the first push visit reused a push subscription (${firstId})`);
  }
  if (returning.marks.subscriptionId !== firstId) {
    throw new Error(
      `the returning push visit did not reuse the push subscription (${firstId} → ${returning.marks.subscriptionId})`,
    );
  }
  seen.add(firstId);
}

function report(samples: Record<Visitor, PageLoadSample[]>): SuiteResult {
  const series = (
    name: string,
    visitor: Visitor,
    pick: (sample: PageLoadSample) => number,
  ): Measurement =>
    measurement(`firefox-load.${name}.${visitor}`, 'ms', samples[visitor].map(pick));

  const dcl = series('dom-content-loaded', 'stream', (s) => s.domContentLoaded);
  const liveStream = series('live', 'stream', (s) => s.marks.live);
  const liveAnyReturning = series('live-any-path', 'push-returning', (s) => s.marks.live);
  const liveAnyFirst = series('live-any-path', 'push-first', (s) => s.marks.live);
  const pushReturning = series('live', 'push-returning', (s) => s.reached);
  const pushFirst = series('live', 'push-first', (s) => s.reached);
  const move = (visitor: Visitor) =>
    series('move-to-push', visitor, (s) => s.reached - s.marks.live);
  const moveFirst = move('push-first');
  const moveReturning = move('push-returning');
  const resultStream = series('first-result', 'stream', (s) => s.marks.result);
  const resultReturning = series('first-result', 'push-returning', (s) => s.marks.result);
  const resultFirst = series('first-result', 'push-first', (s) => s.marks.result);
  const deliver = (visitor: Visitor) =>
    series('publish-to-result', visitor, (s) => s.marks.result - s.published);
  const deliverStream = deliver('stream');
  const deliverReturning = deliver('push-returning');
  const deliverFirst = deliver('push-first');

  const all = Object.values(samples).flat();
  const viaStream = (visitor: Visitor) =>
    samples[visitor].filter((s) => s.marks.liveVia === 'stream').length;
  const statusLag = median(all.map((s) => (s.marks.statsLive ?? Number.NaN) - s.marks.live));
  const notified = median(all.map((s) => s.published - s.reached));
  const mutation = median(all.map((s) => s.answered - s.published));
  const clockError = Math.max(...all.map((s) => s.clockErrorMs));

  return {
    suite: 'firefox-load',
    measurements: [
      dcl,
      liveStream,
      liveAnyFirst,
      pushFirst,
      liveAnyReturning,
      pushReturning,
      moveFirst,
      moveReturning,
      resultStream,
      resultFirst,
      resultReturning,
      deliverStream,
      deliverFirst,
      deliverReturning,
    ],
    comparisons: [
      compare(
        'page load → live on any path, visitor who granted (returning) / first-time visitor',
        liveAnyReturning,
        liveStream,
      ),
      compare(
        'page load → live by push, visitor who granted (returning) / first-time visitor by stream',
        pushReturning,
        liveStream,
      ),
      compare(
        'page load → live by push, visitor who granted (subscribing from scratch) / first-time visitor by stream',
        pushFirst,
        liveStream,
      ),
      compare(
        'page load → first live result, push (returning) / stream',
        resultReturning,
        resultStream,
      ),
      compare(
        'page load → first live result, push (subscribing from scratch) / stream',
        resultFirst,
        resultStream,
      ),
      compare('publish → result, push (returning) / stream', deliverReturning, deliverStream),
      compare(
        'publish → result, push (subscribing from scratch) / stream',
        deliverFirst,
        deliverStream,
      ),
    ],
    notes: [
      `${ROUNDS} rounds after ${WARMUP} warm-up, each round one new tab per visitor (stream, push-first, push-returning, in that order); two browsers started once (permission "ask" and granted), one product per tab and round so that no closed tab's registration gets the change.`,
      "Every time is in ms since the tab's navigation started, stamped inside the page (performance.now()): a setter on window.__inventory catches results the moment they are recorded, a setTimeout(0) loop (≈4 ms) checks the link's state. live = every registration on the stream with the stream open (mode stream), or every registration on the push subscription with the stream closed (mode push).",
      'The stock change is published from Node (POST /graphql restock) as soon as the page tells Node, through an exposed function, that it is live on its path: by push for the visitors who granted, so that their result comes by push.',
      `publish → result: Node's send time mapped onto the page's clock by an NTP-style probe after the round (worst bound ${clockError.toFixed(1)} ms, plus Firefox's 1 ms timer coarsening); it includes the mutation's HTTP request, whose answer reached Node after a median ${mutation.toFixed(1)} ms.`,
      `page load → first result therefore includes the hop that tells Node the page is live: Node sent the mutation a median ${notified.toFixed(1)} ms after the page was live on its path (puppeteer's exposed function over WebDriver BiDi).`,
      `Visitors who granted go live on the stream first, then move: live-any-path was on the stream in ${viaStream('push-first')}/${ROUNDS} first visits and ${viaStream('push-returning')}/${ROUNDS} returning visits; any other registered straight onto push.`,
      `push-first clears the push subscription and the service worker at the end of the previous round's returning visit, and is checked to get a new subscription; push-returning is checked to reuse it.`,
      `The status bar's registration 'live' (window.__inventory) trails the link's by a median ${statusLag.toFixed(0)} ms: the page polls the link every 250 ms.`,
      `p90 is not given: with ${ROUNDS} rounds it is the max, which each measurement reports.`,
    ],
  };
}
