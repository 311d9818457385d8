import type { FormattedExecutionResult } from 'graphql';
import type { ConfigResponse, PushTransport, ResyncReason } from '../protocol/index.js';
import { createDedupMemory } from './dedup.js';
import type { LinkResult, WebPushLinkError } from './errors.js';
import { createRegistrationClient, type RequestSettings } from './http.js';
import { iterateSubscription } from './iterate.js';
import { listenToLifecycle, networkOnline, pageHidden } from './lifecycle.js';
import {
  createOperations,
  disposedError,
  type RegistrationSnapshot,
  type SubscribeOptions,
  type WebPushRequest,
  type WebPushSink,
} from './operations.js';
import { createDeliveryPath, type EnablePushResult } from './path.js';
import { createPendingBuffer } from './pending.js';
import { createPersistence } from './persistence.js';
import { createPushSource } from './push-source.js';
import { createRenewRound } from './renew-round.js';
import { createRenewal } from './renewal.js';
import { defaultStorage, type LinkStorage } from './storage.js';
import { createStreamSource } from './stream-source.js';
import { resolveTabId } from './tab.js';

/** How the client's registrations reach it right now. */
export type ClientMode =
  /** Setting up (the first registration, or the stream reconnecting). */
  | 'connecting'
  /** Over the resumable stream: the tab is live without any permission. */
  | 'stream'
  /** By Web Push: notifications are granted and the push subscription works. */
  | 'push'
  /** The browser is offline, or the server cannot be reached; it catches up when back. */
  | 'offline';

/** Options of {@link createClient}. */
export interface WebPushClientOptions {
  /** The GraphQL endpoint, absolute (the plugin's routes live below it, `${url}/push/...`). */
  url: string;
  /**
   * Where push messages come from: `browserPushTransport()` in a page. Without one, the client
   * uses the stream only.
   */
  transport?: PushTransport;
  /**
   * Move to push by itself when the permission is already granted. Never prompts: asking is
   * {@link WebPushClient.enablePush}'s job, from a click.
   * @defaultValue true
   */
  autoPush?: boolean;
  /**
   * This tab's id.
   * @defaultValue the id under `graphql-web-push:tab` in `storage`, else a new random 128-bit
   * base64url id, stored there so that a reload keeps it
   */
  tabId?: string;
  /**
   * Where the tab id, the registrations to resume after a reload and the dedup memory are kept.
   * `null` keeps nothing.
   * @defaultValue `globalThis.sessionStorage` when present
   */
  storage?: LinkStorage | null;
  /**
   * The `fetch` used for every request.
   * @defaultValue `globalThis.fetch`
   */
  fetch?: typeof fetch;
  /**
   * Request options (headers such as `authorization`, `credentials`) for every request; a
   * function is called per request. `method` and `body` are always the client's.
   */
  fetchOptions?: RequestInit | (() => RequestInit);
  /**
   * How long a gap in seqs may stay open, waiting for the missing message to arrive, before it
   * is fetched from the server's log.
   * @defaultValue 500
   */
  gapWaitMs?: number;
  /**
   * How often registrations are renewed (and checked for missed messages).
   * @defaultValue the server's `renewIntervalMs` from `GET .../config`
   */
  renewIntervalMs?: number;
  /**
   * Most out-of-order envelopes held per registration (the log still has the rest).
   * @defaultValue 1000
   */
  maxHeldPerRegistration?: number;
  /** Most message ids kept in the dedup memory. @defaultValue 2000 */
  dedupMaxEntries?: number;
  /** How long a message id stays in the dedup memory. @defaultValue 600_000 (10 minutes) */
  dedupMaxAgeMs?: number;
  /**
   * On an unloading `pagehide` the tab's registrations are not deleted but shortened to this, so
   * that a reload resumes them without a gap.
   * @defaultValue 10_000
   */
  reloadGraceMs?: number;
}

export type { EnablePushResult } from './path.js';

/** Events of a client, for {@link WebPushClient.on}. */
export interface WebPushClientEvents {
  /** The mode changed. */
  mode: ClientMode;
  /** Push could not be set up or stopped working; the stream serves meanwhile. */
  'push-error': WebPushLinkError;
  /** Continuity was lost for a subscription and it was re-established. */
  resync: { key: string; reason: ResyncReason };
}

/** What the client holds right now; for debugging, status displays and tests. */
export interface WebPushLinkSnapshot {
  tabId: string;
  mode: ClientMode;
  /** The push subscription's id on the server, while push is set up. */
  subscriptionId: string | null;
  /** Where new registrations go. */
  path: 'stream' | 'push';
  /** The stream's state. */
  stream: 'closed' | 'connecting' | 'open';
  /** Subscriptions being served (registered or registering). */
  operations: number;
  /** Live registrations. */
  registrations: RegistrationSnapshot[];
  /** Envelopes held in all: out of order ones plus those for registrations not known yet. */
  held: number;
  /** Envelopes waiting for their registration's HTTP answer. */
  pending: number;
  /** Ids in the dedup memory. */
  dedupSize: number;
  /** Envelopes dropped because they belong to another tab. */
  otherTab: number;
}

/**
 * A GraphQL subscriptions client over Web Push and the resumable stream, with the shape of
 * graphql-ws's and graphql-sse's clients.
 */
export interface WebPushClient {
  /**
   * Subscribes; results go to `sink`.
   * @returns a function that ends the subscription (and unregisters it)
   */
  subscribe(request: WebPushRequest, sink: WebPushSink, options?: SubscribeOptions): () => void;
  /** Subscribes as an async iterator; `return()` ends the subscription. */
  iterate(
    request: WebPushRequest,
    options?: SubscribeOptions,
  ): AsyncIterableIterator<FormattedExecutionResult>;
  /** How registrations reach the client right now. */
  readonly mode: ClientMode;
  /** Listens to an event; returns the function that stops listening. */
  on<E extends keyof WebPushClientEvents>(
    event: E,
    listener: (value: WebPushClientEvents[E]) => void,
  ): () => void;
  /**
   * Moves to Web Push: asks for the notification permission (call it from a click: browsers
   * refuse prompts without a user gesture), subscribes, registers the push subscription and
   * moves every registration onto it, then closes the stream. Every event arrives exactly once
   * across the switch. On failure the stream goes on serving and the result names the error.
   */
  enablePush(): Promise<EnablePushResult>;
  /** Moves back to the stream and drops the push subscription. */
  disablePush(): Promise<void>;
  /** Renews every registration now and fills the gaps the server reports. */
  renew(): Promise<void>;
  inspect(): WebPushLinkSnapshot;
  /** Ends every subscription, unregisters them and removes all listeners and timers. */
  dispose(): void;
}

/** Renewal period when neither the options nor the server say (the server always does). */
const FALLBACK_RENEW_INTERVAL_MS = 20_000;
/** Failed stream connections in a row after which the client reports itself offline. */
const OFFLINE_AFTER_FAILURES = 3;

const resolveInit = (init: RequestInit | (() => RequestInit) | undefined) =>
  typeof init === 'function' ? init() : init;

/** Merges request options, `over` winning and headers combined. */
function mergeInit(base: RequestInit | undefined, over: RequestInit | undefined) {
  if (!base || !over) return over ?? base;
  const headers = new Headers(base.headers);
  new Headers(over.headers).forEach((value, name) => {
    headers.set(name, value);
  });
  return { ...base, ...over, headers };
}

/**
 * Creates a client.
 *
 * @param options - see {@link WebPushClientOptions}
 * @returns the client
 * @remarks The client goes live on the stream at once, whatever the permission, and moves to
 * Web Push by itself only when the permission is already granted (it never prompts); from a
 * click, {@link WebPushClient.enablePush} asks. Whatever brings an envelope (a push, the stream
 * or the server's log), one sequencer per registration dedups, orders and fills gaps, so switching
 * between push and stream loses and repeats nothing. When push stops working (permission revoked,
 * the subscription gone, a failed re-subscription) the client returns to the stream by itself.
 * Hidden tabs ask the server to hold their pushes and catch up when shown. Where continuity
 * cannot be kept (a registration gone while the page was away, messages past the log's
 * retention) the subscription is re-established and its sink gets a result without `data`
 * whose `extensions.webPush.code` is `WEB_PUSH_RESYNC`: refetch what the page shows.
 */
export function createClient(options: WebPushClientOptions): WebPushClient {
  const {
    url,
    transport,
    autoPush = true,
    storage = defaultStorage(),
    gapWaitMs = 500,
    renewIntervalMs,
    maxHeldPerRegistration = 1000,
    dedupMaxEntries = 2000,
    dedupMaxAgeMs = 10 * 60_000,
    reloadGraceMs = 10_000,
  } = options;

  const tabId = resolveTabId({ tabId: options.tabId, storage });
  const persistence = createPersistence({
    storage,
    key: `graphql-web-push:state:${url}`,
    maxSeen: dedupMaxEntries,
  });
  const persisted = persistence.load();
  const stored = persisted.registrations;
  const dedup = createDedupMemory({
    maxEntries: dedupMaxEntries,
    maxAgeMs: dedupMaxAgeMs,
    entries: persisted.seen,
  });
  const pending = createPendingBuffer();
  const listeners = new Map<keyof WebPushClientEvents, Set<(value: never) => void>>();
  const emit = <E extends keyof WebPushClientEvents>(event: E, value: WebPushClientEvents[E]) => {
    for (const listener of [...(listeners.get(event) ?? [])]) {
      (listener as (value: WebPushClientEvents[E]) => void)(value);
    }
  };

  const settings = (extra?: RequestInit): RequestSettings => ({
    fetch: options.fetch ?? ((input, init) => globalThis.fetch(input, init)),
    init: mergeInit(resolveInit(options.fetchOptions), extra),
  });
  const http = createRegistrationClient({ url, settings: () => settings() });

  let configured: Promise<LinkResult<ConfigResponse>> | null = null;
  let config: ConfigResponse | null = null;
  const loadConfig = (): Promise<LinkResult<ConfigResponse>> => {
    if (!configured) {
      const attempt = http.config();
      configured = attempt;
      void attempt.then((result) => {
        if (result.ok) config = result.value;
        else if (configured === attempt) configured = null;
      });
    }
    return configured;
  };

  let disposed = false;
  let hidden = pageHidden();
  let mode: ClientMode = 'connecting';
  let persistQueued = false;
  let unlisten: (() => void) | null = null;

  const flushPersist = (): void => {
    persistQueued = false;
    persistence.save({ registrations: stored, seen: dedup.entries() });
  };
  // Coalesces the writes of a burst of results into one.
  const schedulePersist = (): void => {
    if (!storage || persistQueued) return;
    persistQueued = true;
    queueMicrotask(() => {
      if (persistQueued) flushPersist();
    });
  };

  const updateMode = (): void => {
    let next: ClientMode;
    if (!networkOnline()) next = 'offline';
    else if (path.current === 'push' && push.current) next = 'push';
    else if (stream.state === 'open') next = 'stream';
    else if (stream.failures >= OFFLINE_AFTER_FAILURES) next = 'offline';
    else if (stream.state === 'closed' && operations.live.size === 0 && operations.count === 0) {
      // Nothing to serve: the stream opens with the first registration.
      next = mode === 'connecting' ? 'connecting' : 'stream';
    } else next = 'connecting';
    if (next === mode) return;
    mode = next;
    emit('mode', mode);
  };

  const operations = createOperations({
    tabId,
    http,
    settingsFor: (operation) => settings(operation.fetchOptions),
    stored,
    schedulePersist,
    dedup,
    pending,
    gapWaitMs,
    maxHeldPerRegistration,
    target: () => path.target(),
    hidden: () => hidden,
    onLive: () => {
      renewal.schedule();
      void loadConfig();
      path.reconcile();
    },
    onReleased: () => {
      if (operations.live.size === 0) renewal.cancel();
      path.reconcile();
    },
    onResync: (key, reason) => emit('resync', { key, reason }),
    onUnknownSubscription: () => path.subscriptionUnknown(),
  });

  const stream = createStreamSource({
    url: http.routeUrl('stream'),
    tabId,
    settings: () => settings(),
    positions: () =>
      Object.fromEntries(
        [...operations.live].map(([id, operation]) => [id, operation.delivery?.lastSeq ?? 0]),
      ),
    heartbeatMs: () => config?.streamHeartbeatMs ?? 15_000,
    onEnvelope: (envelope) => operations.offer(envelope),
    onGone: (registrationId) => operations.reregister(registrationId, 'registration-gone'),
    // The server has none of this tab's registrations: renewing finds them gone.
    onNothingToStream: () => void renewal.now(),
    onState: () => updateMode(),
  });

  const push = createPushSource({
    http,
    transport,
    config: loadConfig,
    onEnvelope: (envelope) => operations.offer(envelope),
    onChange: (cause) => void path.pushChanged(cause),
  });

  const path = createDeliveryPath({
    tabId,
    http,
    operations,
    stream,
    push,
    onPushError: (error) => emit('push-error', error),
    onChange: () => updateMode(),
    disposed: () => disposed,
  });

  // --- renewal -------------------------------------------------------------------------------

  const renewRound = createRenewRound({
    tabId,
    http,
    operations,
    hidden: () => hidden,
    onPush: () => path.current === 'push',
    onPushLost: () => {
      push.forget();
      path.useStream();
    },
    onReconcile: () => path.reconcile(),
    disposed: () => disposed,
  });

  const renewal = createRenewal({
    interval: () => renewIntervalMs ?? config?.renewIntervalMs ?? FALLBACK_RENEW_INTERVAL_MS,
    active: () => operations.live.size > 0,
    renewOnce: renewRound.run,
  });

  const renewToCatchUp = (): void => {
    renewRound.catchUpNext();
    void renewal.now();
  };

  // --- page lifecycle ------------------------------------------------------------------------

  /** Set from a persisted `pagehide` until the page is back: a frozen page sends nothing. */
  let frozen = false;

  const onPageHide = (persisted: boolean): void => {
    if (persistQueued) flushPersist();
    frozen = persisted;
    // A page in the back/forward cache may come back: keep its registrations (they expire by
    // themselves if it does not), close the stream, and catch up on return.
    stream.stop();
    if (persisted) return;
    const registrationIds = [...operations.live.keys()];
    if (registrationIds.length === 0) return;
    void http.unregister({ tabId, registrationIds, graceMs: reloadGraceMs }, { keepalive: true });
  };

  const listen = (): void => {
    if (unlisten) return;
    push.listen();
    const removeLifecycle = listenToLifecycle({
      onVisibility(nowHidden) {
        hidden = nowHidden;
        // Going into the back/forward cache: a request started now would be frozen midway.
        if (frozen) return;
        // Hidden: the server holds our pushes. Shown: it pushes again, and we catch up.
        if (nowHidden) void renewal.now();
        else renewToCatchUp();
      },
      onPageHide,
      onResume() {
        frozen = false;
        hidden = pageHidden();
        // A round (or a move) the freeze caught may never end: start over.
        renewal.reset();
        path.abandonMove();
        renewToCatchUp();
        path.reconcile();
      },
      onNetwork(online) {
        updateMode();
        if (online) {
          renewToCatchUp();
          path.reconcile();
        }
      },
    });
    unlisten = () => {
      removeLifecycle();
      push.close();
    };
    if (autoPush && transport) {
      // Only when the permission is already granted: the client never prompts by itself.
      void push.permission().then((permission) => {
        if (permission === 'granted' && !disposed && path.current === 'stream') {
          void path.usePush(false);
        }
      });
    }
  };

  const client: WebPushClient = {
    subscribe(request, sink, subscribeOptions) {
      if (disposed) {
        queueMicrotask(() => sink.error(disposedError()));
        return () => {};
      }
      listen();
      const stop = operations.start(request, sink, subscribeOptions);
      updateMode();
      return stop;
    },

    iterate(request, subscribeOptions) {
      return iterateSubscription((sink) => client.subscribe(request, sink, subscribeOptions));
    },

    get mode() {
      return mode;
    },

    on(event, listener) {
      let set = listeners.get(event);
      if (!set) {
        set = new Set();
        listeners.set(event, set);
      }
      set.add(listener as (value: never) => void);
      return () => set.delete(listener as (value: never) => void);
    },

    enablePush: () => {
      if (disposed) return Promise.resolve({ ok: false, error: disposedError() });
      listen();
      return path.usePush(true);
    },

    async disablePush() {
      path.useStream();
      await path.settled();
      await push.remove();
    },

    renew: renewal.now,

    inspect() {
      const registrations = operations.snapshots();
      const pendingSize = pending.size;
      return {
        tabId,
        mode,
        subscriptionId: push.current?.subscriptionId ?? null,
        path: path.current,
        stream: stream.state,
        operations: operations.count,
        registrations,
        held: registrations.reduce((sum, r) => sum + r.held, pendingSize),
        pending: pendingSize,
        dedupSize: dedup.size,
        otherTab: operations.otherTab,
      };
    },

    dispose() {
      if (disposed) return;
      operations.finishAll();
      disposed = true;
      renewal.stop();
      stream.stop();
      unlisten?.();
      if (persistQueued) flushPersist();
    },
  };
  return client;
}
