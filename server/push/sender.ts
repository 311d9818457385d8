/**
 * The Web Push sender: encrypts (RFC 8291), authorizes (RFC 8292), POSTs (RFC 8030) and retries.
 * @packageDocumentation
 */
import type { OutgoingHttpHeaders } from 'node:http';
import { MAX_PUSH_PLAINTEXT_BYTES } from '../../protocol/index.js';
import { importVapidKeys, type VapidOptions } from '../vapid.js';
import {
  createSubscriptionKeyCache,
  encryptPushMessage,
  type SubscriptionKeys,
} from './encrypt.js';
import { InvalidPushArgumentError, PushRequestError } from './errors.js';
import { createPushHttpClient } from './http.js';
import { createVapidAuth } from './jwt.js';
import { backoffDelay, classifyStatus, parseRetryAfter, sleepUnlessAborted } from './retry.js';

/** Options of {@link createPushSender}. */
export interface PushSenderOptions {
  /** The application server's VAPID identity; validated at once. */
  vapid: VapidOptions;
  /**
   * Requests in flight per push-service origin; more wait in a queue.
   * @defaultValue 8
   */
  concurrencyPerOrigin?: number;
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
}

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
   * @param plaintext - at most `MAX_PUSH_PLAINTEXT_BYTES` (3993) bytes
   * @param options - TTL, urgency, topic
   * @returns the outcome; never rejects for anything the push service does
   * @throws `InvalidSubscriptionKeysError` for malformed keys, `InvalidPushArgumentError` for an
   * endpoint that is not an http(s) URL or invalid TTL, urgency or topic (programming errors:
   * check subscriptions when they are stored)
   */
  send(target: PushTarget, plaintext: Uint8Array, options: SendOptions): Promise<SendResult>;
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

function parseEndpoint(endpoint: string): URL {
  const url = URL.canParse(endpoint) ? new URL(endpoint) : null;
  if (url === null || (url.protocol !== 'https:' && url.protocol !== 'http:')) {
    throw new InvalidPushArgumentError('push endpoint must be an http(s) URL');
  }
  return url;
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
 * @param options - VAPID identity, concurrency, timeouts and retry policy
 * @returns the sender
 * @throws `VapidKeyError` for invalid VAPID options; `InvalidPushArgumentError` for invalid limits
 * @remarks Per message: one ECDH and one AES-GCM; the subscription's keys are parsed once
 * (bounded LRU), the VAPID JWT is signed once per push-service origin and reused for hours, and
 * connections stay open per origin. The endpoint is not checked against the allowlist here:
 * check it when the subscription is stored (`createEndpointPolicy`). Redirects are never
 * followed. A retry after a timeout may deliver a message twice; receivers dedup by id.
 */
export function createPushSender(options: PushSenderOptions): PushSender {
  const {
    concurrencyPerOrigin = 8,
    timeoutMs = 10_000,
    maxAttempts = 5,
    baseBackoffMs = 200,
    maxBackoffMs = 30_000,
    maxCachedSubscriptions = 10_000,
    now = Date.now,
    sleep = sleepUnlessAborted,
    random = Math.random,
  } = options;
  positiveInteger('concurrencyPerOrigin', concurrencyPerOrigin, 1);
  positiveInteger('timeoutMs', timeoutMs, 1);
  positiveInteger('maxAttempts', maxAttempts, 1);
  positiveInteger('baseBackoffMs', baseBackoffMs, 0);
  positiveInteger('maxBackoffMs', maxBackoffMs, 0);
  positiveInteger('maxCachedSubscriptions', maxCachedSubscriptions, 1);

  const vapid = importVapidKeys(options.vapid);
  const auth = createVapidAuth({ vapid, now });
  const keyCache = createSubscriptionKeyCache({ maxEntries: maxCachedSubscriptions });
  const client = createPushHttpClient({ concurrencyPerOrigin, timeoutMs });
  const stop = new AbortController();
  const running = new Set<Promise<SendResult>>();

  async function deliver(
    url: URL,
    headers: OutgoingHttpHeaders,
    body: Buffer,
    ttlSeconds: number,
  ): Promise<SendResult> {
    const startedAt = now();
    let lastStatus: number | undefined;
    const failed = (attempts: number): SendResult =>
      lastStatus === undefined
        ? { ok: false, reason: 'failed', attempts }
        : { ok: false, reason: 'failed', status: lastStatus, attempts };

    for (let attempt = 1; ; attempt += 1) {
      let wait: number | undefined;
      try {
        // Per attempt: a long retry may cross the JWT's refresh point, and the time already
        // spent waiting comes off the message's lifetime.
        headers.Authorization = auth.authorization(url.origin);
        const elapsedSeconds = Math.floor((now() - startedAt) / 1000);
        headers.TTL = String(Math.max(0, ttlSeconds - elapsedSeconds));
        const response = await client.post(url, headers, body);
        const status = response.status;
        lastStatus = status;
        switch (classifyStatus(status)) {
          case 'ok':
            return { ok: true, status, attempts: attempt };
          case 'gone':
            return { ok: false, reason: 'gone', status, attempts: attempt };
          case 'too-large':
            return { ok: false, reason: 'too-large', status, attempts: attempt };
          case 'failed':
            return failed(attempt);
          case 'rate-limited': {
            const header = response.headers['retry-after'];
            wait = parseRetryAfter(Array.isArray(header) ? header[0] : header, now());
            break;
          }
          case 'retry':
            break;
        }
      } catch (error) {
        if (!(error instanceof PushRequestError) || error.code === 'PUSH_CLOSED') {
          return failed(attempt);
        }
        lastStatus = undefined;
      }
      if (attempt >= maxAttempts || stop.signal.aborted) return failed(attempt);
      await sleep(
        Math.min(maxBackoffMs, wait ?? backoffDelay(attempt, baseBackoffMs, maxBackoffMs, random)),
        stop.signal,
      );
      if (stop.signal.aborted) return failed(attempt);
    }
  }

  return {
    async send(target, plaintext, sendOptions) {
      if (stop.signal.aborted) return { ok: false, reason: 'failed', attempts: 0 };
      const url = parseEndpoint(target.endpoint);
      checkSendOptions(sendOptions);
      const keys = keyCache.get(target.keys);
      if (plaintext.byteLength > MAX_PUSH_PLAINTEXT_BYTES) {
        return { ok: false, reason: 'too-large', attempts: 0 };
      }
      // Encrypted once: every retry resends the same bytes.
      const body = encryptPushMessage(keys, plaintext);
      const headers: OutgoingHttpHeaders = {
        'Content-Encoding': 'aes128gcm',
        'Content-Type': 'application/octet-stream',
        'Content-Length': String(body.length),
      };
      if (sendOptions.urgency !== undefined) headers.Urgency = sendOptions.urgency;
      if (sendOptions.topic !== undefined) headers.Topic = sendOptions.topic;

      const delivery = deliver(url, headers, body, sendOptions.ttlSeconds);
      running.add(delivery);
      try {
        return await delivery;
      } finally {
        running.delete(delivery);
      }
    },
    async close() {
      stop.abort();
      client.close();
      await Promise.allSettled([...running]);
    },
  };
}
