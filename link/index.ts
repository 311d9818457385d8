/**
 * `graphql-web-push/link`: the client of GraphQL subscriptions over Web Push and the resumable
 * stream (`createClient`, shaped like graphql-ws's) and the browser's push transport. The urql
 * exchange is `graphql-web-push/link/urql`, the Apollo link `graphql-web-push/link/apollo`.
 * @packageDocumentation
 */

export {
  type BrowserPushTransportOptions,
  browserPushTransport,
  type ServiceWorkerContainerLike,
} from './browser-transport.js';
export {
  type ClientMode,
  createClient,
  type EnablePushResult,
  type WebPushClient,
  type WebPushClientEvents,
  type WebPushClientOptions,
  type WebPushLinkSnapshot,
} from './client.js';
export {
  createLinkError,
  isLinkError,
  LinkErrorCode,
  type WebPushLinkError,
} from './errors.js';
export type {
  RegistrationSnapshot,
  SubscribeOptions,
  WebPushOperationContext,
  WebPushRequest,
  WebPushSink,
} from './operations.js';
export type { LinkStorage } from './storage.js';
export { TAB_STORAGE_KEY } from './tab.js';
