import {
  type Envelope,
  envelopeId,
  PROTOCOL_VERSION,
  type PushSubscriptionData,
} from '../../protocol/index.js';
import type {
  AppendResult,
  CreateRegistrationResult,
  GroupMessage,
  GroupRecord,
  MemberRoute,
  MoveResult,
  RegistrationRecord,
  RetentionOptions,
  Store,
  SubscriptionRecord,
} from './types.js';

interface LogEntry {
  seq: number;
  message: GroupMessage;
  /** When it was appended (epoch ms), for the TTL. */
  at: number;
}

/** A registration as kept: its seq and done come from its group when read. */
type StoredRegistration = Omit<RegistrationRecord, 'seq' | 'done'>;

interface StoredGroup {
  record: GroupRecord;
  /** Members and the group seq each acknowledged (its base until it acknowledges). */
  members: Map<string, number>;
  /**
   * The same members' records (changed in place, never replaced), in the same order: a
   * popular group is read on every message, and a lookup by id per member was most of it.
   */
  records: Map<string, StoredRegistration>;
  log: LogEntry[];
  /** Id and seq of the last append, to answer a repeated one. */
  lastAppend?: { id: string; seq: number };
}

interface InstanceLease {
  token: number;
  expiresAt: number;
  groups: Set<string>;
}

/**
 * A {@link Store} in this process's memory, for one server instance, development and tests.
 *
 * @returns a store whose every method is one synchronous step (no `await` between reading and
 * writing), so concurrent requests see each other's writes whole
 * @remarks Everything is lost when the process ends; use `createRedisStore` to survive restarts
 * or to share registrations between instances. Records handed out are copies: changing them
 * changes nothing stored. Signals reach the listeners of this process, after the current task.
 * Push subscriptions expire by the wall clock (`Date.now()`), as Redis keys do.
 */
export function createMemoryStore(): Store {
  const subscriptions = new Map<string, SubscriptionRecord>();
  const subscriptionByEndpoint = new Map<string, string>();
  const registrations = new Map<string, StoredRegistration>();
  const registrationsByTab = new Map<string, Set<string>>();
  const registrationsBySubscription = new Map<string, Set<string>>();
  const groups = new Map<string, StoredGroup>();
  const instances = new Map<string, InstanceLease>();
  // One counter for all instances: every lease's token is larger than any before it.
  let tokenCounter = 0;
  const listeners = new Map<string, Set<(message: string) => void>>();
  /** Ids each client made, for per-client limits. */
  const byClient = new Map<string, { subscriptions: Set<string>; registrations: Set<string> }>();
  const clientSets = (key: string) => {
    let sets = byClient.get(key);
    if (!sets) {
      sets = { subscriptions: new Set(), registrations: new Set() };
      byClient.set(key, sets);
    }
    return sets;
  };
  const forgetClient = (
    key: string | null,
    kind: 'subscriptions' | 'registrations',
    id: string,
  ) => {
    if (key === null) return;
    const sets = byClient.get(key);
    sets?.[kind].delete(id);
    if (sets && sets.subscriptions.size === 0 && sets.registrations.size === 0) {
      byClient.delete(key);
    }
  };

  const liveSubscription = (id: string | null): SubscriptionRecord | undefined => {
    if (id === null) return undefined;
    const record = subscriptions.get(id);
    if (!record) return undefined;
    if (record.expiresAt > Date.now()) return record;
    removeSubscription(id);
    return undefined;
  };

  /** Keeps a push subscription at least until `until`: a registration on it lives that long. */
  const extendSubscription = (id: string | null, until: number): void => {
    const record = liveSubscription(id);
    if (record && record.expiresAt < until) record.expiresAt = until;
  };

  const addToIndex = (index: Map<string, Set<string>>, key: string, id: string): void => {
    let ids = index.get(key);
    if (!ids) {
      ids = new Set();
      index.set(key, ids);
    }
    ids.add(id);
  };
  const removeFromIndex = (index: Map<string, Set<string>>, key: string, id: string): void => {
    const ids = index.get(key);
    if (!ids) return;
    ids.delete(id);
    if (ids.size === 0) index.delete(key);
  };

  /**
   * Each registration's route, handed out again while it is unchanged: a group's fan-out reads
   * every member on every event, and new objects per member and event would live until the
   * event's last push is answered, through the young generation's collections. Records change
   * in place, so a route is checked against its record rather than kept up to date.
   */
  const routeCache = new WeakMap<StoredRegistration, MemberRoute>();
  const routeOf = (record: StoredRegistration): MemberRoute => {
    const known = routeCache.get(record);
    if (
      known !== undefined &&
      known.tabId === record.tabId &&
      known.subscriptionId === record.subscriptionId &&
      known.held === record.held &&
      known.background === record.background &&
      known.expiresAt === record.expiresAt &&
      known.base === record.base
    ) {
      return known;
    }
    const route: MemberRoute = {
      id: record.id,
      tabId: record.tabId,
      subscriptionId: record.subscriptionId,
      held: record.held,
      background: record.background,
      expiresAt: record.expiresAt,
      base: record.base,
    };
    routeCache.set(record, route);
    return route;
  };

  /** A registration as handed out: a copy, with its seq and done from its group. */
  const view = (stored: StoredRegistration): RegistrationRecord => {
    const group = groups.get(stored.groupId)?.record;
    return {
      ...stored,
      headers: { ...stored.headers },
      seq: Math.max(0, (group?.seq ?? stored.base) - stored.base),
      done: group?.done ?? false,
    };
  };

  const removeGroup = (id: string): void => {
    const group = groups.get(id);
    if (!group) return;
    groups.delete(id);
    instances.get(group.record.owner)?.groups.delete(id);
  };

  const removeRegistration = (id: string): RegistrationRecord | null => {
    const stored = registrations.get(id);
    if (!stored) return null;
    const record = view(stored);
    registrations.delete(id);
    removeFromIndex(registrationsByTab, stored.tabId, id);
    if (stored.subscriptionId !== null) {
      removeFromIndex(registrationsBySubscription, stored.subscriptionId, id);
    }
    forgetClient(stored.clientKey, 'registrations', id);
    const group = groups.get(stored.groupId);
    if (group) {
      group.members.delete(id);
      group.records.delete(id);
      // Nobody runs a done group: its log goes with its last member. A running one is
      // deleted by its owner, which stops its execution first.
      if (group.members.size === 0 && group.record.done) removeGroup(stored.groupId);
      else trim(group, undefined, Date.now());
    }
    return record;
  };

  /** Deletes a push subscription; its registrations go over the stream from now on. */
  const removeSubscription = (id: string): RegistrationRecord[] => {
    const record = subscriptions.get(id);
    if (!record) return [];
    subscriptions.delete(id);
    forgetClient(record.clientKey, 'subscriptions', id);
    if (subscriptionByEndpoint.get(record.endpoint) === id) {
      subscriptionByEndpoint.delete(record.endpoint);
    }
    const detached: RegistrationRecord[] = [];
    for (const registrationId of registrationsBySubscription.get(id) ?? []) {
      const registration = registrations.get(registrationId);
      if (!registration) continue;
      registration.subscriptionId = null;
      detached.push(view(registration));
    }
    registrationsBySubscription.delete(id);
    return detached;
  };

  /**
   * Drops what no member needs: entries every member acknowledged (or joined after), and, with
   * a retention, entries past its age or count.
   */
  const trim = (group: StoredGroup, retention: RetentionOptions | undefined, now: number): void => {
    let acked = Number.POSITIVE_INFINITY;
    for (const seq of group.members.values()) acked = Math.min(acked, seq);
    const oldest = retention ? now - retention.messageTtlMs : Number.NEGATIVE_INFINITY;
    let kept = group.log.filter((entry) => entry.seq > acked && entry.at > oldest);
    if (retention && kept.length > retention.maxMessages) {
      kept = kept.slice(kept.length - retention.maxMessages);
    }
    if (kept.length !== group.log.length) group.log = kept;
  };

  const list = (ids: Set<string> | undefined): RegistrationRecord[] =>
    [...(ids ?? [])].flatMap((id) => {
      const record = registrations.get(id);
      return record ? [view(record)] : [];
    });

  const envelopeOf = (stored: StoredRegistration, entry: LogEntry): Envelope => {
    const seq = entry.seq - stored.base;
    const envelope: Envelope = {
      v: PROTOCOL_VERSION,
      id: envelopeId(stored.id, seq),
      tab: stored.tabId,
      reg: stored.id,
      seq,
      type: entry.message.type,
    };
    if (entry.message.payload !== undefined) {
      envelope.payload = structuredClone(entry.message.payload);
    }
    return envelope;
  };

  return {
    async putSubscription(
      data: PushSubscriptionData,
      newId: string,
      now: number,
      ttlMs: number,
      clientKey: string | null = null,
    ) {
      const existingId = subscriptionByEndpoint.get(data.endpoint);
      const existing = existingId === undefined ? undefined : liveSubscription(existingId);
      if (
        existing &&
        existing.keys.p256dh === data.keys.p256dh &&
        existing.keys.auth === data.keys.auth
      ) {
        extendSubscription(existing.id, now + ttlMs);
        return structuredClone(existing);
      }
      // New keys mean a new browser-side subscription: what was sent to the old keys is lost.
      if (existing) removeSubscription(existing.id);
      const record: SubscriptionRecord = {
        id: newId,
        endpoint: data.endpoint,
        keys: { p256dh: data.keys.p256dh, auth: data.keys.auth },
        createdAt: now,
        expiresAt: now + ttlMs,
        clientKey,
      };
      subscriptions.set(newId, record);
      if (clientKey !== null) clientSets(clientKey).subscriptions.add(newId);
      subscriptionByEndpoint.set(data.endpoint, newId);
      return structuredClone(record);
    },

    async getSubscription(id) {
      const record = liveSubscription(id);
      return record ? structuredClone(record) : null;
    },

    async findSubscription(endpoint) {
      const id = subscriptionByEndpoint.get(endpoint);
      const record = id === undefined ? undefined : liveSubscription(id);
      return record ? structuredClone(record) : null;
    },

    async usage(clientKey) {
      for (const id of [...subscriptions.keys()]) liveSubscription(id);
      if (clientKey === undefined) {
        return { subscriptions: subscriptions.size, registrations: registrations.size };
      }
      const sets = byClient.get(clientKey);
      return {
        subscriptions: sets?.subscriptions.size ?? 0,
        registrations: sets?.registrations.size ?? 0,
      };
    },

    async deleteSubscription(id) {
      return removeSubscription(id);
    },

    async createRegistration(record, limits): Promise<CreateRegistrationResult> {
      const { subscriptionId } = record;
      if (subscriptionId !== null && !liveSubscription(subscriptionId)) {
        return { ok: false, reason: 'unknown-subscription' };
      }
      if ((registrationsByTab.get(record.tabId)?.size ?? 0) >= limits.maxPerTab) {
        return { ok: false, reason: 'tab-limit' };
      }
      if (
        subscriptionId !== null &&
        (registrationsBySubscription.get(subscriptionId)?.size ?? 0) >= limits.maxPerSubscription
      ) {
        return { ok: false, reason: 'subscription-limit' };
      }
      const group = groups.get(record.groupId);
      if (!group || group.record.done) return { ok: false, reason: 'group-gone' };
      const base = group.record.seq;
      const { seq: _seq, done: _done, ...kept } = structuredClone(record);
      const stored: StoredRegistration = { ...kept, base };
      registrations.set(record.id, stored);
      group.members.set(record.id, base);
      group.records.set(record.id, stored);
      addToIndex(registrationsByTab, record.tabId, record.id);
      if (record.clientKey !== null) clientSets(record.clientKey).registrations.add(record.id);
      if (subscriptionId !== null) {
        addToIndex(registrationsBySubscription, subscriptionId, record.id);
        extendSubscription(subscriptionId, record.expiresAt);
      }
      return { ok: true, base };
    },

    async getRegistration(id) {
      const record = registrations.get(id);
      return record ? view(record) : null;
    },

    async listByTab(tabId) {
      return list(registrationsByTab.get(tabId));
    },

    async listBySubscription(subscriptionId) {
      return list(registrationsBySubscription.get(subscriptionId));
    },

    async renew(tabId, acks, expiresAt, { hidden } = {}) {
      const renewed = new Map<string, RegistrationRecord>();
      const gone = new Set<string>();
      const touched = new Set<StoredGroup>();
      for (const { registrationId, ackedSeq } of acks) {
        const record = registrations.get(registrationId);
        if (!record || record.tabId !== tabId) {
          gone.add(registrationId);
          continue;
        }
        record.expiresAt = expiresAt;
        // An ack can only move forward, and never past what was sent.
        const { seq } = view(record);
        record.ackedSeq = Math.max(record.ackedSeq, Math.min(ackedSeq, seq));
        if (hidden !== undefined) record.held = hidden && !record.background;
        const group = groups.get(record.groupId);
        if (group?.members.has(record.id)) {
          group.members.set(record.id, record.base + record.ackedSeq);
          touched.add(group);
        }
        extendSubscription(record.subscriptionId, expiresAt);
        renewed.set(record.id, view(record));
      }
      const now = Date.now();
      for (const group of touched) trim(group, undefined, now);
      return { renewed: [...renewed.values()], gone: [...gone] };
    },

    async move(tabId, registrationIds, subscriptionId, maxPerSubscription): Promise<MoveResult> {
      if (subscriptionId !== null && !liveSubscription(subscriptionId)) {
        return { ok: false, reason: 'unknown-subscription' };
      }
      const mine: StoredRegistration[] = [];
      const gone: string[] = [];
      for (const id of new Set(registrationIds)) {
        const record = registrations.get(id);
        if (record && record.tabId === tabId) mine.push(record);
        else gone.push(id);
      }
      if (subscriptionId !== null) {
        const onIt = registrationsBySubscription.get(subscriptionId)?.size ?? 0;
        const arriving = mine.filter((record) => record.subscriptionId !== subscriptionId).length;
        if (onIt + arriving > maxPerSubscription)
          return { ok: false, reason: 'subscription-limit' };
      }
      for (const record of mine) {
        if (record.subscriptionId === subscriptionId) continue;
        if (record.subscriptionId !== null) {
          removeFromIndex(registrationsBySubscription, record.subscriptionId, record.id);
        }
        record.subscriptionId = subscriptionId;
        if (subscriptionId !== null) {
          addToIndex(registrationsBySubscription, subscriptionId, record.id);
          extendSubscription(subscriptionId, record.expiresAt);
        }
      }
      return { ok: true, moved: mine.map(view), gone };
    },

    async deleteRegistration(id) {
      return removeRegistration(id) !== null;
    },

    async takeExpired(now) {
      const expired: string[] = [];
      for (const record of registrations.values()) {
        if (record.expiresAt <= now) expired.push(record.id);
      }
      const taken = expired.flatMap((id) => removeRegistration(id) ?? []);
      // Unused push subscriptions go by the wall clock, as keys with a TTL would.
      for (const id of [...subscriptions.keys()]) liveSubscription(id);
      return taken;
    },

    async getMessages(registrationId, afterSeq, limit) {
      const stored = registrations.get(registrationId);
      const group = stored && groups.get(stored.groupId);
      if (!stored || !group) return [];
      const after = stored.base + afterSeq;
      const envelopes: Envelope[] = [];
      for (const entry of group.log) {
        if (envelopes.length >= limit) break;
        if (entry.seq > after) envelopes.push(envelopeOf(stored, entry));
      }
      return envelopes;
    },

    async createGroup(group) {
      groups.set(group.id, {
        record: structuredClone(group),
        members: new Map(),
        records: new Map(),
        log: [],
      });
      instances.get(group.owner)?.groups.add(group.id);
    },

    async getGroup(id) {
      const group = groups.get(id);
      return group ? structuredClone(group.record) : null;
    },

    async listMembers(groupId) {
      const group = groups.get(groupId);
      if (!group) return [];
      // Sized once, and `forEach` rather than `for…of`: a popular group is read on every
      // message, and growing the array and the iterator's result objects were most of what
      // this allocated per member.
      const routes = new Array<MemberRoute>(group.records.size);
      let count = 0;
      group.records.forEach((record) => {
        routes[count++] = routeOf(record);
      });
      return routes;
    },

    async appendGroupMessage(groupId, message, retention, options): Promise<AppendResult> {
      const group = groups.get(groupId);
      if (!group) return { ok: false, reason: 'gone' };
      const { token, cursor, appendId } = options;
      if (appendId !== undefined && group.lastAppend?.id === appendId) {
        return { ok: true, seq: group.lastAppend.seq };
      }
      if (group.record.done) return { ok: false, reason: 'done' };
      if (group.record.token !== token) return { ok: false, reason: 'fenced' };
      const seq = group.record.seq + 1;
      const now = Date.now();
      group.log.push({ seq, message: structuredClone(message), at: now });
      group.record.seq = seq;
      if (appendId !== undefined) group.lastAppend = { id: appendId, seq };
      if (cursor !== undefined) group.record.cursor = cursor;
      if (message.type === 'complete' || message.type === 'error') group.record.done = true;
      trim(group, retention, now);
      return { ok: true, seq };
    },

    async deleteGroup(id) {
      const group = groups.get(id);
      if (!group || group.members.size > 0) return false;
      removeGroup(id);
      return true;
    },

    async heartbeat(instanceId, ttlMs, now) {
      let lease = instances.get(instanceId);
      if (!lease) {
        tokenCounter += 1;
        lease = { token: tokenCounter, expiresAt: 0, groups: new Set() };
        instances.set(instanceId, lease);
      }
      lease.expiresAt = now + ttlMs;
      return lease.token;
    },

    async releaseInstance(instanceId) {
      const lease = instances.get(instanceId);
      if (lease) lease.expiresAt = 0;
    },

    async listOrphans(now, limit) {
      const orphans: { groupId: string; token: number }[] = [];
      for (const [instanceId, lease] of instances) {
        if (lease.expiresAt > now) continue;
        for (const groupId of lease.groups) {
          const group = groups.get(groupId);
          // Claimed already, or gone: not this instance's any more.
          if (!group || group.record.token !== lease.token) lease.groups.delete(groupId);
          else if (orphans.length < limit) orphans.push({ groupId, token: lease.token });
        }
        if (lease.groups.size === 0) instances.delete(instanceId);
        if (orphans.length >= limit) break;
      }
      return orphans;
    },

    async claimGroup(groupId, fromToken, owner, token) {
      const group = groups.get(groupId);
      if (!group || group.record.token !== fromToken) return null;
      instances.get(group.record.owner)?.groups.delete(groupId);
      group.record.owner = owner;
      group.record.token = token;
      instances.get(owner)?.groups.add(groupId);
      return structuredClone(group.record);
    },

    async signal(channel, message) {
      const channelListeners = listeners.get(channel);
      if (!channelListeners) return;
      // After the current task, as a message from another process would arrive.
      for (const listener of [...channelListeners]) queueMicrotask(() => listener(message));
    },

    listen(channel, listener) {
      let channelListeners = listeners.get(channel);
      if (!channelListeners) {
        channelListeners = new Set();
        listeners.set(channel, channelListeners);
      }
      channelListeners.add(listener);
      return () => {
        channelListeners.delete(listener);
        if (channelListeners.size === 0 && listeners.get(channel) === channelListeners) {
          listeners.delete(channel);
        }
      };
    },
  };
}
