import { createHash } from 'node:crypto';
import type { YogaLogger } from 'graphql-yoga';
import { PROTOCOL_VERSION } from '../../protocol/index.js';
import { logId } from '../ids.js';
import type { PushSender, PushTarget, SendOptions } from '../push/index.js';
import type { GroupMessage, MemberRoute, Store } from '../store/types.js';
import { appendSignal, groupChannel, groupSignal } from '../stream/signals.js';
import type { Telemetry } from '../telemetry.js';
import { BATCH_OPEN, createEnvelopeWriter, envelopeHead } from './envelope-bytes.js';

/** Options of {@link createDelivery}. */
export interface DeliveryOptions {
  store: Store;
  sender: PushSender;
  /** Largest plaintext of one push; larger batches go as references, split if need be. */
  maxPayloadBytes: number;
  /** Longest TTL of a push at the push service, seconds; never past a member's expiry. */
  ttlSeconds: number;
  /** Send pushes with a `Topic` per group and browser. */
  topics: boolean;
  logger: YogaLogger;
  /** Publish→push latency and references pushed. */
  telemetry?: Pick<Telemetry, 'publishToPush' | 'refPushed'>;
  /**
   * Push subscriptions whose endpoint and keys are remembered (they never change under one id).
   * @defaultValue `10_000`
   */
  maxCachedSubscriptions?: number;
  /**
   * Members whose envelope's fixed parts (ids, tab) are kept as bytes, about 200 bytes each.
   * @defaultValue `50_000`
   */
  maxCachedMembers?: number;
}

/** What one delivery did. */
export interface DeliveryReport {
  /** Members the group has (0: nobody left to deliver to). */
  members: number;
  /** Push messages sent (a batch counts once). */
  pushes: number;
}

/** Sends one group message to every member, the way each is reached right now. */
export interface Delivery {
  /**
   * @param groupId - the group
   * @param seq - the group seq of the message
   * @param message - the message, stored once in the group's log
   * @param publishedAt - when the event behind it was published (epoch ms), for latency
   */
  deliver(
    groupId: string,
    seq: number,
    message: GroupMessage,
    publishedAt: number,
  ): Promise<DeliveryReport>;
}

/**
 * The `Topic` of a group's pushes to one browser: a newer push replaces an undelivered older one
 * at the push service, so at most one waits there per group and browser (autopush drops a
 * browser with ~150 stored messages; the log holds them all anyway). A hash: ids are secrets.
 */
const topicOf = (key: string): string =>
  createHash('sha256').update(key).digest('base64url').slice(0, 32);

const encoder = new TextEncoder();

/** What became of one push. */
type Outcome = 'ok' | 'gone' | 'failed';

const batchText = (envelopes: string[]): string =>
  envelopes.length === 1 ? (envelopes[0] as string) : `${BATCH_OPEN}${envelopes.join(',')}]}`;

/** Packs envelopes into as few texts under `budget` bytes as it can, in order. */
function pack(envelopes: string[], budget: number): string[][] {
  const parts: string[][] = [];
  let current: string[] = [];
  let size = 0;
  const overhead = `{"v":${PROTOCOL_VERSION},"batch":[]}`.length;
  for (const envelope of envelopes) {
    const bytes = Buffer.byteLength(envelope);
    if (current.length > 0 && overhead + size + bytes + current.length > budget) {
      parts.push(current);
      current = [];
      size = 0;
    }
    current.push(envelope);
    size += bytes;
  }
  if (current.length > 0) parts.push(current);
  return parts;
}

/**
 * Creates the delivery of group messages.
 * @param options - store, sender, budget and push options; see {@link DeliveryOptions}
 * @returns the delivery
 * @remarks Members are read fresh for every message (a tab may have moved, hidden itself or lost
 * its push subscription since). Members on the stream get one signal on the group's channel,
 * whatever their number: each instance's streams pick their members' envelopes from the log.
 * Members on a push subscription are batched per subscription: the tabs of one browser get one
 * push carrying all their envelopes; when the batch does not fit, one push of references (each
 * tab fetches its payload), split in as few pushes as fit. A hidden tab's data-only members get
 * nothing (the log has it; the tab catches up when shown). A push service that calls a
 * subscription gone has it deleted: its registrations go on over their tabs' streams.
 */
export function createDelivery(options: DeliveryOptions): Delivery {
  const {
    store,
    sender,
    maxPayloadBytes,
    ttlSeconds,
    topics,
    logger,
    telemetry,
    maxCachedSubscriptions = 10_000,
    maxCachedMembers = 50_000,
  } = options;
  /** Endpoint and keys per push subscription id: fixed for the id's life, so cached. */
  const targets = new Map<string, PushTarget>();
  const envelopes = createEnvelopeWriter(maxCachedMembers);
  /**
   * First-part topics by subscription, then group: the same hash on every event, so cached.
   * Keyed by the ids themselves, so no key text is built per push (and ids the memory store
   * hands out again keep their hash).
   * Later parts (a batch split into several pushes of references) are rare and hashed anew.
   */
  const topicCache = new Map<string, Map<string, string>>();
  let cachedTopics = 0;
  const topicFor = (groupId: string, subscriptionId: string, part: number): string => {
    if (part > 0) return topicOf(`${groupId}\n${subscriptionId}\n${part}`);
    let byGroup = topicCache.get(subscriptionId);
    let topic = byGroup?.get(groupId);
    if (topic !== undefined) return topic;
    topic = topicOf(`${groupId}\n${subscriptionId}\n0`);
    if (byGroup === undefined) {
      if (cachedTopics >= maxCachedSubscriptions) {
        const oldest = topicCache.entries().next();
        if (!oldest.done) {
          cachedTopics -= oldest.value[1].size;
          topicCache.delete(oldest.value[0]);
        }
      }
      byGroup = new Map();
      topicCache.set(subscriptionId, byGroup);
    }
    byGroup.set(groupId, topic);
    cachedTopics += 1;
    return topic;
  };

  /** Reads a subscription not in `targets` and remembers it. */
  const loadTarget = async (subscriptionId: string): Promise<PushTarget | null> => {
    const record = await store.getSubscription(subscriptionId);
    if (!record) return null;
    const target = { endpoint: record.endpoint, keys: record.keys };
    if (targets.size >= maxCachedSubscriptions) {
      const oldest = targets.keys().next();
      if (!oldest.done) targets.delete(oldest.value);
    }
    targets.set(subscriptionId, target);
    return target;
  };

  const detach = async (subscriptionId: string): Promise<void> => {
    targets.delete(subscriptionId);
    const detached = await store.deleteSubscription(subscriptionId);
    // A tab that already opened its stream reads on there.
    await Promise.all(
      detached.map((record) => store.signal(record.tabId, appendSignal(record.id, record.seq))),
    );
  };

  /** One push; on `too-large` from the push service, once more as references. */
  const send = async (
    target: PushTarget,
    plaintext: Uint8Array,
    refs: (() => string) | null,
    sendOptions: SendOptions,
    where: { groupId: string; seq: number; subscriptionId: string },
  ): Promise<Outcome> => {
    let result = await sender.send(target, plaintext, sendOptions);
    if (!result.ok && result.reason === 'too-large' && refs !== null) {
      // The push service's limit is below ours: the tabs fetch the payloads instead.
      telemetry?.refPushed({ cause: 'refused' });
      result = await sender.send(target, encoder.encode(refs()), sendOptions);
    }
    if (result.ok) return 'ok';
    if (result.reason === 'gone') return 'gone';
    const label = `${logId(where.groupId)}:${where.seq} to ${logId(where.subscriptionId)}`;
    logger.debug(
      `graphql-web-push: push ${label} not delivered (${result.reason}, status ${result.status})`,
    );
    return 'failed';
  };

  const pushTo = async (
    groupId: string,
    subscriptionId: string,
    members: MemberRoute[],
    seq: number,
    message: GroupMessage,
    payload: Uint8Array | undefined,
    publishedAt: number,
  ): Promise<number> => {
    // A cached target is taken without an await: one promise and one turn less per push.
    const target = targets.get(subscriptionId) ?? (await loadTarget(subscriptionId));
    if (!target) {
      // Gone since the member was read: its tabs' streams (if open) read it from the log.
      await store.signal(groupChannel(groupId), groupSignal(groupId, seq));
      return 0;
    }
    let expiresAt = Number.POSITIVE_INFINITY;
    for (const member of members) expiresAt = Math.min(expiresAt, member.expiresAt);
    const lifetime = Math.floor((expiresAt - Date.now()) / 1000);
    const ttl = Math.max(0, Math.min(ttlSeconds, lifetime));
    // Built once: its length decides, and the same bytes are sent. References are made only
    // when they are needed (rarely: a result too large, or a push service's lower limit).
    const full = envelopes.batch(members, seq, message.type, payload);
    const refs = () => members.map((member) => `${envelopeHead(member, seq, 'ref')}}`);
    const sendOptions = (part: number): SendOptions =>
      topics
        ? { ttlSeconds: ttl, topic: topicFor(groupId, subscriptionId, part) }
        : { ttlSeconds: ttl };
    const where = { groupId, seq, subscriptionId };
    let outcomes: Outcome[];
    if (full.byteLength <= maxPayloadBytes) {
      // The usual case, one push: no part list, and the references only if the push service
      // refuses the size.
      outcomes = [await send(target, full, () => batchText(refs()), sendOptions(0), where)];
    } else {
      telemetry?.refPushed({ cause: 'too-large' });
      outcomes = await Promise.all(
        pack(refs(), maxPayloadBytes).map((part, index) =>
          send(target, encoder.encode(batchText(part)), null, sendOptions(index), where),
        ),
      );
    }
    if (outcomes.includes('gone')) await detach(subscriptionId);
    else if (outcomes.every((outcome) => outcome === 'ok')) {
      telemetry?.publishToPush(Date.now() - publishedAt);
    }
    return outcomes.length;
  };

  return {
    async deliver(groupId, seq, message, publishedAt) {
      const members = await store.listMembers(groupId);
      const bySubscription = new Map<string, MemberRoute[]>();
      let streamed = false;
      for (const member of members) {
        // Joined at or after this message: it is not theirs.
        if (member.base >= seq) continue;
        if (member.subscriptionId === null) {
          streamed = true;
          continue;
        }
        if (member.held && !member.background) continue;
        let batch = bySubscription.get(member.subscriptionId);
        if (!batch) {
          batch = [];
          bySubscription.set(member.subscriptionId, batch);
        }
        batch.push(member);
      }
      const work: Promise<number>[] = [];
      if (streamed) {
        work.push(store.signal(groupChannel(groupId), groupSignal(groupId, seq)).then(() => 0));
      }
      if (bySubscription.size > 0) {
        const payload =
          message.payload === undefined
            ? undefined
            : encoder.encode(JSON.stringify(message.payload));
        for (const [subscriptionId, batch] of bySubscription) {
          work.push(
            pushTo(groupId, subscriptionId, batch, seq, message, payload, publishedAt).catch(
              (error) => {
                logger.error('graphql-web-push: pushing a message failed', error);
                return 0;
              },
            ),
          );
        }
      }
      const counts = await Promise.all(work);
      return { members: members.length, pushes: counts.reduce((sum, n) => sum + n, 0) };
    },
  };
}
