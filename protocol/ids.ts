/** The shapes of the ids every route checks before looking anything up. */

const TAB_ID = /^[A-Za-z0-9_-]{16,128}$/;
const SERVER_ID = /^[A-Za-z0-9_-]{22,128}$/;

/** Longest id string looked up; longer ones cannot be ours. */
export const MAX_ID_LENGTH = 256;

/**
 * Checks a tab id.
 * @param value - anything from a request
 * @returns true for a string of 16–128 URL-safe characters
 */
export function isTabId(value: unknown): value is string {
  return typeof value === 'string' && TAB_ID.test(value);
}

/**
 * Checks the shape of a subscription or registration id.
 * @param value - anything from a request
 * @returns true for a string of 22–128 URL-safe characters (22 = 128 bits in base64url)
 */
export function isServerId(value: unknown): value is string {
  return typeof value === 'string' && SERVER_ID.test(value);
}
