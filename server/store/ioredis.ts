import { createRequire } from 'node:module';
import type { Redis, RedisOptions } from 'ioredis';
import type { RedisClient } from './redis-script.js';

/**
 * ioredis is an optional peer dependency: loaded only when a Redis store or pubsub is made from a
 * URL, so that `graphql-web-push/server` with the memory store never needs it.
 * @param url - a `redis://` URL
 * @param options - ioredis options
 * @returns a new client
 * @throws an Error naming the package to install when ioredis is missing
 */
export function connectRedis(url: string, options: RedisOptions = {}): Redis {
  let ioredis: { Redis: new (url: string, options: RedisOptions) => Redis };
  try {
    ioredis = createRequire(import.meta.url)('ioredis');
  } catch (cause) {
    throw new Error('The Redis store needs ioredis: npm install ioredis', { cause });
  }
  return new ioredis.Redis(url, options);
}

/**
 * Tells an ioredis `Cluster` from a single-node client without loading ioredis.
 * @param redis - a client the operator gave
 * @returns true for a Cluster
 */
export function isCluster(redis: RedisClient): boolean {
  return typeof (redis as { nodes?: unknown }).nodes === 'function' && 'slots' in redis;
}
