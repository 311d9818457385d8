import { createECDH } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import webpush from 'web-push';
import { MAX_PUSH_PLAINTEXT_BYTES } from '../../protocol/index.js';
import {
  createSubscriptionKeyCache,
  encryptPushMessage,
  parseSubscriptionKeys,
  RECORD_SIZE,
} from './encrypt.js';
import { InvalidSubscriptionKeysError, PushPayloadTooLargeError } from './errors.js';
import { createUserAgentKeys, decryptPushMessage } from './test-support.js';

const b64 = (text: string) => Buffer.from(text, 'base64url');

// RFC 8291 Appendix A.
const RFC = {
  plaintext: 'When I grow up, I want to be a watermelon',
  asPrivate: 'yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw',
  uaPublic:
    'BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4',
  uaPrivate: 'q1dXpw3UpT5VOmu_cf_v6ih07Aems3njxI-JWgLcM94',
  salt: 'DGv6ra1nlYgDCS1FRnbzlw',
  auth: 'BTBZMqHH6r4Tts7J_aSIgg',
  body:
    'DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6Tlz' +
    'AC8wEqKK6PBru3jl7A_yl95bQpu6cVPTpK4Mqgkf1CXztLVBSt2Ks3oZwbuwXPXLWyouBWLVWGNWQexSgSxsj_Qulcy4a-fN',
};

describe('encryptPushMessage (RFC 8291 aes128gcm)', () => {
  it('reproduces the RFC 8291 Appendix A body byte for byte', () => {
    const keys = parseSubscriptionKeys({ p256dh: RFC.uaPublic, auth: RFC.auth });
    const body = encryptPushMessage(keys, Buffer.from(RFC.plaintext), {
      salt: b64(RFC.salt),
      ephemeralPrivateKey: b64(RFC.asPrivate),
    });
    expect(body.toString('base64url')).toBe(RFC.body);

    const ecdh = createECDH('prime256v1');
    ecdh.setPrivateKey(b64(RFC.uaPrivate));
    expect(decryptPushMessage(body, { ecdh, authSecret: b64(RFC.auth) }).toString()).toBe(
      RFC.plaintext,
    );
  });

  it.each([0, 1, 100, MAX_PUSH_PLAINTEXT_BYTES])(
    'round-trips %i bytes through an independent decryptor in one 4096-byte-record message',
    (size) => {
      const ua = createUserAgentKeys();
      const plaintext = Buffer.alloc(size);
      for (let i = 0; i < size; i += 1) plaintext[i] = (i * 31 + 7) & 0xff;
      const body = encryptPushMessage(parseSubscriptionKeys(ua.keys), plaintext);

      expect(body.length).toBe(86 + size + 1 + 16);
      expect(body.readUInt32BE(16)).toBe(RECORD_SIZE);
      expect(body[20]).toBe(65);
      expect(decryptPushMessage(body, ua).equals(plaintext)).toBe(true);
    },
  );

  it('the largest plaintext makes a body of exactly 4096 bytes', () => {
    const ua = createUserAgentKeys();
    const body = encryptPushMessage(
      parseSubscriptionKeys(ua.keys),
      Buffer.alloc(MAX_PUSH_PLAINTEXT_BYTES, 1),
    );
    expect(body.length).toBe(4096);
  });

  it('uses a fresh salt and ephemeral key for every message', () => {
    const ua = createUserAgentKeys();
    const keys = parseSubscriptionKeys(ua.keys);
    const a = encryptPushMessage(keys, Buffer.from('same'));
    const b = encryptPushMessage(keys, Buffer.from('same'));
    expect(a.subarray(0, 16).equals(b.subarray(0, 16))).toBe(false);
    expect(a.subarray(21, 86).equals(b.subarray(21, 86))).toBe(false);
    expect(decryptPushMessage(a, ua).toString()).toBe('same');
    expect(decryptPushMessage(b, ua).toString()).toBe('same');
  });

  it('refuses plaintext over 3993 bytes with PushPayloadTooLargeError', () => {
    const keys = parseSubscriptionKeys(createUserAgentKeys().keys);
    let caught: unknown;
    try {
      encryptPushMessage(keys, Buffer.alloc(MAX_PUSH_PLAINTEXT_BYTES + 1));
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(PushPayloadTooLargeError);
    expect(caught).toMatchObject({
      name: 'PushPayloadTooLargeError',
      code: 'PUSH_PAYLOAD_TOO_LARGE',
      size: 3994,
      limit: 3993,
    });
  });

  it('web-push bodies and ours both decrypt with the same independent decryptor', () => {
    const ua = createUserAgentKeys();
    const plaintext = Buffer.from(JSON.stringify({ v: 1, id: 'r:1', seq: 1, type: 'next' }));
    const subscription = { endpoint: 'https://fcm.googleapis.com/fcm/send/x', keys: ua.keys };
    const vapidKeys = webpush.generateVAPIDKeys();
    const details = webpush.generateRequestDetails(subscription, plaintext, {
      vapidDetails: { subject: 'mailto:ops@example.com', ...vapidKeys },
      contentEncoding: 'aes128gcm',
    });
    const theirs = webpush.encrypt(ua.keys.p256dh, ua.keys.auth, plaintext, 'aes128gcm');
    const ours = encryptPushMessage(parseSubscriptionKeys(ua.keys), plaintext);

    expect(decryptPushMessage(details.body as Buffer, ua).equals(plaintext)).toBe(true);
    expect(decryptPushMessage(theirs.cipherText, ua).equals(plaintext)).toBe(true);
    expect(decryptPushMessage(ours, ua).equals(plaintext)).toBe(true);
    // Same layout: 86-byte header, rs 4096, one record.
    expect(ours.length).toBe(theirs.cipherText.length);
    expect(ours.readUInt32BE(16)).toBe(theirs.cipherText.readUInt32BE(16));
  });
});

describe('parseSubscriptionKeys', () => {
  const good = createUserAgentKeys().keys;
  const offCurve = Buffer.concat([Buffer.from([4]), Buffer.alloc(32, 1), Buffer.alloc(32, 2)]);

  it.each([
    ['p256dh of 64 bytes', { ...good, p256dh: Buffer.alloc(64, 4).toString('base64url') }],
    ['compressed p256dh', { ...good, p256dh: Buffer.alloc(33, 2).toString('base64url') }],
    ['p256dh off the curve', { ...good, p256dh: offCurve.toString('base64url') }],
    ['p256dh with a character outside both alphabets', { ...good, p256dh: `${good.p256dh}.` }],
    ['auth of 15 bytes', { ...good, auth: Buffer.alloc(15).toString('base64url') }],
    ['auth of 17 bytes', { ...good, auth: Buffer.alloc(17).toString('base64url') }],
    ['missing auth', { p256dh: good.p256dh } as { p256dh: string; auth: string }],
  ])('rejects %s with InvalidSubscriptionKeysError', (_name, keys) => {
    expect(() => parseSubscriptionKeys(keys)).toThrow(InvalidSubscriptionKeysError);
  });

  it('reads keys in plain base64 as the same keys, as the protocol does', () => {
    // The RFC 8291 keys have `-` and `_`, so their plain base64 forms have `+` and `/`.
    const plain = {
      p256dh: b64(RFC.uaPublic).toString('base64'),
      auth: b64(RFC.auth).toString('base64'),
    };
    expect(plain.p256dh).toMatch(/[+/]/);
    expect(parseSubscriptionKeys(plain)).toEqual(
      parseSubscriptionKeys({ p256dh: RFC.uaPublic, auth: RFC.auth }),
    );
  });

  it('accepts keys with = padding', () => {
    const ua = createUserAgentKeys();
    const padded = { p256dh: `${ua.keys.p256dh}=`, auth: `${ua.keys.auth}==` };
    const body = encryptPushMessage(parseSubscriptionKeys(padded), Buffer.from('hi'));
    expect(decryptPushMessage(body, ua).toString()).toBe('hi');
  });
});

describe('createSubscriptionKeyCache', () => {
  it('parses each subscription once and returns the same parsed keys after', () => {
    const cache = createSubscriptionKeyCache();
    const { keys } = createUserAgentKeys();
    const first = cache.get(keys);
    expect(cache.get({ ...keys })).toBe(first);
    expect(cache.size).toBe(1);
  });

  it('keeps at most maxEntries, dropping the least recently used', () => {
    const cache = createSubscriptionKeyCache({ maxEntries: 2 });
    const [a, b, c] = [
      createUserAgentKeys().keys,
      createUserAgentKeys().keys,
      createUserAgentKeys().keys,
    ];
    const parsedA = cache.get(a);
    const parsedB = cache.get(b);
    cache.get(a);
    cache.get(c);
    expect(cache.size).toBe(2);
    expect(cache.get(a)).toBe(parsedA);
    expect(cache.get(b)).not.toBe(parsedB);
  });

  it('follows a keys object whose fields change', () => {
    const cache = createSubscriptionKeyCache();
    const [first, second] = [createUserAgentKeys().keys, createUserAgentKeys().keys];
    const keys = { ...first };
    const parsedFirst = cache.get(keys);
    Object.assign(keys, second);
    expect(cache.get(keys)).toEqual(cache.get({ ...second }));
    expect(cache.get(keys)).not.toEqual(parsedFirst);
    expect(cache.get({ ...first })).toBe(parsedFirst);
  });

  it('does not cache malformed keys', () => {
    const cache = createSubscriptionKeyCache();
    expect(() => cache.get({ p256dh: 'AAAA', auth: 'AAAA' })).toThrow(InvalidSubscriptionKeysError);
    expect(cache.size).toBe(0);
  });
});
