import type { PubSub } from 'graphql-yoga';
import type { RedisClient } from '../store/redis-script.js';
import type { EventLog } from './event-log.js';
import { createMemoryEventLog } from './memory-log.js';
import { createRedisEventLog } from './redis-log.js';
import { subscribeToLog } from './subscribe.js';

/** Publish arguments per routing key, as graphql-yoga's `createPubSub` takes them. */
// biome-ignore lint/suspicious/noExplicitAny: the same constraint as graphql-yoga's PubSub
export type PubSubPublishArgsByKey = { [key: string]: [] | [any] | [number | string, any] };

/** Options of {@link createPubSub}. */
export interface PubSubOptions {
  /**
   * Keep events in Redis Streams (shared by every server instance, replayable after a restart).
   * Without it, events stay in this process. The client stays yours; the pubsub duplicates it once
   * for its blocking reads.
   */
  redis?: RedisClient;
  /**
   * Hash tag of the stream keys (`{prefix}:<topic>`). Must not contain `{` or `}`.
   * @defaultValue `'gwp'`
   */
  prefix?: string;
  /**
   * Events kept per topic for replay (`MAXLEN ~` on Redis, so a few more may stay).
   * @defaultValue `1000`
   */
  maxLen?: number;
  /**
   * A topic nobody publishes to for this long is deleted with its events.
   * @defaultValue `3_600_000` (one hour)
   */
  ttlMs?: number;
  /**
   * Longest `XREAD BLOCK`. On a Cluster, also how long a newly subscribed topic may wait for its
   * first read.
   * @defaultValue `1_000`
   */
  blockMs?: number;
  /**
   * Called with failed publishes (the returned promise rejects too) and failed reads (retried).
   * @defaultValue logs with `console.error`
   */
  onError?: (error: unknown) => void;
}

/**
 * graphql-yoga's `PubSub`, with events that have ids: `publish` resolves with the event's id once
 * it is stored, and subscriptions opened inside `runWithEventCursor` resume after a cursor.
 */
export type ReplayablePubSub<TPubSubPublishArgsByKey extends PubSubPublishArgsByKey> = Omit<
  PubSub<TPubSubPublishArgsByKey>,
  'publish'
> & {
  /**
   * Publishes `payload` to `routingKey`, or to `routingKey:id` with `[id, payload]`.
   * @returns the event's id (`<ms>-<seq>`); awaiting it is optional
   */
  publish<TKey extends Extract<keyof TPubSubPublishArgsByKey, string>>(
    routingKey: TKey,
    ...args: TPubSubPublishArgsByKey[TKey]
  ): Promise<string>;
  /** Ends every subscription and closes the blocking connection. The Redis client stays open. */
  close(): Promise<void>;
};

/**
 * Creates a pubsub with graphql-yoga's API whose events can be replayed: in memory, or on Redis
 * Streams so that a server that adopts a registration resumes its subscription where the
 * previous owner stopped.
 *
 * @param options - storage, retention and reading; see {@link PubSubOptions}
 * @returns a drop-in for graphql-yoga's `createPubSub()`; works with its `pipe`, `filter`, `map`
 * @remarks `subscribe()` starts at the live end (events published after the call), or after the
 * cursor of the enclosing `runWithEventCursor`. Topics are `routingKey` or `routingKey:id`, as in
 * graphql-yoga; with Redis, one stream per topic.
 * @example
 * ```ts
 * const pubSub = createPubSub<{ stock: [productId: string, payload: Stock] }>({ redis });
 * await pubSub.publish('stock', 'p1', { id: 'p1', count: 3 });
 * const resolvers = { Subscription: { stock: { subscribe: (_, { id }) => pubSub.subscribe('stock', id) } } };
 * ```
 */
export function createPubSub<TPubSubPublishArgsByKey extends PubSubPublishArgsByKey>(
  options: PubSubOptions = {},
): ReplayablePubSub<TPubSubPublishArgsByKey> {
  const {
    redis,
    prefix = 'gwp',
    maxLen = 1000,
    ttlMs = 3_600_000,
    blockMs = 1_000,
    onError = (error: unknown) => console.error('graphql-web-push pubsub:', error),
  } = options;
  const batchSize = 100;
  const log: EventLog = redis
    ? createRedisEventLog({
        redis,
        prefix,
        maxLen,
        ttlMs,
        blockMs,
        batchSize,
        cacheSize: 100,
        onError,
      })
    : createMemoryEventLog({ maxLen, ttlMs, batchSize });

  const subscribe = (routingKey: string, id?: number | string) =>
    subscribeToLog(log, id === undefined ? routingKey : `${routingKey}:${id}`);

  return {
    publish(routingKey, ...args) {
      // The same reading of the arguments as graphql-yoga's pubsub.
      const payload = args[1] ?? args[0] ?? null;
      const topic = args[1] === undefined ? routingKey : `${routingKey}:${args[0]}`;
      const published = log.append(topic, payload);
      published.catch(onError);
      return published;
    },
    subscribe: subscribe as PubSub<TPubSubPublishArgsByKey>['subscribe'],
    close: () => log.close(),
  };
}
