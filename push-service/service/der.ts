/**
 * A small DER writer (ITU-T X.690): just the ASN.1 types an X.509 certificate needs. Each
 * function returns one complete encoding (tag, length, contents), so a structure is written as
 * nested calls in the order of its ASN.1 definition.
 */

/** Universal tags used here. */
const TAG = {
  boolean: 0x01,
  integer: 0x02,
  bitString: 0x03,
  octetString: 0x04,
  oid: 0x06,
  utf8String: 0x0c,
  utcTime: 0x17,
  generalizedTime: 0x18,
  sequence: 0x30,
  set: 0x31,
} as const;

/**
 * Encodes a length: one byte below 128, else 0x80 + count followed by the big-endian length.
 * @param length - the content length
 * @returns the length octets
 */
function encodeLength(length: number): Buffer {
  if (length < 0x80) return Buffer.from([length]);
  const bytes: number[] = [];
  for (let rest = length; rest > 0; rest = Math.floor(rest / 256)) bytes.unshift(rest % 256);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

/**
 * Encodes one value with any tag.
 * @param tag - the identifier octet (class, constructed bit and number)
 * @param contents - the content octets, concatenated in order
 * @returns tag, length and contents
 */
export function tlv(tag: number, ...contents: Uint8Array[]): Buffer {
  const body = Buffer.concat(contents);
  return Buffer.concat([Buffer.from([tag]), encodeLength(body.byteLength), body]);
}

/** `SEQUENCE` of already encoded items. */
export const sequence = (...items: Uint8Array[]): Buffer => tlv(TAG.sequence, ...items);

/** `SET` of already encoded items (a single item here, so no sorting is needed). */
export const set = (...items: Uint8Array[]): Buffer => tlv(TAG.set, ...items);

/** `BOOLEAN`; DER writes TRUE as 0xff. */
export const boolean = (value: boolean): Buffer =>
  tlv(TAG.boolean, Buffer.from([value ? 0xff : 0]));

/** `OCTET STRING`. */
export const octetString = (bytes: Uint8Array): Buffer => tlv(TAG.octetString, bytes);

/** `UTF8String`. */
export const utf8String = (text: string): Buffer => tlv(TAG.utf8String, Buffer.from(text, 'utf8'));

/**
 * `BIT STRING`.
 * @param bytes - the bits, first bit in the high bit of the first byte
 * @param unusedBits - how many low bits of the last byte are not part of the value
 */
export const bitString = (bytes: Uint8Array, unusedBits = 0): Buffer =>
  tlv(TAG.bitString, Buffer.from([unusedBits]), bytes);

/**
 * A non-negative `INTEGER` given as big-endian bytes (or a small number), in its shortest form:
 * leading zero bytes go, and one is added when the high bit is set so it stays positive.
 */
export function integer(value: Uint8Array | number): Buffer {
  let bytes = typeof value === 'number' ? numberBytes(value) : Buffer.from(value);
  let start = 0;
  while (start < bytes.byteLength - 1 && bytes[start] === 0) start++;
  bytes = bytes.subarray(start);
  if (bytes.byteLength === 0) bytes = Buffer.from([0]);
  if ((bytes[0] ?? 0) & 0x80) bytes = Buffer.concat([Buffer.from([0]), bytes]);
  return tlv(TAG.integer, bytes);
}

const numberBytes = (value: number): Buffer => {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(`not a non-negative safe integer: ${value}`);
  }
  const bytes: number[] = [];
  for (let rest = value; rest > 0; rest = Math.floor(rest / 256)) bytes.unshift(rest % 256);
  return Buffer.from(bytes);
};

/**
 * `OBJECT IDENTIFIER` from its dotted form: the first two arcs share one number (40 × a + b),
 * every number is written in base 128 with the high bit set on all but its last byte.
 */
export function oid(dotted: string): Buffer {
  const arcs = dotted.split('.').map(Number);
  const [first = 0, second = 0, ...rest] = arcs;
  const bytes: number[] = [];
  for (const arc of [first * 40 + second, ...rest]) {
    const digits = [arc % 128];
    for (let rest = Math.floor(arc / 128); rest > 0; rest = Math.floor(rest / 128)) {
      digits.unshift(0x80 | (rest % 128));
    }
    bytes.push(...digits);
  }
  return tlv(TAG.oid, Buffer.from(bytes));
}

/**
 * A certificate time: `UTCTime` (YYMMDDHHMMSSZ) for 1950–2049 and `GeneralizedTime`
 * (YYYYMMDDHHMMSSZ) otherwise, as RFC 5280 section 4.1.2.5 requires.
 */
export function time(date: Date): Buffer {
  const year = date.getUTCFullYear();
  const two = (n: number) => String(n).padStart(2, '0');
  const rest = [
    date.getUTCMonth() + 1,
    date.getUTCDate(),
    date.getUTCHours(),
    date.getUTCMinutes(),
    date.getUTCSeconds(),
  ]
    .map(two)
    .join('');
  return year >= 1950 && year < 2050
    ? tlv(TAG.utcTime, Buffer.from(`${two(year % 100)}${rest}Z`, 'ascii'))
    : tlv(TAG.generalizedTime, Buffer.from(`${String(year).padStart(4, '0')}${rest}Z`, 'ascii'));
}

/**
 * `[n] EXPLICIT`: a context-specific constructed wrapper around one encoded value.
 * @param n - the tag number (0–30)
 */
export const explicit = (n: number, value: Uint8Array): Buffer => tlv(0xa0 | n, value);

/**
 * `[n] IMPLICIT` of a primitive value: the context-specific tag replaces the value's own.
 * @param n - the tag number (0–30)
 * @param contents - the content octets of the value
 */
export const implicit = (n: number, contents: Uint8Array): Buffer => tlv(0x80 | n, contents);
