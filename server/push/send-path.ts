/**
 * A push's way through the sender: encrypted once, POSTed, its answer classified, waited for
 * (`Retry-After`, or `protocol/backoff.ts`'s schedule) and POSTed again, until an outcome.
 * @packageDocumentation
 */
import { backoffDelay } from '../../protocol/backoff.js';
import { MAX_PUSH_PLAINTEXT_BYTES } from '../../protocol/index.js';
import type { StartedSpan, Telemetry, TelemetrySpan } from '../telemetry.js';
import type { PendingGate } from './backpressure.js';
import type { ParsedSubscriptionKeys } from './encrypt.js';
import type { EncryptionPool } from './encrypt-pool.js';
import { createEncryptionQueue } from './encrypt-queue.js';
import type { PushEndpoint } from './endpoint.js';
import { EncryptionPoolClosedError, PushRequestError } from './errors.js';
import { createPushHttpClient, type PushHttpClientOptions } from './http.js';
import type { VapidAuth } from './jwt.js';
import { classifyStatus, parseRetryAfter } from './retry.js';
import { type SendListener, tellFailed, tellSent } from './send-listener.js';
import {
  type RetryReason,
  reportRetrying,
  reportSettled,
  reportWaiting,
  type SendFailure,
} from './send-telemetry.js';
import type { SendOptions, SendResult } from './sender.js';

const EMPTY = new Uint8Array(0);

/**
 * One push on its way. The same object is the encryption queue's job, the HTTP client's
 * request and what their listeners hear: a fan-out keeps thousands of pushes in flight, and a
 * promise and a closure per step of each was most of what it allocated and kept alive. A class,
 * so that V8 never pretenures it (see `Stream` in `h2/connection.ts`).
 */
class PushMessage {
  /** Counted in the pending gate (from encryption on). */
  counted = false;
  /** The `aes128gcm` body once encrypted: every attempt sends the same bytes. */
  body: Uint8Array = EMPTY;
  /** This attempt's `Authorization`. */
  authorization = '';
  /** This attempt's `TTL`. */
  ttlSeconds: number;
  /** When the first attempt started (epoch ms). */
  startedAt = 0;
  attempt = 1;
  /** The last attempt's status, if it got one. */
  lastStatus: number | undefined = undefined;
  constructor(
    readonly endpoint: PushEndpoint,
    readonly keys: ParsedSubscriptionKeys,
    /** Until encrypted; then let go (every attempt sends `body`). */
    public plaintext: Uint8Array,
    readonly urgency: string | undefined,
    readonly topic: string | undefined,
    /** The `TTL` asked for; each attempt sends what is left of it. */
    readonly lifetime: number,
    /** The send's span. */
    readonly span: TelemetrySpan | StartedSpan,
    /**
     * Whether it is a span from `Telemetry.startSpan`, ended here when the outcome is known; one
     * from `Telemetry.span` ends with the promise around the send.
     */
    readonly ownsSpan: boolean,
    /** Hears the outcome, with `tag`. */
    readonly listener: SendListener<unknown>,
    readonly tag: unknown,
  ) {
    this.ttlSeconds = lifetime;
  }
}

/** What {@link createSendPath} needs from the sender. */
export interface SendPathOptions {
  /** The HTTP client's options, but its listener (the path is). */
  http: Omit<PushHttpClientOptions<PushMessage>, 'listener'>;
  /** The encryption workers, if any. */
  pool: EncryptionPool | undefined;
  /** Messages encrypted on the event loop per turn before the rest go to the pool. */
  inlineEncryptionLimit: number;
  auth: VapidAuth;
  now: () => number;
  sleep: (ms: number, signal: AbortSignal) => Promise<void>;
  random: () => number;
  maxAttempts: number;
  baseBackoffMs: number;
  maxBackoffMs: number;
  /** The sender's stop signal: a wait ends and no attempt starts once it aborts. */
  signal: AbortSignal;
  /** Counts the messages pending. */
  gate: PendingGate;
  telemetry: Telemetry;
}

/** The sender's path for messages. */
export interface SendPath {
  /**
   * Sends one message; its outcome goes to `listener` with `tag`: `sent` with the result, or
   * `failed` for what no push service did (an encryption error).
   * @param endpoint - where
   * @param keys - the subscription's parsed keys
   * @param plaintext - what
   * @param options - TTL, urgency, topic (checked by the caller)
   * @param span - the send's span
   * @param ownsSpan - `true` for a span from `Telemetry.startSpan`, ended here once the outcome
   * is known; `false` for one from `Telemetry.span` (it ends with the caller's promise)
   * @param listener - hears the outcome
   * @param tag - the caller's, handed back with the outcome
   */
  send<T>(
    endpoint: PushEndpoint,
    keys: ParsedSubscriptionKeys,
    plaintext: Uint8Array,
    options: SendOptions,
    span: TelemetrySpan | StartedSpan,
    ownsSpan: boolean,
    listener: SendListener<T>,
    tag: T,
  ): void;
  /** Fails queued and in-flight requests, which then settle as `failed` (`closed`). */
  close(): void;
}

/** Pool jobs per message to a worker. */
const BATCH_SIZE = 32;

/**
 * Creates the path: the encryption queue and the HTTP client, with this module as the listener
 * of both.
 * @param options - workers, HTTP, VAPID, clock, waits, retry policy, gate and telemetry
 * @returns the path
 * @remarks A message is one object from `send` to its outcome: no stage makes a promise or a
 * closure for it, except a wait before a retry. Every step that runs from a callback runs in
 * try/catch, so that what throws (a telemetry SDK, signing) rejects that send and never reaches
 * a connection's reader.
 */
export function createSendPath(options: SendPathOptions): SendPath {
  const { auth, now, sleep, random, maxAttempts, baseBackoffMs, maxBackoffMs, signal, gate } =
    options;
  const { telemetry } = options;

  const encryption = createEncryptionQueue<PushMessage>({
    pool: options.pool,
    inlineLimit: options.inlineEncryptionLimit,
    batchSize: BATCH_SIZE,
    listener: {
      encrypted,
      failed(message, error) {
        if (error instanceof EncryptionPoolClosedError) {
          unsent(message);
        } else {
          fail(message, error);
        }
      },
    },
  });

  const client = createPushHttpClient<PushMessage>({
    ...options.http,
    listener: {
      answered,
      failed: notAnswered,
      // A request that waited for a slot is sent from another's callback: back in its span.
      enter: (message, send) => {
        if (message.span.run === undefined) send(message);
        else message.span.run(send, message);
      },
    },
  });

  /** Takes the message off the pending count, once. */
  function uncount(message: PushMessage): void {
    if (!message.counted) return;
    message.counted = false;
    gate.leave();
  }

  function settle(message: PushMessage, result: SendResult, failure?: SendFailure): void {
    uncount(message);
    try {
      reportSettled(telemetry, message.endpoint.origin, message.span, result, failure);
    } catch (error) {
      fail(message, error);
      return;
    }
    endSpan(message);
    tellSent(message.listener, message.tag, result);
  }

  function fail(message: PushMessage, error: unknown): void {
    uncount(message);
    endSpan(message, error);
    tellFailed(message.listener, message.tag, error);
  }

  /** Ends a span the send path owns (one from `startSpan`); a throwing SDK is not ours to stop. */
  function endSpan(message: PushMessage, error?: unknown): void {
    if (!message.ownsSpan) return;
    try {
      (message.span as StartedSpan).end(error);
    } catch {
      // The outcome still goes to the listener.
    }
  }

  /** The sender closed before the message went out. */
  function unsent(message: PushMessage): void {
    settle(message, { ok: false, reason: 'failed', attempts: 0 }, 'closed');
  }

  /** The outcome of a message that got no success, with the last status if any. */
  function failedResult({ lastStatus, attempt }: PushMessage): SendResult {
    return lastStatus === undefined
      ? { ok: false, reason: 'failed', attempts: attempt }
      : { ok: false, reason: 'failed', status: lastStatus, attempts: attempt };
  }

  function begin(message: PushMessage): void {
    if (signal.aborted) {
      unsent(message);
      return;
    }
    if (message.plaintext.byteLength > MAX_PUSH_PLAINTEXT_BYTES) {
      settle(message, { ok: false, reason: 'too-large', attempts: 0 }, 'too-large');
      return;
    }
    gate.enter();
    message.counted = true;
    let body: Buffer | undefined;
    try {
      body = encryption.encrypt(message);
    } catch (error) {
      fail(message, error);
      return;
    }
    if (body !== undefined) encrypted(message, body);
  }

  function encrypted(message: PushMessage, body: Buffer): void {
    if (signal.aborted) {
      unsent(message);
      return;
    }
    message.body = body;
    // Nothing reads it again: a fan-out's plaintexts (and the buffer slabs they share) need not
    // outlive their encryption while their requests wait for answers.
    message.plaintext = EMPTY;
    message.startedAt = now();
    attempt(message);
  }

  function attempt(message: PushMessage): void {
    try {
      // Per attempt: a long retry may cross the JWT's refresh point, and the time already
      // spent waiting comes off the message's lifetime.
      const elapsedSeconds =
        message.attempt === 1 ? 0 : Math.floor((now() - message.startedAt) / 1000);
      message.authorization = auth.authorization(message.endpoint.origin);
      message.ttlSeconds = Math.max(0, message.lifetime - elapsedSeconds);
    } catch (error) {
      fail(message, error);
      return;
    }
    client.post(message);
  }

  function answered(message: PushMessage, status: number, retryAfter: string | undefined): void {
    message.lastStatus = status;
    const attempts = message.attempt;
    switch (classifyStatus(status)) {
      case 'ok':
        settle(message, { ok: true, status, attempts });
        return;
      case 'gone':
        settle(message, { ok: false, reason: 'gone', status, attempts }, 'gone');
        return;
      case 'too-large':
        settle(message, { ok: false, reason: 'too-large', status, attempts }, 'too-large');
        return;
      case 'failed':
        settle(message, failedResult(message), 'rejected');
        return;
      case 'rate-limited':
        retry(message, 'rate-limited', parseRetryAfter(retryAfter, now()));
        return;
      case 'retry':
        retry(message, 'server-error', undefined);
        return;
    }
  }

  function notAnswered(message: PushMessage, error: Error): void {
    if (!(error instanceof PushRequestError)) {
      settle(message, failedResult(message), '_OTHER');
      return;
    }
    if (error.code === 'PUSH_CLOSED') {
      settle(message, failedResult(message), 'closed');
      return;
    }
    message.lastStatus = undefined;
    retry(message, error.code === 'PUSH_TIMEOUT' ? 'timeout' : 'network', undefined);
  }

  function retry(message: PushMessage, reason: RetryReason, wait: number | undefined): void {
    if (signal.aborted) {
      settle(message, failedResult(message), 'closed');
      return;
    }
    if (message.attempt >= maxAttempts) {
      settle(message, failedResult(message), 'exhausted');
      return;
    }
    const delay = Math.min(
      maxBackoffMs,
      wait ?? backoffDelay(message.attempt, { baseMs: baseBackoffMs, maxMs: maxBackoffMs, random }),
    );
    try {
      reportWaiting(telemetry, message.endpoint.origin, message.span, reason, delay);
    } catch (error) {
      fail(message, error);
      return;
    }
    sleep(delay, signal).then(
      () => resume(message, reason),
      (error: unknown) => fail(message, error),
    );
  }

  function resume(message: PushMessage, reason: RetryReason): void {
    if (signal.aborted) {
      settle(message, failedResult(message), 'closed');
      return;
    }
    try {
      reportRetrying(telemetry, message.endpoint.origin, reason);
    } catch (error) {
      fail(message, error);
      return;
    }
    message.attempt += 1;
    attempt(message);
  }

  return {
    send(endpoint, keys, plaintext, { ttlSeconds, urgency, topic }, span, ownsSpan, listener, tag) {
      begin(
        new PushMessage(
          endpoint,
          keys,
          plaintext,
          urgency,
          topic,
          ttlSeconds,
          span,
          ownsSpan,
          listener as SendListener<unknown>,
          tag,
        ),
      );
    },
    close: () => client.close(),
  };
}
