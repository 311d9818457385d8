import {
  makeErrorResult,
  type Operation,
  type OperationContext,
  type OperationResult,
} from '@urql/core';
import { type Envelope, parseEnvelope } from '../protocol/index.js';
import { createDedupMemory } from './dedup.js';
import { createDelivery, type Delivery, type DeliverySnapshot } from './delivery.js';
import { createLinkError, LinkErrorCode } from './errors.js';
import { createRegistrationClient, type RequestSettings } from './http.js';
import type { WebPushExchangeOptions } from './options.js';
import { listenToPage } from './page-events.js';
import { createPendingBuffer } from './pending.js';
import { createPersistence } from './persistence.js';
import { createRenewal } from './renewal.js';
import { mergeFetchOptions, registrationBody, resultOf } from './results.js';
import { createPushSetup } from './setup.js';
import { defaultStorage } from './storage.js';
import { resolveTabId } from './tab.js';

/** Where one operation's results go. */
export interface SessionSink {
  next(result: OperationResult): void;
  complete(): void;
}

/** One registration as seen by {@link WebPushLinkSnapshot}. */
export interface RegistrationSnapshot extends DeliverySnapshot {
  /** urql's key of the operation it serves. */
  operationKey: number;
}

/** What the link holds right now; for debugging and tests. */
export interface WebPushLinkSnapshot {
  tabId: string;
  /** The push subscription's id on the server, once known. */
  subscriptionId: string | null;
  /** Operations being served (registered or registering). */
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

/** The state behind one `webPushExchange`. */
export interface Session {
  /** Serves `operation`; returns the function that stops it (and unregisters it). */
  start(operation: Operation, sink: SessionSink): () => void;
  /** Renews every registration now and fills the gaps the server reports (after `gapWaitMs`). */
  renew(): Promise<void>;
  inspect(): WebPushLinkSnapshot;
  /** Ends every operation, unregisters them and removes all listeners and timers. */
  dispose(): void;
}

interface Active {
  readonly key: number;
  operation: Operation;
  sink: SessionSink;
  closed: boolean;
  /** Bumped per connection attempt, so that a superseded attempt's answer is ignored. */
  attempt: number;
  registrationId: string | null;
  delivery: Delivery | null;
}

/** Renewal period when neither the options nor the server say (the server always does). */
const FALLBACK_RENEW_INTERVAL_MS = 60_000;

/**
 * Creates the state machine of the exchange: push subscription setup, registrations, message
 * intake, ordering, gap filling, renewal, reload resume and persistence.
 * @param options - the exchange's options.
 * @returns the {@link Session}.
 */
export function createSession(options: WebPushExchangeOptions): Session {
  const {
    url,
    transport,
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
  const actives = new Map<number, Active>();
  const byRegistration = new Map<string, Active>();

  let lastContext: OperationContext | undefined;
  const settingsFor = (context: OperationContext | undefined): RequestSettings => ({
    fetch: options.fetch ?? context?.fetch ?? ((input, init) => globalThis.fetch(input, init)),
    init: mergeFetchOptions(context?.fetchOptions, options.fetchOptions),
  });
  const http = createRegistrationClient({ url, settings: () => settingsFor(lastContext) });
  const setup = createPushSetup({ http, transport });

  let disposed = false;
  let otherTab = 0;
  let unlisten: (() => void) | null = null;

  let persistQueued = false;
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

  const unregister = (registrationIds: string[]): void => {
    if (registrationIds.length > 0) void http.unregister({ tabId, registrationIds });
  };

  // --- renewal -----------------------------------------------------------------------------

  /**
   * Set when the page comes back (visible again, restored from the back/forward cache): pushes
   * may have gone to nobody meanwhile, so the next renewal's reported seqs are fetched at once
   * instead of after `gapWaitMs`.
   */
  let catchUp = false;

  const renewOnce = async (): Promise<void> => {
    const fill = catchUp ? 'now' : 'after-gap-wait';
    catchUp = false;
    const live = [...byRegistration.entries()];
    if (live.length === 0) return;
    const current = setup.current;
    const result = await http.renew({
      tabId,
      ...(current ? { subscriptionId: current.subscriptionId } : {}),
      registrations: live.map(([registrationId, active]) => ({
        registrationId,
        ackedSeq: active.delivery?.lastSeq ?? 0,
      })),
    });
    if (!result.ok) {
      // Still owed: the next round catches up instead.
      if (fill === 'now') catchUp = true;
      return;
    }
    if (disposed) return;
    for (const id of result.value.gone) {
      const active = byRegistration.get(id);
      if (active && !active.closed) reconnect(active);
    }
    for (const [id, seq] of Object.entries(result.value.seqs)) {
      byRegistration.get(id)?.delivery?.noteServerSeq(seq, fill);
    }
  };

  /** Renews now and fetches whatever the server reports at once. */
  const renewToCatchUp = (): void => {
    catchUp = true;
    void renewal.now();
  };

  const renewal = createRenewal({
    interval: () =>
      renewIntervalMs ?? setup.current?.config.renewIntervalMs ?? FALLBACK_RENEW_INTERVAL_MS,
    active: () => byRegistration.size > 0,
    renewOnce,
  });

  // --- operations --------------------------------------------------------------------------

  /** Forgets an operation's registration locally; optionally deletes it on the server. */
  const release = (active: Active, unregisterOnServer: boolean): void => {
    if (actives.get(active.key) === active) actives.delete(active.key);
    active.delivery?.close();
    active.delivery = null;
    const id = active.registrationId;
    active.registrationId = null;
    if (id !== null) {
      byRegistration.delete(id);
      if (stored.get(String(active.key))?.registrationId === id) stored.delete(String(active.key));
      schedulePersist();
      if (unregisterOnServer) unregister([id]);
    }
    if (byRegistration.size === 0) renewal.cancel();
  };

  /** Ends an operation's stream from our side (complete, error, failure). */
  const finish = (active: Active): void => {
    if (active.closed) return;
    active.closed = true;
    // The server keeps a finished registration until it expires; free it now.
    release(active, true);
    active.sink.complete();
  };

  const fail = (active: Active, error: Error): void => {
    if (active.closed) return;
    active.sink.next(makeErrorResult(active.operation, error));
    finish(active);
  };

  const deliver = (active: Active, envelope: Envelope): void => {
    dedup.add(envelope.id);
    const entry = stored.get(String(active.key));
    if (entry?.registrationId === envelope.reg) {
      entry.lastSeq = envelope.seq;
      entry.updatedAt = Date.now();
    }
    schedulePersist();
    switch (envelope.type) {
      case 'next':
        active.sink.next(resultOf(active.operation, envelope.payload));
        return;
      case 'error':
        active.sink.next({ ...resultOf(active.operation, envelope.payload), hasNext: false });
        finish(active);
        return;
      case 'complete':
        finish(active);
        return;
      default:
        // `ref` never leaves the sequencer.
        return;
    }
  };

  const attach = (
    active: Active,
    registrationId: string,
    lastSeq: number,
    serverSeq?: number,
  ): void => {
    const delivery = createDelivery({
      registrationId,
      lastSeq,
      maxHeld: maxHeldPerRegistration,
      gapWaitMs,
      fetchAfter: (after) => http.messages({ tabId, registrationId, after }),
      isDuplicate: (id) => dedup.has(id),
      onEnvelope: (envelope) => deliver(active, envelope),
    });
    active.registrationId = registrationId;
    active.delivery = delivery;
    byRegistration.set(registrationId, active);
    stored.set(String(active.key), { registrationId, lastSeq, updatedAt: Date.now() });
    schedulePersist();
    for (const envelope of pending.take(registrationId)) delivery.offer(envelope);
    if (serverSeq !== undefined) delivery.noteServerSeq(serverSeq);
    renewal.schedule();
  };

  /** Registers an operation, first trying to resume the registration a reload left behind. */
  const connect = async (active: Active, resume: boolean): Promise<void> => {
    const attempt = ++active.attempt;
    const stale = () => active.closed || active.attempt !== attempt;
    const ready = await setup.ensure();
    if (stale()) return;
    if (!ready.ok) return fail(active, ready.error);
    const { subscriptionId } = ready.value;

    const previous = resume ? stored.get(String(active.key)) : undefined;
    if (previous) {
      const { registrationId, lastSeq } = previous;
      const renewed = await http.renew({
        tabId,
        subscriptionId,
        registrations: [{ registrationId, ackedSeq: lastSeq }],
      });
      const alive = renewed.ok && !renewed.value.gone.includes(registrationId);
      if (active.closed) {
        // Torn down while resuming: the stored registration is nobody's now.
        if (stored.get(String(active.key))?.registrationId === registrationId) {
          stored.delete(String(active.key));
          schedulePersist();
        }
        if (alive) unregister([registrationId]);
        return;
      }
      if (stale()) return;
      if (alive) return attach(active, registrationId, lastSeq, renewed.value.seqs[registrationId]);
    }

    const answer = await http.register(
      registrationBody(active.operation, {
        subscriptionId,
        tabId,
        operationKey: String(active.key),
      }),
      settingsFor(active.operation.context),
    );
    if (stale()) {
      // Nobody wants this registration any more.
      if (answer.ok && answer.value.kind === 'ack') unregister([answer.value.ack.registrationId]);
      return;
    }
    if (!answer.ok) return fail(active, answer.error);
    if (answer.value.kind === 'errors') {
      active.sink.next({ ...resultOf(active.operation, answer.value.result), hasNext: false });
      return finish(active);
    }
    attach(active, answer.value.ack.registrationId, answer.value.ack.seq);
  };

  /** The server lost a registration: register the same operation again. */
  const reconnect = (active: Active): void => {
    release(active, false);
    actives.set(active.key, active);
    void connect(active, false);
  };

  // --- incoming messages and page lifecycle ------------------------------------------------

  const onMessage = (data: unknown): void => {
    const envelope = parseEnvelope(data);
    if (!envelope) return;
    if (envelope.tab !== tabId) {
      otherTab++;
      return;
    }
    const active = byRegistration.get(envelope.reg);
    if (active?.delivery) active.delivery.offer(envelope);
    else pending.add(envelope);
  };

  const onSubscriptionChange = (): void => {
    // Nothing was set up yet: the first operation will pick up the new subscription.
    if (!setup.started) return;
    setup.reset();
    void setup.ensure().then((result) => {
      // Renewing with the new subscriptionId moves this tab's registrations to it; what was
      // pushed to the old subscription is lost, so catch up at once.
      if (result.ok) renewToCatchUp();
    });
  };

  const onPageHide = (): void => {
    if (persistQueued) flushPersist();
    const registrationIds = [...byRegistration.keys()];
    if (registrationIds.length === 0) return;
    // keepalive: the request outlives the page, and, unlike sendBeacon, it can be JSON.
    void http.unregister({ tabId, registrationIds, graceMs: reloadGraceMs }, { keepalive: true });
  };

  const listen = (): void => {
    if (unlisten) return;
    const removers = [
      transport.onMessage(onMessage),
      transport.onSubscriptionChange?.(onSubscriptionChange),
      listenToPage({
        onVisible: renewToCatchUp,
        onPageHide,
        // Back from the back/forward cache: the pagehide beacon shortened our registrations.
        onRestored: renewToCatchUp,
      }),
    ];
    unlisten = () => {
      for (const remove of removers) remove?.();
    };
  };

  return {
    start(operation, sink) {
      lastContext = operation.context;
      const existing = actives.get(operation.key);
      let active: Active;
      if (existing && !existing.closed) {
        // urql re-sent a running operation: keep its registration and serve the new stream;
        // the old stream ends with the operation's teardown.
        existing.operation = operation;
        existing.sink = sink;
        active = existing;
      } else {
        active = {
          key: operation.key,
          operation,
          sink,
          closed: false,
          attempt: 0,
          registrationId: null,
          delivery: null,
        };
        actives.set(operation.key, active);
        if (disposed) {
          // Not synchronously: the stream has not started yet.
          queueMicrotask(() =>
            fail(active, createLinkError(LinkErrorCode.Disposed, 'the exchange was disposed')),
          );
          return () => {};
        }
        listen();
        void connect(active, true);
      }
      return () => {
        if (active.closed || active.sink !== sink) return;
        active.closed = true;
        release(active, true);
      };
    },
    renew: renewal.now,
    inspect() {
      const registrations = [...byRegistration.values()].flatMap((active) =>
        active.delivery ? [{ ...active.delivery.snapshot(), operationKey: active.key }] : [],
      );
      const pendingSize = pending.size;
      return {
        tabId,
        subscriptionId: setup.current?.subscriptionId ?? null,
        operations: actives.size,
        registrations,
        held: registrations.reduce((sum, r) => sum + r.held, pendingSize),
        pending: pendingSize,
        dedupSize: dedup.size,
        otherTab,
      };
    },
    dispose() {
      if (disposed) return;
      for (const active of [...actives.values()]) finish(active);
      disposed = true;
      renewal.stop();
      unlisten?.();
      if (persistQueued) flushPersist();
    },
  };
}
