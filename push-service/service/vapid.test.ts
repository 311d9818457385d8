import { describe, expect, it } from 'vitest';
import { decodeBase64Url } from '../../protocol/base64url.js';
import { PushErrorCode } from './errors.js';
import { signVapid, vapidKeys } from './test-helpers.js';
import { parseVapidHeader, verifyVapid } from './vapid.js';

const origin = 'http://127.0.0.1:1234';
const keys = vapidKeys();
const key = decodeBase64Url(keys.publicKey);
const now = Date.UTC(2030, 0, 1);
const inAnHour = now / 1000 + 3600;

const check = (authorization: string | undefined, applicationServerKey = key) =>
  verifyVapid({ authorization, origin, applicationServerKey, now });

describe('parseVapidHeader', () => {
  it('reads t and k in any order, any case of the scheme, with padding and quotes', () => {
    expect(parseVapidHeader('vapid t=a.b.c, k=BBB=')).toEqual({ t: 'a.b.c', k: 'BBB=' });
    expect(parseVapidHeader('VAPID k="BBB",t=a.b.c')).toEqual({ t: 'a.b.c', k: 'BBB' });
  });

  it('refuses another scheme or a missing parameter', () => {
    expect(parseVapidHeader('WebPush a.b.c')).toBeNull();
    expect(parseVapidHeader('vapid t=a.b.c')).toBeNull();
    expect(parseVapidHeader('vapid t')).toBeNull();
  });
});

describe('verifyVapid', () => {
  it('accepts a token signed by the subscription key for this origin', () => {
    const result = check(signVapid({ aud: origin, exp: inAnHour, keys }));
    expect(result).toMatchObject({ ok: true, claims: { aud: origin, exp: inAnHour } });
  });

  it('checks the claims of a reused token on every request, after its signature verified once', () => {
    const token = signVapid({ aud: origin, exp: inAnHour, keys });
    expect(check(token).ok).toBe(true);
    expect(check(token).ok).toBe(true);
    // The same text later: expired now, whatever was verified before.
    expect(
      verifyVapid({
        authorization: token,
        origin,
        applicationServerKey: key,
        now: now + 7_200_000,
      }),
    ).toMatchObject({
      status: 403,
      error: PushErrorCode.InvalidExpiry,
    });
    // For another subscription's key, or another origin, it is still refused.
    expect(check(token, decodeBase64Url(vapidKeys().publicKey))).toMatchObject({ status: 403 });
    expect(
      verifyVapid({
        authorization: token,
        origin: 'http://127.0.0.1:9',
        applicationServerKey: key,
        now,
      }),
    ).toMatchObject({ status: 403, error: PushErrorCode.InvalidAudience });
    // A signature altered by one character is checked, not taken from the verified one.
    const signature = /t=[^.]+\.[^.]+\.([^,]+),/.exec(token)?.[1] ?? '';
    const altered = signature.startsWith('A') ? `B${signature.slice(1)}` : `A${signature.slice(1)}`;
    expect(check(token.replace(signature, altered))).toMatchObject({
      status: 401,
      error: PushErrorCode.InvalidSignature,
    });
  });

  it('accepts no Authorization for a subscription made without a key', () => {
    expect(check(undefined, null).ok).toBe(true);
  });

  it('accepts a token of any key for a subscription made without a key', () => {
    const other = vapidKeys();
    expect(check(signVapid({ aud: origin, exp: inAnHour, keys: other }), null).ok).toBe(true);
  });

  it('answers 401 for a token that is not ES256 or whose signature is DER-encoded', () => {
    const good = signVapid({ aud: origin, exp: inAnHour, keys });
    const [, token = '', k = ''] = /t=([^,]+), k=(.+)/.exec(good) ?? [];
    const [, claims, signature = ''] = token.split('.');
    const hs256 = Buffer.from(JSON.stringify({ typ: 'JWT', alg: 'HS256' })).toString('base64url');
    expect(check(`vapid t=${hs256}.${claims}.${signature}, k=${k}`)).toMatchObject({
      status: 401,
      error: PushErrorCode.MalformedAuthorization,
    });
    const shortened = signature.slice(0, -4);
    expect(check(good.replace(signature, shortened))).toMatchObject({
      status: 401,
      error: PushErrorCode.InvalidSignature,
    });
  });

  it('answers 401 for a k that is not a point on P-256', () => {
    const bogus = Buffer.alloc(65, 1);
    bogus[0] = 0x04;
    const header = signVapid({ aud: origin, exp: inAnHour, keys, k: bogus.toString('base64url') });
    expect(check(header)).toMatchObject({ status: 401 });
  });

  it('answers 403 for an exp exactly 24 hours ahead plus one second, and accepts exactly 24 hours', () => {
    const limit = now / 1000 + 24 * 3600;
    expect(check(signVapid({ aud: origin, exp: limit, keys })).ok).toBe(true);
    expect(check(signVapid({ aud: origin, exp: limit + 1, keys }))).toMatchObject({
      status: 403,
      error: PushErrorCode.InvalidExpiry,
    });
  });

  it('answers 403 when aud differs only by a trailing slash', () => {
    expect(check(signVapid({ aud: `${origin}/`, exp: inAnHour, keys }))).toMatchObject({
      status: 403,
      error: PushErrorCode.InvalidAudience,
    });
  });
});
