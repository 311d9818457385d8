import { createPublicKey, verify } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { generateVapidKeys, importVapidKeys } from '../vapid.js';
import { createVapidAuth } from './jwt.js';

const HOUR = 3_600_000;
const keys = generateVapidKeys();
const vapid = { subject: 'mailto:ops@example.com', ...keys };

function parseHeader(header: string) {
  const match = /^vapid t=([^,]+), k=(.+)$/.exec(header);
  if (match === null) throw new Error(`not a VAPID header: ${header}`);
  const [, token = '', k = ''] = match;
  const [head = '', claims = '', signature = ''] = token.split('.');
  return {
    token,
    k,
    head: JSON.parse(Buffer.from(head, 'base64url').toString()) as unknown,
    claims: JSON.parse(Buffer.from(claims, 'base64url').toString()) as unknown,
    signingInput: Buffer.from(`${head}.${claims}`),
    signature: Buffer.from(signature, 'base64url'),
  };
}

function verifies(signingInput: Buffer, signature: Buffer): boolean {
  const point = Buffer.from(keys.publicKey, 'base64url');
  const key = createPublicKey({
    key: {
      kty: 'EC',
      crv: 'P-256',
      x: point.subarray(1, 33).toString('base64url'),
      y: point.subarray(33).toString('base64url'),
    },
    format: 'jwk',
  });
  return verify('sha256', signingInput, { key, dsaEncoding: 'ieee-p1363' }, signature);
}

describe('createVapidAuth (RFC 8292)', () => {
  const start = 1_700_000_000_000;

  it('signs an ES256 JWT with aud, exp 12 h ahead and sub, verifiable with the public key', () => {
    const auth = createVapidAuth({ vapid, now: () => start });
    const parsed = parseHeader(auth.authorization('https://fcm.googleapis.com'));

    expect(parsed.k).toBe(keys.publicKey);
    expect(parsed.head).toEqual({ typ: 'JWT', alg: 'ES256' });
    expect(parsed.claims).toEqual({
      aud: 'https://fcm.googleapis.com',
      exp: start / 1000 + 12 * 3600,
      sub: 'mailto:ops@example.com',
    });
    expect(parsed.signature.length).toBe(64);
    expect(verifies(parsed.signingInput, parsed.signature)).toBe(true);
    const tampered = Buffer.concat([parsed.signingInput, Buffer.from('x')]);
    expect(verifies(tampered, parsed.signature)).toBe(false);
  });

  it('accepts already imported keys', () => {
    const auth = createVapidAuth({ vapid: importVapidKeys(vapid), now: () => start });
    const parsed = parseHeader(auth.authorization('https://web.push.apple.com'));
    expect(verifies(parsed.signingInput, parsed.signature)).toBe(true);
  });

  it('reuses one token per origin and signs a different one for another origin', () => {
    const auth = createVapidAuth({ vapid, now: () => start });
    const fcm = auth.authorization('https://fcm.googleapis.com');
    const mozilla = auth.authorization('https://updates.push.services.mozilla.com');

    expect(auth.authorization('https://fcm.googleapis.com')).toBe(fcm);
    expect(mozilla).not.toBe(fcm);
    expect(parseHeader(mozilla).claims).toMatchObject({
      aud: 'https://updates.push.services.mozilla.com',
    });
  });

  it('keeps the token while at least 1 h is left and replaces it after', () => {
    let now = start;
    const auth = createVapidAuth({ vapid, now: () => now });
    const first = auth.authorization('https://fcm.googleapis.com');

    now = start + 11 * HOUR; // exactly 1 h left
    expect(auth.authorization('https://fcm.googleapis.com')).toBe(first);

    now = start + 11 * HOUR + 1_000;
    const second = auth.authorization('https://fcm.googleapis.com');
    expect(second).not.toBe(first);
    expect(parseHeader(second).claims).toMatchObject({ exp: start / 1000 + 23 * 3600 + 1 });
    expect(auth.authorization('https://fcm.googleapis.com')).toBe(second);
  });

  it('keeps at most maxOrigins tokens', () => {
    const auth = createVapidAuth({ vapid, now: () => start, maxOrigins: 2 });
    const a = auth.authorization('https://a.push.apple.com');
    auth.authorization('https://b.push.apple.com');
    const b = auth.authorization('https://b.push.apple.com');
    auth.authorization('https://c.push.apple.com');

    expect(auth.authorization('https://b.push.apple.com')).toBe(b);
    // ECDSA signatures are randomized: a re-signed token differs.
    expect(auth.authorization('https://a.push.apple.com')).not.toBe(a);
  });
});
