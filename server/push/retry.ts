/**
 * Retry decisions for push-service answers (RFC 8030 section 8 and common push-service practice).
 * How long to wait between attempts is `protocol/backoff.ts`'s, the schedule every part shares.
 * @packageDocumentation
 */

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
