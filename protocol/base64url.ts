/**
 * Base64url (RFC 4648 section 5), the one implementation every part uses: push keys, VAPID keys
 * and ids travel in it. Pure JavaScript over `Uint8Array`, so it runs in pages, service workers
 * and Node alike.
 */

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
/** Digit values of base64url's own alphabet; -1 for every other character. */
const URL_VALUES = new Int8Array(128).fill(-1);
for (let i = 0; i < ALPHABET.length; i++) URL_VALUES[ALPHABET.charCodeAt(i)] = i;
/** The same, plus plain base64's `+` and `/`: keys are often copied around in either form. */
const VALUES = URL_VALUES.slice();
VALUES['+'.charCodeAt(0)] = 62;
VALUES['/'.charCodeAt(0)] = 63;

const digit = (value: number): string => ALPHABET.charAt(value);

/**
 * Encodes bytes as base64url without padding.
 * @param bytes - the bytes to encode
 * @returns the text form
 */
export function encodeBase64Url(bytes: Uint8Array): string {
  let text = '';
  let i = 0;
  for (; i + 2 < bytes.length; i += 3) {
    const n =
      ((bytes[i] as number) << 16) | ((bytes[i + 1] as number) << 8) | (bytes[i + 2] as number);
    text += digit(n >> 18) + digit((n >> 12) & 63) + digit((n >> 6) & 63) + digit(n & 63);
  }
  const rest = bytes.length - i;
  if (rest === 1) {
    const n = (bytes[i] as number) << 16;
    text += digit(n >> 18) + digit((n >> 12) & 63);
  } else if (rest === 2) {
    const n = ((bytes[i] as number) << 16) | ((bytes[i + 1] as number) << 8);
    text += digit(n >> 18) + digit((n >> 12) & 63) + digit((n >> 6) & 63);
  }
  return text;
}

/** Options of {@link decodeBase64Url}. */
export interface DecodeBase64UrlOptions {
  /**
   * Whether plain base64's `+` and `/` are read as `-` and `_`. The local push service refuses
   * them, as real push services do, so that a sender that writes plain base64 fails in tests
   * as it would in production.
   * @defaultValue true
   */
  plainBase64?: boolean;
}

/**
 * Decodes base64url strictly: with or without `=` padding, plain base64's `+` and `/` accepted
 * unless `options` refuse them, anything else refused (a key must never decode "successfully"
 * from garbage).
 * @param text - the encoded text
 * @param options - see {@link DecodeBase64UrlOptions}
 * @returns the bytes, or `null` when `text` is not base64url
 */
export function decodeBase64Url(
  text: unknown,
  options?: DecodeBase64UrlOptions,
): Uint8Array<ArrayBuffer> | null {
  if (typeof text !== 'string') return null;
  const values = options?.plainBase64 === false ? URL_VALUES : VALUES;
  let end = text.length;
  // At most two padding characters.
  if (end > 0 && text.charCodeAt(end - 1) === 61) end--;
  if (end > 0 && text.charCodeAt(end - 1) === 61) end--;
  if (end % 4 === 1) return null;
  const bytes = new Uint8Array(Math.floor((end * 3) / 4));
  let buffer = 0;
  let bits = 0;
  let out = 0;
  for (let i = 0; i < end; i++) {
    const code = text.charCodeAt(i);
    const value = code < 128 ? (values[code] as number) : -1;
    if (value < 0) return null;
    buffer = (buffer << 6) | value;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      bytes[out++] = (buffer >> bits) & 0xff;
    }
  }
  return bytes;
}

/**
 * A random identifier, base64url, from the platform's CSPRNG.
 * @param byteLength - how many random bytes
 * @defaultValue byteLength = 16 (128 bits, the protocol's minimum for ids)
 * @returns the id
 */
export function randomBase64UrlId(byteLength = 16): string {
  return encodeBase64Url(globalThis.crypto.getRandomValues(new Uint8Array(byteLength)));
}
