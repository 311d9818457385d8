/**
 * Message encryption for Web Push (RFC 8291, `aes128gcm` content coding of RFC 8188).
 * @packageDocumentation
 */
import {
  createCipheriv,
  createECDH,
  createPublicKey,
  type ECDH,
  hkdfSync,
  randomBytes,
} from 'node:crypto';
import { MAX_PUSH_PLAINTEXT_BYTES } from '../../protocol/index.js';
import { decodeBase64Url } from './base64url.js';
import { InvalidSubscriptionKeysError, PushPayloadTooLargeError } from './errors.js';

/** The `keys` of a browser push subscription, base64url as `PushSubscription.toJSON()` gives. */
export interface SubscriptionKeys {
  p256dh: string;
  auth: string;
}

/** A subscription's keys decoded and checked once, ready for every message to it. */
export interface ParsedSubscriptionKeys {
  /** The user agent's public key, 65-byte uncompressed P-256 point (`ua_public`). */
  readonly uaPublic: Buffer;
  /** The 16-byte authentication secret (`auth_secret`). */
  readonly authSecret: Buffer;
  /** `"WebPush: info" || 0x00 || ua_public`: the fixed prefix of `key_info`. */
  readonly keyInfoPrefix: Buffer;
}

/**
 * Fixed ephemeral key and salt, so that a test can reproduce RFC 8291 Appendix A.
 * @remarks Never pass this in production: reusing a salt or key with the same subscription
 * breaks the encryption's guarantees.
 */
export interface EncryptionEntropy {
  /** 16 bytes. */
  salt: Uint8Array;
  /** 32-byte P-256 scalar of the application server's ephemeral key. */
  ephemeralPrivateKey: Uint8Array;
}

/** Record size written in the header: one record carries the whole message. */
export const RECORD_SIZE = 4096;
/** salt(16) + rs(4) + idlen(1) + keyid(65). */
const HEADER_BYTES = 86;
const TAG_BYTES = 16;
// RFC 8188: 0x02 ends the padding of the last (here: only) record.
const LAST_RECORD_DELIMITER = Buffer.from([0x02]);
const KEY_INFO_LABEL = Buffer.from('WebPush: info\0', 'latin1');
const CEK_INFO = Buffer.from('Content-Encoding: aes128gcm\0', 'latin1');
const NONCE_INFO = Buffer.from('Content-Encoding: nonce\0', 'latin1');

/**
 * Decodes and checks a subscription's keys.
 * @param keys - `p256dh` (65-byte uncompressed P-256 point) and `auth` (16 bytes), base64url
 * @returns the decoded keys
 * @throws {@link InvalidSubscriptionKeysError} when a key has the wrong encoding or length, or
 * `p256dh` is not a point on P-256
 */
export function parseSubscriptionKeys(keys: SubscriptionKeys): ParsedSubscriptionKeys {
  const uaPublic = decodeBase64Url(keys?.p256dh);
  if (uaPublic === null || uaPublic.length !== 65 || uaPublic[0] !== 0x04) {
    throw new InvalidSubscriptionKeysError(
      'p256dh must be a base64url 65-byte uncompressed P-256 point',
    );
  }
  try {
    createPublicKey({
      key: {
        kty: 'EC',
        crv: 'P-256',
        x: uaPublic.subarray(1, 33).toString('base64url'),
        y: uaPublic.subarray(33).toString('base64url'),
      },
      format: 'jwk',
    });
  } catch {
    throw new InvalidSubscriptionKeysError('p256dh is not a point on P-256');
  }
  const authSecret = decodeBase64Url(keys.auth);
  if (authSecret === null || authSecret.length !== 16) {
    throw new InvalidSubscriptionKeysError('auth must be a base64url 16-byte secret');
  }
  return { uaPublic, authSecret, keyInfoPrefix: Buffer.concat([KEY_INFO_LABEL, uaPublic]) };
}

/** Options of {@link createSubscriptionKeyCache}. */
export interface SubscriptionKeyCacheOptions {
  /**
   * Most subscriptions kept; the least recently used goes first.
   * @defaultValue 10_000
   */
  maxEntries?: number;
}

/** Parsed subscription keys by their base64url text, bounded. */
export interface SubscriptionKeyCache {
  /**
   * The parsed keys, parsing them on first use.
   * @throws {@link InvalidSubscriptionKeysError} for malformed keys (not cached)
   */
  get(keys: SubscriptionKeys): ParsedSubscriptionKeys;
  /** How many subscriptions are cached. */
  readonly size: number;
}

/**
 * Creates a bounded LRU cache of parsed subscription keys, so that a fan-out to the same
 * subscriptions decodes and checks each key once.
 * @param options - the bound
 * @returns the cache
 */
export function createSubscriptionKeyCache({
  maxEntries = 10_000,
}: SubscriptionKeyCacheOptions = {}): SubscriptionKeyCache {
  const entries = new Map<string, ParsedSubscriptionKeys>();
  return {
    get(keys) {
      // "." is not in the base64url alphabet, so the key is unambiguous.
      const cacheKey = `${keys.p256dh}.${keys.auth}`;
      const hit = entries.get(cacheKey);
      if (hit !== undefined) {
        entries.delete(cacheKey);
        entries.set(cacheKey, hit);
        return hit;
      }
      const parsed = parseSubscriptionKeys(keys);
      entries.set(cacheKey, parsed);
      if (entries.size > maxEntries) {
        const oldest = entries.keys().next();
        if (!oldest.done) entries.delete(oldest.value);
      }
      return parsed;
    },
    get size() {
      return entries.size;
    },
  };
}

/**
 * Encrypts one push message body (RFC 8291): a fresh ECDH key pair and salt per message, one
 * `aes128gcm` record with `rs` = 4096 and no padding beyond the 0x02 delimiter.
 * @param keys - the subscription's parsed keys ({@link parseSubscriptionKeys})
 * @param plaintext - at most `MAX_PUSH_PLAINTEXT_BYTES` (3993) bytes
 * @param entropy - fixed salt and ephemeral key; for reproducing test vectors only
 * @returns the request body: header (salt, rs, keyid = ephemeral public key) then the record
 * @throws {@link PushPayloadTooLargeError} when the plaintext is too large for one message
 * @remarks The cost is dominated by the two P-256 scalar multiplications (key generation and
 * ECDH), about 0.15 ms; everything per subscription is precomputed in `keys`.
 */
export function encryptPushMessage(
  keys: ParsedSubscriptionKeys,
  plaintext: Uint8Array,
  entropy?: EncryptionEntropy,
): Buffer {
  if (plaintext.byteLength > MAX_PUSH_PLAINTEXT_BYTES) {
    throw new PushPayloadTooLargeError(plaintext.byteLength, MAX_PUSH_PLAINTEXT_BYTES);
  }
  // createECDH measured faster than generateKeyPairSync + diffieHellman (no KeyObject
  // wrapping, and the raw public point comes for free).
  const ecdh: ECDH = createECDH('prime256v1');
  let salt: Uint8Array;
  if (entropy === undefined) {
    ecdh.generateKeys();
    salt = randomBytes(16);
  } else {
    ecdh.setPrivateKey(entropy.ephemeralPrivateKey);
    salt = entropy.salt;
  }
  const asPublic = ecdh.getPublicKey();
  const ecdhSecret = ecdh.computeSecret(keys.uaPublic);

  const keyInfo = Buffer.concat([keys.keyInfoPrefix, asPublic]);
  const ikm = Buffer.from(hkdfSync('sha256', ecdhSecret, keys.authSecret, keyInfo, 32));
  const cek = Buffer.from(hkdfSync('sha256', ikm, salt, CEK_INFO, 16));
  const nonce = Buffer.from(hkdfSync('sha256', ikm, salt, NONCE_INFO, 12));

  const body = Buffer.allocUnsafe(HEADER_BYTES + plaintext.byteLength + 1 + TAG_BYTES);
  body.set(salt, 0);
  body.writeUInt32BE(RECORD_SIZE, 16);
  body.writeUInt8(asPublic.length, 20);
  body.set(asPublic, 21);

  const cipher = createCipheriv('aes-128-gcm', cek, nonce);
  let offset = HEADER_BYTES;
  for (const chunk of [
    cipher.update(plaintext),
    cipher.update(LAST_RECORD_DELIMITER),
    cipher.final(),
    cipher.getAuthTag(),
  ]) {
    body.set(chunk, offset);
    offset += chunk.length;
  }
  return body;
}
