/**
 * Test support: the browser's side of RFC 8291, written from the RFC with plain HMAC-SHA-256
 * (not `hkdfSync`) so that it checks the sender's encryption independently.
 * @packageDocumentation
 */
import { createDecipheriv, createECDH, createHmac, type ECDH, randomBytes } from 'node:crypto';

/** A user agent's push keys: the private half stays here, `keys` go to the server. */
export interface UserAgentKeys {
  ecdh: ECDH;
  authSecret: Buffer;
  keys: { p256dh: string; auth: string };
}

/**
 * Creates a fresh user agent key pair and auth secret, as a browser does on `subscribe()`.
 * @returns the keys
 */
export function createUserAgentKeys(): UserAgentKeys {
  const ecdh = createECDH('prime256v1');
  ecdh.generateKeys();
  const authSecret = randomBytes(16);
  return {
    ecdh,
    authSecret,
    keys: {
      p256dh: ecdh.getPublicKey().toString('base64url'),
      auth: authSecret.toString('base64url'),
    },
  };
}

function hmac(key: Buffer, ...data: Buffer[]): Buffer {
  const h = createHmac('sha256', key);
  for (const part of data) h.update(part);
  return h.digest();
}

const ONE = Buffer.from([0x01]);

/**
 * Decrypts an `aes128gcm` push message body (RFC 8291 section 3.4, RFC 8188 section 2), any
 * number of records.
 * @param body - the HTTP request body
 * @param ua - the user agent's keys
 * @returns the plaintext
 * @throws when the header, padding or authentication tag is wrong
 */
export function decryptPushMessage(
  body: Uint8Array,
  ua: Pick<UserAgentKeys, 'ecdh' | 'authSecret'>,
): Buffer {
  const data = Buffer.from(body);
  const salt = data.subarray(0, 16);
  const rs = data.readUInt32BE(16);
  const idlen = data.readUInt8(20);
  const asPublic = data.subarray(21, 21 + idlen);
  if (idlen !== 65 || rs < 18) throw new Error(`bad header: idlen ${idlen}, rs ${rs}`);
  const uaPublic = ua.ecdh.getPublicKey();
  const ecdhSecret = ua.ecdh.computeSecret(asPublic);

  const prkKey = hmac(ua.authSecret, ecdhSecret);
  const keyInfo = Buffer.concat([Buffer.from('WebPush: info\0'), uaPublic, asPublic]);
  const ikm = hmac(prkKey, keyInfo, ONE);
  const prk = hmac(salt, ikm);
  const cek = hmac(prk, Buffer.from('Content-Encoding: aes128gcm\0'), ONE).subarray(0, 16);
  const baseNonce = hmac(prk, Buffer.from('Content-Encoding: nonce\0'), ONE).subarray(0, 12);

  const records = data.subarray(21 + idlen);
  const out: Buffer[] = [];
  for (let seq = 0, offset = 0; offset < records.length; seq += 1, offset += rs) {
    const record = records.subarray(offset, offset + rs);
    const last = offset + rs >= records.length;
    const nonce = Buffer.from(baseNonce);
    nonce.writeUInt32BE((nonce.readUInt32BE(8) ^ seq) >>> 0, 8);
    const decipher = createDecipheriv('aes-128-gcm', cek, nonce);
    decipher.setAuthTag(record.subarray(record.length - 16));
    const padded = Buffer.concat([
      decipher.update(record.subarray(0, record.length - 16)),
      decipher.final(),
    ]);
    let end = padded.length - 1;
    while (end >= 0 && padded[end] === 0) end -= 1;
    const delimiter = padded[end];
    if (delimiter !== (last ? 0x02 : 0x01)) throw new Error(`bad padding delimiter ${delimiter}`);
    out.push(padded.subarray(0, end));
  }
  return Buffer.concat(out);
}
