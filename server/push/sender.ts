/**
 * The Web Push sender: encrypts (RFC 8291), authorizes (RFC 8292), POSTs (RFC 8030) and retries.
 * @packageDocumentation
 */
import { sleep as timerSleep } from '../../protocol/backoff.js';
import { ATTRIBUTE } from '../telemetry/attributes.js';
import { type StartedSpan, sharedTelemetry, type Telemetry } from '../telemetry.js';
import { importVapidKeys, type VapidOptions } from '../vapid.js';
import { createPendingGate } from './backpressure.js';
import {
  createSubscriptionKeyCache,
  type ParsedSubscriptionKeys,
  type SubscriptionKeys,
} from './encrypt.js';
import { createEncryptionPool, defaultEncryptionWorkers } from './encrypt-pool.js';
import { createPushEndpointCache, type PushEndpoint } from './endpoint.js';
import { InvalidPushArgumentError } from './errors.js';
import { createVapidAuth } from './jwt.js';
import {
  type ListeningSender,
  SEND_WITH_LISTENER,
  type SendListener,
  tellFailed,
  tellSent,
} from './send-listener.js';
import { createSendPath } from './send-path.js';

/** Options of {@link createPushSender}. */
export interface PushSenderOptions {
  /** The application server's VAPID identity; validated at once. */
  vapid: VapidOptions;
  /**
   * Requests in flight per push-service origin; more wait in a FIFO queue. Sized for real
   * round trips: with 50 ms to the push service, 256 in flight carry about 5,000 messages a
   * second to one origin. Over HTTP/1.1 it is also the number of sockets per origin.
   * @defaultValue 256
   */
  concurrencyPerOrigin?: number;
  /**
   * Messages accepted and not finished (encrypting, queued, on the wire or waiting to retry),
   * across origins, at which {@link PushSender.ready} starts to wait. Nothing is refused: the
   * bound tells the producer to slow down.
   * @defaultValue 10_000
   */
  maxPending?: number;
  /**
   * Worker threads that encrypt when many messages arrive at once; 0 encrypts everything on
   * the event loop.
   * @defaultValue `Math.min(4, os.availableParallelism() - 1)`
   */
  encryptionWorkers?: number;
  /**
   * Messages encrypted on the event loop per event-loop turn before the rest of the turn's
   * messages go to the encryption workers (a single push keeps its latency).
   * @defaultValue 16
   */
  inlineEncryptionLimit?: number;
  /**
   * Trusted certificates for https push services, replacing Node's default CAs when set
   * (tests, private push services). Used for HTTP/1.1 and HTTP/2 alike.
   * @defaultValue Node's default CAs
   */
  ca?: string | Buffer | Array<string | Buffer>;
  /**
   * `auto`: HTTP/2, one multiplexed session per origin (more when the server's
   * `maxConcurrentStreams` is reached), to https push services that choose `h2` by ALPN (FCM,
   * Mozilla, Apple and Windows all do); keep-alive HTTP/1.1 to the others and to http origins.
   * `never`: HTTP/1.1 everywhere.
   * @defaultValue 'auto'
   */
  http2?: 'auto' | 'never';
  /**
   * An idle connection to a push service (HTTP/1.1 socket or HTTP/2 session) is closed after
   * this long.
   * @defaultValue 30_000
   */
  idleTimeoutMs?: number;
  /**
   * Deadline of one HTTP attempt.
   * @defaultValue 10_000
   */
  timeoutMs?: number;
  /**
   * Attempts per message, the first included.
   * @defaultValue 5
   */
  maxAttempts?: number;
  /**
   * Backoff ceiling after the first failed attempt; it doubles per attempt (full jitter).
   * @defaultValue 200
   */
  baseBackoffMs?: number;
  /**
   * Longest wait between attempts, `Retry-After` included.
   * @defaultValue 30_000
   */
  maxBackoffMs?: number;
  /**
   * Subscriptions whose parsed keys are kept.
   * @defaultValue 10_000
   */
  maxCachedSubscriptions?: number;
  /**
   * Clock in epoch milliseconds (JWT expiry, `Retry-After` dates).
   * @defaultValue `Date.now`
   */
  now?: () => number;
  /**
   * Waits between attempts; must resolve early when `signal` aborts (on {@link PushSender.close}).
   * Replace it to observe or skip waits in tests.
   * @defaultValue a `setTimeout` wait
   */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  /**
   * Uniform random in `[0, 1)` for backoff jitter.
   * @defaultValue `Math.random`
   */
  random?: () => number;
  /**
   * Where metrics and traces go: pushes sent and failed, retries, 429 waits, pushes pending,
   * and a span per send (see README's "Metrics and traces").
   * @defaultValue the shared telemetry on OpenTelemetry's global providers (a no-op without an
   * SDK)
   */
  telemetry?: Telemetry;
}

/** The span of one {@link PushSender.send}. */
const SEND_SPAN = 'graphql_web_push.push.send';

/** Where a message goes: a browser push subscription (`PushSubscription.toJSON()`). */
export interface PushTarget {
  endpoint: string;
  keys: SubscriptionKeys;
}

/** Per-message headers of RFC 8030. */
export interface SendOptions {
  /**
   * How long the push service keeps the message for an offline browser (`TTL`), seconds. A
   * retry sends what is left of it.
   */
  ttlSeconds: number;
  /** `Urgency`; push services may hold back low urgency messages on battery. */
  urgency?: 'very-low' | 'low' | 'normal' | 'high';
  /**
   * `Topic`: a newer message with the same topic replaces an undelivered older one. At most 32
   * base64url characters.
   */
  topic?: string;
}

/** Outcome of one {@link PushSender.send}. */
export type SendResult =
  | { ok: true; status: number; attempts: number }
  | {
      ok: false;
      /**
       * `gone`: 404/410, delete the push subscription. `too-large`: 413, or plaintext over
       * `MAX_PUSH_PLAINTEXT_BYTES` (then `attempts` is 0): send a reference instead.
       * `failed`: another 4xx or a 3xx at once, or no success after `maxAttempts`, or the sender
       * was closed.
       */
      reason: 'gone' | 'too-large' | 'failed';
      status?: number;
      attempts: number;
    };

/** Sends encrypted push messages. */
export interface PushSender {
  /**
   * Encrypts `plaintext` for `target` and POSTs it, retrying 429 (after `Retry-After`), 5xx,
   * network errors and timeouts with backoff.
   * @param target - endpoint and keys of the push subscription
   * @param plaintext - at most `MAX_PUSH_PLAINTEXT_BYTES` (3993) bytes; it may be read after
   * `send` returns (when encryption is batched), so keep it unchanged until the send settles
   * @param options - TTL, urgency, topic
   * @returns the outcome; never rejects for anything the push service does
   * @throws `InvalidSubscriptionKeysError` for malformed keys, `InvalidPushArgumentError` for an
   * endpoint that is not an http(s) URL or invalid TTL, urgency or topic (programming errors:
   * check subscriptions when they are stored)
   */
  send(target: PushTarget, plaintext: Uint8Array, options: SendOptions): Promise<SendResult>;
  /**
   * Backpressure: the producer, the server's event runner, awaits this before reading its next
   * event, so a producer faster than the push services waits instead of piling up messages.
   * @returns a promise that is already resolved while fewer than `maxPending` messages are
   * pending, else resolves once the count falls below it; always resolved after `close()`
   * @remarks `send` never refuses a message for being over the bound: the bound paces the
   * producer, it drops nothing. Optional in this interface so that a custom sender may leave
   * it out (callers then do not wait, `sender.ready?.()`); `createPushSender`'s has it.
   */
  ready?(): Promise<void>;
  /** Messages accepted by `send` and not settled yet, across origins. */
  readonly pending?: number;
  /**
   * Stops: pending waits end, queued and in-flight requests fail, and `send`s still running
   * resolve with `failed`; later `send`s resolve `failed` with 0 attempts. Resolves when every
   * `send` has settled.
   */
  close(): Promise<void>;
}

const URGENCIES: ReadonlySet<string> = new Set(['very-low', 'low', 'normal', 'high']);
const TOPIC = /^[A-Za-z0-9_-]{1,32}$/;

function positiveInteger(name: string, value: number, min: number): number {
  if (!Number.isSafeInteger(value) || value < min) {
    throw new InvalidPushArgumentError(`${name} must be an integer ≥ ${min}`);
  }
  return value;
}

function checkSendOptions({ ttlSeconds, urgency, topic }: SendOptions): void {
  positiveInteger('ttlSeconds', ttlSeconds, 0);
  if (urgency !== undefined && !URGENCIES.has(urgency)) {
    throw new InvalidPushArgumentError('urgency must be very-low, low, normal or high');
  }
  if (topic !== undefined && !TOPIC.test(topic)) {
    throw new InvalidPushArgumentError('topic must be 1 to 32 base64url characters');
  }
}

/**
 * Creates a Web Push sender.
 * @param options - VAPID identity, concurrency, backpressure, encryption workers, timeouts and
 * retry policy
 * @returns the sender, with `ready()` and `pending`
 * @throws `VapidKeyError` for invalid VAPID options; `InvalidPushArgumentError` for invalid limits
 * @remarks Per message: one ECDH and one AES-GCM, on the event loop or, when a fan-out hands
 * over many messages at once, on worker threads in batches; the subscription's keys and the
 * endpoint are parsed once (bounded LRU), the VAPID JWT is signed once per push-service origin
 * and reused for hours, and connections stay open per origin (HTTP/2 sessions where the push
 * service offers `h2`, keep-alive HTTP/1.1 otherwise). Every accepted message is kept until it
 * has an outcome; `ready()` is how the producer learns to wait. The endpoint is not checked
 * against the allowlist here: check it when the subscription is stored
 * (`createEndpointPolicy`). Redirects are never followed. A retry after a timeout may deliver
 * a message twice; receivers dedup by id. `close()` also terminates the encryption workers;
 * they never keep a process alive meanwhile. Each send is a span, and its outcome, retries and
 * 429 waits are metrics by push-service origin; the sender's pending count is a gauge while it
 * is open (see `telemetry`).
 */
export function createPushSender(options: PushSenderOptions): Required<PushSender> {
  const {
    concurrencyPerOrigin = 256,
    maxPending = 10_000,
    encryptionWorkers = defaultEncryptionWorkers(),
    inlineEncryptionLimit = 16,
    ca,
    http2 = 'auto',
    idleTimeoutMs = 30_000,
    timeoutMs = 10_000,
    maxAttempts = 5,
    baseBackoffMs = 200,
    maxBackoffMs = 30_000,
    maxCachedSubscriptions = 10_000,
    now = Date.now,
    sleep = timerSleep,
    random = Math.random,
    telemetry = sharedTelemetry(),
  } = options;
  positiveInteger('concurrencyPerOrigin', concurrencyPerOrigin, 1);
  positiveInteger('maxPending', maxPending, 1);
  positiveInteger('encryptionWorkers', encryptionWorkers, 0);
  positiveInteger('inlineEncryptionLimit', inlineEncryptionLimit, 0);
  positiveInteger('timeoutMs', timeoutMs, 1);
  positiveInteger('idleTimeoutMs', idleTimeoutMs, 1);
  if (http2 !== 'auto' && http2 !== 'never') {
    throw new InvalidPushArgumentError("http2 must be 'auto' or 'never'");
  }
  positiveInteger('maxAttempts', maxAttempts, 1);
  positiveInteger('baseBackoffMs', baseBackoffMs, 0);
  positiveInteger('maxBackoffMs', maxBackoffMs, 0);
  positiveInteger('maxCachedSubscriptions', maxCachedSubscriptions, 1);

  const vapid = importVapidKeys(options.vapid);
  const keyCache = createSubscriptionKeyCache({ maxEntries: maxCachedSubscriptions });
  const endpoints = createPushEndpointCache(maxCachedSubscriptions);
  const pool =
    encryptionWorkers > 0 ? createEncryptionPool({ workers: encryptionWorkers }) : undefined;
  const gate = createPendingGate(maxPending);
  const stop = new AbortController();
  const unobserve = telemetry.observe({ pendingPushes: () => gate.pending });
  const path = createSendPath({
    http: { concurrencyPerOrigin, timeoutMs, idleTimeoutMs, http2, ca },
    pool,
    inlineEncryptionLimit,
    auth: createVapidAuth({ vapid, now }),
    now,
    sleep,
    random,
    maxAttempts,
    baseBackoffMs,
    maxBackoffMs,
    signal: stop.signal,
    gate,
    telemetry,
  });

  /**
   * One send, whichever way its outcome is wanted: with the telemetry's `startSpan`, the span
   * is ended by the send path and nothing is made per message beyond it; a telemetry without
   * one gets its span around a promise, as before `startSpan` existed.
   */
  function start<T>(
    target: PushTarget,
    plaintext: Uint8Array,
    sendOptions: SendOptions,
    listener: SendListener<T>,
    tag: T,
  ): void {
    if (stop.signal.aborted) {
      tellSent(listener, tag, { ok: false, reason: 'failed', attempts: 0 });
      return;
    }
    let endpoint: PushEndpoint;
    let keys: ParsedSubscriptionKeys;
    try {
      endpoint = endpoints.get(target.endpoint);
      checkSendOptions(sendOptions);
      keys = keyCache.get(target.keys);
    } catch (error) {
      tellFailed(listener, tag, error);
      return;
    }
    const attributes = {
      [ATTRIBUTE.serverAddress]: endpoint.hostname,
      [ATTRIBUTE.serverPort]: endpoint.port,
    };
    if (telemetry.startSpan === undefined) {
      telemetry
        .span(
          SEND_SPAN,
          attributes,
          (span) =>
            new Promise<SendResult>((resolve, reject) =>
              path.send(endpoint, keys, plaintext, sendOptions, span, false, SETTLE, {
                resolve,
                reject,
              }),
            ),
        )
        .then(
          (result) => tellSent(listener, tag, result),
          (error: unknown) => tellFailed(listener, tag, error),
        );
      return;
    }
    let span: StartedSpan;
    try {
      span = telemetry.startSpan(SEND_SPAN, attributes);
    } catch (error) {
      tellFailed(listener, tag, error);
      return;
    }
    if (span.run === undefined) {
      path.send(endpoint, keys, plaintext, sendOptions, span, true, listener, tag);
      return;
    }
    // A recorded span: the request starts inside it, so what it starts (an HTTP
    // instrumentation's span) is its child.
    span.run(
      () => path.send(endpoint, keys, plaintext, sendOptions, span, true, listener, tag),
      undefined,
    );
  }

  const sender: Required<PushSender> & ListeningSender = {
    send: (target, plaintext, sendOptions) =>
      new Promise<SendResult>((resolve, reject) =>
        start(target, plaintext, sendOptions, SETTLE, { resolve, reject }),
      ),
    [SEND_WITH_LISTENER]: start,
    ready: () => gate.ready(),
    get pending() {
      return gate.pending;
    },
    async close() {
      stop.abort();
      unobserve();
      gate.open();
      path.close();
      await pool?.close();
      await gate.drained();
    },
  };
  return sender;
}

/** A promise's two ends, as the tag of a send made through {@link SETTLE}. */
interface Settlement {
  resolve(result: SendResult): void;
  reject(error: unknown): void;
}

/** Settles the promise `send` returned. */
const SETTLE: SendListener<Settlement> = {
  sent: (settlement, result) => settlement.resolve(result),
  failed: (settlement, error) => settlement.reject(error),
};
