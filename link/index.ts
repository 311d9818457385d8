/**
 * `graphql-web-push/link`: an urql exchange that runs GraphQL subscriptions over Web Push, and
 * the browser's push transport for it.
 * @packageDocumentation
 */

export {
  type BrowserPushTransportOptions,
  browserPushTransport,
  type ServiceWorkerContainerLike,
} from './browser-transport.js';
export {
  createLinkError,
  isLinkError,
  LinkErrorCode,
  type WebPushLinkError,
} from './errors.js';
export {
  type WebPushExchangeHandle,
  webPushExchange,
  webPushExchangeWithHandle,
} from './exchange.js';
export type { WebPushExchangeOptions } from './options.js';
export type { RegistrationSnapshot, WebPushLinkSnapshot } from './session.js';
export type { LinkStorage } from './storage.js';
export { TAB_STORAGE_KEY } from './tab.js';
