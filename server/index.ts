/**
 * graphql-web-push/server: the Yoga plugin, its stores (memory, Redis), the replayable pubsub
 * (memory, Redis Streams), VAPID key generation, the push sender the plugin uses (to share one
 * between servers, or to inject one) and the errors the plugin's options can be refused with.
 * @packageDocumentation
 */
export type { ErrorCode } from '../protocol/index.js';
export { createWebPushError } from './errors.js';
export type { WebPushOptions } from './options.js';
export { useWebPush } from './plugin.js';
export {
  createPubSub,
  type PubSubOptions,
  type PubSubPublishArgsByKey,
  type ReplayablePubSub,
} from './pubsub/index.js';
export {
  createPushSender,
  InvalidPushArgumentError,
  InvalidSubscriptionKeysError,
  type PushSender,
  type PushSenderOptions,
  type PushTarget,
  type SendOptions,
  type SendResult,
  type SubscriptionKeys,
} from './push/index.js';
export { createMemoryStore } from './store/memory.js';
export { createRedisStore, type RedisStoreError, type RedisStoreOptions } from './store/redis.js';
export type {
  AppendOptions,
  AppendResult,
  CreateRegistrationResult,
  RegistrationLimits,
  RegistrationRecord,
  RetentionOptions,
  Store,
  SubscriptionRecord,
} from './store/types.js';
export {
  generateVapidKeys,
  VapidKeyError,
  type VapidKeyErrorCode,
  type VapidOptions,
} from './vapid.js';
