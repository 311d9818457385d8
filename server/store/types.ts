import type { Envelope, PushSubscriptionData } from '../../protocol/index.js';

/**
 * A browser's push subscription as the server keeps it. One per endpoint; every tab of the
 * origin shares it. It lives while registrations use it: each one created, renewed or moved onto
 * it extends it to that registration's expiry; unused, it expires then.
 */
export interface SubscriptionRecord {
  /** Random id (≥ 128 bits) handed to the browser; the endpoint itself never leaves the server. */
  id: string;
  endpoint: string;
  keys: PushSubscriptionData['keys'];
  createdAt: number;
  /** Epoch ms after which it is gone unless a registration uses it again. */
  expiresAt: number;
  /** The operator's key of the client that stored it (`clientKey`), or `null`. */
  clientKey: string | null;
}

/**
 * A subscription operation one tab runs, delivered by Web Push to one push subscription, or over
 * the tab's stream when it has none.
 */
export interface RegistrationRecord {
  /** Random id (≥ 128 bits). */
  id: string;
  tabId: string;
  /** The push subscription it is delivered to; `null`: the tab's stream delivers it. */
  subscriptionId: string | null;
  /**
   * True while its tab is hidden and it is not a background registration: its messages are
   * logged but not pushed (browsers punish pushes that reach no visible page).
   */
  held: boolean;
  /** Pushed even while its tab is hidden: the app's service worker shows a notification. */
  background: boolean;
  /** The operator's key of the client that made it (`clientKey`), or `null`. */
  clientKey: string | null;
  /** The client's operation key, kept for logs and debugging. */
  operationKey: string;
  /** The GraphQL document as sent. */
  query: string;
  operationName: string | null;
  variables: Record<string, unknown> | null;
  /**
   * What the operator chose to keep of the registering request to rebuild its context later
   * (default: the `authorization` and `cookie` headers).
   */
  headers: Record<string, string>;
  createdAt: number;
  expiresAt: number;
  /** Last `seq` used for this registration's messages (0 before the first). */
  seq: number;
  /** Highest `seq` the tab acknowledged; messages at or below it can be dropped from the log. */
  ackedSeq: number;
  /** True once a `complete` or `error` envelope was appended: no further messages. */
  done: boolean;
  /**
   * Position in the durable event log after the last event turned into a message
   * (`createPubSub` on Redis Streams); `null` when the source is not replayable.
   */
  cursor: string | null;
}

/** What {@link Store.usage} counts. */
export interface StoreUsage {
  subscriptions: number;
  registrations: number;
}

/** What {@link Store.listen} listeners get when signals may have been lost meanwhile. */
export const SIGNALS_RESUMED = '*';

/** Why a registration could not be created. */
export type CreateRegistrationResult =
  | { ok: true }
  | { ok: false; reason: 'unknown-subscription' | 'tab-limit' | 'subscription-limit' };

/** Limits checked atomically with the insert. */
export interface RegistrationLimits {
  maxPerTab: number;
  maxPerSubscription: number;
}

/** Result of {@link Store.move}. */
export type MoveResult =
  | {
      ok: true;
      /** The tab's registrations now delivered where asked (already there included). */
      moved: RegistrationRecord[];
      /** Ids that do not exist or are not this tab's. */
      gone: string[];
    }
  /** Nothing moved: the push subscription is unknown, or would hold more than its limit. */
  | { ok: false; reason: 'unknown-subscription' | 'subscription-limit' };

/** Result of {@link Store.appendMessage}. */
export type AppendResult =
  | { ok: true; envelope: Envelope }
  /** The registration is gone, done, or the caller's lease is no longer the current one. */
  | { ok: false; reason: 'gone' | 'done' | 'fenced' };

/** Options of {@link Store.appendMessage}. */
export interface AppendOptions {
  /**
   * Fencing token of the caller's lease; the append is refused when another owner holds a newer
   * lease. Omit on a single instance.
   */
  fencingToken?: number;
  /** New event cursor, advanced in the same atomic step as the append. */
  cursor?: string | null;
  /**
   * Identifies one append across repeats. When the last append applied to the registration had
   * this id (its answer was lost and the call, or the command under it, was repeated), nothing is
   * appended again and the answer is the envelope already stored. Omit to always append.
   */
  appendId?: string;
}

/** How long and how many messages a registration's log keeps. */
export interface RetentionOptions {
  /** Messages older than this are dropped even when not acknowledged. */
  messageTtlMs: number;
  /** At most this many unacknowledged messages per registration; the oldest go first. */
  maxMessages: number;
}

/**
 * Where the plugin keeps push subscriptions, registrations and message logs. Every method is one
 * atomic step, so that several server instances can share a store (memory: one process; Redis:
 * many). Two implementations: `createMemoryStore()` and `createRedisStore({ redis })`; one
 * contract suite runs against both.
 */
export interface Store {
  /**
   * Saves a push subscription. Idempotent per endpoint: the same endpoint and keys give the same
   * id (and extend it to `now + ttlMs`); the same endpoint with new keys replaces the record under
   * a new id (the old id is gone; its registrations go over the stream).
   */
  putSubscription(
    data: PushSubscriptionData,
    newId: string,
    now: number,
    ttlMs: number,
    clientKey?: string | null,
  ): Promise<SubscriptionRecord>;
  getSubscription(id: string): Promise<SubscriptionRecord | null>;
  /** The live push subscription of an endpoint, if any. */
  findSubscription(endpoint: string): Promise<SubscriptionRecord | null>;
  /**
   * How many live push subscriptions and registrations the store holds, for capacities; with
   * `clientKey`, those one client made. May count a few that just expired.
   */
  usage(clientKey?: string): Promise<StoreUsage>;
  /**
   * Deletes a push subscription (the push service answered 404/410, or the browser gave it up).
   * Its registrations stay, delivered over their tabs' streams from now on.
   * @returns the registrations it had, now with `subscriptionId: null`
   */
  deleteSubscription(id: string): Promise<RegistrationRecord[]>;

  /**
   * Inserts a registration if the limits allow it and, when it names a push subscription, that
   * subscription exists (it is extended to the registration's expiry).
   */
  createRegistration(
    record: RegistrationRecord,
    limits: RegistrationLimits,
  ): Promise<CreateRegistrationResult>;
  getRegistration(id: string): Promise<RegistrationRecord | null>;
  /** Registrations of a tab. */
  listByTab(tabId: string): Promise<RegistrationRecord[]>;
  /** Registrations on a push subscription. */
  listBySubscription(subscriptionId: string): Promise<RegistrationRecord[]>;
  /**
   * Extends the expiry of the tab's registrations (and of the push subscriptions they are on),
   * records acknowledgements (dropping acked messages from the log) and, with `hidden`, holds or
   * releases their pushes (`held`; background registrations are never held). Ids that are not
   * this tab's, or do not exist, come back in `gone`.
   */
  renew(
    tabId: string,
    acks: { registrationId: string; ackedSeq: number }[],
    expiresAt: number,
    options?: { hidden?: boolean },
  ): Promise<{ renewed: RegistrationRecord[]; gone: string[] }>;
  /**
   * Delivers the tab's listed registrations to a push subscription, or (`null`) over the stream.
   * All or nothing: refused when the subscription is unknown or would hold more than
   * `maxPerSubscription` registrations. The subscription is extended to the latest expiry of
   * the registrations moved onto it.
   */
  move(
    tabId: string,
    registrationIds: string[],
    subscriptionId: string | null,
    maxPerSubscription: number,
  ): Promise<MoveResult>;
  /** Deletes a registration and its message log. Returns false if it did not exist. */
  deleteRegistration(id: string): Promise<boolean>;
  /**
   * Deletes and returns registrations whose `expiresAt` is at or before `now`; also deletes push
   * subscriptions that expired unused.
   */
  takeExpired(now: number): Promise<RegistrationRecord[]>;

  /**
   * Appends the next message of a registration: takes `seq + 1`, builds the envelope with
   * `build(seq)`, stores it in the log, advances `seq` (and `cursor`), marks `done` for
   * `complete`/`error`, trims the log per `retention`, all in one atomic step.
   */
  appendMessage(
    registrationId: string,
    build: (seq: number) => Envelope,
    retention: RetentionOptions,
    options?: AppendOptions,
  ): Promise<AppendResult>;
  /** Retained envelopes with `seq > afterSeq`, in order, at most `limit`. */
  getMessages(registrationId: string, afterSeq: number, limit: number): Promise<Envelope[]>;

  /**
   * Takes or extends the lease on a registration's server-side subscription. Returns the fencing
   * token (strictly increasing per registration across owners) or `null` while another owner
   * holds an unexpired lease.
   */
  acquireLease(
    registrationId: string,
    owner: string,
    ttlMs: number,
    now: number,
  ): Promise<number | null>;
  /** Gives up a lease so that another instance can adopt the registration at once. */
  releaseLease(registrationId: string, owner: string): Promise<void>;
  /**
   * Ids of registrations nobody runs: not done, and their lease expired at `now`, was released,
   * or was never taken. At most `limit`, in no particular order. Instances call it periodically
   * to adopt them (`acquireLease` decides which instance wins each).
   */
  listUnowned(now: number, limit: number): Promise<string[]>;

  /**
   * Sends a short message to whoever {@link Store.listen}s on `tabId`, on any instance sharing
   * the store: how an append wakes the tab's stream wherever it is held. Best effort: a message
   * can be lost (a listener's connection was down); listeners catch up on the next one, and the
   * link's renewals find anything missed.
   */
  signal(tabId: string, message: string): Promise<void>;
  /**
   * Listens to the signals of one tab. Costs no connection per tab: one per store at most.
   * `listener` is also called with {@link SIGNALS_RESUMED} after the signal connection came
   * back, when messages may have been lost.
   * @returns a function that stops listening
   */
  listen(tabId: string, listener: (message: string) => void): () => void;

  /** Closes connections the store opened itself. */
  close?(): Promise<void>;
}
