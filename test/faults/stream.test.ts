import { afterEach, describe, expect, it } from 'vitest';
import {
  type ChaosProxy,
  type ChaosProxyOptions,
  startChaosProxy,
} from '../support/chaos-proxy.js';
import { type Stack, startStack, waitFor } from '../support/stack.js';
import { openTab, type Watch } from '../support/tab.js';

/**
 * The stream under network faults: a proxy between the tab and the server cuts the connection
 * every few events, and delivers what the server writes in tiny, delayed pieces. The tab must
 * still hand urql every event exactly once, in order.
 */

let stack: Stack | undefined;
let proxy: ChaosProxy | undefined;
const cleanups: (() => unknown)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  await proxy?.close();
  proxy = undefined;
  await stack?.close();
  stack = undefined;
});

const EVENTS = 200;
const PRODUCTS = ['p1', 'p2', 'p3'];

async function run(faults: Omit<ChaosProxyOptions, 'upstream'>) {
  stack = await startStack();
  const { port } = new URL(stack.url);
  proxy = await startChaosProxy({ upstream: { host: '127.0.0.1', port: Number(port) }, ...faults });
  const url = `http://127.0.0.1:${proxy.port}/graphql`;
  // A visitor whose browser allows no push: everything comes over the stream.
  const tab = openTab(url, undefined, { gapWaitMs: 200, renewIntervalMs: 1_000 });
  const watches: Watch[] = PRODUCTS.map((product) => tab.watch(product));
  cleanups.push(() => {
    for (const watch of watches) watch.unsubscribe();
    tab.handle.dispose();
  });
  await waitFor(() => tab.handle.inspect().registrations.length === PRODUCTS.length, 'registered');
  await tab.whenMode('stream');

  for (let stock = 1; stock <= EVENTS; stock++) {
    // Straight to the server: the proxy only sits between the tab and the server.
    for (const product of PRODUCTS) await stack.setStock(product, stock);
    // Paced, so that the stream (not only the log after a cut) carries most of them: on a fast
    // machine an unpaced burst is over before the first reconnection.
    if (faults.cutEvery) await new Promise((resolve) => setTimeout(resolve, 15));
  }
  await waitFor(
    () => watches.every((watch) => watch.results.length >= EVENTS),
    `${EVENTS} results on each of ${PRODUCTS.length} registrations`,
    60_000,
  );
  // A stray duplicate would show up in this time.
  await new Promise((resolve) => setTimeout(resolve, 300));
  const want = Array.from({ length: EVENTS }, (_, i) => i + 1);
  for (const watch of watches) {
    expect(watch.results.filter((r) => r.error)).toEqual([]);
    expect(watch.stocks()).toEqual(want);
  }
  return proxy.stats;
}

describe('the stream under network faults: every event once, in order', () => {
  it('when the connection is cut every 25 events', async () => {
    const stats = await run({ cutEvery: 25, seed: 3 });
    // Cuts fall inside backlogs too; each reconnection resumed from the tab's positions. What a
    // cut stream had not carried yet came over the next one (or from the log).
    expect(stats.cuts).toBeGreaterThanOrEqual(5);
    expect(stats.events).toBeGreaterThanOrEqual(stats.cuts * 25);
  });

  it('when every chunk is split into pieces of 1 to 7 bytes, each delayed', async () => {
    const stats = await run({ maxPieceBytes: 7, maxDelayMs: 1, seed: 5 });
    expect(stats.cuts).toBe(0);
    // Events (lines, JSON, UTF-8) arrived split everywhere; the slow stream lagged, and the tab
    // filled from the log what its renewals said was missing, without a duplicate.
    expect(stats.events).toBeGreaterThanOrEqual(50);
    expect(stats.pieces).toBeGreaterThan(stats.events * 20);
  });

  it('when both happen at once', async () => {
    const stats = await run({ cutEvery: 20, maxPieceBytes: 11, maxDelayMs: 1, seed: 8 });
    expect(stats.cuts).toBeGreaterThanOrEqual(2);
    expect(stats.pieces).toBeGreaterThan(stats.events * 10);
  });
});
