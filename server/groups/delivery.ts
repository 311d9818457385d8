import { createHash } from 'node:crypto';
import type { YogaLogger } from 'graphql-yoga';
import { PROTOCOL_VERSION } from '../../protocol/index.js';
import { logId } from '../ids.js';
import type { PushSender, PushTarget, SendResult } from '../push/index.js';
import { listeningSend, type SendListener } from '../push/send-listener.js';
import type { GroupMessage, MemberRoute, Store } from '../store/types.js';
import { appendSignal, groupChannel, groupSignal } from '../stream/signals.js';
import type { Telemetry } from '../telemetry.js';
import {
  BATCH_OPEN,
  createEnvelopeWriter,
  type EnvelopeParts,
  envelopeHead,
} from './envelope-bytes.js';
import { createPlans, type Plan } from './plan.js';

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
   * Members whose envelope's fixed parts (ids, tab) are kept as bytes, about 200 bytes each;
   * also the members over all groups whose grouping by browser is kept between messages.
   * @defaultValue `50_000`
   */
  maxCachedMembers?: number;
  /**
   * Pushes of one message in flight at most; more start, together, once half are back.
   * @defaultValue `1024`
   */
  maxPushesInFlight?: number;
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

/**
 * One message's fan-out: what each of its pushes needs, and how many are still out. A push
 * carries this one object through its callbacks instead of an async frame and a promise of its
 * own.
 */
interface Fanout {
  readonly groupId: string;
  readonly seq: number;
  readonly type: GroupMessage['type'];
  /** The payload's JSON as UTF-8, made once per message. */
  readonly payload: Uint8Array | undefined;
  /** When the event behind it was published (epoch ms). */
  readonly publishedAt: number;
  /** Who gets it: the browsers to push to, and their members, in the order they are pushed. */
  readonly plan: PlanParts;
  /** The next browser to push to. */
  next: number;
  /** Pushes started and not settled. */
  active: number;
  /** Whether `startPushes` is running (a push settling inside it starts no loop of its own). */
  starting: boolean;
  /** Parts not finished: the browsers not settled, the stream signal, and the start. */
  pending: number;
  /** Push messages sent so far. */
  pushes: number;
  /** Called once `pending` reaches 0. */
  readonly done: () => void;
}

/**
 * One browser's push of a fan-out, in flight: the tag its outcome comes back with. A class, so
 * that V8 never pretenures it (see `Stream` in `push/h2/connection.ts`).
 */
class Push {
  constructor(
    readonly fanout: Fanout,
    /** The browser's index in the fan-out's plan. */
    readonly at: number,
    readonly target: PushTarget,
    readonly ttl: number,
  ) {}
}

/** A plan, and its browsers' envelope parts as they are first written (kept with the plan). */
interface PlanParts extends Plan {
  parts?: (EnvelopeParts | undefined)[];
}

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
    maxPushesInFlight = 1024,
  } = options;
  /** Endpoint and keys per push subscription id: fixed for the id's life, so cached. */
  const targets = new Map<string, PushTarget>();
  /** Our own sender's listener form: no promise, reaction or closure per push. */
  const sendWith = listeningSend(sender);
  const envelopes = createEnvelopeWriter(maxCachedMembers);
  const plans = createPlans({ maxMembers: maxCachedMembers });
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

  /** Logs a push that did not get through (its members read the log when they next can). */
  const notDelivered = (
    fanout: Fanout,
    subscriptionId: string,
    result: Extract<SendResult, { ok: false }>,
  ): void => {
    const label = `${logId(fanout.groupId)}:${fanout.seq} to ${logId(subscriptionId)}`;
    logger.debug(
      `graphql-web-push: push ${label} not delivered (${result.reason}, status ${result.status})`,
    );
  };

  /** One part of the fan-out is over; the last one ends it. */
  const finishPart = (fanout: Fanout): void => {
    fanout.pending -= 1;
    if (fanout.pending === 0) fanout.done();
  };

  /**
   * Starts browsers' pushes up to `maxPushesInFlight` out: a large group's plaintexts, bodies
   * and requests are made as the push service answers, not all at once. Once started, it waits
   * until half are back and then starts the other half together: pushes started in one turn
   * leave in one write per connection and go to the encryption workers in full batches, where
   * one push started per answer cost a write and a turn each.
   */
  const startPushes = (fanout: Fanout): void => {
    if (fanout.starting) return;
    if (fanout.next > 0 && fanout.active > maxPushesInFlight / 2) return;
    fanout.starting = true;
    const { browsers } = fanout.plan;
    while (fanout.active < maxPushesInFlight && fanout.next < browsers.length) {
      const at = fanout.next;
      fanout.next += 1;
      fanout.active += 1;
      pushTo(fanout, at);
    }
    fanout.starting = false;
  };

  /** One browser's push is over: `pushes` is how many push messages it took. */
  const settled = (fanout: Fanout, pushes: number): void => {
    fanout.pushes += pushes;
    fanout.active -= 1;
    startPushes(fanout);
    finishPart(fanout);
  };

  const sendOptions = (fanout: Fanout, subscriptionId: string, ttl: number, part: number) =>
    topics
      ? { ttlSeconds: ttl, topic: topicFor(fanout.groupId, subscriptionId, part) }
      : { ttlSeconds: ttl };

  const references = (fanout: Fanout, members: readonly MemberRoute[]): string[] =>
    members.map((member) => `${envelopeHead(member, fanout.seq, 'ref')}}`);

  /**
   * The rare pushes: a batch over the budget goes as references, split in as few pushes as fit;
   * a push the push service refused as too large goes again as references.
   */
  const pushReferences = async (
    fanout: Fanout,
    subscriptionId: string,
    members: readonly MemberRoute[],
    target: PushTarget,
    ttl: number,
    cause: 'too-large' | 'refused',
  ): Promise<number> => {
    telemetry?.refPushed({ cause });
    const parts =
      cause === 'refused'
        ? [references(fanout, members)]
        : pack(references(fanout, members), maxPayloadBytes);
    const results = await Promise.all(
      parts.map((part, index) =>
        sender.send(
          target,
          encoder.encode(batchText(part)),
          sendOptions(fanout, subscriptionId, ttl, index),
        ),
      ),
    );
    let gone = false;
    let delivered = true;
    for (const result of results) {
      if (result.ok) continue;
      delivered = false;
      if (result.reason === 'gone') gone = true;
      else notDelivered(fanout, subscriptionId, result);
    }
    if (gone) await detach(subscriptionId);
    else if (delivered) telemetry?.publishToPush(Date.now() - fanout.publishedAt);
    // A refused push and the references sent after it: one push to the browser.
    return cause === 'refused' ? 1 : parts.length;
  };

  /** What became of the usual push, the whole batch in one. */
  const sent = (
    fanout: Fanout,
    subscriptionId: string,
    members: readonly MemberRoute[],
    target: PushTarget,
    ttl: number,
    result: SendResult,
  ): void => {
    if (result.ok) {
      telemetry?.publishToPush(Date.now() - fanout.publishedAt);
      settled(fanout, 1);
      return;
    }
    if (result.reason === 'too-large') {
      // The push service's limit is below ours: the tabs fetch the payloads instead.
      track(fanout, pushReferences(fanout, subscriptionId, members, target, ttl, 'refused'));
      return;
    }
    if (result.reason === 'gone') {
      track(
        fanout,
        detach(subscriptionId).then(() => 1),
      );
      return;
    }
    notDelivered(fanout, subscriptionId, result);
    settled(fanout, 1);
  };

  /** Settles one part of `fanout` when `work` ends; a throw is logged, and the rest go on. */
  const track = (fanout: Fanout, work: Promise<number>, what = 'pushing a message'): void => {
    work.then(
      (pushes) => settled(fanout, pushes),
      (error: unknown) => failed(fanout, error, what),
    );
  };

  /** A push that threw (a custom sender, telemetry): logged, and the fan-out goes on. */
  const failed = (fanout: Fanout, error: unknown, what = 'pushing a message'): void => {
    try {
      logger.error(`graphql-web-push: ${what} failed`, error);
    } finally {
      settled(fanout, 0);
    }
  };

  /**
   * The parts of browser `at`'s envelopes, kept with a kept plan for the next message; none
   * for a plan made for this message alone (the writer looks them up).
   */
  const partsAt = (plan: PlanParts, at: number): EnvelopeParts | undefined => {
    if (!plan.kept) return undefined;
    plan.parts ??= [];
    let parts = plan.parts[at];
    if (parts === undefined) {
      parts = envelopes.parts(plan.batches[at] as readonly MemberRoute[]);
      plan.parts[at] = parts;
    }
    return parts;
  };

  /** What became of browser `at`'s push (the usual one, the whole batch in one). */
  const sentTo = (push: Push, result: SendResult): void => {
    const { fanout, at } = push;
    try {
      sent(
        fanout,
        fanout.plan.browsers[at] as string,
        fanout.plan.batches[at] as readonly MemberRoute[],
        push.target,
        push.ttl,
        result,
      );
    } catch (error) {
      failed(fanout, error);
    }
  };

  /** Hears the pushes sent with our own sender's listener form. */
  const pushListener: SendListener<Push> = {
    sent: sentTo,
    failed: (push, error) => failed(push.fanout, error),
  };

  const pushWith = (fanout: Fanout, at: number, target: PushTarget): void => {
    const subscriptionId = fanout.plan.browsers[at] as string;
    const members = fanout.plan.batches[at] as readonly MemberRoute[];
    let sending: Promise<SendResult>;
    let ttl: number;
    try {
      let expiresAt = Number.POSITIVE_INFINITY;
      for (const member of members) expiresAt = Math.min(expiresAt, member.expiresAt);
      const lifetime = Math.floor((expiresAt - Date.now()) / 1000);
      ttl = Math.max(0, Math.min(ttlSeconds, lifetime));
      // Built once: its length decides, and the same bytes are sent.
      const full = envelopes.batch(
        members,
        fanout.seq,
        fanout.type,
        fanout.payload,
        partsAt(fanout.plan, at),
      );
      if (full.byteLength > maxPayloadBytes) {
        track(fanout, pushReferences(fanout, subscriptionId, members, target, ttl, 'too-large'));
        return;
      }
      const options = sendOptions(fanout, subscriptionId, ttl, 0);
      if (sendWith !== undefined) {
        sendWith(target, full, options, pushListener, new Push(fanout, at, target, ttl));
        return;
      }
      sending = sender.send(target, full, options);
    } catch (error) {
      failed(fanout, error);
      return;
    }
    const push = new Push(fanout, at, target, ttl);
    sending.then(
      (result) => sentTo(push, result),
      (error: unknown) => failed(fanout, error),
    );
  };

  /** Pushes the batch of browser `at`; settles it in `fanout` when its outcome is known. */
  const pushTo = (fanout: Fanout, at: number): void => {
    const subscriptionId = fanout.plan.browsers[at] as string;
    const target = targets.get(subscriptionId);
    if (target !== undefined) {
      // The usual case: no await before the send, and nothing made per push but its bytes.
      pushWith(fanout, at, target);
      return;
    }
    loadTarget(subscriptionId).then(
      (loaded) => {
        if (loaded) {
          pushWith(fanout, at, loaded);
          return;
        }
        // Gone since the member was read: its tabs' streams (if open) read it from the log.
        const signalled = signalGroup(fanout).then(() => 0);
        track(fanout, signalled, 'signalling the streams');
      },
      (error: unknown) => failed(fanout, error),
    );
  };

  const signalGroup = (fanout: Fanout): Promise<void> =>
    store.signal(groupChannel(fanout.groupId), groupSignal(fanout.groupId, fanout.seq));

  return {
    async deliver(groupId, seq, message, publishedAt) {
      const members = await store.listMembers(groupId);
      const plan: PlanParts = plans.planFor(groupId, members, seq);
      const { browsers, streamed } = plan;
      if (!streamed && browsers.length === 0) return { members: members.length, pushes: 0 };
      const pushes = await new Promise<number>((resolve) => {
        const fanout: Fanout = {
          groupId,
          seq,
          type: message.type,
          payload:
            browsers.length === 0 || message.payload === undefined
              ? undefined
              : encoder.encode(JSON.stringify(message.payload)),
          publishedAt,
          plan,
          next: 0,
          active: 0,
          starting: false,
          // Every browser, the stream signal, and the start itself: none settling early ends it.
          pending: browsers.length + (streamed ? 1 : 0) + 1,
          pushes: 0,
          done: () => resolve(fanout.pushes),
        };
        if (streamed) {
          signalGroup(fanout).then(
            () => finishPart(fanout),
            (error: unknown) => {
              try {
                logger.error('graphql-web-push: signalling the streams failed', error);
              } finally {
                finishPart(fanout);
              }
            },
          );
        }
        startPushes(fanout);
        finishPart(fanout);
      });
      return { members: members.length, pushes };
    },
  };
}
