import { performance } from 'node:perf_hooks';
import type { Page } from 'puppeteer-core';

/** How Node's clock maps onto a page's. */
export interface PageClock {
  /** Add to Node's `performance.now()` to get the page's `performance.now()`. */
  offsetMs: number;
  /** Half the round trip of the probe the offset came from: the most it can be off by. */
  errorMs: number;
}

/**
 * Measures the offset between Node's `performance.now()` and a page's, NTP-style: the page's
 * reading is taken to be halfway through the round trip, and the probe with the shortest round
 * trip wins.
 * @param page - a loaded page
 * @param probes - how many round trips to try
 * @returns the offset and its error bound
 * @remarks Both clocks are monotonic, so one measurement holds for the page's life. Firefox
 * coarsens `performance.now()` to 1 ms, which adds up to 1 ms to the error.
 */
export async function measurePageClock(page: Page, probes = 7): Promise<PageClock> {
  let best: PageClock = { offsetMs: 0, errorMs: Number.POSITIVE_INFINITY };
  for (let i = 0; i < probes; i++) {
    const sent = performance.now();
    const pageNow = await page.evaluate(() => performance.now());
    const received = performance.now();
    const errorMs = (received - sent) / 2;
    if (errorMs < best.errorMs) best = { offsetMs: pageNow - (sent + errorMs), errorMs };
  }
  return best;
}
