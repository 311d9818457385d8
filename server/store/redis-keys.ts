import { createHash } from 'node:crypto';

/** Length of the endpoint digest that starts every push subscription id of the Redis store. */
export const ENDPOINT_DIGEST_LENGTH = 22;

/**
 * Names of the Redis keys the store uses. Every key of one entity shares a hash tag, so that one
 * script can touch all of them on a Redis Cluster:
 * - a push subscription's keys are tagged with its endpoint's digest (`{e:<digest>}`), and its id
 *   starts with that digest, so the endpoint's pointer, the record and its registration set are
 *   one slot, found from the id alone;
 * - a registration's keys are tagged `{r:<id>}`, a tab's set `{t:<id>}`.
 */
export interface RedisKeys {
  /** The digest of an endpoint: the hash tag of its subscription's keys. */
  endpointDigest(endpoint: string): string;
  /** String: id of the push subscription of an endpoint (the digest's pointer). */
  endpoint(digest: string): string;
  /** Hash: the push subscription (`e`, `p`, `a`, `c`, `x`). */
  subscription(id: string): string;
  /** Set: ids of the registrations on the push subscription. */
  subscriptionRegistrations(id: string): string;
  /** The pointer, record and set of a subscription id, in the order the scripts take them. */
  subscriptionKeys(id: string): [pointer: string, record: string, set: string];
  /** Set: ids of the tab's registrations. */
  tab(tabId: string): string;
  /** Pub/sub channel of a tab's signals (same hash tag as its set, for sharded pub/sub). */
  tabChannel(tabId: string): string;
  /** Hash: the registration's changing fields (seq, expiry, ack, cursor, lease). */
  registration(id: string): string;
  /** String: JSON of the registration's fields that never change (query, variables, headers). */
  registrationData(id: string): string;
  /** List: the retained messages, oldest first, each `<appendedAtMs>:<envelope JSON>`. */
  registrationLog(id: string): string;
  /** Sorted set: registration ids scored by `expiresAt`. */
  readonly expiry: string;
  /** Sorted set: push subscription ids scored by `expiresAt` (a hint, for counting). */
  readonly subscriptionExpiry: string;
  /** Set: ids of the registrations one client made. */
  clientRegistrations(clientKey: string): string;
  /** Sorted set: ids of the push subscriptions one client made, scored by their first expiry. */
  clientSubscriptions(clientKey: string): string;
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
  const endpoint = (digest: string) => `${prefix}:{e:${digest}}`;
  // An id that is not ours still names a slot; nothing is found there.
  const subscription = (id: string) => `${endpoint(id.slice(0, ENDPOINT_DIGEST_LENGTH))}:${id}`;
  return {
    // Endpoints are long URLs; a 128-bit digest keeps the keys short.
    endpointDigest: (url) =>
      createHash('sha256').update(url).digest('base64url').slice(0, ENDPOINT_DIGEST_LENGTH),
    endpoint,
    subscription,
    subscriptionRegistrations: (id) => `${subscription(id)}:r`,
    subscriptionKeys: (id) => [
      endpoint(id.slice(0, ENDPOINT_DIGEST_LENGTH)),
      subscription(id),
      `${subscription(id)}:r`,
    ],
    tab: (tabId) => `${prefix}:{t:${tabId}}`,
    tabChannel: (tabId) => `${prefix}:{t:${tabId}}:w`,
    registration,
    registrationData: (id) => `${registration(id)}:d`,
    registrationLog: (id) => `${registration(id)}:l`,
    expiry: `${prefix}:expiry`,
    subscriptionExpiry: `${prefix}:subscriptions`,
    clientRegistrations: (clientKey) => `${prefix}:{c:${clientKey}}:r`,
    clientSubscriptions: (clientKey) => `${prefix}:{c:${clientKey}}:s`,
    leases: `${prefix}:leases`,
    registrationKeys: (id) => [registration(id), `${registration(id)}:d`, `${registration(id)}:l`],
  };
}
