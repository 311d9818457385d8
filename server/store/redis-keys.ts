import { createHash } from 'node:crypto';

/**
 * Names of the Redis keys the store uses. Every key of one entity shares a hash tag
 * (`{r:<id>}`, `{s:<id>}`, `{t:<id>}`, `{e:<hash>}`), so that one script can touch all of them
 * on a Redis Cluster.
 */
export interface RedisKeys {
  /** String: JSON of the push subscription. */
  subscription(id: string): string;
  /** Set: ids of the registrations on the push subscription. */
  subscriptionRegistrations(id: string): string;
  /** String: id of the push subscription of an endpoint. */
  endpoint(endpoint: string): string;
  /** Set: ids of the tab's registrations. */
  tab(tabId: string): string;
  /** Hash: the registration's changing fields (seq, expiry, ack, cursor, lease). */
  registration(id: string): string;
  /** String: JSON of the registration's fields that never change (query, variables, headers). */
  registrationData(id: string): string;
  /** List: the retained messages, oldest first, each `<appendedAtMs>:<envelope JSON>`. */
  registrationLog(id: string): string;
  /** Sorted set: registration ids scored by `expiresAt`. */
  readonly expiry: string;
  /**
   * Sorted set: registration ids scored by when their lease ends (0: released or never taken),
   * to find the registrations nobody runs. A hint only: the registration's hash decides.
   */
  readonly leases: string;
  /** The three keys of a registration, in the order the scripts take them. */
  registrationKeys(id: string): [hash: string, data: string, log: string];
}

/**
 * Builds the key names for one store.
 * @param prefix - first segment of every key; must not contain `{` or `}` (hash tags)
 * @returns the key namer
 */
export function createRedisKeys(prefix: string): RedisKeys {
  if (/[{}]/.test(prefix)) {
    throw new RangeError(`Redis key prefix must not contain "{" or "}": ${prefix}`);
  }
  const registration = (id: string) => `${prefix}:{r:${id}}`;
  return {
    subscription: (id) => `${prefix}:{s:${id}}`,
    subscriptionRegistrations: (id) => `${prefix}:{s:${id}}:r`,
    // Endpoints are long URLs; a 128-bit digest keeps the key short. The record holds the
    // endpoint itself, so the digest only has to find it.
    endpoint: (endpoint) =>
      `${prefix}:{e:${createHash('sha256').update(endpoint).digest('base64url').slice(0, 22)}}`,
    tab: (tabId) => `${prefix}:{t:${tabId}}`,
    registration,
    registrationData: (id) => `${registration(id)}:d`,
    registrationLog: (id) => `${registration(id)}:l`,
    expiry: `${prefix}:expiry`,
    leases: `${prefix}:leases`,
    registrationKeys: (id) => [registration(id), `${registration(id)}:d`, `${registration(id)}:l`],
  };
}
