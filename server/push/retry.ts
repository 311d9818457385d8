/**
 * Retry decisions for push-service answers (RFC 8030 section 8 and common push-service practice).
 * @packageDocumentation
 */
import { onAbort } from './abort-waiters.js';

/** What to do with a push service's HTTP status. */
export type StatusOutcome = 'ok' | 'gone' | 'too-large' | 'rate-limited' | 'retry' | 'failed';

/**
 * Classifies a push service's answer.
 * @param status - HTTP status code
 * @returns `ok` for 2xx; `gone` for 404/410 (the subscription is dead); `too-large` for 413;
 * `rate-limited` for 429; `retry` for 5xx; `failed` for anything else, 3xx included (redirects
 * are never followed, see the endpoint allowlist)
 */
export function classifyStatus(status: number): StatusOutcome {
  if (status >= 200 && status < 300) return 'ok';
  if (status === 404 || status === 410) return 'gone';
  if (status === 413) return 'too-large';
  if (status === 429) return 'rate-limited';
  if (status >= 500 && status < 600) return 'retry';
  return 'failed';
}

/**
 * Exponential backoff with full jitter: a uniform wait in `[0, min(max, base * 2^(attempt-1)))`.
 * @param attempt - the attempt that just failed, from 1
 * @param baseMs - ceiling after the first failure
 * @param maxMs - ceiling of every wait
 * @param random - uniform in `[0, 1)`
 * @returns milliseconds to wait before the next attempt
 * @remarks Full jitter spreads the retries of a fan-out that failed together, so they do not
 * hit the recovering push service in one burst.
 */
export function backoffDelay(
  attempt: number,
  baseMs: number,
  maxMs: number,
  random: () => number,
): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.floor(random() * ceiling);
}

const DELAY_SECONDS = /^\d+$/;
// Every HTTP-date form starts with a day name; this keeps Date.parse off bare numbers.
const HTTP_DATE = /^[A-Za-z]{3,9}, /;

/**
 * Parses a `Retry-After` header: delay-seconds or an HTTP date (RFC 9110 section 10.2.3).
 * @param value - the header value
 * @param nowMs - current time, epoch milliseconds
 * @returns milliseconds to wait (0 for a date in the past), or `undefined` when absent or
 * unparseable
 */
export function parseRetryAfter(value: string | undefined, nowMs: number): number | undefined {
  if (value === undefined) return undefined;
  const text = value.trim();
  if (DELAY_SECONDS.test(text)) return Number(text) * 1000;
  const at = HTTP_DATE.test(text) ? Date.parse(text) : Number.NaN;
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - nowMs);
}

/**
 * Waits `ms`, or less when `signal` aborts, so that closing the sender ends pending backoffs.
 * @param ms - how long to wait
 * @param signal - ends the wait early
 * @returns resolves (never rejects) when the time is up or the signal aborts
 * @remarks Any number of waits may share one signal: they share its one `abort` listener
 * ({@link onAbort}), so a fan-out backing off under faults raises no
 * `MaxListenersExceededWarning`.
 */
export function sleepUnlessAborted(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(() => {
      stopWatching();
      resolve();
    }, ms);
    const stopWatching = onAbort(signal, () => {
      clearTimeout(timer);
      resolve();
    });
  });
}
