/**
 * The per-message work of RFC 8291 (`aes128gcm`, one record), written once for both threads:
 * the event loop calls it directly, and the encryption workers run its source text.
 *
 * Everything here must stay self-contained: a function may use its parameters, its own locals
 * and JavaScript/Node globals (`Buffer`), never an import or a module-level name, because the
 * worker receives `createEncryptor.toString()`, not this module.
 * @packageDocumentation
 */
import type * as NodeCrypto from 'node:crypto';

/** The `node:crypto` functions the kernel uses, passed in so the kernel imports nothing. */
export type EncryptorCrypto = Pick<
  typeof NodeCrypto,
  'createECDH' | 'createHmac' | 'createCipheriv' | 'randomFillSync'
>;

/**
 * Encrypts one message into `out` at `offset`.
 * @param uaPublic - the subscription's 65-byte P-256 point
 * @param authSecret - the subscription's 16-byte secret
 * @param plaintext - at most 3993 bytes
 * @param out - receives header and record: `86 + plaintext.byteLength + 17` bytes
 * @param offset - where in `out`
 * @param salt - fixed salt, for test vectors only
 * @param ephemeralPrivateKey - fixed ephemeral key, for test vectors only
 * @returns the bytes written
 */
export type EncryptInto = (
  uaPublic: Uint8Array,
  authSecret: Uint8Array,
  plaintext: Uint8Array,
  out: Buffer,
  offset: number,
  salt?: Uint8Array,
  ephemeralPrivateKey?: Uint8Array,
) => number;

/**
 * Creates an encryptor with its own reusable scratch buffers.
 * @param crypto - `node:crypto` (or the subset {@link EncryptorCrypto})
 * @returns the encrypt function; synchronous and not reentrant, so one per thread
 * @remarks Per message this costs the two P-256 scalar multiplications (key generation and
 * ECDH), five HMAC-SHA-256 and one AES-128-GCM pass, and allocates little beyond what
 * `node:crypto` returns:
 * - one `ECDH` object is reused: `generateKeys()` replaces its key pair each time;
 * - HKDF is spelled out as its HMACs (RFC 5869): `hkdfSync` measured about 29 µs a call here
 *   against 7 µs per HMAC, and RFC 8291 needs only one output block per step;
 * - salts come 16 bytes at a time from a 4 KiB block filled by one `randomFillSync` per 256
 *   messages;
 * - `key_info` and the HKDF info strings live in buffers written in place;
 * - the plaintext and its 0x02 delimiter are copied into `out` and encrypted in one
 *   `update`, whose result is copied back over them.
 */
export function createEncryptor(crypto: EncryptorCrypto): EncryptInto {
  const ecdh = crypto.createECDH('prime256v1');
  // "WebPush: info" 0x00 || ua_public(65) || as_public(65) || 0x01 (the HKDF expand counter).
  const keyInfo = Buffer.alloc(14 + 65 + 65 + 1);
  keyInfo.write('WebPush: info\0', 0, 'latin1');
  keyInfo[144] = 1;
  const cekInfo = Buffer.from('Content-Encoding: aes128gcm\0\x01', 'latin1');
  const nonceInfo = Buffer.from('Content-Encoding: nonce\0\x01', 'latin1');
  const salts = Buffer.allocUnsafe(4096);
  let saltAt = salts.length;
  const salt = Buffer.allocUnsafe(16);

  return function encryptInto(
    uaPublic,
    authSecret,
    plaintext,
    out,
    offset,
    fixedSalt,
    ephemeralPrivateKey,
  ) {
    let asPublic: Buffer;
    if (ephemeralPrivateKey === undefined) {
      asPublic = ecdh.generateKeys();
    } else {
      ecdh.setPrivateKey(ephemeralPrivateKey);
      asPublic = ecdh.getPublicKey();
    }
    const ecdhSecret = ecdh.computeSecret(uaPublic);
    if (fixedSalt === undefined) {
      if (saltAt === salts.length) {
        crypto.randomFillSync(salts);
        saltAt = 0;
      }
      salts.copy(salt, 0, saltAt, saltAt + 16);
      saltAt += 16;
    } else {
      salt.set(fixedSalt);
    }
    keyInfo.set(uaPublic, 14);
    keyInfo.set(asPublic, 79);

    // RFC 8291 section 3.4 with HKDF (RFC 5869) written out: extract is HMAC(salt, ikm),
    // expand of at most 32 bytes is HMAC(prk, info || 0x01).
    const prkKey = crypto.createHmac('sha256', authSecret).update(ecdhSecret).digest();
    const ikm = crypto.createHmac('sha256', prkKey).update(keyInfo).digest();
    const prk = crypto.createHmac('sha256', salt).update(ikm).digest();
    const cek = crypto.createHmac('sha256', prk).update(cekInfo).digest();
    const nonce = crypto.createHmac('sha256', prk).update(nonceInfo).digest();

    // Header (RFC 8188 section 2.1): salt(16) || rs(4) = 4096 || idlen(1) = 65 || keyid(65).
    salt.copy(out, offset);
    out.writeUInt32BE(4096, offset + 16);
    out[offset + 20] = 65;
    asPublic.copy(out, offset + 21);

    const record = offset + 86;
    const padded = plaintext.byteLength + 1;
    out.set(plaintext, record);
    // 0x02 ends the padding of the last (here: only) record.
    out[record + plaintext.byteLength] = 2;
    const cipher = crypto.createCipheriv('aes-128-gcm', cek.subarray(0, 16), nonce.subarray(0, 12));
    cipher.update(out.subarray(record, record + padded)).copy(out, record);
    cipher.final();
    cipher.getAuthTag().copy(out, record + padded);
    return 86 + padded + 16;
  };
}
