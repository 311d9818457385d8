/**
 * Defaults and checks of `startPushService` options that need more than a default value.
 */

/** Default `maxPendingPerUserAgent`: autopush's `msg_limit`. */
export const DEFAULT_MAX_PENDING_PER_USER_AGENT = 150;

/**
 * Checks `maxPendingPerUserAgent`.
 * @param value - the option as given
 * @returns the same value
 * @throws RangeError unless a positive integer or `Infinity`
 */
export function validatePendingLimit(value: number): number {
  if (value === Number.POSITIVE_INFINITY || (Number.isInteger(value) && value >= 1)) return value;
  throw new RangeError(
    `maxPendingPerUserAgent must be a positive integer or Infinity, got ${String(value)}`,
  );
}
