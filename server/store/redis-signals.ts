import type { Cluster, Redis } from 'ioredis';
import { isCluster } from './ioredis.js';
import type { RedisClient } from './redis-script.js';
import { SIGNALS_RESUMED } from './types.js';

/** Options of {@link createRedisSignals}. */
export interface RedisSignalsOptions {
  redis: RedisClient;
  /** The Redis channel of a signal channel name (a tab id, `g:<groupId>`, …). */
  channel(name: string): string;
}

/** The store's `signal` and `listen` on Redis pub/sub. */
export interface RedisSignals {
  signal(name: string, message: string): Promise<void>;
  listen(name: string, listener: (message: string) => void): () => void;
  close(): Promise<void>;
}

/**
 * Signals between instances over Redis pub/sub: one Redis channel per channel name (a tab, a
 * group, an instance), all of them on one subscriber connection per process (ioredis multiplexes
 * them), subscribed while someone here listens.
 *
 * @param options - the client and the channel names
 * @returns signal, listen and close
 * @remarks A single node uses `PUBLISH`/`SUBSCRIBE` on a duplicate of the client. A Cluster
 * created with `shardedSubscribers: true` uses sharded pub/sub (`SPUBLISH`/`SSUBSCRIBE`, Redis 7):
 * each channel carries a hash tag (a tab's is its set's, a group's its keys'), so it lives on one
 * shard. Without that option ioredis
 * cannot follow sharded channels, so plain pub/sub is used, which a Cluster broadcasts to every
 * node. After the subscriber reconnects (ioredis subscribes again by itself), every listener is
 * called with {@link SIGNALS_RESUMED}: messages sent meanwhile are lost.
 */
export function createRedisSignals({ redis, channel }: RedisSignalsOptions): RedisSignals {
  const cluster = isCluster(redis);
  const sharded = cluster && (redis as Cluster).options.shardedSubscribers === true;
  const listeners = new Map<string, Set<(message: string) => void>>();
  /** The name each subscribed Redis channel stands for. */
  const nameOfChannel = new Map<string, string>();
  let subscriber: RedisClient | undefined;
  let closed = false;

  const dispatch = (redisChannel: string, message: string): void => {
    const name = nameOfChannel.get(redisChannel);
    const named = name === undefined ? undefined : listeners.get(name);
    if (!named) return;
    for (const listener of [...named]) listener(message);
  };

  const connect = (): RedisClient => {
    if (subscriber) return subscriber;
    // A Cluster keeps a subscriber connection of its own; a single node needs one apart.
    const created: RedisClient = cluster ? redis : (redis as Redis).duplicate();
    let readyBefore = false;
    created.on(sharded ? 'smessage' : 'message', dispatch);
    created.on('ready', () => {
      if (readyBefore) {
        for (const named of listeners.values()) {
          for (const listener of [...named]) listener(SIGNALS_RESUMED);
        }
      }
      readyBefore = true;
    });
    // Errors are the connection's; it reconnects by itself.
    if (!cluster) created.on('error', () => {});
    subscriber = created;
    return created;
  };

  const subscribe = (redisChannel: string) => {
    const client = connect();
    return sharded ? client.ssubscribe(redisChannel) : client.subscribe(redisChannel);
  };
  const unsubscribe = (redisChannel: string) => {
    const client = connect();
    return sharded ? client.sunsubscribe(redisChannel) : client.unsubscribe(redisChannel);
  };

  return {
    async signal(name, message) {
      if (sharded) await redis.spublish(channel(name), message);
      else await redis.publish(channel(name), message);
    },

    listen(name, listener) {
      let named = listeners.get(name);
      if (!named) {
        named = new Set();
        listeners.set(name, named);
        const redisChannel = channel(name);
        nameOfChannel.set(redisChannel, name);
        // ioredis queues the command until connected and re-subscribes after reconnects.
        subscribe(redisChannel).catch(() => {});
      }
      named.add(listener);
      return () => {
        const current = listeners.get(name);
        if (!current?.delete(listener) || current.size > 0) return;
        listeners.delete(name);
        const redisChannel = channel(name);
        nameOfChannel.delete(redisChannel);
        if (!closed) unsubscribe(redisChannel).catch(() => {});
      };
    },

    async close() {
      closed = true;
      listeners.clear();
      nameOfChannel.clear();
      if (subscriber && !cluster) await (subscriber as Redis).quit().catch(() => {});
      subscriber = undefined;
    },
  };
}
