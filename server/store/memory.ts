import type { Envelope, PushSubscriptionData } from '../../protocol/index.js';
import type {
  AppendResult,
  CreateRegistrationResult,
  MoveResult,
  RegistrationRecord,
  RetentionOptions,
  Store,
  SubscriptionRecord,
} from './types.js';

interface LogEntry {
  envelope: Envelope;
  /** When it was appended (epoch ms), for the TTL. */
  at: number;
}

interface Lease {
  owner: string;
  expiresAt: number;
  token: number;
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
  const registrations = new Map<string, RegistrationRecord>();
  const registrationsByTab = new Map<string, Set<string>>();
  const registrationsBySubscription = new Map<string, Set<string>>();
  const logs = new Map<string, LogEntry[]>();
  const leases = new Map<string, Lease>();
  /** Id and envelope of the last append per registration, to answer a repeated append. */
  const lastAppends = new Map<string, { id: string; envelope: Envelope }>();
  /** Last fencing token issued per registration; outlives released leases. */
  const lastTokens = new Map<string, number>();
  // One counter for all registrations: strictly increasing per registration follows.
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

  const removeRegistration = (id: string): RegistrationRecord | null => {
    const record = registrations.get(id);
    if (!record) return null;
    registrations.delete(id);
    removeFromIndex(registrationsByTab, record.tabId, id);
    if (record.subscriptionId !== null) {
      removeFromIndex(registrationsBySubscription, record.subscriptionId, id);
    }
    forgetClient(record.clientKey, 'registrations', id);
    logs.delete(id);
    lastAppends.delete(id);
    leases.delete(id);
    lastTokens.delete(id);
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
      detached.push(structuredClone(registration));
    }
    registrationsBySubscription.delete(id);
    return detached;
  };

  const trim = (record: RegistrationRecord, retention: RetentionOptions, now: number): void => {
    const log = logs.get(record.id);
    if (!log) return;
    const oldest = now - retention.messageTtlMs;
    let kept = log.filter((entry) => entry.envelope.seq > record.ackedSeq && entry.at > oldest);
    if (kept.length > retention.maxMessages) kept = kept.slice(kept.length - retention.maxMessages);
    logs.set(record.id, kept);
  };

  const list = (ids: Set<string> | undefined): RegistrationRecord[] =>
    [...(ids ?? [])].flatMap((id) => {
      const record = registrations.get(id);
      return record ? [structuredClone(record)] : [];
    });

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
      registrations.set(record.id, structuredClone(record));
      addToIndex(registrationsByTab, record.tabId, record.id);
      if (record.clientKey !== null) clientSets(record.clientKey).registrations.add(record.id);
      if (subscriptionId !== null) {
        addToIndex(registrationsBySubscription, subscriptionId, record.id);
        extendSubscription(subscriptionId, record.expiresAt);
      }
      return { ok: true };
    },

    async getRegistration(id) {
      const record = registrations.get(id);
      return record ? structuredClone(record) : null;
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
      for (const { registrationId, ackedSeq } of acks) {
        const record = registrations.get(registrationId);
        if (!record || record.tabId !== tabId) {
          gone.add(registrationId);
          continue;
        }
        record.expiresAt = expiresAt;
        // An ack can only move forward, and never past what was sent.
        record.ackedSeq = Math.max(record.ackedSeq, Math.min(ackedSeq, record.seq));
        if (hidden !== undefined) record.held = hidden && !record.background;
        const log = logs.get(record.id);
        if (log) {
          logs.set(
            record.id,
            log.filter((entry) => entry.envelope.seq > record.ackedSeq),
          );
        }
        extendSubscription(record.subscriptionId, expiresAt);
        renewed.set(record.id, structuredClone(record));
      }
      return { renewed: [...renewed.values()], gone: [...gone] };
    },

    async move(tabId, registrationIds, subscriptionId, maxPerSubscription): Promise<MoveResult> {
      if (subscriptionId !== null && !liveSubscription(subscriptionId)) {
        return { ok: false, reason: 'unknown-subscription' };
      }
      const mine: RegistrationRecord[] = [];
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
      return { ok: true, moved: mine.map((record) => structuredClone(record)), gone };
    },

    async deleteRegistration(id) {
      return removeRegistration(id) !== null;
    },

    async takeExpired(now) {
      const expired: RegistrationRecord[] = [];
      for (const record of registrations.values()) {
        if (record.expiresAt <= now) expired.push(record);
      }
      for (const record of expired) removeRegistration(record.id);
      // Unused push subscriptions go by the wall clock, as keys with a TTL would.
      for (const id of [...subscriptions.keys()]) liveSubscription(id);
      return expired;
    },

    async appendMessage(registrationId, build, retention, options = {}): Promise<AppendResult> {
      const record = registrations.get(registrationId);
      if (!record) return { ok: false, reason: 'gone' };
      const { fencingToken, cursor, appendId } = options;
      const last = lastAppends.get(registrationId);
      if (appendId !== undefined && last?.id === appendId) {
        return { ok: true, envelope: structuredClone(last.envelope) };
      }
      if (record.done) return { ok: false, reason: 'done' };
      if (fencingToken !== undefined && fencingToken < (lastTokens.get(registrationId) ?? 0)) {
        return { ok: false, reason: 'fenced' };
      }
      const seq = record.seq + 1;
      const envelope = build(seq);
      const now = Date.now();
      let log = logs.get(registrationId);
      if (!log) {
        log = [];
        logs.set(registrationId, log);
      }
      log.push({ envelope: structuredClone(envelope), at: now });
      record.seq = seq;
      if (appendId !== undefined) {
        lastAppends.set(registrationId, { id: appendId, envelope: structuredClone(envelope) });
      }
      if (cursor !== undefined) record.cursor = cursor;
      if (envelope.type === 'complete' || envelope.type === 'error') record.done = true;
      trim(record, retention, now);
      return { ok: true, envelope: structuredClone(envelope) };
    },

    async getMessages(registrationId, afterSeq, limit) {
      const log = logs.get(registrationId) ?? [];
      return log
        .filter((entry) => entry.envelope.seq > afterSeq)
        .slice(0, Math.max(0, limit))
        .map((entry) => structuredClone(entry.envelope));
    },

    async acquireLease(registrationId, owner, ttlMs, now) {
      if (!registrations.has(registrationId)) return null;
      const lease = leases.get(registrationId);
      if (lease && lease.expiresAt > now) {
        if (lease.owner !== owner) return null;
        lease.expiresAt = now + ttlMs;
        return lease.token;
      }
      tokenCounter += 1;
      leases.set(registrationId, { owner, expiresAt: now + ttlMs, token: tokenCounter });
      lastTokens.set(registrationId, tokenCounter);
      return tokenCounter;
    },

    async releaseLease(registrationId, owner) {
      if (leases.get(registrationId)?.owner === owner) leases.delete(registrationId);
    },

    async signal(tabId, message) {
      const tabListeners = listeners.get(tabId);
      if (!tabListeners) return;
      // After the current task, as a message from another process would arrive.
      for (const listener of [...tabListeners]) queueMicrotask(() => listener(message));
    },

    listen(tabId, listener) {
      let tabListeners = listeners.get(tabId);
      if (!tabListeners) {
        tabListeners = new Set();
        listeners.set(tabId, tabListeners);
      }
      tabListeners.add(listener);
      return () => {
        tabListeners.delete(listener);
        if (tabListeners.size === 0 && listeners.get(tabId) === tabListeners) {
          listeners.delete(tabId);
        }
      };
    },

    async listUnowned(now, limit) {
      const ids: string[] = [];
      for (const record of registrations.values()) {
        if (ids.length >= limit) break;
        const lease = leases.get(record.id);
        if (!record.done && !(lease && lease.expiresAt > now)) ids.push(record.id);
      }
      return ids;
    },
  };
}
