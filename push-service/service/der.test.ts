import { describe, expect, it } from 'vitest';
import {
  bitString,
  boolean,
  explicit,
  implicit,
  integer,
  octetString,
  oid,
  sequence,
  time,
  tlv,
  utf8String,
} from './der.js';

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');

describe('DER writer', () => {
  it('writes short lengths in one byte and long ones as 0x80 + count + bytes', () => {
    expect(hex(tlv(0x04, Buffer.alloc(127)))).toBe(`047f${'00'.repeat(127)}`);
    expect(hex(tlv(0x04, Buffer.alloc(128))).slice(0, 6)).toBe('048180');
    expect(hex(tlv(0x04, Buffer.alloc(300))).slice(0, 8)).toBe('0482012c');
  });

  it('writes INTEGERs in their shortest positive form', () => {
    expect(hex(integer(0))).toBe('020100');
    expect(hex(integer(2))).toBe('020102');
    expect(hex(integer(127))).toBe('02017f');
    expect(hex(integer(128))).toBe('02020080');
    expect(hex(integer(256))).toBe('02020100');
    expect(hex(integer(Buffer.from([0, 0, 0x7f, 1])))).toBe('02027f01');
    expect(hex(integer(Buffer.from([0xff])))).toBe('020200ff');
    expect(() => integer(-1)).toThrow(RangeError);
  });

  it('writes OBJECT IDENTIFIERs with the first two arcs joined and base-128 arcs', () => {
    expect(hex(oid('1.2.840.10045.4.3.2'))).toBe('06082a8648ce3d040302');
    expect(hex(oid('2.5.29.17'))).toBe('0603551d11');
    expect(hex(oid('1.2.840.113549'))).toBe('06062a864886f70d');
  });

  it('writes times as UTCTime up to 2049 and GeneralizedTime from 2050', () => {
    expect(Buffer.from(time(new Date(Date.UTC(2026, 0, 2, 3, 4, 5)))).toString('latin1')).toBe(
      '\x17\x0d260102030405Z',
    );
    expect(Buffer.from(time(new Date(Date.UTC(2050, 11, 31, 23, 59, 59)))).toString('latin1')).toBe(
      '\x18\x0f20501231235959Z',
    );
  });

  it('writes the other types with their universal or context tags', () => {
    expect(hex(boolean(true))).toBe('0101ff');
    expect(hex(boolean(false))).toBe('010100');
    expect(hex(octetString(Buffer.from([1, 2])))).toBe('04020102');
    expect(hex(utf8String('é'))).toBe('0c02c3a9');
    expect(hex(bitString(Buffer.from([0x84]), 2))).toBe('03020284');
    expect(hex(sequence(boolean(true), integer(1)))).toBe('30060101ff020101');
    expect(hex(explicit(3, integer(1)))).toBe('a303020101');
    expect(hex(implicit(2, Buffer.from('a')))).toBe('820161');
  });
});
