/**
 * Web Push sending for the server: encryption (inline or on worker threads), VAPID, HTTP/2 and
 * HTTP/1.1 with retries and backpressure, and the endpoint allowlist.
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
  type EncryptionEntropy,
  encryptPushMessage,
  type ParsedSubscriptionKeys,
  parseSubscriptionKeys,
  type SubscriptionKeys,
} from './encrypt.js';
export {
  createEncryptionPool,
  defaultEncryptionWorkers,
  type EncryptionJob,
  type EncryptionPool,
  type EncryptionPoolOptions,
} from './encrypt-pool.js';
export {
  EncryptionPoolClosedError,
  InvalidPushArgumentError,
  InvalidSubscriptionKeysError,
  PushPayloadTooLargeError,
  PushRequestError,
  type PushRequestErrorCode,
} from './errors.js';
export {
  createPushSender,
  type PushSender,
  type PushSenderOptions,
  type PushTarget,
  type SendOptions,
  type SendResult,
} from './sender.js';
