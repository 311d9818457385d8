import type { PushSubscriptionData } from '../../../protocol/index.js';

/**
 * Settings the server writes into the page (`window.__INVENTORY_CONFIG__`), so that tests can
 * shorten the link's timings without a second build.
 */
export interface PageConfig {
  /** Passed to `webPushExchange` as `reloadGraceMs` when set. */
  reloadGraceMs?: number;
  /** Passed to `webPushExchange` as `renewIntervalMs` when set. */
  renewIntervalMs?: number;
  /**
   * A push subscription to use instead of asking the browser for one. Only for tests of
   * browsers that cannot subscribe offline (Chromium needs Google's push service): the tab still
   * registers its service worker and takes messages from it, which the test injects.
   */
  pushSubscription?: PushSubscriptionData;
}

/** Global the page config is written to. */
export const PAGE_CONFIG_GLOBAL = '__INVENTORY_CONFIG__';

/**
 * Reads the config the server wrote into the page.
 * @returns the config, empty when there is none
 */
export function readPageConfig(): PageConfig {
  const value = (globalThis as Record<string, unknown>)[PAGE_CONFIG_GLOBAL];
  return typeof value === 'object' && value !== null ? (value as PageConfig) : {};
}
