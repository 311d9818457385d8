import { describe, expect, it } from 'vitest';
import { equalBytes, fromBase64url, isUncompressedPoint, toBase64url } from './base64url.js';

describe('base64url', () => {
  it('encodes without padding and decodes with or without it', () => {
    const bytes = new Uint8Array([0xfb, 0xff, 0x01]);
    expect(toBase64url(bytes)).toBe('-_8B');
    expect(toBase64url(new Uint8Array([1]))).toBe('AQ');
    expect(fromBase64url('AQ')).toEqual(new Uint8Array([1]));
    expect(fromBase64url('AQ==')).toEqual(new Uint8Array([1]));
    expect(fromBase64url('-_8B')).toEqual(bytes);
  });

  it("refuses standard base64's + and /, stray characters and a lone last character", () => {
    for (const text of ['+/8B', 'A Q', 'AQ=A', 'AQ===', 'AAAAA']) {
      expect(fromBase64url(text), text).toBeNull();
    }
  });

  it('compares bytes and recognises an uncompressed P-256 point by shape', () => {
    expect(equalBytes(new Uint8Array([1, 2]), new Uint8Array([1, 2]))).toBe(true);
    expect(equalBytes(new Uint8Array([1, 2]), new Uint8Array([1, 2, 3]))).toBe(false);
    const point = new Uint8Array(65).fill(1);
    point[0] = 0x04;
    expect(isUncompressedPoint(point)).toBe(true);
    expect(isUncompressedPoint(point.subarray(0, 64))).toBe(false);
    expect(isUncompressedPoint(new Uint8Array(65))).toBe(false);
    expect(isUncompressedPoint(null)).toBe(false);
  });
});
