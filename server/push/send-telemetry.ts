/**
 * What one send tells the telemetry: its retries, the waits a 429 imposed, and its outcome, as
 * metrics by push-service origin and as its span.
 * @packageDocumentation
 */
import { ATTRIBUTE } from '../telemetry/attributes.js';
import type { Telemetry, TelemetrySpan } from '../telemetry.js';
import type { SendResult } from './sender.js';

/**
 * Why a send did not deliver (the metrics' `error.type`): `gone` (404/410), `too-large` (413 or
 * plaintext over the limit), `rejected` (another 3xx/4xx), `exhausted` (no success after
 * `maxAttempts`), `closed` (the sender was closed), `_OTHER` (an unexpected error).
 */
export type SendFailure = 'gone' | 'too-large' | 'rejected' | 'exhausted' | 'closed' | '_OTHER';

/** Why a request is sent again: a 429, a 5xx, a timeout, a network error. */
export type RetryReason = 'rate-limited' | 'server-error' | 'timeout' | 'network';

/** A send's result and, when it did not deliver, why. */
export interface SendOutcome {
  result: SendResult;
  failure?: SendFailure;
}

/** Reports one send as it goes. */
export interface SendReport {
  /**
   * A wait before the next attempt was decided.
   * @param reason - what the last attempt met
   * @param delayMs - how long the wait is
   */
  waiting(reason: RetryReason, delayMs: number): void;
  /** The next attempt starts after a wait (a retry). */
  retrying(reason: RetryReason): void;
  /** The send settled. */
  settled(outcome: SendOutcome): SendResult;
}

/**
 * Creates the report of one send.
 * @param telemetry - where metrics go
 * @param origin - the push service's origin
 * @param span - the send's span
 * @returns the report
 */
export function createSendReport(
  telemetry: Telemetry,
  origin: string,
  span: TelemetrySpan,
): SendReport {
  return {
    waiting(reason, delayMs) {
      if (reason === 'rate-limited') telemetry.rateLimitWait(delayMs, { origin });
      span.addEvent('retry', {
        [ATTRIBUTE.errorType]: reason,
        [ATTRIBUTE.retryDelay]: delayMs / 1000,
      });
    },
    retrying(reason) {
      telemetry.pushRetried({ reason, origin });
    },
    settled({ result, failure }) {
      const status = result.status ?? 0;
      span.setAttributes({
        [ATTRIBUTE.attempts]: result.attempts,
        ...(status > 0 ? { [ATTRIBUTE.statusCode]: status } : {}),
      });
      if (result.ok) {
        telemetry.pushSent({ status, origin });
        return result;
      }
      const reason = failure ?? '_OTHER';
      telemetry.pushFailed({ reason, status, origin });
      span.setAttributes({ [ATTRIBUTE.errorType]: reason });
      // `gone` and `too-large` have a remedy the caller applies (drop the subscription, push a
      // reference); only a push that is simply lost marks the span as an error.
      if (result.reason === 'failed') span.fail(`push not delivered: ${reason}`);
      return result;
    },
  };
}
