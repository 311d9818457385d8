/**
 * The wire format between the event loop and an encryption worker: a batch of jobs packed into
 * one `ArrayBuffer` each way, transferred rather than copied.
 *
 * Input: `count(u32)`, then per job `flags(u8) || ua_public(65) || auth(16) || length(u16)`,
 * `salt(16) || ephemeral private key(32)` when flag 1 is set (test vectors), then the plaintext.
 * Output: the bodies back to back; each is `86 + length + 17` bytes, so it needs no index.
 * @packageDocumentation
 */

import type { EncryptionEntropy, ParsedSubscriptionKeys } from './encrypt.js';
import type { EncryptInto } from './encrypt-kernel.js';

/** One message to encrypt. */
export interface EncryptionJob {
  /** The subscription's parsed keys. */
  readonly keys: ParsedSubscriptionKeys;
  /** At most `MAX_PUSH_PLAINTEXT_BYTES` (3993) bytes. */
  readonly plaintext: Uint8Array;
  /** Fixed salt and ephemeral key, for test vectors only: never in production. */
  readonly entropy?: EncryptionEntropy;
}

const JOB_HEADER_BYTES = 1 + 65 + 16 + 2;
const ENTROPY_BYTES = 16 + 32;

/**
 * Size of the `aes128gcm` body for a plaintext.
 * @param plaintextBytes - plaintext length
 * @returns header (86) + plaintext + delimiter (1) + tag (16)
 */
export function bodyBytes(plaintextBytes: number): number {
  return 86 + plaintextBytes + 17;
}

/**
 * Packs jobs for a worker.
 * @param jobs - the batch
 * @returns one buffer to transfer
 */
export function packBatch(jobs: readonly EncryptionJob[]): ArrayBuffer {
  let size = 4;
  for (const job of jobs) {
    size += JOB_HEADER_BYTES + job.plaintext.byteLength;
    if (job.entropy !== undefined) size += ENTROPY_BYTES;
  }
  const input = new ArrayBuffer(size);
  const bytes = Buffer.from(input);
  bytes.writeUInt32LE(jobs.length, 0);
  let at = 4;
  for (const job of jobs) {
    bytes[at] = job.entropy === undefined ? 0 : 1;
    bytes.set(job.keys.uaPublic, at + 1);
    bytes.set(job.keys.authSecret, at + 66);
    bytes.writeUInt16LE(job.plaintext.byteLength, at + 82);
    at += JOB_HEADER_BYTES;
    if (job.entropy !== undefined) {
      bytes.set(job.entropy.salt, at);
      bytes.set(job.entropy.ephemeralPrivateKey, at + 16);
      at += ENTROPY_BYTES;
    }
    bytes.set(job.plaintext, at);
    at += job.plaintext.byteLength;
  }
  return input;
}

/**
 * Encrypts a packed batch (runs in the worker; self-contained like the kernel, see
 * `encrypt-kernel.ts`).
 * @param encryptInto - the worker's encryptor
 * @param input - a buffer from {@link packBatch}
 * @returns the bodies back to back, in a new buffer to transfer
 */
export function encryptPackedBatch(encryptInto: EncryptInto, input: ArrayBuffer): ArrayBuffer {
  const bytes = Buffer.from(input);
  const count = bytes.readUInt32LE(0);
  // First pass: the output's size, so it is allocated once.
  let size = 0;
  for (let i = 0, at = 4; i < count; i += 1) {
    const length = bytes.readUInt16LE(at + 82);
    at += 84 + (bytes[at] === 1 ? 48 : 0) + length;
    size += 86 + length + 17;
  }
  const output = new ArrayBuffer(size);
  const out = Buffer.from(output);
  for (let i = 0, at = 4, written = 0; i < count; i += 1) {
    const fixed = bytes[at] === 1;
    const uaPublic = bytes.subarray(at + 1, at + 66);
    const authSecret = bytes.subarray(at + 66, at + 82);
    const length = bytes.readUInt16LE(at + 82);
    at += 84;
    let salt: Buffer | undefined;
    let ephemeralPrivateKey: Buffer | undefined;
    if (fixed) {
      salt = bytes.subarray(at, at + 16);
      ephemeralPrivateKey = bytes.subarray(at + 16, at + 48);
      at += 48;
    }
    const plaintext = bytes.subarray(at, at + length);
    at += length;
    written += encryptInto(
      uaPublic,
      authSecret,
      plaintext,
      out,
      written,
      salt,
      ephemeralPrivateKey,
    );
  }
  return output;
}

/**
 * Splits a worker's output into one body per job, as views (no copy).
 * @param jobs - the batch, in the order packed
 * @param output - the worker's answer
 * @returns the bodies
 */
export function unpackBodies(jobs: readonly EncryptionJob[], output: ArrayBuffer): Buffer[] {
  const bodies = new Array<Buffer>(jobs.length);
  let at = 0;
  for (let i = 0; i < jobs.length; i += 1) {
    const size = bodyBytes((jobs[i] as EncryptionJob).plaintext.byteLength);
    bodies[i] = Buffer.from(output, at, size);
    at += size;
  }
  return bodies;
}
