import type { FormattedExecutionResult } from 'graphql';
import { backoffDelay } from '../protocol/backoff.js';
import {
  type Envelope,
  ErrorCode,
  EXTENSION_KEY,
  RESYNC_CODE,
  type RegistrationRequestExtension,
  type ResyncReason,
} from '../protocol/index.js';
import type { DedupMemory } from './dedup.js';
import { createDelivery, type Delivery, type DeliverySnapshot } from './delivery.js';
import { createLinkError, LinkErrorCode, type WebPushLinkError } from './errors.js';
import type { RegistrationBody, RegistrationClient, RequestSettings } from './http.js';
import type { PendingBuffer } from './pending.js';
import type { StoredRegistration } from './persistence.js';

/** A GraphQL operation as the client takes it (graphql-ws's `SubscribePayload`). */
export interface WebPushRequest {
  query: string;
  variables?: Record<string, unknown> | null;
  operationName?: string | null;
  extensions?: Record<string, unknown> | null;
}

/** Where one subscription's results go (graphql-ws's `Sink`). */
export interface WebPushSink {
  /** Each event's result; also a result without `data` that announces a resync. */
  next(result: FormattedExecutionResult): void;
  /**
   * The subscription failed: GraphQL errors (refused registration, a failed source) or a
   * {@link WebPushLinkError}. Nothing follows.
   */
  error(error: unknown): void;
  /** The subscription ended. Nothing follows. */
  complete(): void;
}

/**
 * What an operation's context may say to the urql exchange or the Apollo link, under
 * `context.webPush` (e.g. urql's `useSubscription({ query, context: useMemo(() => ({ webPush: {
 * background: true } }), []) })`).
 */
export interface WebPushOperationContext {
  /** Keep pushing while the tab is hidden; see {@link SubscribeOptions.background}. */
  background?: boolean;
}

/** Per-subscription options of `client.subscribe`. */
export interface SubscribeOptions {
  /**
   * The key under which a reload finds this subscription's registration again. Subscriptions with
   * the same key in one tab get distinct registrations.
   * @defaultValue a hash of the query, variables and operation name
   */
  key?: string;
  /**
   * Keep pushing while the tab is hidden: the service worker shows a notification for it (the
   * `notify` background policy). Without it, a hidden tab's pushes are held and caught up on.
   * @defaultValue false
   */
  background?: boolean;
  /** Request options for this subscription's registration (merged over the client's). */
  fetchOptions?: RequestInit;
}

/** One subscription of the client, from `subscribe` to its end. */
export interface Operation {
  readonly key: string;
  request: WebPushRequest;
  sink: WebPushSink;
  readonly background: boolean;
  readonly fetchOptions: RequestInit | undefined;
  closed: boolean;
  /** Bumped per connection attempt, so that a superseded attempt's answer is ignored. */
  attempt: number;
  registrationId: string | null;
  delivery: Delivery | null;
  /** Where the server delivers its registration: a push subscription id, or `null` (stream). */
  deliveredTo: string | null;
  /** Set when continuity was lost: the next registration starts with a resync notice. */
  resync: ResyncReason | null;
  /** Registration attempts in a row that failed for the network (the backoff's attempt). */
  retries: number;
}

/** One registration as seen by `inspect()`. */
export interface RegistrationSnapshot extends DeliverySnapshot {
  /** The subscription's key. */
  key: string;
  /** Where the server delivers it: a push subscription id, or `null` for the stream. */
  deliveredTo: string | null;
}

/** Options of {@link createOperations}. */
export interface OperationsOptions {
  tabId: string;
  http: RegistrationClient;
  /** The request settings of one subscription's registration. */
  settingsFor(operation: Operation): RequestSettings;
  /** Per key, what a reload needs to resume: registration id and last seq handed on. */
  stored: Map<string, StoredRegistration>;
  schedulePersist(): void;
  dedup: DedupMemory;
  pending: PendingBuffer;
  gapWaitMs: number;
  maxHeldPerRegistration: number;
  /** The push subscription new registrations go to, or `null` for the stream. */
  target(): string | null;
  /** Whether the page is hidden now (sent with a resume's renewal). */
  hidden(): boolean;
  /** A registration is live (new, resumed or re-established). */
  onLive(operation: Operation): void;
  /** A registration went away; the client may close the stream or stop renewing. */
  onReleased(): void;
  /** Continuity was lost for a subscription, which is re-established. */
  onResync(key: string, reason: ResyncReason): void;
  /**
   * The server no longer knows the push subscription new registrations were sent to (it expired
   * while the page was away): the client forgets it, so that {@link OperationsOptions.target}
   * gives the stream, and sets push up again.
   */
  onUnknownSubscription(): void;
}

/** The subscriptions of one client and their registrations. */
export interface Operations {
  /** Serves a subscription; returns the function that ends it (and unregisters it). */
  start(request: WebPushRequest, sink: WebPushSink, options?: SubscribeOptions): () => void;
  /** Offers an envelope from any source (push, stream, log). */
  offer(envelope: Envelope): void;
  /** The live registrations, by id. */
  readonly live: ReadonlyMap<string, Operation>;
  /** Every subscription being served (registered or registering). */
  readonly count: number;
  /** The server lost this registration: register the subscription again, with a resync. */
  reregister(registrationId: string, reason: ResyncReason): void;
  /** Registrations in their snapshot form. */
  snapshots(): RegistrationSnapshot[];
  /** Envelopes that belonged to another tab. */
  readonly otherTab: number;
  /** Ends every subscription and unregisters them. */
  finishAll(error?: WebPushLinkError): void;
}

/** Ceiling of the first wait before registering again after a network failure. */
const FIRST_RETRY_MS = 500;
/** Ceiling of every such wait. */
const MAX_RETRY_MS = 30_000;

/** A stable key for a request: FNV-1a of its query, variables and operation name. */
export function requestKey(request: WebPushRequest): string {
  const stable = (value: unknown): string => {
    if (Array.isArray(value)) return `[${value.map(stable).join(',')}]`;
    if (value && typeof value === 'object') {
      const entries = Object.entries(value as Record<string, unknown>)
        .filter(([, v]) => v !== undefined)
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stable(v)}`).join(',')}}`;
    }
    return JSON.stringify(value) ?? 'null';
  };
  const text = `${request.query}\u0000${stable(request.variables ?? null)}\u0000${request.operationName ?? ''}`;
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0).toString(36);
}

/** The result that tells the app continuity was lost (`extensions.webPush.code`). */
export const resyncResult = (reason: ResyncReason): FormattedExecutionResult => ({
  extensions: { [EXTENSION_KEY]: { code: RESYNC_CODE, reason } },
});

/**
 * Creates the subscriptions' state: registering, resuming after a reload, re-registering what
 * the server lost, and routing envelopes to each registration's sequencer.
 * @param options - see {@link OperationsOptions}
 * @returns the operations
 * @remarks Envelopes from every source go through {@link Operations.offer}: another tab's are
 * dropped, one that beats its registration's HTTP answer waits in the pending buffer, and each
 * registration's {@link Delivery} dedups, orders and fills gaps the same way whatever the source.
 */
export function createOperations(options: OperationsOptions): Operations {
  const {
    tabId,
    http,
    settingsFor,
    stored,
    schedulePersist,
    dedup,
    pending,
    gapWaitMs,
    maxHeldPerRegistration,
    target,
    hidden,
    onLive,
    onReleased,
    onResync,
    onUnknownSubscription,
  } = options;
  const active = new Map<string, Operation>();
  const live = new Map<string, Operation>();
  let otherTab = 0;

  const unregister = (registrationIds: string[]): void => {
    if (registrationIds.length > 0) void http.unregister({ tabId, registrationIds });
  };

  const release = (operation: Operation, unregisterOnServer: boolean): void => {
    if (active.get(operation.key) === operation) active.delete(operation.key);
    operation.delivery?.close();
    operation.delivery = null;
    const id = operation.registrationId;
    operation.registrationId = null;
    if (id !== null) {
      live.delete(id);
      if (stored.get(operation.key)?.registrationId === id) stored.delete(operation.key);
      schedulePersist();
      if (unregisterOnServer) unregister([id]);
    }
    onReleased();
  };

  const finish = (operation: Operation, end: () => void): void => {
    if (operation.closed) return;
    operation.closed = true;
    // The server keeps a finished registration until it expires; free it now.
    release(operation, true);
    end();
  };

  const deliver = (operation: Operation, envelope: Envelope): void => {
    dedup.add(envelope.id);
    const entry = stored.get(operation.key);
    if (entry?.registrationId === envelope.reg) {
      entry.lastSeq = envelope.seq;
      entry.updatedAt = Date.now();
    }
    schedulePersist();
    const payload = (envelope.payload ?? {}) as FormattedExecutionResult;
    switch (envelope.type) {
      case 'next':
        operation.sink.next(payload);
        return;
      case 'error':
        finish(operation, () => operation.sink.error(payload.errors ?? []));
        return;
      case 'complete':
        finish(operation, () => operation.sink.complete());
        return;
      default:
        // `ref` never leaves the sequencer.
        return;
    }
  };

  const attach = (
    operation: Operation,
    registrationId: string,
    lastSeq: number,
    deliveredTo: string | null,
    serverSeq?: number,
  ): void => {
    const delivery = createDelivery({
      registrationId,
      lastSeq,
      maxHeld: maxHeldPerRegistration,
      gapWaitMs,
      fetchAfter: (after) => http.messages({ tabId, registrationId, after }),
      isDuplicate: (id) => dedup.has(id),
      onEnvelope: (envelope) => deliver(operation, envelope),
      onSkip: () => {
        operation.sink.next(resyncResult('messages-expired'));
        onResync(operation.key, 'messages-expired');
      },
    });
    operation.registrationId = registrationId;
    operation.delivery = delivery;
    operation.deliveredTo = deliveredTo;
    operation.retries = 0;
    live.set(registrationId, operation);
    stored.set(operation.key, { registrationId, lastSeq, updatedAt: Date.now() });
    schedulePersist();
    if (operation.resync) {
      const reason = operation.resync;
      operation.resync = null;
      operation.sink.next(resyncResult(reason));
      onResync(operation.key, reason);
    }
    for (const envelope of pending.take(registrationId)) delivery.offer(envelope);
    if (serverSeq !== undefined) delivery.noteServerSeq(serverSeq);
    onLive(operation);
  };

  const retryLater = (operation: Operation, attempt: number): void => {
    const delay = backoffDelay(++operation.retries, {
      baseMs: FIRST_RETRY_MS,
      maxMs: MAX_RETRY_MS,
    });
    setTimeout(() => {
      if (!operation.closed && operation.attempt === attempt) void connect(operation, true);
    }, delay);
  };

  /** Registers a subscription, first trying to resume the registration a reload left behind. */
  const connect = async (operation: Operation, resume: boolean): Promise<void> => {
    const attempt = ++operation.attempt;
    const stale = () => operation.closed || operation.attempt !== attempt;
    const previous = resume ? stored.get(operation.key) : undefined;
    if (previous) {
      const { registrationId, lastSeq } = previous;
      const renewed = await http.renew({
        tabId,
        registrations: [{ registrationId, ackedSeq: lastSeq }],
        hidden: hidden(),
      });
      if (operation.closed) {
        // Ended while resuming: the stored registration is nobody's now.
        if (stored.get(operation.key)?.registrationId === registrationId) {
          stored.delete(operation.key);
          schedulePersist();
        }
        if (renewed.ok && !renewed.value.gone.includes(registrationId))
          unregister([registrationId]);
        return;
      }
      if (stale()) return;
      if (!renewed.ok && renewed.error.code === LinkErrorCode.Network) {
        return retryLater(operation, attempt);
      }
      if (renewed.ok && !renewed.value.gone.includes(registrationId)) {
        const deliveredTo = renewed.value.streamed.includes(registrationId) ? null : 'push';
        return attach(
          operation,
          registrationId,
          lastSeq,
          deliveredTo,
          renewed.value.seqs[registrationId],
        );
      }
      // Gone while the page was away: what was published meanwhile is lost to it.
      stored.delete(operation.key);
      operation.resync = 'registration-gone';
    }

    const subscriptionId = target();
    const extension: RegistrationRequestExtension = {
      tabId,
      operationKey: operation.key,
      ...(subscriptionId === null ? {} : { subscriptionId }),
      ...(operation.background ? { background: true } : {}),
    };
    const { request } = operation;
    const body: RegistrationBody = {
      query: request.query,
      ...(request.variables ? { variables: request.variables } : {}),
      ...(request.operationName ? { operationName: request.operationName } : {}),
      extensions: { ...request.extensions, [EXTENSION_KEY]: extension },
    };
    const answer = await http.register(body, settingsFor(operation));
    if (stale()) {
      // Nobody wants this registration any more.
      if (answer.ok && answer.value.kind === 'ack') unregister([answer.value.ack.registrationId]);
      return;
    }
    if (!answer.ok) {
      // The network: keep trying while the subscription runs; the mode says offline meanwhile.
      if (answer.error.code === LinkErrorCode.Network) return retryLater(operation, attempt);
      return finish(operation, () => operation.sink.error(answer.error));
    }
    if (answer.value.kind === 'errors') {
      const { errors = [] } = answer.value.result;
      const code = (errors[0] as { extensions?: { code?: unknown } } | undefined)?.extensions?.code;
      if (code === ErrorCode.UnknownSubscription && subscriptionId !== null) {
        // Our push subscription expired on the server (the page was away past its TTL):
        // register on the stream now; push comes back once it is put again.
        onUnknownSubscription();
        return connect(operation, false);
      }
      return finish(operation, () => operation.sink.error(errors));
    }
    attach(operation, answer.value.ack.registrationId, answer.value.ack.seq, subscriptionId);
  };

  return {
    start(request, sink, { key, background = false, fetchOptions } = {}) {
      const running = key === undefined ? undefined : active.get(key);
      if (running && !running.closed && requestKey(running.request) === requestKey(request)) {
        // The same operation sent again (urql re-executes a running one): keep its registration
        // and serve the new sink; the old one's stop function does nothing from now on.
        running.sink = sink;
        return () => {
          if (running.closed || running.sink !== sink) return;
          running.closed = true;
          release(running, true);
        };
      }
      const base = key ?? requestKey(request);
      let unique = base;
      for (let n = 2; active.has(unique); n++) unique = `${base}~${n}`;
      const operation: Operation = {
        key: unique,
        request,
        sink,
        background,
        fetchOptions,
        closed: false,
        attempt: 0,
        registrationId: null,
        delivery: null,
        deliveredTo: null,
        resync: null,
        retries: 0,
      };
      active.set(unique, operation);
      void connect(operation, true);
      return () => {
        if (operation.closed || operation.sink !== sink) return;
        operation.closed = true;
        release(operation, true);
      };
    },

    offer(envelope) {
      if (envelope.tab !== tabId) {
        otherTab++;
        return;
      }
      const operation = live.get(envelope.reg);
      if (operation?.delivery) operation.delivery.offer(envelope);
      else pending.add(envelope);
    },

    live,

    get count() {
      return active.size;
    },

    reregister(registrationId, reason) {
      const operation = live.get(registrationId);
      if (!operation || operation.closed) return;
      release(operation, false);
      active.set(operation.key, operation);
      operation.resync = reason;
      void connect(operation, false);
    },

    snapshots() {
      return [...live.values()].flatMap((operation) =>
        operation.delivery
          ? [
              {
                ...operation.delivery.snapshot(),
                key: operation.key,
                deliveredTo: operation.deliveredTo,
              },
            ]
          : [],
      );
    },

    get otherTab() {
      return otherTab;
    },

    finishAll(error) {
      for (const operation of [...active.values()]) {
        finish(operation, () => (error ? operation.sink.error(error) : operation.sink.complete()));
      }
    },
  };
}

/** The error a disposed client answers new subscriptions with. */
export const disposedError = (): WebPushLinkError =>
  createLinkError(LinkErrorCode.Disposed, 'the client was disposed');
