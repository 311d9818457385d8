/**
 * The Redis {@link Store}: push subscriptions, registrations, execution groups with their logs,
 * and instance leases in Redis (single node or Cluster), shared by every server instance.
 *
 * Layout (`p` = prefix; see redis-keys.ts and redis-records.ts):
 * - `p:{g:<id>}` hash of a group's changing fields (seq, done, cursor, owner, token, last append
 *   id), `p:{g:<id>}:d` its fixed fields as JSON (key, query, operationName, variables, headers),
 *   `p:{g:<id>}:l` its log (a list, oldest first, each message once; the first entry's group seq
 *   is `seq - length + 1`, so no index is kept), `p:{g:<id>}:m` its members (a sorted set:
 *   registration id scored by the group seq it acknowledged, its base when it joins). The log
 *   keeps what some member has not acknowledged and did not join after, within the TTL and count;
 * - `p:{r:<id>}` hash of a registration (tab, delivery, expiry, held, group id, base),
 *   `p:{r:<id>}:d` its fixed fields as JSON (operation key, headers). Its seq and done are its
 *   group's, its ackedSeq its member score, all read from the group and turned into its own
 *   numbering (`group seq - base`); its envelopes are built from the group's log when read;
 * - `p:{e:<digest>}` the id of an endpoint's push subscription, `p:{e:<digest>}:<id>` the
 *   subscription's hash, `p:{e:<digest>}:<id>:r` the set of its registrations. A subscription id
 *   starts with its endpoint's digest, so all three are one slot, found from the id. They expire
 *   with a Redis TTL: every registration created, renewed or moved onto the subscription extends
 *   them to its own expiry, so an unused subscription is gone a registration TTL after its last use;
 * - `p:{t:<tab>}` the set of a tab's registrations, `p:{t:<tab>}:w` the tab's signal channel;
 *   any other signal channel name `<name>` is `p:{<name>}:w` (`p:{g:<id>}:w` for a group);
 * - `p:expiry` a sorted set of `<registration id>:<group id>` by `expiresAt`;
 * - under the one tag `{i}`: `p:{i}:l` instance ids by lease end, `p:{i}:t` their tokens,
 *   `p:{i}:n` the token counter (so a forgotten instance comes back with a larger token), and
 *   `p:{i}:o:<instance>` the group ids it owns. That set is a hint: a group's hash holds its owner
 *   and token, and `listOrphans` checks each id there, dropping those claimed or deleted.
 *
 * Atomicity: every read-modify-write of one entity is one Lua script over that entity's keys, and
 * those keys share a hash tag, so each script runs on one Cluster node. `appendGroupMessage` is a
 * single script: existence, done, the token, the seq, the log write, the cursor, done and
 * trimming (count, age, members' acknowledgements) happen in one step, one round trip. It also
 * remembers the caller's append id, so that an append repeated after its answer was lost (ioredis
 * resends unanswered commands after a reconnect; the runner retries after errors) is answered with
 * the seq it got instead of being stored twice.
 *
 * Operations that span entities cannot be one script on a Cluster; they are sequences of
 * single-entity scripts, ordered so that every interleaving (and a process dying between two
 * steps) ends consistent. Index entries (tab, subscription, client and owned sets, the expiry and
 * lease sets) are hints that readers check against the entity:
 * - createRegistration writes the registration without its base (readers skip it: not created
 *   yet) and its expiry entry, and adds it to the subscription's and the tab's sets with atomic
 *   check-then-add scripts (so a limit is never exceeded, even by concurrent inserts), all at
 *   once; undoes everything on refusal; then joins the group (one script reads the group's seq
 *   and adds the member at it: refused when the group is gone or done) while checking that the
 *   subscription still lists it (a `deleteSubscription` in between is detected and the insert
 *   undone); and finally sets the base, only while the registration is still on the
 *   subscription it was created on (a `deleteSubscription` that detached it meanwhile makes it
 *   undo). Because the registration exists, and its expiry entry names its group, before it joins,
 *   a creation cut short anywhere leaves what `takeExpired` removes in full. A concurrent insert
 *   that is later undone can make another insert see a full set: refusals err on the safe side.
 * - deleteRegistration retires the registration in one script (readers no longer see it; its
 *   hash keeps what its deletion needs), then leaves its group (a script that deletes a done
 *   group with its last member) and drops its set entries, and only then deletes its hash and
 *   expiry entry: `takeExpired` finishes a deletion cut short anywhere before that. `takeExpired`
 *   ranges the expiry set, then per registration runs a script that retires it only if it is
 *   still expired (a renewal in between wins) or was retired already, then does the same; undoing
 *   a creation does the same without the retiring (readers never saw it).
 * - renew updates each registration (tab, expiry, held) in its script, then raises its member
 *   score in its group (never past the group's seq, never a member that left) and trims its log.
 * - move checks the registrations, adds them to the new subscription's set in one all-or-nothing
 *   script (within its limit), switches each registration's delivery, then removes each from its
 *   old set.
 * - deleteSubscription removes the subscription and its set in one script, then puts each of its
 *   registrations on the stream (only if it is still on that subscription).
 * - putSubscription reads the endpoint's pointer and then runs one compare-and-set script that
 *   either extends the same subscription or writes the new one and drops the replaced one.
 * - createGroup and claimGroup add the group to the new owner's owned set before they write the
 *   group, so an owner that dies in between leaves a stale hint, never an unlisted group.
 * Index entries can briefly name something that does not exist (being created or deleted);
 * readers skip them. After a registration is deleted none of its keys is left, nor is its member
 * entry; a done group goes with its last member, any group with `deleteGroup`.
 */
import {
  type Envelope,
  envelopeId,
  PROTOCOL_VERSION,
  type PushSubscriptionData,
} from '../../protocol/index.js';
import { connectRedis } from './ioredis.js';
import { createRedisKeys } from './redis-keys.js';
import {
  decodeGroup,
  decodeLogEntry,
  decodeRegistration,
  decodeRoutes,
  decodeSubscription,
  encodeGroup,
  encodeLogEntry,
  encodeRegistration,
  encodeSubscription,
  type GroupState,
  joinRoute,
  registrationView,
  routeUpdate,
  type StoredRegistration,
} from './redis-records.js';
import { type RedisClient, type RedisScript, runScript } from './redis-script.js';
import * as scripts from './redis-scripts.js';
import { createRedisSignals } from './redis-signals.js';
import type {
  AppendResult,
  CreateRegistrationResult,
  MoveResult,
  OrphanGroup,
  RegistrationRecord,
  Store,
  SubscriptionRecord,
} from './types.js';

/** Options of {@link createRedisStore}. */
export interface RedisStoreOptions {
  /**
   * An ioredis `Redis` or `Cluster` client, or a `redis://` URL. A client you pass stays yours:
   * `close()` only closes a client the store created from a URL.
   */
  redis: RedisClient | string;
  /**
   * First segment of every key, to share a Redis with other data. Must not contain `{` or `}`.
   * @defaultValue `'gwp'`
   */
  prefix?: string;
  /**
   * Clock for message ages in `appendGroupMessage` (the Store interface passes no `now` there).
   * @defaultValue `Date.now`
   */
  now?: () => number;
}

/** Thrown when an operation kept losing races; its `code` is `STORE_CONFLICT`. */
export interface RedisStoreError extends Error {
  code: 'STORE_CONFLICT';
}

/** Expired registrations handled per round of `takeExpired`. */
const EXPIRY_BATCH = 500;
/** Registrations whose group and base are remembered, for one-round-trip log reads. */
const PLACEMENT_CACHE_SIZE = 10_000;
/** Instances whose lease ended looked at per `listOrphans`. */
const ORPHAN_INSTANCES = 100;
const MAX_PUT_ATTEMPTS = 10;

function conflict(message: string): RedisStoreError {
  return Object.assign(new Error(message), {
    name: 'RedisStoreError',
    code: 'STORE_CONFLICT' as const,
  });
}

/** A non-negative integer from a number a client sent (acks, offsets). */
const wholeNumber = (value: number): number =>
  Number.isFinite(value) ? Math.min(Number.MAX_SAFE_INTEGER, Math.max(0, Math.floor(value))) : 0;

/** Where a registration's messages are: fixed for its whole life. */
interface Placement {
  groupId: string;
  base: number;
  tabId: string;
}

/** A group's seq and done, and the scores of the members asked about. */
interface GroupView {
  state: GroupState;
  scores: Map<string, number>;
}

type ViewReply = [seq: string, done: string, scores: string[]] | null;

/** A registration's route copy for its group's scripts (see `routeUpdate`), by registration id. */
type RouteUpdate = ReturnType<typeof routeUpdate>;
type RouteUpdates = ReadonlyMap<string, RouteUpdate>;

const parseView = (reply: ViewReply, ids: readonly string[]): GroupView | null => {
  if (!reply) return null;
  const scores = new Map<string, number>();
  ids.forEach((id, i) => {
    const score = reply[2][i];
    if (score !== undefined && score !== '') scores.set(id, Number(score));
  });
  return { state: { seq: Number(reply[0]), done: reply[1] === '1' }, scores };
};

const byCreation = (a: RegistrationRecord, b: RegistrationRecord) =>
  a.createdAt - b.createdAt || (a.id < b.id ? -1 : 1);

/**
 * Creates a {@link Store} on Redis, for several server instances sharing registrations and for
 * surviving restarts.
 *
 * @param options - the client (or URL), key prefix and clock; see {@link RedisStoreOptions}
 * @returns the store
 * @remarks Works on a single node and on Redis Cluster: every script's keys share a hash tag;
 * for sharded pub/sub on a Cluster, create the ioredis `Cluster` with `shardedSubscribers: true`.
 * Needs Redis ≥ 6.2 (7 for sharded pub/sub). Registrations leave no key behind once deleted or
 * taken by `takeExpired` (run it periodically: their keys have no Redis TTL, so that expired
 * records can still be returned, and it also finishes deletions cut short); push subscriptions
 * expire by TTL; groups live until their owner deletes them, or a done one loses its last member.
 * The file header explains how multi-key operations stay consistent. Signals use one more
 * connection, opened on the first `listen`.
 * @example
 * ```ts
 * const store = createRedisStore({ redis: new Redis(process.env.REDIS_URL) });
 * ```
 */
export function createRedisStore({
  redis: client,
  prefix = 'gwp',
  now = Date.now,
}: RedisStoreOptions): Store {
  const ownsClient = typeof client === 'string';
  const redis: RedisClient = typeof client === 'string' ? connectRedis(client) : client;
  const keys = createRedisKeys(prefix);
  const [leasesKey, tokensKey] = keys.instances;
  const instanceKeys = (id: string) => [leasesKey, tokensKey, keys.owned(id)];
  const signals = createRedisSignals({ redis, channel: keys.channel });
  const placements = new Map<string, Placement>();

  const run = (script: RedisScript, scriptKeys: readonly string[], args: (string | number)[]) =>
    runScript(redis, script, scriptKeys, args);

  const remember = (id: string, placement: Placement): void => {
    placements.delete(id);
    placements.set(id, placement);
    if (placements.size > PLACEMENT_CACHE_SIZE) {
      const oldest = placements.keys().next();
      if (!oldest.done) placements.delete(oldest.value);
    }
  };

  /**
   * Each group's seq and done, and the member scores of these registrations, in parallel; with
   * `routes`, each group takes their route copies in the same step.
   */
  const viewGroups = async (
    stored: readonly StoredRegistration[],
    routes?: RouteUpdates,
  ): Promise<Map<string, GroupView | null>> => {
    const idsByGroup = new Map<string, string[]>();
    for (const record of stored) {
      const ids = idsByGroup.get(record.groupId) ?? [];
      ids.push(record.id);
      idsByGroup.set(record.groupId, ids);
    }
    const entries = await Promise.all(
      [...idsByGroup].map(async ([groupId, ids]) => {
        const reply = (await (routes
          ? run(
              scripts.updateRoutes,
              keys.groupKeys(groupId),
              ids.flatMap((id) => routes.get(id) ?? []),
            )
          : run(scripts.viewGroup, keys.groupKeys(groupId), ids))) as ViewReply;
        return [groupId, parseView(reply, ids)] as const;
      }),
    );
    return new Map(entries);
  };

  /**
   * Complete registrations as handed out, with what their groups hold; one that is not its
   * group's member any more is being deleted, and left out. With `routes`, the groups take the
   * route copies of all of them, being created too, in the step that reads them.
   */
  const withGroups = async (
    stored: readonly StoredRegistration[],
    routes?: RouteUpdates,
  ): Promise<RegistrationRecord[]> => {
    const complete = stored.filter((record) => record.base !== null);
    const views = await viewGroups(routes ? stored : complete, routes);
    return complete.flatMap((record) => {
      const view = views.get(record.groupId);
      const acked = view?.scores.get(record.id);
      if (!view || acked === undefined) return [];
      remember(record.id, {
        groupId: record.groupId,
        base: record.base ?? 0,
        tabId: record.tabId,
      });
      return [registrationView(record, view.state, acked)];
    });
  };

  const readStored = async (id: string): Promise<StoredRegistration | null> => {
    const reply = (await run(scripts.readRegistration, keys.registrationKeys(id), [])) as
      | [string[], string]
      | null;
    return reply ? decodeRegistration(id, reply[0], reply[1]) : null;
  };

  const readRecords = async (ids: readonly string[]): Promise<RegistrationRecord[]> => {
    const stored = await Promise.all(ids.map(readStored));
    return withGroups(stored.filter((record) => record !== null));
  };

  const listIds = async (setKey: string): Promise<RegistrationRecord[]> =>
    (await readRecords(await redis.smembers(setKey))).sort(byCreation);

  /**
   * Takes a member out of its group (a done group goes with its last member; its owner's set
   * loses it too).
   * @returns the group's state and the member's score before it left, or null when the group is gone
   */
  const leave = async (
    groupId: string,
    registrationId: string,
  ): Promise<{ state: GroupState; acked: number | null } | null> => {
    const reply = (await run(scripts.leaveGroup, keys.groupKeys(groupId), [registrationId])) as
      | [string, string, string, string]
      | null;
    if (!reply) return null;
    const [seq, done, score, deletedOwner] = reply;
    if (deletedOwner !== '') await redis.srem(keys.owned(deletedOwner), groupId);
    return {
      state: { seq: Number(seq), done: done === '1' },
      acked: score === '' ? null : Number(score),
    };
  };

  const unindexSets = (
    id: string,
    tabId: string,
    subscriptionId: string | null,
    clientKey: string | null,
  ) =>
    Promise.all([
      redis.srem(keys.tab(tabId), id),
      subscriptionId && redis.srem(keys.subscriptionRegistrations(subscriptionId), id),
      clientKey && redis.srem(keys.clientRegistrations(clientKey), id),
    ]);

  /**
   * The end of every deletion, once the registration is retired (or still being created, which
   * readers skip alike): out of its group and sets, then its hash and expiry entry. Until the
   * last step `takeExpired` finds it and can do it all again.
   */
  const finishDeletion = async (
    record: Pick<StoredRegistration, 'id' | 'tabId' | 'subscriptionId' | 'clientKey' | 'groupId'>,
    joined = true,
  ) => {
    const { id, groupId } = record;
    placements.delete(id);
    const [left] = await Promise.all([
      joined ? leave(groupId, id) : null,
      unindexSets(id, record.tabId, record.subscriptionId, record.clientKey),
    ]);
    await Promise.all([
      redis.del(...keys.registrationKeys(id)),
      redis.zrem(keys.expiry, keys.expiryEntry(id, groupId)),
    ]);
    return left;
  };

  const deleteRegistration = async (id: string): Promise<boolean> => {
    const owner = (await run(scripts.retireRegistration, keys.registrationKeys(id), [])) as
      | [string, string, string, string]
      | null;
    if (!owner) return false;
    const [tabId, subscriptionId, clientKey, groupId] = owner;
    await finishDeletion({
      id,
      tabId,
      subscriptionId: subscriptionId || null,
      clientKey: clientKey || null,
      groupId,
    });
    return true;
  };

  /**
   * Sets where a registration is delivered (its group's copy of its route is the caller's to
   * update, with the `route` returned).
   * @returns the previous subscription id ('' for the stream), the registration and its route
   * copy, or null when it is gone, not `tabId`'s, or (with `expected`) no longer on that
   * subscription
   */
  const setDelivery = async (
    id: string,
    subscriptionId: string | null,
    { tabId = '', expected = '' }: { tabId?: string; expected?: string },
  ) => {
    const reply = (await run(scripts.setDelivery, keys.registrationKeys(id), [
      tabId,
      subscriptionId ?? '',
      expected,
    ])) as [string, string[], string] | null;
    if (!reply) return null;
    return {
      previous: reply[0],
      stored: decodeRegistration(id, reply[1], reply[2]),
      route: routeUpdate(id, reply[1]),
    };
  };

  const routesOf = (entries: readonly { stored: StoredRegistration; route: RouteUpdate }[]) =>
    new Map(entries.map(({ stored, route }) => [stored.id, route]));

  /** Puts the registrations a dropped subscription had on the stream; returns them. */
  const detachAll = async (subscriptionId: string, ids: string[]) => {
    const detached = (
      await Promise.all(ids.map((id) => setDelivery(id, null, { expected: subscriptionId })))
    ).flatMap((entry) => (entry ? [entry] : []));
    // One being created is detached too, and its creation then fails: not returned. Their groups'
    // copies follow in the step that reads the groups.
    return withGroups(
      detached.map((entry) => entry.stored),
      routesOf(detached),
    );
  };

  const deleteSubscription = async (id: string): Promise<RegistrationRecord[]> => {
    const [ids, clientKey] = (await run(scripts.dropSubscription, keys.subscriptionKeys(id), [
      id,
    ])) as [string[], string];
    await Promise.all([
      redis.zrem(keys.subscriptionExpiry, id),
      clientKey && redis.zrem(keys.clientSubscriptions(clientKey), id),
    ]);
    return detachAll(id, ids);
  };

  const getSubscription = async (id: string): Promise<SubscriptionRecord | null> => {
    const fields = (await run(scripts.readSubscription, keys.subscriptionKeys(id), [
      id,
    ])) as string[];
    return decodeSubscription(id, fields);
  };

  /** Adds registrations to a subscription's set within its limit, and extends it to `until`. */
  const attach = async (
    subscriptionId: string,
    ids: string[],
    until: number,
    limit: number,
  ): Promise<{ ok: true; added: string[] } | { ok: false; reason: 'unknown' | 'full' }> => {
    const reply = (await run(scripts.attachToSubscription, keys.subscriptionKeys(subscriptionId), [
      subscriptionId,
      until,
      limit,
      ...ids,
    ])) as ['added', string[]] | ['unknown'] | ['full'];
    return reply[0] === 'added' ? { ok: true, added: reply[1] } : { ok: false, reason: reply[0] };
  };

  const extendSubscription = (id: string, until: number) =>
    Promise.all([
      run(scripts.extendSubscription, keys.subscriptionKeys(id), [id, until]),
      // XX: a deleted subscription does not come back into the count.
      redis.zadd(keys.subscriptionExpiry, 'XX', 'GT', until, id),
    ]);

  /** Adds a group to what an instance owns, before the group says so (see the file header). */
  const addOwned = (instanceId: string, groupId: string) =>
    run(scripts.addOwned, [tokensKey, keys.owned(instanceId)], [instanceId, groupId]);

  /** The orphans among one expired instance's groups; forgets it when it owns none. */
  const orphansOf = async (instanceId: string, at: number, limit: number) => {
    const sample = (await run(scripts.sampleOwned, instanceKeys(instanceId), [
      instanceId,
      at,
      limit,
    ])) as [string, string[]] | null;
    if (!sample) return [];
    const [token, groupIds] = sample;
    const tokens = await Promise.all(
      groupIds.map((groupId) => redis.hget(keys.groupKeys(groupId)[0], 'k')),
    );
    // Claimed by another instance, or deleted: not this instance's any more.
    const stale = groupIds.filter((_, i) => tokens[i] !== token);
    const orphans = groupIds.filter((_, i) => tokens[i] === token);
    if (stale.length > 0) await redis.srem(keys.owned(instanceId), ...stale);
    if (orphans.length === 0) {
      await run(scripts.forgetInstance, instanceKeys(instanceId), [instanceId, at]);
    }
    return orphans.map((groupId): OrphanGroup => ({ groupId, token: Number(token) }));
  };

  return {
    shared: true,

    async putSubscription(
      data: PushSubscriptionData,
      newId: string,
      createdAt: number,
      ttlMs,
      clientKey = null,
    ) {
      const digest = keys.endpointDigest(data.endpoint);
      // The id starts with the endpoint's digest: the subscription's keys are one slot.
      const id = `${digest}${newId}`;
      const expiresAt = createdAt + ttlMs;
      const record: SubscriptionRecord = {
        id,
        endpoint: data.endpoint,
        keys: { p256dh: data.keys.p256dh, auth: data.keys.auth },
        createdAt,
        expiresAt,
        clientKey,
      };
      const pointer = keys.endpoint(digest);
      for (let attempt = 0; attempt < MAX_PUT_ATTEMPTS; attempt++) {
        const current = await redis.get(pointer);
        const [, currentRecord, currentSet] = keys.subscriptionKeys(current ?? id);
        const [, newRecord, newSet] = keys.subscriptionKeys(id);
        const reply = (await run(
          scripts.putSubscription,
          [pointer, currentRecord, currentSet, newRecord, newSet],
          [
            current ?? '',
            id,
            data.keys.p256dh,
            data.keys.auth,
            expiresAt,
            ...encodeSubscription(record),
          ],
        )) as ['retry'] | ['same', string[]] | ['created', string[]];
        if (reply[0] === 'same' && current !== null) {
          const same = decodeSubscription(current, reply[1]);
          if (same) return same;
        }
        if (reply[0] === 'created') {
          await Promise.all([
            redis.zadd(keys.subscriptionExpiry, expiresAt, id),
            clientKey && redis.zadd(keys.clientSubscriptions(clientKey), expiresAt, id),
            current !== null && redis.zrem(keys.subscriptionExpiry, current),
          ]);
          // New keys mean a new browser-side subscription: what was sent to the old keys is lost.
          if (current !== null && reply[1].length > 0) await detachAll(current, reply[1]);
          return record;
        }
      }
      throw conflict(
        `putSubscription kept losing races for one endpoint (${MAX_PUT_ATTEMPTS} tries)`,
      );
    },

    getSubscription,
    deleteSubscription,

    async findSubscription(endpoint) {
      const current = await redis.get(keys.endpoint(keys.endpointDigest(endpoint)));
      const record = current === null ? null : await getSubscription(current);
      return record?.endpoint === endpoint ? record : null;
    },

    async usage(clientKey) {
      const at = now();
      if (clientKey === undefined) {
        await redis.zremrangebyscore(keys.subscriptionExpiry, '-inf', at);
        const [subscriptions, registrations] = await Promise.all([
          redis.zcard(keys.subscriptionExpiry),
          redis.zcard(keys.expiry),
        ]);
        return { subscriptions, registrations };
      }
      await redis.zremrangebyscore(keys.clientSubscriptions(clientKey), '-inf', at);
      const [subscriptions, registrations] = await Promise.all([
        redis.zcard(keys.clientSubscriptions(clientKey)),
        redis.scard(keys.clientRegistrations(clientKey)),
      ]);
      return { subscriptions, registrations };
    },

    async createRegistration(record, limits): Promise<CreateRegistrationResult> {
      const { id, tabId, subscriptionId, groupId, clientKey } = record;
      const registrationKeys = keys.registrationKeys(id);
      const { fields, data } = encodeRegistration(record);
      let joining = false;
      try {
        // Written first, without its base: whatever happens next, takeExpired finds it.
        const [, , onSubscription, onTab] = await Promise.all([
          run(scripts.putRegistration, registrationKeys, [data, ...fields]),
          redis.zadd(keys.expiry, record.expiresAt, keys.expiryEntry(id, groupId)),
          subscriptionId === null
            ? null
            : attach(subscriptionId, [id], record.expiresAt, limits.maxPerSubscription),
          run(scripts.attachToTab, [keys.tab(tabId)], [id, limits.maxPerTab]) as Promise<
            'added' | 'member' | 'full'
          >,
          clientKey !== null && redis.sadd(keys.clientRegistrations(clientKey), id),
        ]);
        const refusal: CreateRegistrationResult | null =
          onSubscription?.ok === false && onSubscription.reason === 'unknown'
            ? { ok: false, reason: 'unknown-subscription' }
            : onTab === 'full'
              ? { ok: false, reason: 'tab-limit' }
              : onSubscription?.ok === false
                ? { ok: false, reason: 'subscription-limit' }
                : null;
        if (refusal) {
          await finishDeletion(record, false);
          return refusal;
        }
        joining = true;
        const [base, listed] = await Promise.all([
          run(scripts.joinGroup, keys.groupKeys(groupId), [id, ...joinRoute(record)]) as Promise<
            number | null
          >,
          subscriptionId === null
            ? 1
            : redis.sismember(keys.subscriptionRegistrations(subscriptionId), id),
          subscriptionId !== null &&
            redis.zadd(keys.subscriptionExpiry, 'XX', 'GT', record.expiresAt, subscriptionId),
        ]);
        if (listed !== 1 || base === null) {
          // Not listed: the subscription was deleted while this registration was being written.
          await finishDeletion(record, base !== null);
          return { ok: false, reason: listed !== 1 ? 'unknown-subscription' : 'group-gone' };
        }
        const commit = (await run(scripts.commitRegistration, registrationKeys, [
          subscriptionId ?? '',
          base,
        ])) as ['ok', number] | ['moved'] | ['gone'];
        if (commit[0] === 'ok') {
          remember(id, { groupId, base: commit[1], tabId });
          return { ok: true, base: commit[1] };
        }
        await finishDeletion(record);
        // Moved: the subscription was deleted meanwhile (and did not report it). Gone: it was
        // created already expired and taken as such: created, then expired at once.
        return commit[0] === 'moved'
          ? { ok: false, reason: 'unknown-subscription' }
          : { ok: true, base };
      } catch (error) {
        await finishDeletion(record, joining).catch(() => {});
        throw error;
      }
    },

    getRegistration: async (id) => (await readRecords([id]))[0] ?? null,

    listByTab: async (tabId) =>
      (await listIds(keys.tab(tabId))).filter((record) => record.tabId === tabId),

    listBySubscription: async (subscriptionId) =>
      (await listIds(keys.subscriptionRegistrations(subscriptionId))).filter(
        (record) => record.subscriptionId === subscriptionId,
      ),

    async renew(tabId, acks, expiresAt, { hidden } = {}) {
      // Later acks of the same id win only when larger, as if applied one after another.
      const ackById = new Map<string, number>();
      for (const { registrationId, ackedSeq } of acks) {
        ackById.set(
          registrationId,
          Math.max(ackById.get(registrationId) ?? 0, wholeNumber(ackedSeq)),
        );
      }
      const ids = [...ackById.keys()];
      const hold = hidden === undefined ? '' : hidden ? '1' : '0';
      const replies = (await Promise.all(
        ids.map((id) =>
          run(scripts.renewRegistration, keys.registrationKeys(id), [tabId, expiresAt, hold]),
        ),
      )) as ([string[], string] | null)[];
      const updated = ids.flatMap((id, i) => {
        const reply = replies[i];
        return reply
          ? [
              {
                stored: decodeRegistration(id, reply[0], reply[1]),
                route: routeUpdate(id, reply[0]),
              },
            ]
          : [];
      });
      const stored = updated.map((entry) => entry.stored);
      // Each group takes the acknowledgements and the new route copies (expiry, hold) in one step.
      const acksByGroup = new Map<string, { ids: string[]; args: (string | number)[] }>();
      for (const { stored: record, route } of updated) {
        const entry = acksByGroup.get(record.groupId) ?? { ids: [], args: [] };
        const [id, version, base, tail] = route;
        entry.ids.push(id);
        entry.args.push(id, (record.base ?? 0) + (ackById.get(id) ?? 0), version, base, tail);
        acksByGroup.set(record.groupId, entry);
      }
      // The push subscriptions in use live as long as the registrations on them.
      const used = new Set(stored.flatMap((record) => record.subscriptionId ?? []));
      const [views] = await Promise.all([
        Promise.all(
          [...acksByGroup].map(async ([groupId, entry]) => {
            const reply = (await run(
              scripts.ackMembers,
              keys.groupKeys(groupId),
              entry.args,
            )) as ViewReply;
            return [groupId, parseView(reply, entry.ids)] as const;
          }),
        ),
        // XX: a registration deleted meanwhile does not get its entry back.
        Promise.all(
          stored.map((record) =>
            redis.zadd(keys.expiry, 'XX', expiresAt, keys.expiryEntry(record.id, record.groupId)),
          ),
        ),
        Promise.all([...used].map((id) => extendSubscription(id, expiresAt))),
      ]);
      const viewOf = new Map(views);
      const renewedById = new Map<string, RegistrationRecord>();
      for (const record of stored) {
        const view = viewOf.get(record.groupId);
        const acked = view?.scores.get(record.id);
        if (view && acked !== undefined) {
          renewedById.set(record.id, registrationView(record, view.state, acked));
        }
      }
      const renewed: RegistrationRecord[] = [];
      const gone: string[] = [];
      for (const id of ids) {
        const record = renewedById.get(id);
        if (record) renewed.push(record);
        else gone.push(id);
      }
      return { renewed, gone };
    },

    async move(tabId, registrationIds, subscriptionId, maxPerSubscription): Promise<MoveResult> {
      const ids = [...new Set(registrationIds)];
      const mine = (await readRecords(ids)).filter((record) => record.tabId === tabId);
      const gone = ids.filter((id) => !mine.some((record) => record.id === id));
      if (subscriptionId !== null) {
        const arriving = mine.filter((record) => record.subscriptionId !== subscriptionId);
        const until = Math.max(0, ...mine.map((record) => record.expiresAt));
        const attached = await attach(
          subscriptionId,
          arriving.map((record) => record.id),
          until,
          maxPerSubscription,
        );
        if (!attached.ok) {
          return {
            ok: false,
            reason: attached.reason === 'unknown' ? 'unknown-subscription' : 'subscription-limit',
          };
        }
      }
      const switched = (
        await Promise.all(
          mine.map(async (record) => {
            const result = await setDelivery(record.id, subscriptionId, { tabId });
            if (!result) {
              // Deleted meanwhile: take it off the set it was just added to.
              if (subscriptionId !== null) {
                await redis.srem(keys.subscriptionRegistrations(subscriptionId), record.id);
              }
              gone.push(record.id);
              return null;
            }
            return { record, ...result };
          }),
        )
      ).flatMap((entry) => (entry ? [entry] : []));
      await Promise.all([
        // The groups' copies follow the registrations, now that those say where they go.
        viewGroups(
          switched.map((entry) => entry.stored),
          routesOf(switched),
        ),
        ...switched.map(({ record, previous }) =>
          previous !== '' && previous !== subscriptionId
            ? redis.srem(keys.subscriptionRegistrations(previous), record.id)
            : null,
        ),
      ]);
      return {
        ok: true,
        // What the group holds as read a moment ago; the registration's own fields as now.
        moved: switched.map(({ record, stored }) => ({ ...record, ...stored, base: record.base })),
        gone,
      };
    },

    deleteRegistration: (id) => deleteRegistration(id),

    async takeExpired(at) {
      const taken: RegistrationRecord[] = [];
      for (;;) {
        const entries = await redis.zrangebyscore(
          keys.expiry,
          '-inf',
          at,
          'LIMIT',
          0,
          EXPIRY_BATCH,
        );
        if (entries.length === 0) {
          // Push subscriptions expire by their keys' TTL; their index entries go here.
          await redis.zremrangebyscore(keys.subscriptionExpiry, '-inf', at);
          return taken;
        }
        await Promise.all(
          entries.map(async (entry) => {
            const { registrationId: id, groupId } = keys.parseExpiryEntry(entry);
            const reply = (await run(scripts.takeIfExpired, keys.registrationKeys(id), [at])) as
              | ['taken', string[], string]
              | ['live', string]
              | ['gone'];
            if (reply[0] === 'live') {
              // Renewed after the range was read; make sure the index says so (GT: never shorten
              // what a concurrent renewal wrote).
              await redis.zadd(keys.expiry, 'XX', 'GT', reply[1], entry);
              return;
            }
            if (reply[0] === 'gone') {
              // Only the last step of a deletion was cut short; leaving again costs nothing.
              await leave(groupId, id);
              await redis.zrem(keys.expiry, entry);
              return;
            }
            const stored = decodeRegistration(id, reply[1], reply[2]);
            const left = await finishDeletion(stored);
            // One without a base was never created, or was already deleted (a creation or a
            // deletion cut short): nobody is to hear about it again.
            if (stored.base !== null) {
              taken.push(registrationView(stored, left?.state ?? null, left?.acked ?? null));
            }
          }),
        );
        // Every entry of the batch left the range (taken, removed or rescored), so the next
        // round sees new ones; a short batch was the last.
        if (entries.length < EXPIRY_BATCH) return taken;
      }
    },

    async getMessages(registrationId, afterSeq, limit) {
      let placement = placements.get(registrationId);
      if (!placement) {
        const [groupId, base, tabId] = await redis.hmget(
          keys.registration(registrationId),
          'g',
          'b',
          't',
        );
        if (groupId == null || base == null || tabId == null) return [];
        placement = { groupId, base: Number(base), tabId };
        remember(registrationId, placement);
      }
      const { groupId, base, tabId } = placement;
      // Membership is checked in the same step: a remembered placement of a deleted
      // registration reads nothing.
      const reply = (await run(scripts.readGroupMessages, keys.groupKeys(groupId), [
        registrationId,
        base + wholeNumber(afterSeq),
        wholeNumber(limit),
      ])) as [number, string[]] | null;
      if (!reply) {
        placements.delete(registrationId);
        return [];
      }
      const [first, entries] = reply;
      return entries.map((entry, i): Envelope => {
        const seq = first + i - base;
        const message = decodeLogEntry(entry);
        const envelope: Envelope = {
          v: PROTOCOL_VERSION,
          id: envelopeId(registrationId, seq),
          tab: tabId,
          reg: registrationId,
          seq,
          type: message.type,
        };
        if (message.payload !== undefined) envelope.payload = message.payload;
        return envelope;
      });
    },

    async createGroup(group) {
      await addOwned(group.owner, group.id);
      const { fields, data } = encodeGroup(group);
      await run(scripts.putGroup, keys.groupKeys(group.id), [data, ...fields]);
    },

    async getGroup(id) {
      const reply = (await run(scripts.readGroup, keys.groupKeys(id), [])) as
        | [string[], string]
        | null;
      return reply ? decodeGroup(id, reply[0], reply[1]) : null;
    },

    async listMembers(groupId) {
      // One command whatever the group's size: its copy of every member's route.
      return decodeRoutes(await redis.hgetall(keys.groupKeys(groupId)[4]));
    },

    async appendGroupMessage(groupId, message, retention, options): Promise<AppendResult> {
      const { token, cursor, appendId = '' } = options;
      const at = now();
      const cursorArgs =
        cursor === undefined ? ['k', ''] : cursor === null ? ['n', ''] : ['s', cursor];
      const reply = (await run(scripts.appendGroupMessage, keys.groupKeys(groupId), [
        encodeLogEntry(at, message),
        message.type,
        token,
        ...cursorArgs,
        at,
        retention.messageTtlMs,
        retention.maxMessages,
        appendId,
      ])) as ['ok', number] | ['gone'] | ['done'] | ['fenced'];
      return reply[0] === 'ok' ? { ok: true, seq: reply[1] } : { ok: false, reason: reply[0] };
    },

    async deleteGroup(id) {
      const owner = (await run(scripts.deleteGroup, keys.groupKeys(id), [])) as string | null;
      if (owner === null) return false;
      if (owner !== '') await redis.srem(keys.owned(owner), id);
      return true;
    },

    async heartbeat(instanceId, ttlMs, at) {
      return (await run(scripts.heartbeat, keys.instances, [instanceId, at + ttlMs])) as number;
    },

    async releaseInstance(instanceId) {
      // XX: an instance not known stays unknown.
      await redis.zadd(leasesKey, 'XX', 0, instanceId);
    },

    async listOrphans(at, limit) {
      const wanted = wholeNumber(limit);
      if (wanted === 0) return [];
      const expired = await redis.zrangebyscore(
        leasesKey,
        '-inf',
        at,
        'LIMIT',
        0,
        ORPHAN_INSTANCES,
      );
      const found = await Promise.all(
        expired.map((instanceId) => orphansOf(instanceId, at, wanted)),
      );
      return found.flat().slice(0, wanted);
    },

    async claimGroup(groupId, fromToken, owner, token) {
      // The hint first: a claimer that dies next leaves a stale hint, not an unlisted group.
      await addOwned(owner, groupId);
      const reply = (await run(scripts.claimGroup, keys.groupKeys(groupId), [
        fromToken,
        owner,
        token,
      ])) as [string, string[], string] | null;
      if (!reply) return null;
      const [previous, fields, data] = reply;
      if (previous !== '' && previous !== owner) await redis.srem(keys.owned(previous), groupId);
      return decodeGroup(groupId, fields, data);
    },

    signal: (channel, message) => signals.signal(channel, message),
    listen: (channel, listener) => signals.listen(channel, listener),

    async close() {
      await signals.close();
      if (ownsClient) await redis.quit();
    },
  };
}
