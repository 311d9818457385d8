/**
 * VAPID authorization (RFC 8292): one ES256 JWT per push-service origin, cached.
 * @packageDocumentation
 */
import { type KeyObject, sign } from 'node:crypto';
import { encodeBase64Url } from '../../protocol/base64url.js';
import { type ImportedVapidKeys, importVapidKeys, type VapidOptions } from '../vapid.js';

/** Claims of a VAPID JWT. */
export interface VapidClaims {
  /** Origin of the push service the request goes to. */
  aud: string;
  /** Expiry, seconds since the epoch (at most 24 h ahead). */
  exp: number;
  /** The operator's contact, `mailto:` or `https:`. */
  sub: string;
}

const JWT_HEADER = encodeBase64Url(Buffer.from(JSON.stringify({ typ: 'JWT', alg: 'ES256' })));

/**
 * Signs a VAPID JWT with ES256.
 * @param claims - `aud`, `exp`, `sub`
 * @param privateKey - the VAPID private key
 * @returns the compact JWT
 */
export function signVapidJwt(claims: VapidClaims, privateKey: KeyObject): string {
  const signingInput = `${JWT_HEADER}.${encodeBase64Url(Buffer.from(JSON.stringify(claims)))}`;
  // JWS wants the raw r || s form, not DER.
  const signature = sign('sha256', Buffer.from(signingInput), {
    key: privateKey,
    dsaEncoding: 'ieee-p1363',
  });
  return `${signingInput}.${encodeBase64Url(signature)}`;
}

/** Options of {@link createVapidAuth}. */
export interface VapidAuthOptions {
  /** VAPID identity, raw (validated here) or already imported. */
  vapid: VapidOptions | ImportedVapidKeys;
  /**
   * Clock in epoch milliseconds.
   * @defaultValue `Date.now`
   */
  now?: () => number;
  /**
   * How far ahead `exp` is set.
   * @defaultValue 12 hours
   */
  lifetimeMs?: number;
  /**
   * A token with less than this left is replaced.
   * @defaultValue 1 hour
   */
  refreshBeforeMs?: number;
  /**
   * Most origins with a cached token; the oldest entry goes first.
   * @defaultValue 1024
   */
  maxOrigins?: number;
}

/** Produces the `Authorization` header for a push-service origin. */
export interface VapidAuth {
  /**
   * `vapid t=<jwt>, k=<public key>` for `origin`, from cache while the token has time left.
   * @param origin - the push service's origin, e.g. `https://fcm.googleapis.com`
   */
  authorization(origin: string): string;
}

const HOUR_MS = 3_600_000;

/**
 * Creates the VAPID header source: one signed JWT per origin, reused until less than
 * `refreshBeforeMs` of its lifetime is left, so that a fan-out signs once, not once per message.
 * @param options - identity, clock and lifetimes
 * @returns the header source
 * @throws `VapidKeyError` when the VAPID options are invalid
 */
export function createVapidAuth(options: VapidAuthOptions): VapidAuth {
  const {
    now = Date.now,
    lifetimeMs = 12 * HOUR_MS,
    refreshBeforeMs = HOUR_MS,
    maxOrigins = 1024,
  } = options;
  const vapid =
    typeof options.vapid.privateKey === 'string'
      ? importVapidKeys(options.vapid as VapidOptions)
      : (options.vapid as ImportedVapidKeys);
  const cache = new Map<string, { header: string; expiresAtMs: number }>();

  return {
    authorization(origin) {
      const at = now();
      const cached = cache.get(origin);
      if (cached !== undefined && cached.expiresAtMs - at >= refreshBeforeMs) return cached.header;
      const exp = Math.floor((at + lifetimeMs) / 1000);
      const jwt = signVapidJwt({ aud: origin, exp, sub: vapid.subject }, vapid.privateKey);
      const header = `vapid t=${jwt}, k=${vapid.publicKey}`;
      cache.delete(origin);
      cache.set(origin, { header, expiresAtMs: exp * 1000 });
      if (cache.size > maxOrigins) {
        const oldest = cache.keys().next();
        if (!oldest.done) cache.delete(oldest.value);
      }
      return header;
    },
  };
}
