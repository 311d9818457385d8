/**
 * The Redis {@link Store}: push subscriptions, registrations, message logs and leases in Redis
 * (single node or Cluster), shared by every server instance.
 *
 * Layout (`p` = prefix; see redis-keys.ts and redis-records.ts):
 * - `p:{r:<id>}` hash of a registration's changing fields (seq, expiry, ack, delivery, held,
 *   cursor, lease and its fencing counter), `p:{r:<id>}:d` its fixed fields as JSON,
 *   `p:{r:<id>}:l` its message log (a list, oldest first; the first entry's seq is
 *   `seq - length + 1`, so no index is kept);
 * - `p:{e:<digest>}` the id of an endpoint's push subscription, `p:{e:<digest>}:<id>` the
 *   subscription's hash, `p:{e:<digest>}:<id>:r` the set of its registrations. A subscription id
 *   starts with its endpoint's digest, so all three are one slot, found from the id. They expire
 *   with a Redis TTL: every registration created, renewed or moved onto the subscription extends
 *   them to its own expiry, so an unused subscription is gone a registration TTL after its last use;
 * - `p:{t:<tab>}` the set of a tab's registrations, `p:{t:<tab>}:w` the tab's signal channel;
 * - `p:expiry` a sorted set of registration ids by `expiresAt`;
 * - `p:leases` a sorted set of registration ids by lease end (0 when released or never taken):
 *   where `listUnowned` looks. It is a hint: the hash holds the lease (`lo`, `le`, `lt`), and
 *   `listUnowned` checks it, dropping ids of deleted or done registrations and re-scoring stale
 *   entries. Stale scores cost a refused `acquireLease` at worst, never a lease.
 *
 * Atomicity: every read-modify-write of one entity is one Lua script over that entity's keys, and
 * those keys share a hash tag, so each script runs on one Cluster node. `appendMessage` is a
 * single script: existence, done, the fencing token, the seq, the log write, the cursor, done and
 * trimming happen in one step. It also remembers the caller's append id, so that an append
 * repeated after its answer was lost (ioredis resends unanswered commands after a reconnect; the
 * runner retries after errors) is answered as done instead of being stored twice.
 *
 * `build(seq)` runs in Node, so the append is optimistic: build for the seq we believe is next
 * and let the script refuse with the real seq when another append got there first, then rebuild.
 * The last seq seen per registration is cached, so the usual append (one owner appending in order)
 * is one round trip.
 *
 * Operations that span entities (a registration and its tab, subscription and the expiry set)
 * cannot be one script on a Cluster; they are a sequence of single-entity scripts, ordered so that
 * every interleaving ends consistent:
 * - createRegistration adds the id to the subscription's and the tab's sets with atomic
 *   check-then-add scripts (so a limit is never exceeded, even by concurrent inserts), undoes the
 *   adds on refusal, writes the registration, then indexes its expiry, and finally checks that the
 *   subscription still lists it: a `deleteSubscription` that ran in between is detected and the
 *   new registration removed. A concurrent insert that is later undone can make another insert see
 *   a full set: refusals err on the safe side.
 * - move checks the registrations, adds them to the new subscription's set in one all-or-nothing
 *   script (within its limit), switches each registration's delivery, then removes each from its
 *   old set.
 * - deleteSubscription removes the subscription and its set in one script, then puts each of its
 *   registrations on the stream (only if it is still on that subscription).
 * - putSubscription reads the endpoint's pointer and then runs one compare-and-set script that
 *   either extends the same subscription or writes the new one and drops the replaced one.
 * - takeExpired ranges the expiry set, then per registration runs a script that deletes it only if
 *   it is still expired (a renewal in between wins) and returns the record, then cleans the sets.
 * Index entries can briefly name a registration that does not exist (being created or deleted);
 * readers skip them. A registration's own keys exist only while its hash does: after
 * `deleteRegistration` or `takeExpired`, none of its keys is left.
 */
import type { Envelope, PushSubscriptionData } from '../../protocol/index.js';
import { connectRedis } from './ioredis.js';
import { createRedisKeys } from './redis-keys.js';
import {
  decodeRegistration,
  decodeSubscription,
  encodeRegistration,
  encodeSubscription,
} from './redis-records.js';
import { type RedisClient, runScript } from './redis-script.js';
import * as scripts from './redis-scripts.js';
import { createRedisSignals } from './redis-signals.js';
import type {
  AppendResult,
  CreateRegistrationResult,
  MoveResult,
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
   * Clock for message ages in `appendMessage` (the Store interface passes no `now` there).
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
/** Registrations whose last seq is remembered for one-round-trip appends. */
const SEQ_CACHE_SIZE = 10_000;
/** Rebuilds an append may need; each one means another append won, so this is generous. */
const MAX_APPEND_ATTEMPTS = 1_000;
const MAX_PUT_ATTEMPTS = 10;

function conflict(message: string): RedisStoreError {
  return Object.assign(new Error(message), {
    name: 'RedisStoreError',
    code: 'STORE_CONFLICT' as const,
  });
}

/** A non-negative integer from a number a client sent (acks, offsets). */
const wholeNumber = (value: number): number =>
  Number.isFinite(value) ? Math.max(0, Math.floor(value)) : 0;

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
 * records can still be returned); push subscriptions expire by TTL. The file header explains how
 * multi-key operations stay consistent. Signals use one more connection, opened on the first
 * `listen`.
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
  const lastSeq = new Map<string, number>();
  const signals = createRedisSignals({ redis, channel: keys.tabChannel });

  const rememberSeq = (id: string, seq: number): void => {
    lastSeq.delete(id);
    lastSeq.set(id, seq);
    if (lastSeq.size > SEQ_CACHE_SIZE) {
      const oldest = lastSeq.keys().next().value;
      if (oldest !== undefined) lastSeq.delete(oldest);
    }
  };

  const readRecord = async (id: string): Promise<RegistrationRecord | null> => {
    const reply = (await runScript(
      redis,
      scripts.readRegistration,
      keys.registrationKeys(id).slice(0, 2),
      [],
    )) as [string[], string] | null;
    return reply ? decodeRegistration(id, reply[0], reply[1]) : null;
  };

  /** Removes every trace of a registration, whether or not its hash exists (undoing a create). */
  const purge = async (record: RegistrationRecord): Promise<void> => {
    lastSeq.delete(record.id);
    await Promise.all([
      runScript(redis, scripts.deleteRegistration, keys.registrationKeys(record.id), []),
      unindex(record.id, record.tabId, record.subscriptionId, record.clientKey),
    ]);
  };

  /** Drops the index entries of a registration whose keys a script just deleted. */
  const unindex = async (
    id: string,
    tabId: string,
    subscriptionId: string | null,
    clientKey: string | null,
  ): Promise<void> => {
    lastSeq.delete(id);
    await Promise.all([
      redis.srem(keys.tab(tabId), id),
      subscriptionId && redis.srem(keys.subscriptionRegistrations(subscriptionId), id),
      clientKey && redis.srem(keys.clientRegistrations(clientKey), id),
      redis.zrem(keys.expiry, id),
      redis.zrem(keys.leases, id),
    ]);
  };

  const listIds = async (setKey: string): Promise<RegistrationRecord[]> => {
    const ids = await redis.smembers(setKey);
    const records = await Promise.all(ids.map(readRecord));
    return records
      .filter((record): record is RegistrationRecord => record !== null)
      .sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : 1));
  };

  const deleteRegistration = async (id: string): Promise<boolean> => {
    const owner = (await runScript(
      redis,
      scripts.deleteRegistration,
      keys.registrationKeys(id),
      [],
    )) as [string, string, string] | null;
    if (!owner) return false;
    await unindex(id, owner[0], owner[1] || null, owner[2] || null);
    return true;
  };

  /**
   * Sets where a registration is delivered.
   * @returns the previous subscription id ('' for the stream) and the record, or null when it is
   * gone, not `tabId`'s, or (with `expected`) no longer on that subscription
   */
  const setDelivery = async (
    id: string,
    subscriptionId: string | null,
    { tabId = '', expected = '' }: { tabId?: string; expected?: string },
  ): Promise<{ previous: string; record: RegistrationRecord } | null> => {
    const reply = (await runScript(
      redis,
      scripts.setDelivery,
      keys.registrationKeys(id).slice(0, 2),
      [tabId, subscriptionId ?? '', expected],
    )) as [string, string[], string] | null;
    if (!reply) return null;
    return { previous: reply[0], record: decodeRegistration(id, reply[1], reply[2]) };
  };

  /** Puts the registrations a dropped subscription had on the stream; returns them. */
  const detachAll = async (subscriptionId: string, ids: string[]) => {
    const detached = await Promise.all(
      ids.map((id) => setDelivery(id, null, { expected: subscriptionId })),
    );
    return detached.flatMap((entry) => (entry ? [entry.record] : []));
  };

  const deleteSubscription = async (id: string): Promise<RegistrationRecord[]> => {
    const [ids, clientKey] = (await runScript(
      redis,
      scripts.dropSubscription,
      keys.subscriptionKeys(id),
      [id],
    )) as [string[], string];
    await Promise.all([
      redis.zrem(keys.subscriptionExpiry, id),
      clientKey && redis.zrem(keys.clientSubscriptions(clientKey), id),
    ]);
    return detachAll(id, ids);
  };

  const getSubscription = async (id: string): Promise<SubscriptionRecord | null> => {
    const fields = (await runScript(redis, scripts.readSubscription, keys.subscriptionKeys(id), [
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
    const reply = (await runScript(
      redis,
      scripts.attachToSubscription,
      keys.subscriptionKeys(subscriptionId),
      [subscriptionId, until, limit, ...ids],
    )) as ['added', string[]] | ['unknown'] | ['full'];
    return reply[0] === 'added' ? { ok: true, added: reply[1] } : { ok: false, reason: reply[0] };
  };

  const extendSubscription = (id: string, until: number) =>
    Promise.all([
      runScript(redis, scripts.extendSubscription, keys.subscriptionKeys(id), [id, until]),
      // XX: a deleted subscription does not come back into the count.
      redis.zadd(keys.subscriptionExpiry, 'XX', 'GT', until, id),
    ]);

  return {
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
        const reply = (await runScript(
          redis,
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
      const { id, tabId, subscriptionId } = record;
      const [onSubscription, onTab] = await Promise.all([
        subscriptionId === null
          ? null
          : attach(subscriptionId, [id], record.expiresAt, limits.maxPerSubscription),
        runScript(redis, scripts.attachToTab, [keys.tab(tabId)], [id, limits.maxPerTab]) as Promise<
          'added' | 'member' | 'full'
        >,
      ]);
      if (subscriptionId !== null && onSubscription?.ok) {
        await redis.zadd(keys.subscriptionExpiry, 'XX', 'GT', record.expiresAt, subscriptionId);
      }
      const refusal: CreateRegistrationResult | null =
        onSubscription?.ok === false && onSubscription.reason === 'unknown'
          ? { ok: false, reason: 'unknown-subscription' }
          : onTab === 'full'
            ? { ok: false, reason: 'tab-limit' }
            : onSubscription?.ok === false
              ? { ok: false, reason: 'subscription-limit' }
              : null;
      if (refusal) {
        await Promise.all([
          onSubscription?.ok &&
            subscriptionId &&
            redis.srem(keys.subscriptionRegistrations(subscriptionId), id),
          onTab === 'added' && redis.srem(keys.tab(tabId), id),
        ]);
        return refusal;
      }
      try {
        const { fields, data } = encodeRegistration(record);
        await runScript(redis, scripts.putRegistration, keys.registrationKeys(id).slice(0, 2), [
          data,
          ...fields,
        ]);
        const [, , listed] = await Promise.all([
          redis.zadd(keys.expiry, record.expiresAt, id),
          // Unowned until a lease is taken: if the creating instance dies first, another adopts.
          redis.zadd(keys.leases, 0, id),
          subscriptionId === null
            ? 1
            : redis.sismember(keys.subscriptionRegistrations(subscriptionId), id),
          record.clientKey && redis.sadd(keys.clientRegistrations(record.clientKey), id),
        ]);
        if (listed === 1) {
          rememberSeq(id, record.seq);
          return { ok: true };
        }
      } catch (error) {
        await purge(record).catch(() => {});
        throw error;
      }
      // The subscription was deleted while this registration was being written.
      await purge(record);
      return { ok: false, reason: 'unknown-subscription' };
    },

    getRegistration: readRecord,

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
      const hold = hidden === undefined ? '' : hidden ? '1' : '0';
      const results = await Promise.all(
        [...ackById].map(async ([id, ackedSeq]): Promise<RegistrationRecord | null> => {
          const reply = (await runScript(
            redis,
            scripts.renewRegistration,
            keys.registrationKeys(id),
            [tabId, ackedSeq, expiresAt, hold],
          )) as [string[], string] | null;
          if (!reply) return null;
          await redis.zadd(keys.expiry, expiresAt, id);
          return decodeRegistration(id, reply[0], reply[1]);
        }),
      );
      const renewed: RegistrationRecord[] = [];
      const gone: string[] = [];
      [...ackById.keys()].forEach((id, i) => {
        const record = results[i];
        if (record) renewed.push(record);
        else gone.push(id);
      });
      // The push subscriptions in use live as long as the registrations on them.
      const used = new Set(renewed.flatMap((record) => record.subscriptionId ?? []));
      await Promise.all([...used].map((id) => extendSubscription(id, expiresAt)));
      return { renewed, gone };
    },

    async move(tabId, registrationIds, subscriptionId, maxPerSubscription): Promise<MoveResult> {
      const ids = [...new Set(registrationIds)];
      const records = await Promise.all(ids.map(readRecord));
      const mine = records.filter(
        (record): record is RegistrationRecord => record !== null && record.tabId === tabId,
      );
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
      const moved: RegistrationRecord[] = [];
      await Promise.all(
        mine.map(async (record) => {
          const switched = await setDelivery(record.id, subscriptionId, { tabId });
          if (!switched) {
            // Deleted meanwhile: take it off the set it was just added to.
            if (subscriptionId !== null) {
              await redis.srem(keys.subscriptionRegistrations(subscriptionId), record.id);
            }
            gone.push(record.id);
            return;
          }
          const { previous } = switched;
          if (previous !== '' && previous !== subscriptionId) {
            await redis.srem(keys.subscriptionRegistrations(previous), record.id);
          }
          moved.push(switched.record);
        }),
      );
      return { ok: true, moved, gone };
    },

    deleteRegistration: (id) => deleteRegistration(id),

    async takeExpired(at) {
      const taken: RegistrationRecord[] = [];
      for (;;) {
        const ids = await redis.zrangebyscore(keys.expiry, '-inf', at, 'LIMIT', 0, EXPIRY_BATCH);
        if (ids.length === 0) return taken;
        await Promise.all(
          ids.map(async (id) => {
            const reply = (await runScript(
              redis,
              scripts.takeIfExpired,
              keys.registrationKeys(id),
              [at],
            )) as ['taken', string[], string] | ['live', string] | ['gone'];
            if (reply[0] === 'taken') {
              const record = decodeRegistration(id, reply[1], reply[2]);
              await unindex(id, record.tabId, record.subscriptionId, record.clientKey);
              taken.push(record);
            } else if (reply[0] === 'live') {
              // Renewed after the range was read; make sure the index says so (GT: never shorten
              // what a concurrent renewal wrote).
              await redis.zadd(keys.expiry, 'XX', 'GT', reply[1], id);
            } else {
              await redis.zrem(keys.expiry, id);
            }
          }),
        );
        // Every id of the batch left the range (taken, removed or rescored), so the next round
        // sees new ones; a short batch was the last.
        if (ids.length < EXPIRY_BATCH) return taken;
      }
    },

    async appendMessage(registrationId, build, retention, options = {}): Promise<AppendResult> {
      const { fencingToken, cursor, appendId = '' } = options;
      const registrationKey = keys.registration(registrationId);
      const logKey = keys.registrationLog(registrationId);
      let expected = lastSeq.get(registrationId);
      if (expected === undefined) {
        const stored = await redis.hget(registrationKey, 'n');
        if (stored === null) return { ok: false, reason: 'gone' };
        expected = Number(stored);
      }
      const cursorArgs =
        cursor === undefined ? ['k', ''] : cursor === null ? ['n', ''] : ['s', cursor];
      for (let attempt = 0; attempt < MAX_APPEND_ATTEMPTS; attempt++) {
        const envelope: Envelope = build(expected + 1);
        const reply = (await runScript(
          redis,
          scripts.appendMessage,
          [registrationKey, logKey],
          [
            String(expected),
            JSON.stringify(envelope),
            envelope.type,
            fencingToken === undefined ? '' : fencingToken,
            ...cursorArgs,
            now(),
            retention.messageTtlMs,
            retention.maxMessages,
            appendId,
          ],
        )) as ['ok', number] | ['dup' | 'seq', string] | ['gone'] | ['done'] | ['fenced'];
        if (reply[0] === 'ok') {
          rememberSeq(registrationId, reply[1]);
          return { ok: true, envelope: structuredClone(envelope) };
        }
        if (reply[0] === 'dup') {
          // This append was applied before (the answer got lost): the stored envelope is ours.
          const seq = Number(reply[1]);
          rememberSeq(registrationId, seq);
          return { ok: true, envelope: build(seq) };
        }
        if (reply[0] !== 'seq') {
          lastSeq.delete(registrationId);
          return { ok: false, reason: reply[0] };
        }
        expected = Number(reply[1]);
      }
      throw conflict(`appendMessage lost ${MAX_APPEND_ATTEMPTS} races on one registration`);
    },

    async getMessages(registrationId, afterSeq, limit) {
      const entries = (await runScript(
        redis,
        scripts.readMessages,
        [keys.registration(registrationId), keys.registrationLog(registrationId)],
        [wholeNumber(afterSeq), wholeNumber(limit)],
      )) as string[];
      // Each entry is `<appendedAtMs>:<envelope JSON>`.
      return entries.map((entry) => JSON.parse(entry.slice(entry.indexOf(':') + 1)) as Envelope);
    },

    async acquireLease(registrationId, owner, ttlMs, at) {
      const token = await runScript(
        redis,
        scripts.acquireLease,
        [keys.registration(registrationId)],
        [owner, at, at + ttlMs],
      );
      if (typeof token !== 'number') return null;
      // After the hash: a registration deleted meanwhile leaves an entry listUnowned drops.
      await redis.zadd(keys.leases, at + ttlMs, registrationId);
      return token;
    },

    async releaseLease(registrationId, owner) {
      const released = await runScript(
        redis,
        scripts.releaseLease,
        [keys.registration(registrationId)],
        [owner],
      );
      // XX: never brings back an entry listUnowned dropped (deleted or done).
      if (released === 1) await redis.zadd(keys.leases, 'XX', 0, registrationId);
    },

    async listUnowned(at, limit) {
      const ids = await redis.zrangebyscore(
        keys.leases,
        '-inf',
        at,
        'LIMIT',
        0,
        Math.max(0, limit),
      );
      const states = await Promise.all(
        ids.map((id) => redis.hmget(keys.registration(id), 'n', 'd', 'lo', 'le')),
      );
      const unowned: string[] = [];
      await Promise.all(
        ids.map(async (id, i) => {
          const [seq, done, owner, leaseEnd] = states[i] ?? [];
          if (seq === null || seq === undefined || done !== null) {
            await redis.zrem(keys.leases, id);
          } else if (owner !== null && Number(leaseEnd) > at) {
            await redis.zadd(keys.leases, 'GT', String(leaseEnd), id);
          } else {
            unowned.push(id);
          }
        }),
      );
      return unowned;
    },

    signal: (tabId, message) => signals.signal(tabId, message),
    listen: (tabId, listener) => signals.listen(tabId, listener),

    async close() {
      await signals.close();
      if (ownsClient) await redis.quit();
    },
  };
}
