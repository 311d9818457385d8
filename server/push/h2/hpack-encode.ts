/**
 * The header block of a push request (RFC 8030 section 5), HPACK-encoded (RFC 7541) without the
 * dynamic table: every field is a literal that names its header by static-table index where
 * there is one, and strings are sent as they are (no Huffman).
 *
 * Nothing is indexed, so the server's `SETTINGS_HEADER_TABLE_SIZE` never matters and a block is
 * the same whatever was sent before it; a push request's headers are a few hundred bytes, a
 * small part of a body of up to 4 KiB.
 * @packageDocumentation
 */
import type { PushRequest } from '../http-types.js';

/** Static-table indices (RFC 7541 Appendix A). */
const AUTHORITY = 1;
const METHOD_POST = 3;
const PATH = 4;
const SCHEME_HTTPS = 7;
const AUTHORIZATION = 23;
const CONTENT_ENCODING = 26;
const CONTENT_LENGTH = 28;
const CONTENT_TYPE = 31;

/** Encodes the header blocks of push requests to one origin. */
export interface PushHeaderEncoder {
  /**
   * Encodes a request's header block.
   * @param request - the push request (its header values are ASCII: the sender checked them)
   * @returns the block
   */
  encode(request: PushRequest): Buffer;
}

/** Bytes of an HPACK integer with an `prefix`-bit prefix (RFC 7541 section 5.1). */
function integerBytes(value: number, prefix: number): number {
  const max = (1 << prefix) - 1;
  if (value < max) return 1;
  let bytes = 2;
  for (let rest = value - max; rest >= 128; rest = Math.floor(rest / 128)) bytes += 1;
  return bytes;
}

/**
 * Writes an HPACK integer.
 * @returns the offset after it
 */
function writeInteger(out: Buffer, at: number, value: number, prefix: number, high: number) {
  const max = (1 << prefix) - 1;
  if (value < max) {
    out[at] = high | value;
    return at + 1;
  }
  out[at] = high | max;
  let next = at + 1;
  let rest = value - max;
  while (rest >= 128) {
    out[next] = (rest % 128) | 0x80;
    next += 1;
    rest = Math.floor(rest / 128);
  }
  out[next] = rest;
  return next + 1;
}

/** Bytes of a string literal, not Huffman-coded (section 5.2). */
function stringBytes(value: string): number {
  return integerBytes(value.length, 7) + value.length;
}

function writeString(out: Buffer, at: number, value: string): number {
  const next = writeInteger(out, at, value.length, 7, 0);
  return next + out.write(value, next, 'latin1');
}

/** "Literal without indexing" (0000) or "never indexed" (0001), indexed name (section 6.2). */
function indexedNameBytes(index: number, value: string): number {
  return integerBytes(index, 4) + stringBytes(value);
}

function writeIndexedName(out: Buffer, at: number, index: number, value: string, never = false) {
  return writeString(out, writeInteger(out, at, index, 4, never ? 0x10 : 0), value);
}

/** A literal with a new name, not indexed. */
function newNameBytes(name: string, value: string): number {
  return 1 + stringBytes(name) + stringBytes(value);
}

function writeNewName(out: Buffer, at: number, name: string, value: string): number {
  out[at] = 0;
  return writeString(out, writeString(out, at + 1, name), value);
}

/**
 * Creates the encoder of one https origin.
 * @param authority - the origin's `host[:port]`
 * @returns the encoder
 * @remarks The fields that never change (method, scheme, authority, content coding and type)
 * are encoded once. `Authorization` is sent "never indexed" (RFC 7541 section 7.1.3): it is
 * a credential, and an intermediary must not put it in a table either.
 */
export function createPushHeaderEncoder(authority: string): PushHeaderEncoder {
  const fixedBytes =
    2 +
    indexedNameBytes(AUTHORITY, authority) +
    indexedNameBytes(CONTENT_ENCODING, 'aes128gcm') +
    indexedNameBytes(CONTENT_TYPE, 'application/octet-stream');
  const fixed = Buffer.alloc(fixedBytes);
  // Pseudo-header fields come first (RFC 9113 section 8.3): `:path` follows these three.
  fixed[0] = 0x80 | METHOD_POST;
  fixed[1] = 0x80 | SCHEME_HTTPS;
  const afterAuthority = writeIndexedName(fixed, 2, AUTHORITY, authority);
  const pseudo = fixed.subarray(0, afterAuthority);
  const contentHeaders = fixed.subarray(afterAuthority);
  writeIndexedName(
    fixed,
    writeIndexedName(fixed, afterAuthority, CONTENT_ENCODING, 'aes128gcm'),
    CONTENT_TYPE,
    'application/octet-stream',
  );

  /** The `Authorization` field as last encoded: one VAPID token serves an origin for hours. */
  let authorization = '';
  let authorizationField = Buffer.alloc(0);

  return {
    encode(request) {
      if (request.authorization !== authorization) {
        authorization = request.authorization;
        authorizationField = Buffer.alloc(indexedNameBytes(AUTHORIZATION, authorization));
        writeIndexedName(authorizationField, 0, AUTHORIZATION, authorization, true);
      }
      const path = request.endpoint.path;
      const length = String(request.body.byteLength);
      const ttl = String(request.ttlSeconds);
      let size =
        fixedBytes +
        indexedNameBytes(PATH, path) +
        indexedNameBytes(CONTENT_LENGTH, length) +
        newNameBytes('ttl', ttl) +
        authorizationField.length;
      if (request.urgency !== undefined) size += newNameBytes('urgency', request.urgency);
      if (request.topic !== undefined) size += newNameBytes('topic', request.topic);
      const out = Buffer.allocUnsafe(size);
      let at = pseudo.copy(out, 0);
      at = writeIndexedName(out, at, PATH, path);
      at += contentHeaders.copy(out, at);
      at = writeIndexedName(out, at, CONTENT_LENGTH, length);
      at = writeNewName(out, at, 'ttl', ttl);
      at += authorizationField.copy(out, at);
      if (request.urgency !== undefined) at = writeNewName(out, at, 'urgency', request.urgency);
      if (request.topic !== undefined) at = writeNewName(out, at, 'topic', request.topic);
      return out;
    },
  };
}
