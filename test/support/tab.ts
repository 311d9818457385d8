import { Client, fetchExchange, type OperationResult } from '@urql/core';
import { pipe, subscribe } from 'wonka';
import { webPushExchange } from '../../link/index.js';
import type { PushTransport } from '../../protocol/index.js';

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
 * `transport` (the Node user agent), everything else over fetch.
 */
export function openTab(
  url: string,
  transport: PushTransport,
  options: Partial<Parameters<typeof webPushExchange>[0]> = {},
) {
  const client = new Client({
    url,
    exchanges: [webPushExchange({ url, transport, storage: null, ...options }), fetchExchange],
  });
  return {
    client,
    watch: (productId: string): Watch => collect(client, productId),
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
