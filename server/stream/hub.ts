import type { YogaLogger } from 'graphql-yoga';
import {
  ErrorCode,
  STREAM_HEARTBEAT,
  STREAM_RETRY_MS,
  type StreamPositions,
} from '../../protocol/index.js';
import { createWebPushError } from '../errors.js';
import type { Store } from '../store/types.js';
import { createStreamConnection, type StreamConnection } from './connection.js';
import { groupChannel } from './signals.js';

/** Options of {@link createStreamHub}. */
export interface StreamHubOptions {
  store: Store;
  heartbeatMs: number;
  /** Streams held open on this instance at most. */
  maxStreams: number;
  /** Streams of one tab on this instance at most; a newer one ends the oldest. */
  maxStreamsPerTab: number;
  /** A stream ends after about this long (±10 %) so that clients spread over new instances. */
  maxAgeMs: number;
  /** The fetch API of the server (its `ReadableStream` and `Response`). */
  fetchAPI: { ReadableStream: typeof ReadableStream; Response: typeof Response };
  logger: YogaLogger;
  /**
   * Messages read from the log per request.
   * @defaultValue `200`
   */
  pageSize?: number;
  /**
   * Bytes a stream may have queued for a slow client before it is ended.
   * @defaultValue `4 MiB`
   */
  maxBufferedBytes?: number;
}

/** The streams this instance holds. */
export interface StreamHub {
  /**
   * Opens a tab's stream.
   * @param tabId - the tab
   * @param positions - the last seq the client has, per registration (others: after its ack)
   * @param signal - aborts when the client goes away
   * @returns the `text/event-stream` response
   * @throws WEB_PUSH_OVER_CAPACITY (503) at `maxStreams`; WEB_PUSH_UNKNOWN_TAB (404) when the tab
   * has no registration; WEB_PUSH_UNKNOWN_REGISTRATION (404) for a position that is not the
   * tab's
   */
  open(tabId: string, positions: StreamPositions, signal: AbortSignal): Promise<Response>;
  /** Streams open now. */
  readonly size: number;
  /** Ends every stream with `reconnect` (the clients resume elsewhere) and stops the timer. */
  close(): void;
}

/**
 * Creates the stream hub of one instance.
 *
 * @param options - see {@link StreamHubOptions}
 * @returns the hub
 * @remarks A stream listens to its tab's signals before it reads the backlog, so nothing
 * appended in between is missed. One timer serves every stream: heartbeats, and the end of
 * streams past their age.
 */
export function createStreamHub(options: StreamHubOptions): StreamHub {
  const {
    store,
    heartbeatMs,
    maxStreams,
    maxStreamsPerTab,
    maxAgeMs,
    fetchAPI,
    logger,
    pageSize = 200,
    maxBufferedBytes = 4 * 1024 * 1024,
  } = options;
  const encoder = new TextEncoder();
  /** Open streams, oldest first, with when each should end. */
  const open = new Map<StreamConnection, { endsAt: number; unlisten: () => void }>();
  /** Group channels each connection listens to, to stop listening when it ends. */
  const watching = new Map<StreamConnection, Map<string, () => void>>();
  const byTab = new Map<string, Set<StreamConnection>>();
  let timer: ReturnType<typeof setInterval> | undefined;
  let closed = false;

  const tick = (): void => {
    const now = Date.now();
    for (const [connection, { endsAt }] of [...open]) {
      if (endsAt <= now) connection.end('reconnect');
      else connection.heartbeat(STREAM_HEARTBEAT);
    }
  };

  const ensureTimer = (): void => {
    if (timer) return;
    timer = setInterval(tick, heartbeatMs);
    timer.unref();
  };

  const forget = (connection: StreamConnection): void => {
    const entry = open.get(connection);
    if (!entry) return;
    open.delete(connection);
    entry.unlisten();
    for (const stop of watching.get(connection)?.values() ?? []) stop();
    watching.delete(connection);
    const tab = byTab.get(connection.tabId);
    tab?.delete(connection);
    if (tab?.size === 0) byTab.delete(connection.tabId);
    if (open.size === 0 && timer) {
      clearInterval(timer);
      timer = undefined;
    }
  };

  return {
    get size() {
      return open.size;
    },

    async open(tabId, requested, signal) {
      if (closed || open.size >= maxStreams) {
        throw createWebPushError(
          ErrorCode.OverCapacity,
          'Too many streams on this server; try again',
        );
      }
      // Listen first: a message appended while the backlog is read still wakes the stream.
      const signals: string[] = [];
      let connection: StreamConnection | undefined;
      const unlisten = store.listen(tabId, (message) => {
        if (connection) connection.onSignal(message);
        else signals.push(message);
      });
      let registrations: Awaited<ReturnType<Store['listByTab']>>;
      try {
        registrations = await store.listByTab(tabId);
      } catch (error) {
        unlisten();
        throw error;
      }
      if (registrations.length === 0) {
        unlisten();
        throw createWebPushError(ErrorCode.UnknownTab, 'This tab has no registration to stream');
      }
      const mine = new Map(registrations.map((record) => [record.id, record]));
      for (const id of Object.keys(requested)) {
        if (!mine.has(id)) {
          unlisten();
          throw createWebPushError(ErrorCode.UnknownRegistration, 'Unknown registration');
        }
      }
      const positions = new Map<string, number>();
      const members = new Map<string, { groupId: string; base: number }>();
      for (const record of registrations) {
        // Not named: start after what the tab acknowledged; its link drops what it already has.
        positions.set(record.id, Math.min(requested[record.id] ?? record.ackedSeq, record.seq));
        members.set(record.id, { groupId: record.groupId, base: record.base });
      }
      const groups = new Map<string, () => void>();

      let controller: ReadableStreamDefaultController<Uint8Array> | undefined;
      /** What was written before the stream started (a ReadableStream may start later). */
      const early: Uint8Array[] = [];
      let ended = false;
      const enqueue = (bytes: Uint8Array): boolean => {
        if (ended) return false;
        if (!controller) {
          early.push(bytes);
          return true;
        }
        try {
          controller.enqueue(bytes);
          return true;
        } catch {
          ended = true;
          return false;
        }
      };
      const body = new fetchAPI.ReadableStream<Uint8Array>({
        start(c) {
          controller = c;
          for (const bytes of early.splice(0)) c.enqueue(bytes);
          if (ended) c.close();
        },
        cancel() {
          ended = true;
          connection?.end();
        },
      });
      connection = createStreamConnection({
        tabId,
        positions,
        members,
        watch(groupId) {
          if (groups.has(groupId) || !connection || !open.has(connection)) return;
          const target = connection;
          groups.set(
            groupId,
            store.listen(groupChannel(groupId), (message) => target.onSignal(message)),
          );
        },
        store,
        pageSize,
        maxBufferedBytes,
        heartbeatMs,
        logger,
        output: {
          write: (text) => enqueue(encoder.encode(text)),
          buffered: () => Math.max(0, -(controller?.desiredSize ?? 0)),
          close() {
            if (ended) return;
            ended = true;
            try {
              controller?.close();
            } catch {
              // Already closed by the client going away.
            }
          },
        },
        onEnd: () => {
          if (connection) forget(connection);
        },
      });
      const jitter = 0.9 + Math.random() * 0.2;
      open.set(connection, { endsAt: Date.now() + maxAgeMs * jitter, unlisten });
      watching.set(connection, groups);
      let tab = byTab.get(tabId);
      if (!tab) {
        tab = new Set();
        byTab.set(tabId, tab);
      }
      tab.add(connection);
      // Newest wins: a reload's stream replaces the one the old page did not close in time.
      for (const older of [...tab]) {
        if (tab.size <= maxStreamsPerTab) break;
        if (older !== connection) older.end('replaced');
      }
      signal.addEventListener('abort', () => connection?.end(), { once: true });
      ensureTimer();

      enqueue(encoder.encode(`retry: ${STREAM_RETRY_MS}\n\n`));
      void connection.start().then(() => {
        for (const message of signals.splice(0)) connection?.onSignal(message);
      });
      return new fetchAPI.Response(body, {
        status: 200,
        headers: {
          'content-type': 'text/event-stream; charset=utf-8',
          'cache-control': 'no-cache, no-store',
          // Proxies that buffer responses (nginx) would hold events back.
          'x-accel-buffering': 'no',
        },
      });
    },

    close() {
      closed = true;
      for (const connection of [...open.keys()]) connection.end('reconnect');
      if (timer) clearInterval(timer);
      timer = undefined;
    },
  };
}
