/**
 * Message encryption for Web Push (RFC 8291, `aes128gcm` content coding of RFC 8188).
 * @packageDocumentation
 */
import * as nodeCrypto from 'node:crypto';
import { decodeBase64Url } from '../../protocol/base64url.js';
import { MAX_PUSH_PLAINTEXT_BYTES } from '../../protocol/index.js';
import { bodyBytes } from './encrypt-batch.js';
import { createEncryptor, type EncryptInto } from './encrypt-kernel.js';
import { InvalidSubscriptionKeysError, PushPayloadTooLargeError } from './errors.js';
import { createLru } from './lru.js';

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
  /**
   * `"WebPush: info" || 0x00 || ua_public`: the fixed prefix of `key_info`, for callers that
   * derive keys themselves (the encryptor writes `ua_public` into a buffer of its own).
   */
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

/**
 * Record size written in the header: one record carries the whole message (the kernel,
 * `encrypt-kernel.ts`, writes this number itself, being self-contained).
 */
export const RECORD_SIZE = 4096;
const KEY_INFO_LABEL = Buffer.from('WebPush: info\0', 'latin1');

/** The protocol's strict decoder, as a `Buffer` view (no copy) for `node:crypto`. */
function decodeKey(text: unknown): Buffer | null {
  const bytes = decodeBase64Url(text);
  return bytes && Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * Decodes and checks a subscription's keys.
 * @param keys - `p256dh` (65-byte uncompressed P-256 point) and `auth` (16 bytes), base64url
 * @returns the decoded keys
 * @throws {@link InvalidSubscriptionKeysError} when a key has the wrong encoding or length, or
 * `p256dh` is not a point on P-256
 */
export function parseSubscriptionKeys(keys: SubscriptionKeys): ParsedSubscriptionKeys {
  const uaPublic = decodeKey(keys?.p256dh);
  if (uaPublic === null || uaPublic.length !== 65 || uaPublic[0] !== 0x04) {
    throw new InvalidSubscriptionKeysError(
      'p256dh must be a base64url 65-byte uncompressed P-256 point',
    );
  }
  try {
    nodeCrypto.createPublicKey({
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
  const authSecret = decodeKey(keys.auth);
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
  const entries = createLru<ParsedSubscriptionKeys>(maxEntries);
  /**
   * Each keys object's cache key: a fan-out passes the same objects on every event, and the
   * same string again is looked up without being built and hashed anew (a string keeps its
   * hash). Checked against the fields, should they change.
   */
  const keyTexts = new WeakMap<SubscriptionKeys, SubscriptionKeys & { readonly text: string }>();
  const textOf = (keys: SubscriptionKeys): string => {
    const { p256dh, auth } = keys;
    const known = keyTexts.get(keys);
    if (known !== undefined && known.p256dh === p256dh && known.auth === auth) return known.text;
    // "." is not in the base64url alphabet, so the key is unambiguous.
    const text = `${p256dh}.${auth}`;
    keyTexts.set(keys, { p256dh, auth, text });
    return text;
  };
  return {
    get(keys) {
      const cacheKey = textOf(keys);
      let parsed = entries.get(cacheKey);
      if (parsed === undefined) {
        parsed = parseSubscriptionKeys(keys);
        entries.set(cacheKey, parsed);
      }
      return parsed;
    },
    get size() {
      return entries.size;
    },
  };
}

/** The event loop's encryptor: synchronous, so one instance serves every call. */
const encryptInto: EncryptInto = createEncryptor(nodeCrypto);

/**
 * Encrypts one push message body (RFC 8291): a fresh ECDH key pair and salt per message, one
 * `aes128gcm` record with `rs` = 4096 and no padding beyond the 0x02 delimiter.
 * @param keys - the subscription's parsed keys ({@link parseSubscriptionKeys})
 * @param plaintext - at most `MAX_PUSH_PLAINTEXT_BYTES` (3993) bytes
 * @param entropy - fixed salt and ephemeral key; for reproducing test vectors only
 * @returns the request body: header (salt, rs, keyid = ephemeral public key) then the record
 * @throws {@link PushPayloadTooLargeError} when the plaintext is too large for one message
 * @remarks The cost is dominated by the two P-256 scalar multiplications (key generation and
 * ECDH); everything per subscription is precomputed in `keys`, and the work itself is
 * `createEncryptor`'s (`encrypt-kernel.ts`), which the encryption workers run too.
 */
export function encryptPushMessage(
  keys: ParsedSubscriptionKeys,
  plaintext: Uint8Array,
  entropy?: EncryptionEntropy,
): Buffer {
  if (plaintext.byteLength > MAX_PUSH_PLAINTEXT_BYTES) {
    throw new PushPayloadTooLargeError(plaintext.byteLength, MAX_PUSH_PLAINTEXT_BYTES);
  }
  // Below 4 KiB `allocUnsafe` slices Node's shared 8 KiB pool instead of allocating memory.
  const body = Buffer.allocUnsafe(bodyBytes(plaintext.byteLength));
  encryptInto(
    keys.uaPublic,
    keys.authSecret,
    plaintext,
    body,
    0,
    entropy?.salt,
    entropy?.ephemeralPrivateKey,
  );
  return body;
}
