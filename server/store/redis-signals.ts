import type { Cluster, Redis } from 'ioredis';
import { isCluster } from './ioredis.js';
import type { RedisClient } from './redis-script.js';
import { SIGNALS_RESUMED } from './types.js';

/** Options of {@link createRedisSignals}. */
export interface RedisSignalsOptions {
  redis: RedisClient;
  /** Channel name of a tab. */
  channel(tabId: string): string;
}

/** The store's `signal` and `listen` on Redis pub/sub. */
export interface RedisSignals {
  signal(tabId: string, message: string): Promise<void>;
  listen(tabId: string, listener: (message: string) => void): () => void;
  close(): Promise<void>;
}

/**
 * Signals between instances over Redis pub/sub: one channel per tab, all of them on one
 * subscriber connection per process (ioredis multiplexes them), subscribed while someone here
 * listens.
 *
 * @param options - the client and the channel names
 * @returns signal, listen and close
 * @remarks A single node uses `PUBLISH`/`SUBSCRIBE` on a duplicate of the client. A Cluster
 * created with `shardedSubscribers: true` uses sharded pub/sub (`SPUBLISH`/`SSUBSCRIBE`, Redis 7):
 * each tab's channel carries its hash tag, so it lives on one shard. Without that option ioredis
 * cannot follow sharded channels, so plain pub/sub is used, which a Cluster broadcasts to every
 * node. After the subscriber reconnects (ioredis subscribes again by itself), every listener is
 * called with {@link SIGNALS_RESUMED}: messages sent meanwhile are lost.
 */
export function createRedisSignals({ redis, channel }: RedisSignalsOptions): RedisSignals {
  const cluster = isCluster(redis);
  const sharded = cluster && (redis as Cluster).options.shardedSubscribers === true;
  const listeners = new Map<string, Set<(message: string) => void>>();
  const tabOfChannel = new Map<string, string>();
  let subscriber: RedisClient | undefined;
  let closed = false;

  const dispatch = (name: string, message: string): void => {
    const tabId = tabOfChannel.get(name);
    const tabListeners = tabId === undefined ? undefined : listeners.get(tabId);
    if (!tabListeners) return;
    for (const listener of [...tabListeners]) listener(message);
  };

  const connect = (): RedisClient => {
    if (subscriber) return subscriber;
    // A Cluster keeps a subscriber connection of its own; a single node needs one apart.
    const created: RedisClient = cluster ? redis : (redis as Redis).duplicate();
    let readyBefore = false;
    created.on(sharded ? 'smessage' : 'message', dispatch);
    created.on('ready', () => {
      if (readyBefore) {
        for (const tabListeners of listeners.values()) {
          for (const listener of [...tabListeners]) listener(SIGNALS_RESUMED);
        }
      }
      readyBefore = true;
    });
    // Errors are the connection's; it reconnects by itself.
    if (!cluster) created.on('error', () => {});
    subscriber = created;
    return created;
  };

  const subscribe = (name: string) => {
    const client = connect();
    return sharded ? client.ssubscribe(name) : client.subscribe(name);
  };
  const unsubscribe = (name: string) => {
    const client = connect();
    return sharded ? client.sunsubscribe(name) : client.unsubscribe(name);
  };

  return {
    async signal(tabId, message) {
      if (sharded) await redis.spublish(channel(tabId), message);
      else await redis.publish(channel(tabId), message);
    },

    listen(tabId, listener) {
      let tabListeners = listeners.get(tabId);
      if (!tabListeners) {
        tabListeners = new Set();
        listeners.set(tabId, tabListeners);
        const name = channel(tabId);
        tabOfChannel.set(name, tabId);
        // ioredis queues the command until connected and re-subscribes after reconnects.
        subscribe(name).catch(() => {});
      }
      tabListeners.add(listener);
      return () => {
        const current = listeners.get(tabId);
        if (!current?.delete(listener) || current.size > 0) return;
        listeners.delete(tabId);
        const name = channel(tabId);
        tabOfChannel.delete(name);
        if (!closed) unsubscribe(name).catch(() => {});
      };
    },

    async close() {
      closed = true;
      listeners.clear();
      tabOfChannel.clear();
      if (subscriber && !cluster) await (subscriber as Redis).quit().catch(() => {});
      subscriber = undefined;
    },
  };
}
