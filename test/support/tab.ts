import { Client, fetchExchange, type OperationResult } from '@urql/core';
import { pipe, subscribe } from 'wonka';
import type { ClientMode } from '../../link/index.js';
import { type webPushExchange, webPushExchangeWithHandle } from '../../link/urql/index.js';
import type { PushTransport } from '../../protocol/index.js';
import { waitForMode } from './mode.js';

export const STOCK_CHANGED = /* GraphQL */ `
  subscription StockChanged($productId: ID!) {
    stockChanged(productId: $productId) {
      id
      stock
    }
  }
`;

/** What a subscription yielded so far, and how to stop it. */
export interface Watch {
  results: OperationResult[];
  stocks(): number[];
  unsubscribe(): void;
}

/**
 * One browser tab in Node: an urql Client whose subscriptions go over Web Push through
 * `transport` (the Node user agent) once it has moved there, or over the stream without one;
 * everything else over fetch.
 */
export function openTab(
  url: string,
  transport: PushTransport | undefined,
  options: Partial<Parameters<typeof webPushExchange>[0]> = {},
) {
  const handle = webPushExchangeWithHandle({
    url,
    ...(transport ? { transport } : {}),
    storage: null,
    ...options,
  } as Parameters<typeof webPushExchange>[0]);
  const client = new Client({ url, exchanges: [handle.exchange, fetchExchange] });
  return {
    client,
    handle,
    watch: (productId: string): Watch => collect(client, productId),
    /** Resolves once the tab's mode is `mode` (e.g. `push`: events go by Web Push from now). */
    whenMode: (mode: ClientMode, timeoutMs?: number) => waitForMode(handle, mode, timeoutMs),
  };
}

/** The same subscription over Yoga's own SSE transport, as the baseline the push path must match. */
export function watchOverSse(url: string, productId: string): Watch {
  return collect(
    new Client({ url, exchanges: [fetchExchange], fetchSubscriptions: true }),
    productId,
  );
}

/** Subscribes to a product's stock changes and records every result. */
function collect(client: Client, productId: string): Watch {
  const results: OperationResult[] = [];
  const { unsubscribe } = pipe(
    client.subscription(STOCK_CHANGED, { productId }),
    subscribe((result) => {
      results.push(result);
    }),
  );
  return {
    results,
    stocks: () =>
      results.map((r) => (r.data as { stockChanged: { stock: number } }).stockChanged.stock),
    unsubscribe,
  };
}
