/**
 * What one send tells the telemetry: its retries, the waits a 429 imposed, and its outcome, as
 * metrics by push-service origin and as its span. Plain functions: a send carries its origin
 * and span, and makes no report object of its own.
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

/**
 * A wait before the next attempt was decided.
 * @param telemetry - where metrics go
 * @param origin - the push service's origin
 * @param span - the send's span
 * @param reason - what the last attempt met
 * @param delayMs - how long the wait is
 */
export function reportWaiting(
  telemetry: Telemetry,
  origin: string,
  span: TelemetrySpan,
  reason: RetryReason,
  delayMs: number,
): void {
  if (reason === 'rate-limited') telemetry.rateLimitWait(delayMs, { origin });
  span.addEvent('retry', {
    [ATTRIBUTE.errorType]: reason,
    [ATTRIBUTE.retryDelay]: delayMs / 1000,
  });
}

/**
 * The next attempt starts after a wait (a retry).
 * @param telemetry - where metrics go
 * @param origin - the push service's origin
 * @param reason - what the last attempt met
 */
export function reportRetrying(telemetry: Telemetry, origin: string, reason: RetryReason): void {
  telemetry.pushRetried({ reason, origin });
}

/**
 * The send settled.
 * @param telemetry - where metrics go
 * @param origin - the push service's origin
 * @param span - the send's span
 * @param result - its outcome
 * @param failure - why it did not deliver, when it did not
 */
export function reportSettled(
  telemetry: Telemetry,
  origin: string,
  span: TelemetrySpan,
  result: SendResult,
  failure: SendFailure | undefined,
): void {
  const status = result.status ?? 0;
  span.setAttributes(
    status > 0
      ? { [ATTRIBUTE.attempts]: result.attempts, [ATTRIBUTE.statusCode]: status }
      : { [ATTRIBUTE.attempts]: result.attempts },
  );
  if (result.ok) {
    telemetry.pushSent({ status, origin });
    return;
  }
  const reason = failure ?? '_OTHER';
  telemetry.pushFailed({ reason, status, origin });
  span.setAttributes({ [ATTRIBUTE.errorType]: reason });
  // `gone` and `too-large` have a remedy the caller applies (drop the subscription, push a
  // reference); only a push that is simply lost marks the span as an error.
  if (result.reason === 'failed') span.fail(`push not delivered: ${reason}`);
}
