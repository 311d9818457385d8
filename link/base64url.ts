/**
 * Encodes bytes as base64url without padding (RFC 4648 section 5).
 * @param bytes - the bytes to encode.
 * @returns the text form.
 */
export function encodeBase64Url(bytes: Uint8Array): string {
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/**
 * Decodes base64url (padding optional; plain base64 is accepted too, since VAPID keys are
 * often copied around in either form).
 * @param text - the encoded text.
 * @returns the bytes.
 * @throws `DOMException` (`InvalidCharacterError`) when `text` is not base64.
 */
export function decodeBase64Url(text: string): Uint8Array<ArrayBuffer> {
  const base64 = text.replace(/-/g, '+').replace(/_/g, '/').replace(/=+$/, '');
  const binary = atob(base64 + '='.repeat((4 - (base64.length % 4)) % 4));
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

/**
 * A random identifier, base64url.
 * @param byteLength - how many random bytes.
 * @defaultValue byteLength = 16 (128 bits, the protocol's minimum for ids)
 * @returns the id.
 */
export function randomId(byteLength = 16): string {
  return encodeBase64Url(crypto.getRandomValues(new Uint8Array(byteLength)));
}
