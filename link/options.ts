import type { Operation } from '@urql/core';
import type { WebPushClient, WebPushClientOptions } from './client.js';

/** Options of `webPushExchange`: the client's options, or a client made with `createClient`. */
export type WebPushExchangeOptions = (WebPushClientOptions | { client: WebPushClient }) & {
  /**
   * Which operations go over Web Push; the others are forwarded.
   * @defaultValue subscriptions only
   */
  shouldHandle?: (operation: Operation) => boolean;
};

/**
 * What an operation's `context` may say to the exchange, under `context.webPush`
 * (e.g. `useSubscription({ query, context: useMemo(() => ({ webPush: { background: true } }), []) })`).
 */
export interface WebPushOperationContext {
  /** Keep pushing while the tab is hidden; see `SubscribeOptions.background`. */
  background?: boolean;
}
