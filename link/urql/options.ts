import type { Operation } from '@urql/core';
import type { WebPushClient, WebPushClientOptions } from '../client.js';

/** Options of `webPushExchange`: the client's options, or a client made with `createClient`. */
export type WebPushExchangeOptions = (WebPushClientOptions | { client: WebPushClient }) & {
  /**
   * Which operations go over Web Push; the others are forwarded.
   * @defaultValue subscriptions only
   */
  shouldHandle?: (operation: Operation) => boolean;
};
