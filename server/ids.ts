import { randomBytes } from 'node:crypto';

/** Bytes of randomness in every id the server hands out (192 bits, well above the 128 required). */
const ID_BYTES = 24;

/**
 * A new random id for a push subscription or a registration.
 * @returns base64url text of {@link ID_BYTES} random bytes
 */
export function randomId(): string {
  return randomBytes(ID_BYTES).toString('base64url');
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
