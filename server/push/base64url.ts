/**
 * Strict base64url (RFC 4648 section 5) for keys that arrive from browsers and operators.
 * @packageDocumentation
 */

// `Buffer.from(x, 'base64url')` silently skips characters it does not know; keys must not
// decode "successfully" from garbage, so the alphabet is checked first.
const BASE64URL = /^[A-Za-z0-9_-]*={0,2}$/;

/**
 * Decodes base64url text, with or without `=` padding.
 * @param text - the encoded value
 * @returns the bytes, or `null` when `text` is not base64url
 */
export function decodeBase64Url(text: unknown): Buffer | null {
  if (typeof text !== 'string' || !BASE64URL.test(text)) return null;
  const bare = text.replace(/=+$/, '');
  if (bare.length % 4 === 1) return null;
  return Buffer.from(bare, 'base64url');
}

/**
 * Encodes bytes as base64url without padding.
 * @param bytes - the bytes to encode
 * @returns the encoded text
 */
export function encodeBase64Url(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64url');
}
