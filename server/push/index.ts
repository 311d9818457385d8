/**
 * Web Push sending for the server: encryption, VAPID, HTTP with retries, and the endpoint
 * allowlist.
 * @packageDocumentation
 */
export type { VapidOptions } from '../vapid.js';
export {
  createEndpointPolicy,
  DEFAULT_PUSH_SERVICES,
  type EndpointCheck,
  type EndpointPolicy,
  type EndpointPolicyOptions,
  MAX_ENDPOINT_LENGTH,
} from './allowlist.js';
export {
  createSubscriptionKeyCache,
  encryptPushMessage,
  type ParsedSubscriptionKeys,
  parseSubscriptionKeys,
  type SubscriptionKeys,
} from './encrypt.js';
export {
  InvalidPushArgumentError,
  InvalidSubscriptionKeysError,
  PushPayloadTooLargeError,
  PushRequestError,
} from './errors.js';
export {
  createPushSender,
  type PushSender,
  type PushSenderOptions,
  type PushTarget,
  type SendOptions,
  type SendResult,
} from './sender.js';
