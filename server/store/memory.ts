import type { Envelope, PushSubscriptionData } from '../../protocol/index.js';
import type {
  AppendResult,
  CreateRegistrationResult,
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
 * changes nothing stored.
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
    removeFromIndex(registrationsBySubscription, record.subscriptionId, id);
    logs.delete(id);
    lastAppends.delete(id);
    leases.delete(id);
    lastTokens.delete(id);
    return record;
  };

  const removeSubscription = (id: string): string[] => {
    const record = subscriptions.get(id);
    if (!record) return [];
    subscriptions.delete(id);
    if (subscriptionByEndpoint.get(record.endpoint) === id) {
      subscriptionByEndpoint.delete(record.endpoint);
    }
    const ids = [...(registrationsBySubscription.get(id) ?? [])];
    for (const registrationId of ids) removeRegistration(registrationId);
    return ids;
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
    async putSubscription(data: PushSubscriptionData, newId: string, now: number) {
      const existingId = subscriptionByEndpoint.get(data.endpoint);
      const existing = existingId === undefined ? undefined : subscriptions.get(existingId);
      if (
        existing &&
        existing.keys.p256dh === data.keys.p256dh &&
        existing.keys.auth === data.keys.auth
      ) {
        return structuredClone(existing);
      }
      // New keys mean a new browser-side subscription: what was sent to the old keys is lost.
      if (existing) removeSubscription(existing.id);
      const record: SubscriptionRecord = {
        id: newId,
        endpoint: data.endpoint,
        keys: { p256dh: data.keys.p256dh, auth: data.keys.auth },
        createdAt: now,
      };
      subscriptions.set(newId, record);
      subscriptionByEndpoint.set(data.endpoint, newId);
      return structuredClone(record);
    },

    async getSubscription(id) {
      const record = subscriptions.get(id);
      return record ? structuredClone(record) : null;
    },

    async deleteSubscription(id) {
      return removeSubscription(id);
    },

    async createRegistration(record, limits): Promise<CreateRegistrationResult> {
      if (!subscriptions.has(record.subscriptionId)) {
        return { ok: false, reason: 'unknown-subscription' };
      }
      if ((registrationsByTab.get(record.tabId)?.size ?? 0) >= limits.maxPerTab) {
        return { ok: false, reason: 'tab-limit' };
      }
      if (
        (registrationsBySubscription.get(record.subscriptionId)?.size ?? 0) >=
        limits.maxPerSubscription
      ) {
        return { ok: false, reason: 'subscription-limit' };
      }
      registrations.set(record.id, structuredClone(record));
      addToIndex(registrationsByTab, record.tabId, record.id);
      addToIndex(registrationsBySubscription, record.subscriptionId, record.id);
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

    async renew(tabId, acks, expiresAt, subscriptionId) {
      const moveTo =
        subscriptionId !== undefined && subscriptions.has(subscriptionId)
          ? subscriptionId
          : undefined;
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
        const log = logs.get(record.id);
        if (log) {
          logs.set(
            record.id,
            log.filter((entry) => entry.envelope.seq > record.ackedSeq),
          );
        }
        if (moveTo !== undefined && record.subscriptionId !== moveTo) {
          removeFromIndex(registrationsBySubscription, record.subscriptionId, record.id);
          record.subscriptionId = moveTo;
          addToIndex(registrationsBySubscription, moveTo, record.id);
        }
        renewed.set(record.id, structuredClone(record));
      }
      return { renewed: [...renewed.values()], gone: [...gone] };
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
