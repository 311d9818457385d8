/**
 * VAPID keys (RFC 8292): generation and validated import.
 * @packageDocumentation
 */
import {
  createECDH,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
} from 'node:crypto';
import { decodeBase64Url as decodeBytes, encodeBase64Url } from '../protocol/base64url.js';

/** base64url to a `Buffer` over the decoded bytes, which `node:crypto` takes; null when not base64url. */
const decodeBase64Url = (text: unknown): Buffer | null => {
  const bytes = decodeBytes(text);
  return bytes && Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
};

/** The application server's VAPID identity. */
export interface VapidOptions {
  /** Contact for the push service operator: a `mailto:` or `https:` URL. */
  subject: string;
  /** base64url 65-byte uncompressed P-256 point; the browser's `applicationServerKey`. */
  publicKey: string;
  /** base64url 32-byte P-256 private scalar. Never logged. */
  privateKey: string;
}

/** Codes of {@link VapidKeyError}. */
export type VapidKeyErrorCode = 'VAPID_INVALID_KEY' | 'VAPID_INVALID_SUBJECT';

/** Thrown when VAPID options are unusable. The message never contains key material. */
export class VapidKeyError extends Error {
  override readonly name = 'VapidKeyError';
  /**
   * @param code - which part is wrong
   * @param message - details for people
   */
  constructor(
    readonly code: VapidKeyErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** VAPID options checked and turned into what signing needs. */
export interface ImportedVapidKeys {
  subject: string;
  /** The public key, base64url without padding, as sent in `k=`. */
  publicKey: string;
  /** The private key, ready for `crypto.sign` (imported once, reused for every JWT). */
  privateKey: KeyObject;
}

const P256_COORDINATE_BYTES = 32;

function padTo(bytes: Buffer, length: number): Buffer {
  if (bytes.length >= length) return bytes;
  return Buffer.concat([Buffer.alloc(length - bytes.length), bytes]);
}

/**
 * Creates a fresh VAPID key pair.
 * @returns `publicKey` (65-byte uncompressed point) and `privateKey` (32-byte scalar), both
 * base64url without padding: the format of `web-push`'s `generateVAPIDKeys()`.
 * @remarks Keep the private key secret and stable: browsers bind their push subscriptions to the
 * public key, so a new pair invalidates every existing subscription.
 */
export function generateVapidKeys(): { publicKey: string; privateKey: string } {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = privateKey.export({ format: 'jwk' });
  const coordinate = (value: string | undefined) =>
    padTo(Buffer.from(value ?? '', 'base64url'), P256_COORDINATE_BYTES);
  const point = Buffer.concat([Buffer.from([0x04]), coordinate(jwk.x), coordinate(jwk.y)]);
  return { publicKey: encodeBase64Url(point), privateKey: encodeBase64Url(coordinate(jwk.d)) };
}

function checkSubject(subject: unknown): string {
  if (typeof subject === 'string') {
    if (/^mailto:[^\s]+@[^\s]+$/.test(subject)) return subject;
    if (URL.canParse(subject) && new URL(subject).protocol === 'https:') return subject;
  }
  throw new VapidKeyError(
    'VAPID_INVALID_SUBJECT',
    'VAPID subject must be a mailto: address or an https: URL',
  );
}

/**
 * Validates VAPID options and imports the private key.
 * @param options - subject and key pair
 * @returns the checked subject, the normalized public key and the private `KeyObject`
 * @throws {@link VapidKeyError} when the subject is not `mailto:`/`https:`, a key has the wrong
 * length or encoding, the public key is not on P-256, or the keys do not belong together.
 */
export function importVapidKeys(options: VapidOptions): ImportedVapidKeys {
  const subject = checkSubject(options.subject);
  const point = decodeBase64Url(options.publicKey);
  if (point === null || point.length !== 65 || point[0] !== 0x04) {
    throw new VapidKeyError(
      'VAPID_INVALID_KEY',
      `VAPID public key must be a base64url 65-byte uncompressed P-256 point (got ${point === null ? 'non-base64url text' : `${point.length} bytes`})`,
    );
  }
  const x = point.subarray(1, 33).toString('base64url');
  const y = point.subarray(33).toString('base64url');
  try {
    createPublicKey({ key: { kty: 'EC', crv: 'P-256', x, y }, format: 'jwk' });
  } catch {
    throw new VapidKeyError('VAPID_INVALID_KEY', 'VAPID public key is not a point on P-256');
  }
  const scalar = decodeBase64Url(options.privateKey);
  if (scalar === null || scalar.length !== P256_COORDINATE_BYTES) {
    throw new VapidKeyError(
      'VAPID_INVALID_KEY',
      `VAPID private key must be a base64url 32-byte P-256 scalar (got ${scalar === null ? 'non-base64url text' : `${scalar.length} bytes`})`,
    );
  }
  // A JWK import does not check that d matches (x, y); deriving the public point does.
  let derived: Buffer;
  try {
    const ecdh = createECDH('prime256v1');
    ecdh.setPrivateKey(scalar);
    derived = ecdh.getPublicKey();
  } catch {
    throw new VapidKeyError('VAPID_INVALID_KEY', 'VAPID private key is not a valid P-256 scalar');
  }
  if (!derived.equals(point)) {
    throw new VapidKeyError(
      'VAPID_INVALID_KEY',
      'VAPID private key does not belong to the VAPID public key',
    );
  }
  const privateKey = createPrivateKey({
    key: { kty: 'EC', crv: 'P-256', x, y, d: scalar.toString('base64url') },
    format: 'jwk',
  });
  return { subject, publicKey: encodeBase64Url(point), privateKey };
}
