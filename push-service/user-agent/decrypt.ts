/**
 * Decryption of Web Push messages (RFC 8291) in the aes128gcm content coding (RFC 8188), with
 * node:crypto only: what a browser does with a push message before the `push` event.
 */
import { createDecipheriv, createECDH, hkdfSync } from 'node:crypto';

/** The user agent's keys of one push subscription. */
export interface PushKeys {
  /** P-256 private key, 32 raw bytes. */
  privateKey: Uint8Array;
  /** P-256 public key, 65 bytes uncompressed (the subscription's `p256dh`). */
  publicKey: Uint8Array;
  /** 16-byte authentication secret (the subscription's `auth`). */
  auth: Uint8Array;
}

/** Why a message could not be decrypted. */
export const DecryptErrorCode = {
  /** Shorter than the aes128gcm header, or the header is inconsistent. */
  BadHeader: 'BAD_HEADER',
  /** `keyid` is not a 65-byte P-256 public key. */
  BadKeyId: 'BAD_KEYID',
  /** More than one record; RFC 8291 section 4 allows exactly one. */
  MultipleRecords: 'MULTIPLE_RECORDS',
  /** Authentication failed: wrong keys, or a corrupted message. */
  BadTag: 'BAD_TAG',
  /** The padding delimiter of the last record (0x02) is missing. */
  BadPadding: 'BAD_PADDING',
} as const;

export type DecryptErrorCode = (typeof DecryptErrorCode)[keyof typeof DecryptErrorCode];

/** Thrown by {@link decrypt}; `code` says which check failed. */
export interface DecryptError extends Error {
  name: 'DecryptError';
  code: DecryptErrorCode;
}

const decryptError = (code: DecryptErrorCode, message: string): DecryptError =>
  Object.assign(new Error(message), { name: 'DecryptError' as const, code });

/** True for an error thrown by {@link decrypt}. */
export function isDecryptError(error: unknown): error is DecryptError {
  return error instanceof Error && error.name === 'DecryptError';
}

const HEADER_BYTES = 21;
const TAG_BYTES = 16;
const KEY_INFO = Buffer.from('WebPush: info\0');
const CEK_INFO = Buffer.from('Content-Encoding: aes128gcm\0');
const NONCE_INFO = Buffer.from('Content-Encoding: nonce\0');

/**
 * Decrypts one push message.
 * @param body - the aes128gcm body: salt(16) rs(4) idlen(1) keyid(idlen) ciphertext
 * @param keys - the subscription's key pair and auth secret
 * @returns the plaintext, padding removed
 * @throws {@link DecryptError} when the message is malformed or not for these keys
 */
export function decrypt(body: Uint8Array, keys: PushKeys): Uint8Array {
  const data = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  if (data.byteLength < HEADER_BYTES) throw decryptError('BAD_HEADER', 'message too short');
  const salt = data.subarray(0, 16);
  const recordSize = data.readUInt32BE(16);
  const idLength = data.readUInt8(20);
  const keyId = data.subarray(HEADER_BYTES, HEADER_BYTES + idLength);
  const ciphertext = data.subarray(HEADER_BYTES + idLength);
  if (recordSize < TAG_BYTES + 2 || keyId.byteLength !== idLength) {
    throw decryptError('BAD_HEADER', 'inconsistent aes128gcm header');
  }
  if (idLength !== 65 || keyId[0] !== 0x04) {
    throw decryptError('BAD_KEYID', 'keyid is not an uncompressed P-256 key');
  }
  if (ciphertext.byteLength > recordSize) {
    throw decryptError('MULTIPLE_RECORDS', 'a push message is a single record');
  }
  if (ciphertext.byteLength < TAG_BYTES + 1) {
    throw decryptError('BAD_HEADER', 'record shorter than its tag');
  }

  let sharedSecret: Buffer;
  try {
    const ecdh = createECDH('prime256v1');
    ecdh.setPrivateKey(keys.privateKey);
    sharedSecret = ecdh.computeSecret(keyId);
  } catch {
    throw decryptError('BAD_KEYID', 'keyid is not a point on P-256');
  }
  // RFC 8291 section 3.4: the auth secret salts the ECDH secret, bound to both public keys.
  const keyInfo = Buffer.concat([KEY_INFO, keys.publicKey, keyId]);
  const ikm = Buffer.from(hkdfSync('sha256', sharedSecret, keys.auth, keyInfo, 32));
  const cek = Buffer.from(hkdfSync('sha256', ikm, salt, CEK_INFO, 16));
  const nonce = Buffer.from(hkdfSync('sha256', ikm, salt, NONCE_INFO, 12));

  let padded: Buffer;
  try {
    const decipher = createDecipheriv('aes-128-gcm', cek, nonce);
    decipher.setAuthTag(ciphertext.subarray(ciphertext.byteLength - TAG_BYTES));
    padded = Buffer.concat([
      decipher.update(ciphertext.subarray(0, ciphertext.byteLength - TAG_BYTES)),
      decipher.final(),
    ]);
  } catch {
    throw decryptError('BAD_TAG', 'authentication failed');
  }
  // RFC 8188 section 2: content, then the delimiter (0x02 in the last record), then zeros.
  let end = padded.byteLength - 1;
  while (end >= 0 && padded[end] === 0) end--;
  if (end < 0 || padded[end] !== 0x02) throw decryptError('BAD_PADDING', 'no 0x02 delimiter');
  return new Uint8Array(padded.subarray(0, end));
}
