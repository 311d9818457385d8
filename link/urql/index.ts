/**
 * `graphql-web-push/link/urql`: the urql exchange over the graphql-web-push client.
 * @packageDocumentation
 */
export {
  resultOf,
  type WebPushExchangeHandle,
  webPushExchange,
  webPushExchangeWithHandle,
} from './exchange.js';
export type { WebPushExchangeOptions } from './options.js';
