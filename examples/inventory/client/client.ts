import { cacheExchange, type KeyingConfig } from '@urql/exchange-graphcache';
import { Client, fetchExchange, getOperationName, mapExchange } from 'urql';
import { browserPushTransport } from '../../../link/index.js';
import { type WebPushExchangeHandle, webPushExchangeWithHandle } from '../../../link/urql/index.js';
import type { PushTransport } from '../../../protocol/index.js';
import { recordResult } from './live-stats.js';
import { type PageConfig, readPageConfig } from './page-config.js';

/** Products are normalized by id: `Product:p1` is one record, whichever query or push wrote it. */
const CACHE_KEYS: KeyingConfig = { Product: (product) => product.id as string };

type StockChanged = { stockChanged?: { id: string; stock: number } };

/**
 * The page's urql client. The normalized cache comes first, so a pushed `Product { id stock }`
 * updates `Product:<id>` and with it every query that shows that product. Subscriptions go to the
 * Web Push exchange; queries and mutations go on to `fetchExchange`.
 * @returns the client and the Web Push exchange's handle (for the status bar)
 */
export function createInventoryClient(): { client: Client; link: WebPushExchangeHandle } {
  const url = new URL('/graphql', window.location.href).href;
  const config = readPageConfig();
  const { reloadGraceMs, renewIntervalMs } = config;
  const link = webPushExchangeWithHandle({
    url,
    transport: createTransport(config),
    ...(reloadGraceMs === undefined ? {} : { reloadGraceMs }),
    ...(renewIntervalMs === undefined ? {} : { renewIntervalMs }),
  });
  const client = new Client({
    url,
    exchanges: [
      cacheExchange({ keys: CACHE_KEYS }),
      // Counts each pushed result once, as it leaves the link (a React state updater may run
      // more than once, so the view is no place to count).
      mapExchange({
        onResult(result) {
          const changed = (result.data as StockChanged | undefined)?.stockChanged;
          // The page's own subscription; the background alert's results reach the cache too.
          const name = getOperationName(result.operation.query);
          if (result.operation.kind === 'subscription' && name === 'StockChanged' && changed) {
            recordResult(changed.id, changed.stock);
          }
        },
      }),
      link.exchange,
      fetchExchange,
    ],
  });
  return { client, link };
}

const SERVICE_WORKER_URL = '/sw.js';

/**
 * The browser's push transport, or, when the page config carries a fixed push subscription, the
 * same transport answering `subscribe` with that subscription once the service worker is active.
 */
function createTransport({ pushSubscription }: PageConfig): PushTransport {
  const transport = browserPushTransport({ serviceWorkerUrl: SERVICE_WORKER_URL });
  if (!pushSubscription) return transport;
  return {
    // The test that sets a fixed subscription plays a browser that already granted it.
    permission: async () => 'granted',
    onMessage: (listener) => transport.onMessage(listener),
    async subscribe() {
      await navigator.serviceWorker.register(SERVICE_WORKER_URL);
      await navigator.serviceWorker.ready;
      return pushSubscription;
    },
  };
}
