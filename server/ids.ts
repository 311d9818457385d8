import { randomBytes } from 'node:crypto';

/** Bytes of randomness in every id the server hands out (192 bits, well above the 128 required). */
const ID_BYTES = 24;

const TAB_ID = /^[A-Za-z0-9_-]{16,128}$/;
const SERVER_ID = /^[A-Za-z0-9_-]{22,128}$/;

/**
 * A new random id for a push subscription or a registration.
 * @returns base64url text of {@link ID_BYTES} random bytes
 */
export function randomId(): string {
  return randomBytes(ID_BYTES).toString('base64url');
}

/**
 * Checks a tab id sent by a browser.
 * @param value - anything from a request
 * @returns true for a string of 16–128 URL-safe characters
 */
export function isTabId(value: unknown): value is string {
  return typeof value === 'string' && TAB_ID.test(value);
}

/**
 * Checks the shape of a subscription or registration id before looking it up, so that junk
 * never reaches the store.
 * @param value - anything from a request
 * @returns true for a string of 22–128 URL-safe characters (22 = 128 bits in base64url)
 */
export function isServerId(value: unknown): value is string {
  return typeof value === 'string' && SERVER_ID.test(value);
}

/**
 * How an id appears in logs: its first characters only. Registration and subscription ids are
 * secrets (whoever knows a tab's ids can read its messages); a prefix still tells log lines apart.
 * @param id - a server or tab id
 * @returns the first 8 characters and an ellipsis
 */
export function logId(id: string): string {
  return id.length <= 8 ? id : `${id.slice(0, 8)}…`;
}
