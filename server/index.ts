/**
 * graphql-web-push/server: the Yoga plugin, its stores (memory, Redis), the replayable pubsub
 * (memory, Redis Streams) and VAPID key generation.
 * @packageDocumentation
 */
export type { ErrorCode } from '../protocol/index.js';
export { createWebPushError } from './errors.js';
export type { WebPushOptions } from './options.js';
export { useWebPush } from './plugin.js';
export {
  type CursorTracker,
  createCursorTracker,
  createPubSub,
  type PubSubOptions,
  type PubSubPublishArgsByKey,
  type ReplayablePubSub,
  runWithEventCursor,
} from './pubsub/index.js';
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
export { generateVapidKeys, type VapidOptions } from './vapid.js';
