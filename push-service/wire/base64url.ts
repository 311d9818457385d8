/**
 * Base64url helpers (RFC 4648 section 5). Browsers send keys with or without `=` padding
 * (Firefox pads the `key` of a register frame), so decoding accepts both and encoding never pads.
 */

const BASE64URL = /^[A-Za-z0-9_-]*={0,2}$/;

/**
 * Encodes bytes as base64url without padding.
 * @param bytes - the bytes to encode
 * @returns the base64url text
 */
export function toBase64url(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64url');
}

/**
 * Decodes base64url text, with or without `=` padding.
 * @param text - the text to decode
 * @returns the bytes, or `null` when `text` is not base64url (standard base64's `+` and `/` are
 * refused too, so that two spellings of one key cannot both pass)
 */
export function fromBase64url(text: string): Uint8Array | null {
  if (!BASE64URL.test(text)) return null;
  const unpadded = text.replace(/=+$/, '');
  // A single leftover character cannot encode a byte.
  if (unpadded.length % 4 === 1) return null;
  return new Uint8Array(Buffer.from(unpadded, 'base64url'));
}

/**
 * Compares two byte arrays.
 * @returns true when both hold the same bytes
 */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && Buffer.compare(a, b) === 0;
}

/**
 * Checks that bytes are an uncompressed P-256 public key (65 bytes starting with 0x04), the form
 * of applicationServerKey, `p256dh` and VAPID's `k`.
 * @returns true for the right length and prefix (whether the point is on the curve is not checked)
 */
export function isUncompressedPoint(bytes: Uint8Array | null): bytes is Uint8Array {
  return bytes !== null && bytes.byteLength === 65 && bytes[0] === 0x04;
}
