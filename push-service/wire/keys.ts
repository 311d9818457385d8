/**
 * How both sides of the push service read keys: their text with protocol/base64url.ts, but in
 * base64url's own alphabet only, and their bytes by equality and by the shape of a P-256 point.
 */
import type { DecodeBase64UrlOptions } from '../../protocol/base64url.js';

/**
 * `decodeBase64Url` options for everything the push service and its user agent decode: plain
 * base64's `+` and `/` are refused, as real push services refuse them in tokens and keys, so that
 * a sender that writes plain base64 fails here as it would against them.
 */
export const BASE64URL_ONLY: DecodeBase64UrlOptions = { plainBase64: false };

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
