/**
 * The client side of the multi-instance tests: tabs that watch products over Web Push through
 * the balancer, and a feed of mutations that publishes numbered stock values to random instances.
 */
import { Client, fetchExchange } from '@urql/core';
import { pipe, subscribe } from 'wonka';
import type { ClientMode } from '../../link/index.js';
import { webPushExchangeWithHandle } from '../../link/urql/index.js';
import type { PushTransport } from '../../protocol/index.js';

const STOCK_CHANGED = /* GraphQL */ `
  subscription StockChanged($productId: ID!) {
    stockChanged(productId: $productId) {
      id
      stock
    }
  }
`;

/** One subscription of one tab. */
export interface Watch {
  productId: string;
  /** Stock values in the order the tab's exchange emitted them. */
  stocks: number[];
  /** Results that were errors. */
  errors: unknown[];
}

/** One tab: an urql client with the Web Push exchange, through the balancer. */
export interface Tab {
  watches: Watch[];
  /** Starts watching a product. */
  watch(productId: string): Watch;
  /** Registration ids the exchange holds (one per watch once registered). */
  registrations(): string[];
  /** How the tab's registrations reach it now. */
  mode(): ClientMode;
  /** Tears every subscription down (the exchange unregisters them). */
  close(): void;
}

/**
 * Opens a tab.
 * @param url - the balancer's GraphQL URL
 * @param transport - the browser's push transport (a Node user agent); without one the tab is a
 * visitor whose browser allows no push: it reads the stream
 * @returns the tab
 */
export function openTab(url: string, transport?: PushTransport): Tab {
  const push = webPushExchangeWithHandle({
    url,
    ...(transport ? { transport } : {}),
    storage: null,
    // Streams cut by a dead instance reconnect quickly.
    renewIntervalMs: 1_000,
  });
  const client = new Client({ url, exchanges: [push.exchange, fetchExchange] });
  const stops: (() => void)[] = [];
  const watches: Watch[] = [];
  return {
    watches,
    watch(productId) {
      const watch: Watch = { productId, stocks: [], errors: [] };
      watches.push(watch);
      const { unsubscribe } = pipe(
        client.subscription(STOCK_CHANGED, { productId }),
        subscribe((result) => {
          if (result.error) watch.errors.push(result.error);
          const stock = (result.data as { stockChanged?: { stock: number } } | undefined)
            ?.stockChanged?.stock;
          if (stock !== undefined) watch.stocks.push(stock);
        }),
      );
      stops.push(unsubscribe);
      return watch;
    },
    registrations: () => push.inspect().registrations.map((r) => r.registrationId),
    mode: () => push.mode,
    close() {
      for (const stop of stops.splice(0)) stop();
    },
  };
}

/** What the feed published for one product, in order. */
export interface Published {
  /** Values the instance confirmed (the mutation answered: the event is in the stream). */
  confirmed: number[];
  /** Values whose mutation failed without an answer: they may or may not have been published. */
  unsure: number[];
  /** Every value sent, in order. */
  sent: number[];
}

/** A feed of `setStock` mutations. */
export interface Feed {
  published: Map<string, Published>;
  /** Confirmed events so far, all products. */
  confirmed(): number;
  /** Stops and waits for the mutations under way. */
  stop(): Promise<void>;
  /**
   * Publishes one last value per product (after {@link Feed.stop}). Once a tab has it, anything
   * the servers appended before it (a duplicate, say) has reached the tab too: the exchange emits
   * a registration's messages in order.
   */
  last(): Promise<void>;
}

/**
 * Publishes numbered stock values (1, 2, 3, … per product) to random instances, about `rate`
 * per second in all. Each product's values go one after another (the next only once the last
 * was answered), so a product's stream holds them in increasing order.
 * @param products - product ids, served round-robin
 * @param targets - the instances' GraphQL URLs to pick from, asked before every mutation
 * @param rate - mutations per second over all products
 * @returns the running feed
 */
export function startFeed(products: string[], targets: () => string[], rate = 50): Feed {
  const published = new Map<string, Published>(
    products.map((id) => [id, { confirmed: [], unsure: [], sent: [] }]),
  );
  const next = new Map(products.map((id) => [id, 1]));
  const busy = new Set<string>();
  const underWay = new Set<Promise<void>>();
  let turn = 0;
  let stopped = false;

  const send = async (productId: string): Promise<void> => {
    const stock = next.get(productId) ?? 1;
    next.set(productId, stock + 1);
    const record = published.get(productId) as Published;
    record.sent.push(stock);
    // A refused connection never reached an instance: send it to another.
    for (let attempt = 0; attempt < 5; attempt++) {
      const choices = targets();
      const url = choices[Math.floor(Math.random() * choices.length)];
      if (!url) break;
      try {
        const response = await fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({
            query: 'mutation($p: ID!, $s: Int!) { setStock(productId: $p, stock: $s) { id } }',
            variables: { p: productId, s: stock },
          }),
          signal: AbortSignal.timeout(15_000),
        });
        const body = (await response.json()) as { errors?: unknown };
        if (response.ok && !body.errors) record.confirmed.push(stock);
        else record.unsure.push(stock);
        return;
      } catch (error) {
        const code = (error as { cause?: { code?: string } }).cause?.code;
        if (code !== 'ECONNREFUSED') break;
      }
    }
    record.unsure.push(stock);
  };

  const timer = setInterval(() => {
    if (stopped) return;
    const productId = products[turn++ % products.length] as string;
    // Keeps each product's order: skip its turn while its last mutation is under way.
    if (busy.has(productId)) return;
    busy.add(productId);
    const work = send(productId).finally(() => {
      busy.delete(productId);
      underWay.delete(work);
    });
    underWay.add(work);
  }, 1000 / rate);

  return {
    published,
    confirmed: () => [...published.values()].reduce((sum, p) => sum + p.confirmed.length, 0),
    async stop() {
      stopped = true;
      clearInterval(timer);
      await Promise.all([...underWay]);
    },
    async last() {
      await Promise.all(products.map(send));
    },
  };
}
