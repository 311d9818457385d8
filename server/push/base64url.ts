/**
 * `Buffer` views of `protocol/base64url.ts`, the one base64url of the package, for code that
 * hands the bytes to `node:crypto`.
 * @deprecated Import `protocol/base64url.ts` and wrap its bytes with
 * `Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)` where a `Buffer` is needed.
 * @packageDocumentation
 */
import { decodeBase64Url as decodeBytes } from '../../protocol/base64url.js';

export { encodeBase64Url } from '../../protocol/base64url.js';

/**
 * Decodes base64url strictly (with or without `=` padding; plain base64's `+` and `/` too).
 * @param text - the encoded value
 * @returns the bytes as a `Buffer` over the decoded memory, or `null` when `text` is not base64url
 * @deprecated Use `decodeBase64Url` of `protocol/base64url.ts`.
 */
export function decodeBase64Url(text: unknown): Buffer | null {
  const bytes = decodeBytes(text);
  return bytes && Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
