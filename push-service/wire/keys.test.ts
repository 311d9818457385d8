import { describe, expect, it } from 'vitest';
import { equalBytes, isUncompressedPoint } from './keys.js';

describe('key bytes', () => {
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
