import { createPublicKey, sign, verify } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import webpush from 'web-push';
import { generateVapidKeys, importVapidKeys, VapidKeyError } from './vapid.js';

const subject = 'mailto:ops@example.com';

function codeOf(run: () => unknown): string | undefined {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(VapidKeyError);
    return (error as VapidKeyError).code;
  }
  return undefined;
}

describe('generateVapidKeys', () => {
  it('makes a 65-byte uncompressed P-256 point and a 32-byte scalar, base64url without padding', () => {
    const keys = generateVapidKeys();
    const point = Buffer.from(keys.publicKey, 'base64url');
    const scalar = Buffer.from(keys.privateKey, 'base64url');

    expect(keys.publicKey).toMatch(/^[A-Za-z0-9_-]{87}$/);
    expect(keys.privateKey).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(point.length).toBe(65);
    expect(point[0]).toBe(0x04);
    expect(scalar.length).toBe(32);
  });

  it('makes pairs that sign and verify together', () => {
    const keys = generateVapidKeys();
    const imported = importVapidKeys({ subject, ...keys });
    const signature = sign('sha256', Buffer.from('x'), imported.privateKey);
    const point = Buffer.from(keys.publicKey, 'base64url');
    const publicKey = createPublicKey({
      key: {
        kty: 'EC',
        crv: 'P-256',
        x: point.subarray(1, 33).toString('base64url'),
        y: point.subarray(33).toString('base64url'),
      },
      format: 'jwk',
    });
    expect(verify('sha256', Buffer.from('x'), publicKey, signature)).toBe(true);
  });

  it('makes a new pair on every call', () => {
    expect(generateVapidKeys().privateKey).not.toBe(generateVapidKeys().privateKey);
  });
});

describe('importVapidKeys', () => {
  const keys = generateVapidKeys();

  it('accepts keys made by web-push', () => {
    const theirs = webpush.generateVAPIDKeys();
    expect(importVapidKeys({ subject, ...theirs }).publicKey).toBe(theirs.publicKey);
  });

  it('accepts an https subject and padded keys, and returns the key without padding', () => {
    const imported = importVapidKeys({
      subject: 'https://example.com/contact',
      publicKey: `${keys.publicKey}=`,
      privateKey: `${keys.privateKey}=`,
    });
    expect(imported.publicKey).toBe(keys.publicKey);
    expect(imported.subject).toBe('https://example.com/contact');
  });

  it.each([
    [
      'a 64-byte public key',
      { publicKey: Buffer.alloc(64, 4).toString('base64url') },
      'VAPID_INVALID_KEY',
    ],
    [
      'a compressed public key',
      { publicKey: Buffer.alloc(33, 2).toString('base64url') },
      'VAPID_INVALID_KEY',
    ],
    [
      'a public point off the curve',
      {
        publicKey: Buffer.concat([Buffer.from([4]), Buffer.alloc(64, 7)]).toString('base64url'),
      },
      'VAPID_INVALID_KEY',
    ],
    [
      'a 31-byte private key',
      { privateKey: Buffer.alloc(31, 1).toString('base64url') },
      'VAPID_INVALID_KEY',
    ],
    [
      'a zero private key',
      { privateKey: Buffer.alloc(32).toString('base64url') },
      'VAPID_INVALID_KEY',
    ],
    [
      'a private key of another pair',
      { privateKey: generateVapidKeys().privateKey },
      'VAPID_INVALID_KEY',
    ],
    [
      // `!` is in no base64 alphabet. (A `/` would be read as plain base64's 63, and when the
      // last digit's four data bits were 1111 already, the key decoded unchanged.)
      'a private key that is not base64url',
      { privateKey: `${keys.privateKey.slice(0, -1)}!` },
      'VAPID_INVALID_KEY',
    ],
    ['an http subject', { subject: 'http://example.com' }, 'VAPID_INVALID_SUBJECT'],
    ['a bare address subject', { subject: 'ops@example.com' }, 'VAPID_INVALID_SUBJECT'],
    ['an empty mailto subject', { subject: 'mailto:' }, 'VAPID_INVALID_SUBJECT'],
  ])('rejects %s with a VapidKeyError', (_name, change, code) => {
    expect(codeOf(() => importVapidKeys({ subject, ...keys, ...change }))).toBe(code);
  });

  it('never puts the private key in the error message', () => {
    const other = generateVapidKeys();
    try {
      importVapidKeys({ subject, publicKey: keys.publicKey, privateKey: other.privateKey });
      expect.unreachable();
    } catch (error) {
      expect((error as Error).message).not.toContain(other.privateKey);
      expect((error as Error).message).toBe(
        'VAPID private key does not belong to the VAPID public key',
      );
    }
  });
});
