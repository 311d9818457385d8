import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { decodeBase64Url, encodeBase64Url, randomBase64UrlId } from './base64url.js';

describe('base64url', () => {
  it('encodes and decodes like Node’s Buffer for every length up to 70 bytes', () => {
    for (let length = 0; length <= 70; length++) {
      const bytes = randomBytes(length);
      const text = encodeBase64Url(bytes);
      expect(text).toBe(bytes.toString('base64url'));
      expect(Buffer.from(decodeBase64Url(text) ?? [])).toEqual(bytes);
      expect(Buffer.from(decodeBase64Url(bytes.toString('base64')) ?? [])).toEqual(bytes);
    }
  });

  it('accepts padding and refuses characters outside the alphabet, bad lengths and non-strings', () => {
    expect(decodeBase64Url('AQ==')).toEqual(new Uint8Array([1]));
    expect(decodeBase64Url('AQ')).toEqual(new Uint8Array([1]));
    expect(decodeBase64Url('A!Q')).toBeNull();
    expect(decodeBase64Url('A Q')).toBeNull();
    expect(decodeBase64Url('AQ=A')).toBeNull();
    expect(decodeBase64Url('AAAAA')).toBeNull();
    expect(decodeBase64Url('AQ===')).toBeNull();
    expect(decodeBase64Url('A')).toBeNull();
    expect(decodeBase64Url('é')).toBeNull();
    expect(decodeBase64Url(42)).toBeNull();
  });

  it('encodes without padding, and decodes with or without it', () => {
    const bytes = new Uint8Array([0xfb, 0xff, 0x01]);
    expect(encodeBase64Url(bytes)).toBe('-_8B');
    expect(encodeBase64Url(new Uint8Array([1]))).toBe('AQ');
    expect(decodeBase64Url('-_8B')).toEqual(bytes);
    expect(decodeBase64Url('+/8B')).toEqual(bytes);
  });

  it("refuses plain base64's + and / when asked to, as push services do", () => {
    const urlOnly = { plainBase64: false };
    expect(decodeBase64Url('-_8B', urlOnly)).toEqual(new Uint8Array([0xfb, 0xff, 0x01]));
    expect(decodeBase64Url('AQ==', urlOnly)).toEqual(new Uint8Array([1]));
    for (const text of ['+/8B', '+A', 'A/', 'A Q', 'AQ=A', 'AQ===', 'AAAAA']) {
      expect(decodeBase64Url(text, urlOnly), text).toBeNull();
    }
  });

  it('makes 128-bit random ids by default', () => {
    const id = randomBase64UrlId();
    expect(id).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(randomBase64UrlId()).not.toBe(id);
  });
});
