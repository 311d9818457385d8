import type { FormattedExecutionResult } from 'graphql';
import type {
  ConfigResponse,
  PushPermission,
  PushTransport,
  ResyncReason,
} from '../protocol/index.js';
import { createDedupMemory } from './dedup.js';
import { LinkErrorCode, type LinkResult, type WebPushLinkError } from './errors.js';
import { createRegistrationClient, type RequestSettings } from './http.js';
import { listenToLifecycle, networkOnline, pageHidden } from './lifecycle.js';
import {
  createOperations,
  disposedError,
  type RegistrationSnapshot,
  type SubscribeOptions,
  type WebPushRequest,
  type WebPushSink,
} from './operations.js';
import { createPendingBuffer } from './pending.js';
import { createPersistence } from './persistence.js';
import { createPushSource } from './push-source.js';
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

/** Outcome of {@link WebPushClient.enablePush}. */
export type EnablePushResult = { ok: true } | { ok: false; error: WebPushLinkError };

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
  /** Where new registrations go, and where existing ones are moved to. */
  let path: 'stream' | 'push' = 'stream';
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
    else if (path === 'push' && push.current) next = 'push';
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
    target: () => (path === 'push' ? (push.current?.subscriptionId ?? null) : null),
    hidden: () => hidden,
    onLive: () => {
      renewal.schedule();
      void loadConfig();
      reconcile();
    },
    onReleased: () => {
      if (operations.live.size === 0) renewal.cancel();
      reconcile();
    },
    onResync: (key, reason) => emit('resync', { key, reason }),
    onUnknownSubscription: () => {
      if (path !== 'push') return;
      push.forget();
      path = 'stream';
      // Put the browser's subscription again and move back, where the permission still holds.
      void push.permission().then((permission) => {
        if (permission === 'granted' && !disposed && path === 'stream') void usePush(false);
      });
    },
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
    onChange: (cause) => void pushChanged(cause),
  });

  // --- delivery path -----------------------------------------------------------------------

  let moving: Promise<void> | null = null;
  let moveAgain = false;
  /** Bumped when a move in flight is abandoned (a page frozen midway). */
  let moveGeneration = 0;
  /** Why the last move onto push was refused, for `enablePush`'s answer. */
  let refusal: WebPushLinkError | null = null;

  /**
   * Puts every registration where the path says, and opens or closes the stream to match. The
   * stream stays open until every registration is on push: whatever was appended before a move
   * arrives over the stream, whatever after it by push, and duplicates are dropped.
   */
  const reconcile = (): void => {
    if (disposed) return;
    if (moving) {
      moveAgain = true;
      return;
    }
    const mine = moveGeneration;
    moving = (async () => {
      do {
        moveAgain = false;
        await reconcileOnce();
      } while (moveAgain && !disposed && mine === moveGeneration);
    })().finally(() => {
      if (mine !== moveGeneration) return;
      moving = null;
      updateMode();
    });
  };

  const reconcileOnce = async (): Promise<void> => {
    const targetId = path === 'push' ? (push.current?.subscriptionId ?? null) : null;
    const misplaced = [...operations.live.values()].filter(
      (operation) => operation.deliveredTo !== targetId,
    );
    const needsStream = path === 'stream' || misplaced.length > 0;
    if (needsStream && operations.live.size > 0) stream.start();
    if (misplaced.length > 0) {
      const moved = await http.move({
        tabId,
        subscriptionId: targetId,
        registrationIds: misplaced.map((operation) => operation.registrationId as string),
      });
      if (!moved.ok) {
        if (targetId !== null) {
          // The server will not push to it (its limits): stay on the stream.
          refusal = asPushRefusal(moved.error);
          emit('push-error', refusal);
          path = 'stream';
          moveAgain = true;
        }
        return;
      }
      for (const id of moved.value.moved) {
        const operation = operations.live.get(id);
        if (operation) operation.deliveredTo = targetId;
      }
      for (const id of moved.value.gone) operations.reregister(id, 'registration-gone');
    }
    const allPlaced = [...operations.live.values()].every((o) => o.deliveredTo === targetId);
    if (path === 'push' && allPlaced) stream.stop();
    if (operations.live.size === 0 && operations.count === 0) stream.stop();
  };

  const asPushRefusal = (error: WebPushLinkError): WebPushLinkError =>
    error.code === LinkErrorCode.Http
      ? Object.assign(error, { code: LinkErrorCode.PushRefused })
      : error;

  const useStream = (error?: WebPushLinkError): void => {
    if (error) emit('push-error', error);
    if (path === 'stream') return;
    path = 'stream';
    reconcile();
    updateMode();
  };

  const usePush = async (prompt: boolean): Promise<EnablePushResult> => {
    const setup = await push.setup(prompt);
    if (disposed) return { ok: false, error: disposedError() };
    if (!setup.ok) {
      emit('push-error', setup.error);
      return { ok: false, error: setup.error };
    }
    refusal = null;
    path = 'push';
    reconcile();
    await moving;
    updateMode();
    if (path !== 'push' && refusal) return { ok: false, error: refusal };
    return { ok: true };
  };

  const pushChanged = async (cause: 'subscription' | 'permission'): Promise<void> => {
    if (path !== 'push') return;
    const permission: PushPermission = await push.permission();
    if (cause === 'permission' && permission !== 'granted') {
      push.forget();
      return useStream();
    }
    // A replaced subscription: register the new one and move there; else back to the stream.
    push.forget();
    const setup = await push.setup(false);
    if (!setup.ok) return useStream(setup.error);
    reconcile();
  };

  // --- renewal -------------------------------------------------------------------------------

  /** Set when the page comes back: what was missed meanwhile is fetched at once. */
  let catchUp = false;

  const renewOnce = async (): Promise<void> => {
    const fill = catchUp ? 'now' : 'after-gap-wait';
    catchUp = false;
    const live = [...operations.live];
    if (live.length === 0) return;
    const result = await http.renew({
      tabId,
      registrations: live.map(([registrationId, operation]) => ({
        registrationId,
        ackedSeq: operation.delivery?.lastSeq ?? 0,
      })),
      hidden,
    });
    if (!result.ok) {
      // Still owed: the next round catches up instead.
      if (fill === 'now') catchUp = true;
      return;
    }
    if (disposed) return;
    for (const id of result.value.gone) operations.reregister(id, 'registration-gone');
    for (const [id, seq] of Object.entries(result.value.seqs)) {
      operations.live.get(id)?.delivery?.noteServerSeq(seq, fill);
    }
    let lostPush = false;
    for (const id of result.value.streamed) {
      const operation = operations.live.get(id);
      if (!operation) continue;
      if (operation.deliveredTo !== null && path === 'push') lostPush = true;
      operation.deliveredTo = null;
    }
    if (lostPush) {
      // The server deleted our push subscription (the push service answered 404/410).
      push.forget();
      useStream();
      return;
    }
    reconcile();
  };

  const renewal = createRenewal({
    interval: () => renewIntervalMs ?? config?.renewIntervalMs ?? FALLBACK_RENEW_INTERVAL_MS,
    active: () => operations.live.size > 0,
    renewOnce,
  });

  const renewToCatchUp = (): void => {
    catchUp = true;
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
        moveGeneration++;
        moving = null;
        renewToCatchUp();
        reconcile();
      },
      onNetwork(online) {
        updateMode();
        if (online) {
          renewToCatchUp();
          reconcile();
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
        if (permission === 'granted' && !disposed && path === 'stream') void usePush(false);
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
      const queue: FormattedExecutionResult[] = [];
      const waiting: ((step: IteratorResult<FormattedExecutionResult>) => void)[] = [];
      let finished = false;
      let failure: { error: unknown } | null = null;
      const failed: ((error: unknown) => void)[] = [];
      const settle = () => {
        while (waiting.length > 0 && queue.length > 0) {
          waiting.shift()?.({ done: false, value: queue.shift() as FormattedExecutionResult });
        }
        if (queue.length > 0 || !finished) return;
        if (failure) {
          for (const reject of failed.splice(0)) reject(failure.error);
          waiting.length = 0;
        } else {
          for (const resolve of waiting.splice(0)) resolve({ done: true, value: undefined });
        }
      };
      const stop = client.subscribe(
        request,
        {
          next(result) {
            queue.push(result);
            settle();
          },
          error(error) {
            failure = { error };
            finished = true;
            settle();
          },
          complete() {
            finished = true;
            settle();
          },
        },
        subscribeOptions,
      );
      const iterator: AsyncIterableIterator<FormattedExecutionResult> = {
        next() {
          const value = queue.shift();
          if (value !== undefined) return Promise.resolve({ done: false, value });
          if (finished) {
            const ended = failure;
            failure = null;
            return ended
              ? Promise.reject(ended.error)
              : Promise.resolve({ done: true, value: undefined });
          }
          return new Promise((resolve, reject) => {
            waiting.push(resolve);
            failed.push(reject);
          });
        },
        async return() {
          stop();
          finished = true;
          settle();
          return { done: true, value: undefined };
        },
        [Symbol.asyncIterator]() {
          return iterator;
        },
      };
      return iterator;
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
      return usePush(true);
    },

    async disablePush() {
      useStream();
      await moving;
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
        path,
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
