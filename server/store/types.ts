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
 * the tab's stream when it has none. Its results come from its execution group: registrations
 * of the same operation share one execution and one log, and each one's `seq` counts from its
 * own start in that group (`seq = group seq - base`).
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
  /** The execution group whose results it gets. */
  groupId: string;
  /**
   * The group's seq when it joined (set by the store): group message `g` is this
   * registration's message `g - base`, so its seqs are contiguous from 1.
   */
  base: number;
  /**
   * What the operator chose to keep of the registering request (default: the `authorization`
   * and `cookie` headers): how renewals are compared, and what the group's context is rebuilt
   * from when the group was started by this request.
   */
  headers: Record<string, string>;
  createdAt: number;
  expiresAt: number;
  /** Last `seq` of this registration's messages (0 before the first); derived from its group. */
  seq: number;
  /** Highest `seq` the tab acknowledged; messages at or below it can be dropped from the log. */
  ackedSeq: number;
  /** True once its group appended a `complete` or `error`: no further messages. */
  done: boolean;
}

/**
 * One execution shared by the registrations of the same operation: same document, operation
 * name, variables and execution key. Its log holds each result once; every member's envelopes
 * are derived from it.
 */
export interface GroupRecord {
  /** Random id. */
  id: string;
  /** Digest of what makes registrations share it (see server/groups/key.ts). */
  key: string;
  /** The GraphQL document as sent. */
  query: string;
  operationName: string | null;
  variables: Record<string, unknown> | null;
  /** The kept headers of the request that started it: its context is rebuilt from them. */
  headers: Record<string, string>;
  createdAt: number;
  /** Last group seq appended (0 before the first). */
  seq: number;
  /** True once a `complete` or `error` was appended. */
  done: boolean;
  /**
   * Position in the durable event log after the last event turned into a message
   * (`createPubSub` on Redis Streams); `null` when the source is not replayable.
   */
  cursor: string | null;
  /** The instance that runs it. */
  owner: string;
  /** Fencing token of the owner's instance lease; appends with another token are refused. */
  token: number;
}

/**
 * What a group delivers to one member, read fresh for every message. Read-only: a store may hand
 * out the same object on every read while the registration is unchanged.
 */
export type MemberRoute = Readonly<
  Pick<
    RegistrationRecord,
    'id' | 'tabId' | 'subscriptionId' | 'held' | 'background' | 'expiresAt' | 'base'
  >
>;

/** One result of a group, stored once. */
export interface GroupMessage {
  type: 'next' | 'error' | 'complete';
  payload?: unknown;
}

/** A group whose owner's lease ended: whoever claims it runs it. */
export interface OrphanGroup {
  groupId: string;
  /** The token it is owned under now; pass it to {@link Store.claimGroup}. */
  token: number;
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
  /** Created; `base` is the group seq it joined at. */
  | { ok: true; base: number }
  | {
      ok: false;
      /** `group-gone`: the group is deleted or done; start another. */
      reason: 'unknown-subscription' | 'tab-limit' | 'subscription-limit' | 'group-gone';
    };

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

/** Result of {@link Store.appendGroupMessage}. */
export type AppendResult =
  | { ok: true; seq: number }
  /** The group is gone, done, or the caller's token is not the owner's. */
  | { ok: false; reason: 'gone' | 'done' | 'fenced' };

/** Options of {@link Store.appendGroupMessage}. */
export interface AppendOptions {
  /** Fencing token of the caller's instance lease; must be the group's. */
  token: number;
  /** New event cursor, advanced in the same atomic step as the append. */
  cursor?: string | null;
  /**
   * Identifies one append across repeats. When the last append applied to the group had this
   * id (its answer was lost and the call, or the command under it, was repeated), nothing is
   * appended again and the answer is the seq already used. Omit to always append.
   */
  appendId?: string;
}

/** How long and how many messages a group's log keeps. */
export interface RetentionOptions {
  /** Messages older than this are dropped even when not acknowledged. */
  messageTtlMs: number;
  /** At most this many unacknowledged messages per group; the oldest go first. */
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
   * Inserts a registration if the limits allow it, when it names a push subscription that
   * subscription exists (it is extended to the registration's expiry), and its group exists and
   * is not done. It joins the group in the same step: `base` (ignored in `record`) is the
   * group's seq now, so it gets exactly the group messages appended after it.
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
  /**
   * Deletes a registration; it leaves its group (a done group with no member left is deleted
   * with its log). Returns false if it did not exist.
   */
  deleteRegistration(id: string): Promise<boolean>;
  /**
   * Deletes and returns registrations whose `expiresAt` is at or before `now` (they leave their
   * groups, as with `deleteRegistration`); also deletes push subscriptions that expired unused.
   */
  takeExpired(now: number): Promise<RegistrationRecord[]>;
  /**
   * Retained envelopes of a registration with `seq > afterSeq`, in order, at most `limit`:
   * derived from its group's log.
   */
  getMessages(registrationId: string, afterSeq: number, limit: number): Promise<Envelope[]>;

  /**
   * Inserts a group, owned by `group.owner` under `group.token`, with no member yet (its seq and
   * `done` as given, normally 0 and false).
   */
  createGroup(group: GroupRecord): Promise<void>;
  getGroup(id: string): Promise<GroupRecord | null>;
  /** How each member of the group is reached now; members being created or deleted may be missing. */
  listMembers(groupId: string): Promise<readonly MemberRoute[]>;
  /**
   * Appends the group's next message: takes `seq + 1`, stores the message once, advances `seq`
   * (and `cursor`), marks `done` for `complete`/`error`, trims the log per `retention` and the
   * members' acknowledgements, all in one atomic step; refused unless `options.token` is the
   * group's.
   */
  appendGroupMessage(
    groupId: string,
    message: GroupMessage,
    retention: RetentionOptions,
    options: AppendOptions,
  ): Promise<AppendResult>;
  /**
   * Deletes a group and its log if it has no member (its owner stops it then).
   * @returns false when it still has members (one joined meanwhile: keep running it) or is gone
   */
  deleteGroup(id: string): Promise<boolean>;

  /**
   * Takes or extends this instance's lease, the one heartbeat that keeps every group it owns.
   * @returns its fencing token: the same as long as the instance is known, even after its lease
   * lapsed (groups claimed meanwhile refuse its appends); a new, larger one once it was
   * forgotten (every group it owned was claimed)
   */
  heartbeat(instanceId: string, ttlMs: number, now: number): Promise<number>;
  /** Ends an instance's lease at once (hand-over): its groups are orphans from now on. */
  releaseInstance(instanceId: string): Promise<void>;
  /**
   * Groups whose owner's lease ended at `now`, at most `limit`. Instances call it periodically to
   * adopt them (`claimGroup` decides which instance wins each). An instance whose groups were all
   * claimed is forgotten.
   */
  listOrphans(now: number, limit: number): Promise<OrphanGroup[]>;
  /**
   * Moves a group to a new owner if it is still owned under `fromToken`.
   * @returns the group as now owned, or `null` when another claim or the owner got there first
   * (or the group is gone)
   */
  claimGroup(
    groupId: string,
    fromToken: number,
    owner: string,
    token: number,
  ): Promise<GroupRecord | null>;

  /**
   * Sends a short message to whoever {@link Store.listen}s on `channel`, on any instance sharing
   * the store: how an append wakes the streams of a group's members wherever they are held, how
   * a tab's stream learns about its registrations, and how an instance hears that a group it
   * runs has no member left. A channel is a tab id or a name from server/stream/signals.ts. Best effort: a message
   * can be lost (a listener's connection was down); listeners catch up on the next one, and the
   * link's renewals find anything missed.
   */
  signal(channel: string, message: string): Promise<void>;
  /**
   * Listens to the signals of one channel. Costs no connection per channel: one per store at
   * most.
   * `listener` is also called with {@link SIGNALS_RESUMED} after the signal connection came
   * back, when messages may have been lost.
   * @returns a function that stops listening
   */
  listen(channel: string, listener: (message: string) => void): () => void;

  /** Closes connections the store opened itself. */
  close?(): Promise<void>;
  /**
   * True for a store several instances share (Redis): an execution group may then be adopted by
   * another instance, and only a replayable source resumes exactly there.
   */
  readonly shared?: boolean;
}
