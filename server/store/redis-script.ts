import { createHash } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';

/** A Redis client the Redis store and pubsub accept: a single node or a cluster. */
export type RedisClient = Redis | Cluster;

/** A Lua script with its SHA1, run by {@link runScript}. */
export interface RedisScript {
  /** For error messages and logs. */
  readonly name: string;
  readonly lua: string;
  /** SHA1 of `lua`, what `EVALSHA` takes. */
  readonly sha: string;
  /** How many of the arguments are keys; all of them must hash to one cluster slot. */
  readonly keys: number;
}

/**
 * Declares a Lua script.
 * @param name - short name for errors
 * @param keys - how many `KEYS` the script takes
 * @param lua - the script's source
 * @returns the script, ready for {@link runScript}
 */
export function defineScript(name: string, keys: number, lua: string): RedisScript {
  return { name, lua, keys, sha: createHash('sha1').update(lua).digest('hex') };
}

/**
 * Runs a script with `EVALSHA`, sending the source with `EVAL` once when the server does not have
 * it cached yet (a restart or `SCRIPT FLUSH` empties the cache).
 *
 * @param redis - the client; on a cluster the command goes to the node that owns the first key
 * @param script - from {@link defineScript}
 * @param keys - exactly `script.keys` keys, all with the same hash tag
 * @param args - `ARGV`
 * @returns the script's reply as ioredis decodes it
 * @remarks Own code instead of `defineCommand` so that the user's client gets no new methods.
 */
export async function runScript(
  redis: RedisClient,
  script: RedisScript,
  keys: readonly string[],
  args: readonly (string | number)[],
): Promise<unknown> {
  if (keys.length !== script.keys) {
    throw new RangeError(`script ${script.name} takes ${script.keys} keys, got ${keys.length}`);
  }
  try {
    return await redis.evalsha(script.sha, keys.length, ...keys, ...args);
  } catch (error) {
    if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
    return redis.eval(script.lua, keys.length, ...keys, ...args);
  }
}
