/**
 * VAPID verification (RFC 8292) of `Authorization: vapid t=<JWT>, k=<key>`.
 *
 * Status choice: 401 when the request does not authenticate at all (header missing or
 * malformed, unparsable token or key, signature that does not verify with `k`); 403 when the
 * token is validly signed by `k` but is not good for this request (`k` is not the subscription's
 * applicationServerKey, `aud` is not this origin, `exp` missing, past or more than 24 h ahead).
 */
import { createPublicKey, verify } from 'node:crypto';
import { decodeBase64Url } from '../../protocol/base64url.js';
import { BASE64URL_ONLY, equalBytes, isUncompressedPoint } from '../wire/keys.js';
import { PushErrorCode } from './errors.js';

/** Longest `exp` ahead of now that RFC 8292 section 2 allows. */
export const MAX_VAPID_EXPIRY_SECONDS = 24 * 60 * 60;

/** Result of {@link verifyVapid}. */
export type VapidResult =
  | { ok: true; publicKey: Uint8Array; claims: Record<string, unknown> }
  | { ok: false; status: 401 | 403; error: PushErrorCode; message: string };

/** What {@link verifyVapid} checks the token against. */
export interface VapidExpectation {
  /** The `Authorization` header, if any. */
  authorization: string | undefined;
  /** This push service's origin, the only acceptable `aud`. */
  origin: string;
  /** The applicationServerKey of the subscription (raw point), or `null` if made without one. */
  applicationServerKey: Uint8Array | null;
  /** Current time in milliseconds. */
  now: number;
}

const unauthorized = (error: PushErrorCode, message: string): VapidResult => ({
  ok: false,
  status: 401,
  error,
  message,
});
const forbidden = (error: PushErrorCode, message: string): VapidResult => ({
  ok: false,
  status: 403,
  error,
  message,
});

/**
 * Parses `vapid t=..., k=...` into its two parameters.
 * @returns `{ t, k }`, or `null` when the scheme or a parameter is missing
 */
export function parseVapidHeader(header: string): { t: string; k: string } | null {
  const match = /^vapid\s+(.+)$/i.exec(header.trim());
  if (!match?.[1]) return null;
  const params = new Map<string, string>();
  for (const part of match[1].split(',')) {
    const eq = part.indexOf('=');
    if (eq < 0) return null;
    const name = part.slice(0, eq).trim().toLowerCase();
    // Values may carry base64 padding, so only the first `=` separates name and value.
    const value = part
      .slice(eq + 1)
      .trim()
      .replace(/^"(.*)"$/, '$1');
    params.set(name, value);
  }
  const t = params.get('t');
  const k = params.get('k');
  return t && k ? { t, k } : null;
}

const decodeJson = (segment: string): Record<string, unknown> | null => {
  const bytes = decodeBase64Url(segment, BASE64URL_ONLY);
  if (!bytes) return null;
  try {
    const value: unknown = JSON.parse(Buffer.from(bytes).toString('utf8'));
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : null;
  } catch {
    return null;
  }
};

/** What a header that verified says: the sender's key and the token's claims. */
interface Authenticated {
  publicKey: Uint8Array;
  claims: Record<string, unknown>;
}

/**
 * Headers that verified, by their text, so that a reused JWT (senders keep one for hours) is
 * parsed and its signature checked once; its claims are still checked on every request.
 * Insertion order makes the first entry the oldest to forget.
 */
const authenticated = new Map<string, Authenticated>();
const MAX_AUTHENTICATED_HEADERS = 1024;

function remember(authorization: string, result: Authenticated): void {
  if (authenticated.size >= MAX_AUTHENTICATED_HEADERS) {
    const oldest = authenticated.keys().next();
    if (!oldest.done) authenticated.delete(oldest.value);
  }
  authenticated.set(authorization, result);
}

/**
 * Checks an ES256 JWT signature with the key `k`.
 * @returns whether it verifies, or null when `k` is not a point on P-256
 */
function verifySignature(
  publicKey: Uint8Array,
  headerPart: string,
  claimsPart: string,
  signature: Uint8Array,
): boolean | null {
  try {
    const key = createPublicKey({
      key: {
        kty: 'EC',
        crv: 'P-256',
        x: Buffer.from(publicKey.subarray(1, 33)).toString('base64url'),
        y: Buffer.from(publicKey.subarray(33)).toString('base64url'),
      },
      format: 'jwk',
    });
    return (
      signature.byteLength === 64 &&
      verify(
        'sha256',
        Buffer.from(`${headerPart}.${claimsPart}`),
        { key, dsaEncoding: 'ieee-p1363' },
        signature,
      )
    );
  } catch {
    return null;
  }
}

/**
 * Parses a VAPID header and checks its token's signature with its key.
 * @returns the key and claims, or the 401 to answer
 */
function authenticate(authorization: string): Authenticated | VapidResult {
  const params = parseVapidHeader(authorization);
  if (!params) {
    return unauthorized(PushErrorCode.MalformedAuthorization, 'expected "vapid t=<JWT>, k=<key>"');
  }
  const publicKey = decodeBase64Url(params.k, BASE64URL_ONLY);
  if (!isUncompressedPoint(publicKey)) {
    return unauthorized(PushErrorCode.MalformedAuthorization, 'k is not an uncompressed P-256 key');
  }
  const segments = params.t.split('.');
  const [headerPart, claimsPart, signaturePart] = segments;
  if (segments.length !== 3 || !headerPart || !claimsPart || signaturePart === undefined) {
    return unauthorized(PushErrorCode.MalformedAuthorization, 't is not a JWT');
  }
  const header = decodeJson(headerPart);
  const claims = decodeJson(claimsPart);
  const signature = decodeBase64Url(signaturePart, BASE64URL_ONLY);
  if (!header || !claims || !signature) {
    return unauthorized(PushErrorCode.MalformedAuthorization, 't is not a JWT');
  }
  if (header.alg !== 'ES256') {
    return unauthorized(PushErrorCode.MalformedAuthorization, 'JWT alg must be ES256');
  }
  const valid = verifySignature(publicKey, headerPart, claimsPart, signature);
  if (valid === null) {
    // Not a point on the curve.
    return unauthorized(PushErrorCode.MalformedAuthorization, 'k is not a P-256 public key');
  }
  if (!valid) return unauthorized(PushErrorCode.InvalidSignature, 'JWT signature does not verify');
  return { publicKey, claims };
}

/**
 * Verifies a VAPID `Authorization` header for one push request.
 * @param expectation - the header and what it must match
 * @returns `ok` with the sender's key and claims, or the status and error code to answer
 * @remarks A subscription made without an applicationServerKey accepts a request without
 * `Authorization`; if one is sent anyway it must still verify (any key).
 */
export function verifyVapid({
  authorization,
  origin,
  applicationServerKey,
  now,
}: VapidExpectation): VapidResult {
  if (authorization === undefined || authorization.trim() === '') {
    if (applicationServerKey === null) return { ok: true, publicKey: new Uint8Array(), claims: {} };
    return unauthorized(PushErrorCode.MissingAuthorization, 'Authorization header required');
  }
  let known = authenticated.get(authorization);
  if (known === undefined) {
    const result = authenticate(authorization);
    if ('ok' in result) return result;
    known = result;
    remember(authorization, known);
  }
  const { publicKey, claims } = known;

  if (applicationServerKey !== null && !equalBytes(publicKey, applicationServerKey)) {
    return forbidden(PushErrorCode.KeyMismatch, 'k is not the key this subscription was made with');
  }
  if (claims.aud !== origin) {
    return forbidden(PushErrorCode.InvalidAudience, `aud must be ${origin}`);
  }
  const nowSeconds = now / 1000;
  if (
    typeof claims.exp !== 'number' ||
    claims.exp <= nowSeconds ||
    claims.exp > nowSeconds + MAX_VAPID_EXPIRY_SECONDS
  ) {
    return forbidden(PushErrorCode.InvalidExpiry, 'exp must be in the future and at most 24 h');
  }
  return { ok: true, publicKey, claims };
}
