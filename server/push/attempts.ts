/**
 * The attempts of one push: POST, classify the answer, wait (`Retry-After`, or
 * `protocol/backoff.ts`'s schedule) and POST again, until an outcome.
 * @packageDocumentation
 */
import { backoffDelay } from '../../protocol/backoff.js';
import type { PushEndpoint } from './endpoint.js';
import { PushRequestError } from './errors.js';
import type { PushHttpClient } from './http.js';
import type { VapidAuth } from './jwt.js';
import { classifyStatus, parseRetryAfter } from './retry.js';
import type { RetryReason, SendFailure, SendOutcome, SendReport } from './send-telemetry.js';
import type { SendOptions } from './sender.js';

/** What {@link createAttempts} needs from the sender. */
export interface AttemptsOptions {
  client: PushHttpClient;
  auth: VapidAuth;
  now: () => number;
  sleep: (ms: number, signal: AbortSignal) => Promise<void>;
  random: () => number;
  maxAttempts: number;
  baseBackoffMs: number;
  maxBackoffMs: number;
  /** The sender's stop signal: a wait ends and no attempt starts once it aborts. */
  signal: AbortSignal;
}

/**
 * Creates the attempt loop of a sender.
 * @param options - HTTP client, VAPID, clock, waits and retry policy
 * @returns `deliver(endpoint, body, sendOptions, report)`, which resolves with the outcome and
 * never rejects for anything the push service does
 */
export function createAttempts({
  client,
  auth,
  now,
  sleep,
  random,
  maxAttempts,
  baseBackoffMs,
  maxBackoffMs,
  signal,
}: AttemptsOptions) {
  return async function deliver(
    endpoint: PushEndpoint,
    body: Buffer,
    { ttlSeconds, urgency, topic }: SendOptions,
    report: SendReport,
  ): Promise<SendOutcome> {
    const startedAt = now();
    let lastStatus: number | undefined;
    const failed = (attempts: number, failure: SendFailure): SendOutcome => ({
      result:
        lastStatus === undefined
          ? { ok: false, reason: 'failed', attempts }
          : { ok: false, reason: 'failed', status: lastStatus, attempts },
      failure,
    });

    for (let attempt = 1; ; attempt += 1) {
      let wait: number | undefined;
      let retry: RetryReason;
      try {
        // Per attempt: a long retry may cross the JWT's refresh point, and the time already
        // spent waiting comes off the message's lifetime.
        const elapsedSeconds = Math.floor((now() - startedAt) / 1000);
        const response = await client.post({
          endpoint,
          authorization: auth.authorization(endpoint.origin),
          ttlSeconds: Math.max(0, ttlSeconds - elapsedSeconds),
          urgency,
          topic,
          body,
        });
        const status = response.status;
        lastStatus = status;
        switch (classifyStatus(status)) {
          case 'ok':
            return { result: { ok: true, status, attempts: attempt } };
          case 'gone':
            return {
              result: { ok: false, reason: 'gone', status, attempts: attempt },
              failure: 'gone',
            };
          case 'too-large':
            return {
              result: { ok: false, reason: 'too-large', status, attempts: attempt },
              failure: 'too-large',
            };
          case 'failed':
            return failed(attempt, 'rejected');
          case 'rate-limited':
            wait = parseRetryAfter(response.retryAfter, now());
            retry = 'rate-limited';
            break;
          case 'retry':
            retry = 'server-error';
            break;
        }
      } catch (error) {
        if (!(error instanceof PushRequestError)) return failed(attempt, '_OTHER');
        if (error.code === 'PUSH_CLOSED') return failed(attempt, 'closed');
        lastStatus = undefined;
        retry = error.code === 'PUSH_TIMEOUT' ? 'timeout' : 'network';
      }
      if (signal.aborted) return failed(attempt, 'closed');
      if (attempt >= maxAttempts) return failed(attempt, 'exhausted');
      const delay = Math.min(
        maxBackoffMs,
        wait ?? backoffDelay(attempt, { baseMs: baseBackoffMs, maxMs: maxBackoffMs, random }),
      );
      report.waiting(retry, delay);
      await sleep(delay, signal);
      if (signal.aborted) return failed(attempt, 'closed');
      report.retrying(retry);
    }
  };
}
