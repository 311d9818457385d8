import { Client, fetchExchange, type OperationResult } from '@urql/core';
import { pipe, subscribe } from 'wonka';
import { type WebPushExchangeOptions, webPushExchangeWithHandle } from '../../link/urql/index.js';
import { type PushTransport, ROUTES } from '../../protocol/index.js';
import { TICKED, type Tick } from './feed-schema.js';

/** Requests a tab made to the plugin's routes, by route. */
export interface RouteCounts {
  /** `GET …/messages`: gap fills and payloads fetched by reference. */
  messages: number;
  renew: number;
  register: number;
}

/** What one `ticked` subscription yielded so far, and how to stop it. */
export interface FeedWatch {
  feed: string;
  results: OperationResult[];
  /** `n` of every result, in the order urql emitted them. */
  ticks(): number[];
  /** Results whose `feed` is another one's: another registration's events. */
  strays(): OperationResult[];
  /** Results carrying an error. */
  errors(): OperationResult[];
  unsubscribe(): void;
}

/**
 * One browser tab in Node for the fault suites: an urql Client with `webPushExchangeWithHandle`
 * (so a test can `inspect()` and `renew()` it), whose requests to the plugin's routes are
 * counted.
 * @param url - the GraphQL endpoint
 * @param transport - the push transport, shared by every tab of one browser
 * @param options - exchange options over `storage: null`
 * @returns the client, the exchange's handle, the route counts and `watch(feed)`
 */
export function openFeedTab(
  url: string,
  transport: PushTransport,
  options: Partial<WebPushExchangeOptions> = {},
) {
  const counts: RouteCounts = { messages: 0, renew: 0, register: 0 };
  const countingFetch: typeof fetch = (input, init) => {
    const target = typeof input === 'string' ? input : 'url' in input ? input.url : input.href;
    const path = new URL(target).pathname;
    if (path.endsWith(ROUTES.messages)) counts.messages++;
    else if (path.endsWith(ROUTES.renew)) counts.renew++;
    else if (init?.method === 'POST' && !path.includes('/push/')) counts.register++;
    return globalThis.fetch(input, init);
  };
  const handle = webPushExchangeWithHandle({
    url,
    transport,
    storage: null,
    fetch: countingFetch,
    ...options,
  });
  const client = new Client({ url, exchanges: [handle.exchange, fetchExchange] });

  function watch(feed: string): FeedWatch {
    const results: OperationResult[] = [];
    const { unsubscribe } = pipe(
      client.subscription(TICKED, { feed }),
      subscribe((result) => {
        results.push(result);
      }),
    );
    const tickOf = (r: OperationResult) => (r.data as { ticked?: Tick } | undefined)?.ticked;
    return {
      feed,
      results,
      ticks: () => results.map((r) => tickOf(r)?.n ?? -1),
      strays: () => results.filter((r) => tickOf(r)?.feed !== feed),
      errors: () => results.filter((r) => r.error !== undefined),
      unsubscribe,
    };
  }

  return { client, handle, counts, watch };
}

/** A tab opened with {@link openFeedTab}. */
export type FeedTab = ReturnType<typeof openFeedTab>;
