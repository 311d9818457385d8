import { createCipheriv, createECDH, hkdfSync, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import webpush from 'web-push';
import { DecryptErrorCode, decrypt, type PushKeys } from './decrypt.js';

const makeKeys = (): PushKeys => {
  const ecdh = createECDH('prime256v1');
  ecdh.generateKeys();
  return {
    privateKey: new Uint8Array(ecdh.getPrivateKey()),
    publicKey: new Uint8Array(ecdh.getPublicKey()),
    auth: new Uint8Array(randomBytes(16)),
  };
};

const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64url');

/** What web-push sends for `payload` to a subscription with `keys`. */
const encryptWithWebPush = (keys: PushKeys, payload: string | Buffer) =>
  new Uint8Array(
    webpush.encrypt(b64(keys.publicKey), b64(keys.auth), payload, 'aes128gcm').cipherText,
  );

/**
 * Builds one aes128gcm record from an already padded plaintext, to check padding handling that
 * web-push never produces.
 */
const encryptRecord = (keys: PushKeys, padded: Buffer, recordSize = 4096) => {
  const sender = createECDH('prime256v1');
  const senderPublic = sender.generateKeys();
  const salt = randomBytes(16);
  const secret = sender.computeSecret(keys.publicKey);
  const info = Buffer.concat([Buffer.from('WebPush: info\0'), keys.publicKey, senderPublic]);
  const ikm = Buffer.from(hkdfSync('sha256', secret, keys.auth, info, 32));
  const cek = Buffer.from(hkdfSync('sha256', ikm, salt, 'Content-Encoding: aes128gcm\0', 16));
  const nonce = Buffer.from(hkdfSync('sha256', ikm, salt, 'Content-Encoding: nonce\0', 12));
  const cipher = createCipheriv('aes-128-gcm', cek, nonce);
  const ciphertext = Buffer.concat([cipher.update(padded), cipher.final(), cipher.getAuthTag()]);
  const header = Buffer.alloc(21);
  salt.copy(header);
  header.writeUInt32BE(recordSize, 16);
  header.writeUInt8(65, 20);
  return new Uint8Array(Buffer.concat([header, senderPublic, ciphertext]));
};

describe('decrypt (RFC 8291)', () => {
  it('returns exactly the bytes web-push encrypted, up to the 3993-byte maximum', () => {
    const keys = makeKeys();
    for (const size of [1, 100, 3993]) {
      const payload = randomBytes(size);
      expect(Buffer.from(decrypt(encryptWithWebPush(keys, payload), keys)).equals(payload)).toBe(
        true,
      );
    }
  });

  it('strips padding zeros after the 0x02 delimiter', () => {
    const keys = makeKeys();
    const body = encryptRecord(keys, Buffer.from('hi\u0002\0\0\0\0'));
    expect(Buffer.from(decrypt(body, keys)).toString()).toBe('hi');
  });

  it('refuses a record without the last-record delimiter', () => {
    const keys = makeKeys();
    expect(() => decrypt(encryptRecord(keys, Buffer.from('hi\u0001')), keys)).toThrow(
      expect.objectContaining({ name: 'DecryptError', code: DecryptErrorCode.BadPadding }),
    );
  });

  it('refuses a message for other keys, or with one byte changed, as BAD_TAG', () => {
    const keys = makeKeys();
    const body = encryptWithWebPush(keys, 'secret');
    expect(() => decrypt(body, { ...keys, auth: new Uint8Array(16) })).toThrow(
      expect.objectContaining({ code: DecryptErrorCode.BadTag }),
    );
    const corrupted = body.slice();
    corrupted[corrupted.length - 1] = (corrupted.at(-1) ?? 0) ^ 1;
    expect(() => decrypt(corrupted, keys)).toThrow(
      expect.objectContaining({ code: DecryptErrorCode.BadTag }),
    );
  });

  it('refuses what web-push makes of more than one record (a 5000-byte payload)', () => {
    const keys = makeKeys();
    expect(() => decrypt(encryptWithWebPush(keys, randomBytes(5000)), keys)).toThrow(
      expect.objectContaining({ code: DecryptErrorCode.MultipleRecords }),
    );
  });

  it('refuses a short or inconsistent header, and a keyid that is not a P-256 key', () => {
    const keys = makeKeys();
    expect(() => decrypt(new Uint8Array(20), keys)).toThrow(
      expect.objectContaining({ code: DecryptErrorCode.BadHeader }),
    );
    const body = encryptWithWebPush(keys, 'x');
    const truncated = body.slice(0, 40);
    expect(() => decrypt(truncated, keys)).toThrow(
      expect.objectContaining({ code: DecryptErrorCode.BadHeader }),
    );
    const notAKey = body.slice();
    notAKey.fill(0x04, 21, 21 + 65);
    expect(() => decrypt(notAKey, keys)).toThrow(
      expect.objectContaining({ code: DecryptErrorCode.BadKeyId }),
    );
  });
});
