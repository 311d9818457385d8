import { createHash } from 'node:crypto';

/** Length of the endpoint digest that starts every push subscription id of the Redis store. */
export const ENDPOINT_DIGEST_LENGTH = 22;

/**
 * Names of the Redis keys the store uses. Every key of one entity shares a hash tag, so that one
 * script can touch all of them on a Redis Cluster:
 * - a push subscription's keys are tagged with its endpoint's digest (`{e:<digest>}`), and its id
 *   starts with that digest, so the endpoint's pointer, the record and its registration set are
 *   one slot, found from the id alone;
 * - a registration's keys are tagged `{r:<id>}`, a tab's set `{t:<id>}`, an execution group's
 *   keys `{g:<id>}`;
 * - every instance lease is under the one tag `{i}`: `listOrphans` and the token counter see
 *   all of them in one slot.
 */
export interface RedisKeys {
  /** The digest of an endpoint: the hash tag of its subscription's keys. */
  endpointDigest(endpoint: string): string;
  /** String: id of the push subscription of an endpoint (the digest's pointer). */
  endpoint(digest: string): string;
  /** Hash: the push subscription (`e`, `p`, `a`, `c`, `x`, `k`). */
  subscription(id: string): string;
  /** Set: ids of the registrations on the push subscription. */
  subscriptionRegistrations(id: string): string;
  /** The pointer, record and set of a subscription id, in the order the scripts take them. */
  subscriptionKeys(id: string): [pointer: string, record: string, set: string];
  /** Set: ids of the tab's registrations. */
  tab(tabId: string): string;
  /**
   * Pub/sub channel of a signal channel name: a tab's shares the hash tag of its set; any other
   * name (`g:<groupId>`, `i:<instanceId>`) is its own hash tag, so a group's channel lives on the
   * shard of the group's keys under sharded pub/sub.
   */
  channel(name: string): string;
  /** Hash: a registration's fields (tab, delivery, expiry, held, group and base). */
  registration(id: string): string;
  /** The hash and the fixed data (JSON) of a registration, in the order the scripts take them. */
  registrationKeys(id: string): [hash: string, data: string];
  /**
   * The hash, fixed data, log, members and members' routes of a group, in the order the scripts
   * take them.
   */
  groupKeys(id: string): [hash: string, data: string, log: string, members: string, routes: string];
  /**
   * Sorted set: `<registrationId>:<groupId>` by `expiresAt`. The group is in the entry so that a
   * registration whose keys are gone can still leave its group (a deletion cut short).
   */
  readonly expiry: string;
  /** An entry of {@link RedisKeys.expiry}. */
  expiryEntry(registrationId: string, groupId: string): string;
  /** Reads an entry of {@link RedisKeys.expiry}. */
  parseExpiryEntry(entry: string): { registrationId: string; groupId: string };
  /** Sorted set: push subscription ids scored by `expiresAt` (a hint, for counting). */
  readonly subscriptionExpiry: string;
  /** Set: ids of the registrations one client made. */
  clientRegistrations(clientKey: string): string;
  /** Sorted set: ids of the push subscriptions one client made, scored by their first expiry. */
  clientSubscriptions(clientKey: string): string;
  /**
   * The instance keys every lease script takes: the sorted set of instance ids by lease end, the
   * hash of their tokens, and the token counter.
   */
  readonly instances: [leases: string, tokens: string, counter: string];
  /** Set: ids of the groups an instance owns. A hint: each group's hash says who owns it. */
  owned(instanceId: string): string;
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
  const group = (id: string) => `${prefix}:{g:${id}}`;
  const endpoint = (digest: string) => `${prefix}:{e:${digest}}`;
  // An id that is not ours still names a slot; nothing is found there.
  const subscription = (id: string) => `${endpoint(id.slice(0, ENDPOINT_DIGEST_LENGTH))}:${id}`;
  const instances = `${prefix}:{i}`;
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
    // Tab ids never contain ':'; every other name does (`g:…`, `i:…`) and is a tag of its own.
    channel: (name) => (name.includes(':') ? `${prefix}:{${name}}:w` : `${prefix}:{t:${name}}:w`),
    registration,
    registrationKeys: (id) => [registration(id), `${registration(id)}:d`],
    groupKeys: (id) => [
      group(id),
      `${group(id)}:d`,
      `${group(id)}:l`,
      `${group(id)}:m`,
      `${group(id)}:r`,
    ],
    expiry: `${prefix}:expiry`,
    expiryEntry: (registrationId, groupId) => `${registrationId}:${groupId}`,
    parseExpiryEntry: (entry) => {
      // Ids never contain ':'.
      const at = entry.indexOf(':');
      return { registrationId: entry.slice(0, at), groupId: entry.slice(at + 1) };
    },
    subscriptionExpiry: `${prefix}:subscriptions`,
    clientRegistrations: (clientKey) => `${prefix}:{c:${clientKey}}:r`,
    clientSubscriptions: (clientKey) => `${prefix}:{c:${clientKey}}:s`,
    instances: [`${instances}:l`, `${instances}:t`, `${instances}:n`],
    owned: (instanceId) => `${instances}:o:${instanceId}`,
  };
}
