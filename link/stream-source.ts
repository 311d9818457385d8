import { backoffDelay } from '../protocol/backoff.js';
import {
  createStreamParser,
  decodeStreamEvent,
  type Envelope,
  ErrorCode,
  encodePositions,
  type StreamEndReason,
  type StreamPositions,
} from '../protocol/index.js';
import { createLinkError, LinkErrorCode, type WebPushLinkError } from './errors.js';
import type { RequestSettings } from './http.js';

/** Where the stream stands. */
export type StreamState =
  /** Not wanted (push mode, or nothing to stream). */
  | 'closed'
  /** Opening, or waiting to open again after a failure. */
  | 'connecting'
  /** The server said `ready`: envelopes flow. */
  | 'open';

/** Options of {@link createStreamSource}. */
export interface StreamSourceOptions {
  /** Absolute URL of `…/push/stream`. */
  url: string;
  tabId: string;
  /** The `fetch` and request options (credentials, headers) for each connection. */
  settings(): RequestSettings;
  /** The last seq the tab has per registration, read at each connection. */
  positions(): StreamPositions;
  /** How often the server sends heartbeats; silence for much longer means the stream is dead. */
  heartbeatMs(): number;
  onEnvelope(envelope: Envelope): void;
  /** The server says the registration is gone. */
  onGone(registrationId: string): void;
  /**
   * The server has nothing to stream for this tab (404 `WEB_PUSH_UNKNOWN_TAB`, or `end` with
   * `no-registrations`): the tab's registrations are gone. The source stops; the caller
   * re-registers and starts it again.
   */
  onNothingToStream(): void;
  onState(state: StreamState, error?: WebPushLinkError): void;
  /**
   * Average first wait after a failed connection. Each wait is drawn below a ceiling (full
   * jitter, so that tabs cut off together do not come back together) that starts at twice this
   * and doubles with each failure in a row, up to `maxRetryMs`.
   * @defaultValue 250
   */
  retryMs?: number;
  /**
   * Ceiling of every wait.
   * @defaultValue 10_000
   */
  maxRetryMs?: number;
}

/** The tab's resumable stream. */
export interface StreamSource {
  /** Opens the stream unless it is open or opening. */
  start(): void;
  /** Closes it, and stays closed until {@link StreamSource.start}. */
  stop(): void;
  readonly state: StreamState;
  /** Failed connections in a row. */
  readonly failures: number;
}

const STALE_FACTOR = 2.5;
const MIN_STALE_MS = 5_000;

/**
 * Creates the stream source of one tab: `GET …/push/stream` read with `fetch` (so the app's
 * headers and credentials apply, in pages and in Node alike), parsed with the protocol's SSE
 * parser, and reconnected after every failure with the positions the tab has then.
 *
 * @param options - see {@link StreamSourceOptions}
 * @returns the source
 * @remarks The tab's positions travel on each connection, so a stream cut by a deploy or a
 * dead instance resumes on another with nothing lost; anything sent twice (a position that was
 * behind) is dropped by the registration's sequencer. A stream silent for 2.5 heartbeats is taken
 * for dead (a proxy or NAT that forgot the connection) and opened again. `end` with `reconnect`
 * reconnects at once; `replaced` (another stream of this tab took over) waits like a failure.
 */
export function createStreamSource(options: StreamSourceOptions): StreamSource {
  const {
    url,
    tabId,
    settings,
    positions,
    heartbeatMs,
    onEnvelope,
    onGone,
    onNothingToStream,
    onState,
    retryMs = 250,
    maxRetryMs = 10_000,
  } = options;
  let state: StreamState = 'closed';
  let wanted = false;
  let failures = 0;
  let abort: AbortController | undefined;
  let retryTimer: ReturnType<typeof setTimeout> | undefined;
  let watchdog: ReturnType<typeof setTimeout> | undefined;

  const setState = (next: StreamState, error?: WebPushLinkError): void => {
    if (state === next && !error) return;
    state = next;
    onState(next, error);
  };

  const clearTimers = (): void => {
    if (retryTimer !== undefined) clearTimeout(retryTimer);
    if (watchdog !== undefined) clearTimeout(watchdog);
    retryTimer = undefined;
    watchdog = undefined;
  };

  const scheduleRetry = (delayMs?: number): void => {
    if (!wanted) return;
    const delay = delayMs ?? backoffDelay(failures, { baseMs: 2 * retryMs, maxMs: maxRetryMs });
    retryTimer = setTimeout(() => {
      retryTimer = undefined;
      connect();
    }, delay);
  };

  const fail = (error: WebPushLinkError, delayMs?: number): void => {
    failures++;
    setState('connecting', error);
    scheduleRetry(delayMs);
  };

  const armWatchdog = (controller: AbortController): void => {
    if (watchdog !== undefined) clearTimeout(watchdog);
    const staleMs = Math.max(MIN_STALE_MS, heartbeatMs() * STALE_FACTOR);
    watchdog = setTimeout(() => controller.abort(), staleMs);
  };

  const connect = (): void => {
    if (!wanted || abort) return;
    const controller = new AbortController();
    abort = controller;
    setState('connecting');
    const target = new URL(url);
    target.searchParams.set('tabId', tabId);
    const after = encodePositions(positions());
    if (after) target.searchParams.set('after', after);
    void run(controller, target.href).finally(() => {
      if (abort === controller) abort = undefined;
    });
  };

  const run = async (controller: AbortController, target: string): Promise<void> => {
    const using = settings();
    const headers = new Headers(using.init?.headers);
    headers.set('accept', 'text/event-stream');
    let response: Response;
    try {
      armWatchdog(controller);
      response = await using.fetch(target, {
        ...using.init,
        method: 'GET',
        headers,
        cache: 'no-store',
        signal: controller.signal,
      });
    } catch (cause) {
      if (!wanted || abort !== controller) return;
      return fail(createLinkError(LinkErrorCode.Network, `GET ${url} failed`, { cause }));
    }
    if (!response.ok) {
      const body = (await response.json().catch(() => null)) as {
        errors?: { extensions?: { code?: string } }[];
      } | null;
      const serverCode = body?.errors?.[0]?.extensions?.code;
      if (!wanted || abort !== controller) return;
      if (serverCode === ErrorCode.UnknownTab || serverCode === ErrorCode.UnknownRegistration) {
        stopSource();
        onNothingToStream();
        return;
      }
      const retryAfter = Number(response.headers.get('retry-after'));
      return fail(
        createLinkError(LinkErrorCode.Http, `GET ${url} answered ${response.status}`, {
          status: response.status,
          ...(serverCode === undefined ? {} : { serverCode }),
        }),
        Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter * 1000 : undefined,
      );
    }
    let ended: StreamEndReason | undefined;
    const parser = createStreamParser((raw) => {
      const event = decodeStreamEvent(raw);
      if (!event || abort !== controller) return;
      switch (event.kind) {
        case 'ready':
          failures = 0;
          setState('open');
          return;
        case 'envelope':
          onEnvelope(event.envelope);
          return;
        case 'gone':
          onGone(event.registrationId);
          return;
        case 'end':
          ended = event.reason;
          return;
      }
    });
    const reader = response.body?.getReader();
    const decoder = new TextDecoder();
    try {
      for (;;) {
        const chunk = await reader?.read();
        if (!chunk || chunk.done) break;
        armWatchdog(controller);
        parser.push(decoder.decode(chunk.value, { stream: true }));
        if (ended) break;
      }
    } catch {
      // Aborted (stopped, or the watchdog), or the connection broke: handled below.
    } finally {
      clearTimeout(watchdog);
      watchdog = undefined;
      await reader?.cancel().catch(() => {});
    }
    if (!wanted || abort !== controller) return;
    abort = undefined;
    if (ended === 'no-registrations') {
      stopSource();
      onNothingToStream();
      return;
    }
    if (ended === 'reconnect') {
      setState('connecting');
      connect();
      return;
    }
    fail(createLinkError(LinkErrorCode.Network, `the stream ${ended ?? 'broke'}`));
  };

  const stopSource = (): void => {
    wanted = false;
    clearTimers();
    const controller = abort;
    abort = undefined;
    controller?.abort();
    setState('closed');
  };

  return {
    start() {
      if (wanted) return;
      wanted = true;
      failures = 0;
      connect();
    },
    stop: stopSource,
    get state() {
      return state;
    },
    get failures() {
      return failures;
    },
  };
}
