import http2 from 'node:http2';
import net, { type AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { createHpackDecoder, type HpackDecoder, HpackError } from './hpack-decode.js';
import { decodeHuffman } from './hpack-huffman.js';
import { rawFrame as frame } from './test-frames.js';

type Fields = Array<[string, string]>;

/** Octets from a hex dump; spaces, as in RFC 7541 Appendix C, are ignored. */
function hex(dump: string): Uint8Array {
  return Uint8Array.from(Buffer.from(dump.replaceAll(' ', ''), 'hex'));
}

/** Packs Huffman codes (`[code, bits]`, from RFC 7541 Appendix B) and pads with ones. */
function packCodes(codes: Array<[code: number, bits: number]>): Uint8Array {
  let value = 0n;
  let bits = 0;
  for (const [code, length] of codes) {
    value = (value << BigInt(length)) | BigInt(code);
    bits += length;
  }
  const padding = (8 - (bits % 8)) % 8;
  value = (value << BigInt(padding)) | ((1n << BigInt(padding)) - 1n);
  bits += padding;
  const out = new Uint8Array(bits / 8);
  for (let i = out.length - 1; i >= 0; i--) {
    out[i] = Number(value & 0xffn);
    value >>= 8n;
  }
  return out;
}

/** The fields of dynamic entries 62 to 61 + `count`, newest first (RFC 7541 section 2.3.3). */
function dynamicTable(decoder: HpackDecoder, count: number): Fields {
  return decoder.decode(Uint8Array.from({ length: count }, (_, i) => 0x80 | (62 + i)));
}

describe('decodeHuffman', () => {
  it('decodes the strings of RFC 7541 Appendix C.4 and C.6', () => {
    expect(decodeHuffman(hex('f1e3 c2e5 f23a 6ba0 ab90 f4ff'))).toBe('www.example.com');
    expect(decodeHuffman(hex('a8eb 1064 9cbf'))).toBe('no-cache');
    expect(decodeHuffman(hex('25a8 49e9 5ba9 7d7f'))).toBe('custom-key');
    expect(decodeHuffman(hex('25a8 49e9 5bb8 e8b4 bf'))).toBe('custom-value');
    expect(decodeHuffman(hex('6402'))).toBe('302');
    expect(decodeHuffman(hex('aec3 771a 4b'))).toBe('private');
    expect(decodeHuffman(hex('9bd9 ab'))).toBe('gzip');
  });

  it('decodes a range of a larger array', () => {
    const bytes = hex('00 6402 00');
    expect(decodeHuffman(bytes, 1, 3)).toBe('302');
    expect(decodeHuffman(bytes, 1, 1)).toBe('');
  });

  it('decodes the shortest and longest codes', () => {
    // '0' (5 bits), 0 (13), 10, 13 and 22 (30), 127 (28), 128 (20), 255 (26), '~' (13), ' ' (6).
    const codes: Array<[number, number]> = [
      [0x0, 5],
      [0x1ff8, 13],
      [0x3ffffffc, 30],
      [0x3ffffffd, 30],
      [0x3ffffffe, 30],
      [0xffffffc, 28],
      [0xfffe6, 20],
      [0x3ffffee, 26],
      [0x1ffd, 13],
      [0x14, 6],
    ];
    expect(decodeHuffman(packCodes(codes))).toBe('0\x00\n\r\x16\x7f\x80\xff~ ');
  });

  it('accepts up to 7 bits of padding and none', () => {
    // Five '0's are 25 bits: 7 bits of padding.
    expect(decodeHuffman(hex('0000 007f'))).toBe('00000');
    // Eight '0's are 40 bits: no padding.
    expect(decodeHuffman(hex('0000 0000 00'))).toBe('00000000');
    expect(decodeHuffman(new Uint8Array(0))).toBe('');
  });

  it.each([
    ['padding of 8 bits', '0000 0000 00ff'],
    ['a whole octet of padding alone', 'ff'],
    ['padding that is not all ones', '18'],
    ['padding with a zero bit after ones', '1e'],
    ['EOS alone', 'ffff ffff'],
    ['EOS after a symbol', '1fff ffff ff'],
  ])('rejects %s', (_, dump) => {
    expect(() => decodeHuffman(hex(dump))).toThrow(HpackError);
  });

  it('rejects EOS packed like any other symbol', () => {
    expect(() => decodeHuffman(packCodes([[0x3fffffff, 30]]))).toThrow(HpackError);
    expect(() =>
      decodeHuffman(
        packCodes([
          [0x3, 5],
          [0x3fffffff, 30],
          [0x3, 5],
        ]),
      ),
    ).toThrow(HpackError);
  });
});

describe('createHpackDecoder: RFC 7541 Appendix C.2 (single fields)', () => {
  it('C.2.1: literal with indexing, new name', () => {
    const decoder = createHpackDecoder();
    const block = hex('400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572');
    expect(decoder.decode(block)).toEqual([['custom-key', 'custom-header']]);
    expect(decoder.tableSize).toBe(55);
    expect(dynamicTable(decoder, 1)).toEqual([['custom-key', 'custom-header']]);
  });

  it('C.2.2: literal without indexing, indexed name', () => {
    const decoder = createHpackDecoder();
    expect(decoder.decode(hex('040c 2f73 616d 706c 652f 7061 7468'))).toEqual([
      [':path', '/sample/path'],
    ]);
    expect(decoder.tableSize).toBe(0);
  });

  it('C.2.3: literal never indexed, new name', () => {
    const decoder = createHpackDecoder();
    expect(decoder.decode(hex('1008 7061 7373 776f 7264 0673 6563 7265 74'))).toEqual([
      ['password', 'secret'],
    ]);
    expect(decoder.tableSize).toBe(0);
  });

  it('C.2.4: indexed field', () => {
    const decoder = createHpackDecoder();
    expect(decoder.decode(hex('82'))).toEqual([[':method', 'GET']]);
    expect(decoder.tableSize).toBe(0);
  });
});

describe('createHpackDecoder: RFC 7541 Appendix C.3 and C.4 (requests)', () => {
  const blocks = {
    'C.3 (plain)': [
      '8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d',
      '8286 84be 5808 6e6f 2d63 6163 6865',
      '8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65',
    ],
    'C.4 (Huffman)': [
      '8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff',
      '8286 84be 5886 a8eb 1064 9cbf',
      '8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf',
    ],
  };
  const authority: [string, string] = [':authority', 'www.example.com'];
  const lists: Fields[] = [
    [[':method', 'GET'], [':scheme', 'http'], [':path', '/'], authority],
    [
      [':method', 'GET'],
      [':scheme', 'http'],
      [':path', '/'],
      authority,
      ['cache-control', 'no-cache'],
    ],
    [
      [':method', 'GET'],
      [':scheme', 'https'],
      [':path', '/index.html'],
      authority,
      ['custom-key', 'custom-value'],
    ],
  ];
  const sizes = [57, 110, 164];

  it.each(Object.entries(blocks))('%s', (_, dumps) => {
    const decoder = createHpackDecoder();
    dumps.forEach((dump, i) => {
      expect(decoder.decode(hex(dump))).toEqual(lists[i]);
      expect(decoder.tableSize).toBe(sizes[i]);
    });
    expect(dynamicTable(decoder, 3)).toEqual([
      ['custom-key', 'custom-value'],
      ['cache-control', 'no-cache'],
      authority,
    ]);
    expect(() => decoder.decode(hex('c1'))).toThrow(HpackError);
  });
});

describe('createHpackDecoder: RFC 7541 Appendix C.5 and C.6 (responses, 256-octet table)', () => {
  const blocks = {
    'C.5 (plain)': [
      '4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 ' +
        '2032 303a 3133 3a32 3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70 ' +
        '6c65 2e63 6f6d',
      '4803 3330 37c1 c0bf',
      '88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220 474d ' +
        '54c0 5a04 677a 6970 7738 666f 6f3d 4153 444a 4b48 514b 425a 584f 5157 454f 5049 ' +
        '5541 5851 5745 4f49 553b 206d 6178 2d61 6765 3d33 3630 303b 2076 6572 7369 6f6e ' +
        '3d31',
    ],
    'C.6 (Huffman)': [
      '4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6 ' +
        '2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3',
      '4883 640e ffc1 c0bf',
      '88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab ' +
        '77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f ' +
        '9587 3160 65c0 03ed 4ee5 b106 3d50 07',
    ],
  };
  const cacheControl: [string, string] = ['cache-control', 'private'];
  const date21: [string, string] = ['date', 'Mon, 21 Oct 2013 20:13:21 GMT'];
  const date22: [string, string] = ['date', 'Mon, 21 Oct 2013 20:13:22 GMT'];
  const location: [string, string] = ['location', 'https://www.example.com'];
  const gzip: [string, string] = ['content-encoding', 'gzip'];
  const cookie: [string, string] = [
    'set-cookie',
    'foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1',
  ];
  const lists: Fields[] = [
    [[':status', '302'], cacheControl, date21, location],
    [[':status', '307'], cacheControl, date21, location],
    [[':status', '200'], cacheControl, date22, location, gzip, cookie],
  ];
  const tables: Fields[] = [
    [location, date21, cacheControl, [':status', '302']],
    [[':status', '307'], location, date21, cacheControl],
    [cookie, gzip, date22],
  ];
  const sizes = [222, 222, 215];

  it.each(Object.entries(blocks))('%s', (_, dumps) => {
    const decoder = createHpackDecoder(256);
    dumps.forEach((dump, i) => {
      expect(decoder.decode(hex(dump))).toEqual(lists[i]);
      expect(decoder.tableSize).toBe(sizes[i]);
      expect(dynamicTable(decoder, tables[i]?.length ?? 0)).toEqual(tables[i]);
    });
    expect(() => decoder.decode(hex('c1'))).toThrow(HpackError);
  });
});

describe('createHpackDecoder: representations and the table', () => {
  it('decodes every kind of field in one block', () => {
    const decoder = createHpackDecoder();
    const block = hex(
      // Indexed :status 404; with indexing, name 31 (content-type) and a Huffman value;
      // without indexing, new name; never indexed, name 23 (authorization).
      '8d 5f 83 9bd9 ab 00 01 78 01 79 1f 08 06 73 65 63 72 65 74 be',
    );
    expect(decoder.decode(block)).toEqual([
      [':status', '404'],
      ['content-type', 'gzip'],
      ['x', 'y'],
      ['authorization', 'secret'],
      ['content-type', 'gzip'],
    ]);
    expect(decoder.tableSize).toBe('content-type'.length + 4 + 32);
  });

  it('reads the static table', () => {
    const decoder = createHpackDecoder();
    const indices = [1, 2, 3, 4, 5, 7, 8, 14, 15, 16, 19, 24, 28, 33, 46, 55, 58, 61];
    expect(decoder.decode(Uint8Array.from(indices, (i) => 0x80 | i))).toEqual([
      [':authority', ''],
      [':method', 'GET'],
      [':method', 'POST'],
      [':path', '/'],
      [':path', '/index.html'],
      [':scheme', 'https'],
      [':status', '200'],
      [':status', '500'],
      ['accept-charset', ''],
      ['accept-encoding', 'gzip, deflate'],
      ['accept', ''],
      ['cache-control', ''],
      ['content-length', ''],
      ['date', ''],
      ['location', ''],
      ['set-cookie', ''],
      ['user-agent', ''],
      ['www-authenticate', ''],
    ]);
  });

  it('reads multi-octet integers (RFC 7541 Appendix C.1)', () => {
    // C.1.2: 1337 on a 5-bit prefix, as a table size update.
    expect(createHpackDecoder(1337).decode(hex('3f9a 0a'))).toEqual([]);
    expect(() => createHpackDecoder(1336).decode(hex('3f9a 0a'))).toThrow(HpackError);
    // A value of 1337 octets: its length on a 7-bit prefix is 7f ba 09.
    const value = 'v'.repeat(1337);
    const block = Buffer.concat([hex('0001 787f ba09'), Buffer.from(value, 'latin1')]);
    expect(createHpackDecoder().decode(block)).toEqual([['x', value]]);
  });

  it('keeps names and values as latin1', () => {
    const decoder = createHpackDecoder();
    expect(decoder.decode(hex('0002 c3a9 02ff 80'))).toEqual([['\xc3\xa9', '\xff\x80']]);
  });

  it('reads the name of an entry that its insertion evicts', () => {
    const decoder = createHpackDecoder(64);
    decoder.decode(hex('400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572'));
    expect(decoder.tableSize).toBe(55);
    // With indexing, name 62 (custom-key, about to be evicted), value "v": 10 + 1 + 32 = 43.
    expect(decoder.decode(hex('7e01 76'))).toEqual([['custom-key', 'v']]);
    expect(decoder.tableSize).toBe(43);
    expect(dynamicTable(decoder, 1)).toEqual([['custom-key', 'v']]);
    expect(() => decoder.decode(hex('bf'))).toThrow(HpackError);
  });

  it('empties the table for an entry larger than the table', () => {
    const decoder = createHpackDecoder(64);
    decoder.decode(hex('400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572'));
    const value = 'w'.repeat(40);
    const block = Buffer.concat([hex('4001 7828'), Buffer.from(value, 'latin1')]);
    expect(decoder.decode(block)).toEqual([['x', value]]);
    expect(decoder.tableSize).toBe(0);
    expect(() => decoder.decode(hex('be'))).toThrow(HpackError);
  });

  it('evicts the oldest entries first', () => {
    const decoder = createHpackDecoder(100);
    // Three entries of 34 octets ("a: 1", "b: 2", "c: 3"): the third evicts the first.
    decoder.decode(hex('4001 6101 31 4001 6201 32 4001 6301 33'));
    expect(decoder.tableSize).toBe(68);
    expect(dynamicTable(decoder, 2)).toEqual([
      ['c', '3'],
      ['b', '2'],
    ]);
  });

  it('keeps the order of entries as the table grows and wraps around', () => {
    // Entries "n00: v" to "n49: v", 36 octets each, in a table that holds 20 of them.
    const decoder = createHpackDecoder(20 * 36);
    const names = Array.from({ length: 50 }, (_, i) => `n${String(i).padStart(2, '0')}`);
    for (const name of names) {
      decoder.decode(Buffer.concat([hex('4003'), Buffer.from(name), hex('0176')]));
    }
    expect(decoder.tableSize).toBe(20 * 36);
    expect(dynamicTable(decoder, 20)).toEqual(
      names
        .slice(30)
        .reverse()
        .map((name) => [name, 'v']),
    );
  });

  it('applies table size updates at the start of a block', () => {
    const decoder = createHpackDecoder();
    decoder.decode(hex('8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d'));
    decoder.decode(hex('8286 84be 5808 6e6f 2d63 6163 6865'));
    expect(decoder.tableSize).toBe(110);
    // Down to 60 octets: the older entry (57) goes, the newer (53) stays.
    expect(decoder.decode(hex('3f1d 82'))).toEqual([[':method', 'GET']]);
    expect(decoder.tableSize).toBe(53);
    expect(dynamicTable(decoder, 1)).toEqual([['cache-control', 'no-cache']]);
    // Two updates in a row (section 4.2): to 0, clearing the table, then back to 4096.
    expect(decoder.decode(hex('203f e11f'))).toEqual([]);
    expect(decoder.tableSize).toBe(0);
    expect(() => decoder.decode(hex('be'))).toThrow(HpackError);
  });

  it('keeps to a table size of 0', () => {
    const decoder = createHpackDecoder(0);
    expect(decoder.decode(hex('4001 6101 31'))).toEqual([['a', '1']]);
    expect(decoder.tableSize).toBe(0);
    expect(() => decoder.decode(hex('be'))).toThrow(HpackError);
    expect(createHpackDecoder(0).decode(hex('2082'))).toEqual([[':method', 'GET']]);
    expect(() => createHpackDecoder(0).decode(hex('2182'))).toThrow(HpackError);
  });

  it('rejects a table size that is not a non-negative integer', () => {
    expect(() => createHpackDecoder(-1)).toThrow(RangeError);
    expect(() => createHpackDecoder(1.5)).toThrow(RangeError);
    expect(() => createHpackDecoder(2 ** 31)).toThrow(RangeError);
  });
});

describe('createHpackDecoder: malformed blocks', () => {
  it.each([
    ['a truncated integer', 'ff', 'truncated'],
    ['an integer cut after a continuation octet', 'ff80', 'truncated'],
    ['an integer past 2^31 - 1', 'ffff ffff ff0f', 'too large'],
    ['an integer with too many continuation octets', 'ff80 8080 8080 00', 'continuation'],
    ['a missing name', '40', 'missing'],
    ['a missing value', '4001 61', 'missing'],
    ['a truncated name', '4005 6162', 'truncated'],
    ['a truncated value', '040c 2f73 616d', 'truncated'],
    ['a truncated Huffman value', '048c f1e3 c2e5', 'truncated'],
    ['Huffman padding that is not all ones', '0481 18', 'padding'],
    ['Huffman padding longer than 7 bits', '0486 0000 0000 00ff', 'padding'],
    ['EOS in a Huffman string', '0484 ffff ffff', 'EOS'],
    ['index 0', '80', 'index 0'],
    ['index 0 after other fields', '8286 80', 'index 0'],
    ['an index past the static table', 'be', 'past the end'],
    ['an indexed name past the table', '7e01 61', 'past the end'],
    ['a literal name past the table', '0f2f 0161', 'past the end'],
    ['a table size update above the maximum', '3fe2 1f', 'exceeds'],
    ['a table size update after a field', '8220', 'after a field'],
    ['a table size update at the end of a block', '8286 3f e11f', 'after a field'],
  ])('rejects %s', (_, dump, message) => {
    const decode = () => createHpackDecoder().decode(hex(dump));
    expect(decode).toThrow(HpackError);
    expect(decode).toThrow(message);
  });

  it('names itself', () => {
    const error = (() => {
      try {
        createHpackDecoder().decode(hex('80'));
      } catch (caught) {
        return caught;
      }
    })();
    expect(error).toBeInstanceOf(HpackError);
    expect((error as Error).name).toBe('HpackError');
  });
});

/** A small deterministic generator (xorshift32), so a failing response can be reproduced. */
function randomSource(seed: number): (below: number) => number {
  let state = seed * 2654435761 || 1;
  return (below) => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) % below;
  };
}

/** Every octet a field value may carry through Node: all but NUL, CR and LF. */
const VALUE_OCTETS = Array.from({ length: 256 }, (_, i) => String.fromCharCode(i)).filter(
  (c) => c !== '\0' && c !== '\r' && c !== '\n',
);
const TOKEN = 'abcdefghijklmnopqrstuvwxyz0123456789';

function valueOctet(i: number): string {
  return VALUE_OCTETS[i % VALUE_OCTETS.length] as string;
}
const EMPTY = new Uint8Array(0);

/**
 * The response headers for request `n`: some fixed on every response (so the encoder indexes
 * them), some drawn from a few values, some new each time; values over the whole octet range,
 * some longer than 127 octets, one block in fifty longer than a frame.
 */
function responseHeaders(n: number): Record<string, string | string[]> {
  const random = randomSource(n + 1);
  const pick = <T>(choices: readonly T[]): T => choices[random(choices.length)] as T;
  const text = (length: number, alphabet: string | readonly string[]) =>
    Array.from({ length }, () => pick(alphabet as readonly string[])).join('');
  const headers: Record<string, string | string[]> = {
    ':status': pick(['200', '200', '201', '204', '301', '404', '503']),
    date: `Sun, 06 Dec 2026 05:${String(Math.floor(n / 20)).padStart(2, '0')}:00 GMT`,
    'content-type': pick(['application/json', 'text/html; charset=utf-8', 'image/png']),
    'cache-control': n % 3 === 0 ? 'no-store' : 'private, max-age=60',
    'x-request-id': text(16, [...TOKEN]),
    'set-cookie': [
      'session=4f1c29ab; Path=/; HttpOnly; Secure; SameSite=Lax',
      `pref=${text(8, [...TOKEN])}; Max-Age=${n * 37}`,
    ],
    'x-fixed': 'the same value on every response',
    'x-spread': text(1 + random(60), VALUE_OCTETS),
    // Two octets in short codes: Huffman-coded, and over 128 responses every octet appears.
    'x-octets': `${'0'.repeat(12)}${valueOctet(2 * n)}${'0'.repeat(12)}${valueOctet(2 * n + 1)}`,
    // Mostly short codes, so the encoder chooses Huffman, with the long codes mixed in.
    'x-mixed': Array.from({ length: 40 + random(80) }, () =>
      random(10) === 0 ? pick(VALUE_OCTETS) : pick([...TOKEN]),
    ).join(''),
    [`x-name-${text(3, [...TOKEN])}`]: text(random(20), VALUE_OCTETS),
  };
  if (n % 7 === 0) headers['x-long'] = text(128 + random(400), VALUE_OCTETS);
  if (n % 4 === 1) headers['x-repeat'] = pick(['alpha', 'beta', 'gamma']);
  if (n % 50 === 25) headers['x-huge'] = text(20_000, VALUE_OCTETS);
  return headers;
}

function fieldList(headers: Record<string, string | string[]>): Fields {
  return Object.entries(headers).flatMap(
    ([name, value]): Fields =>
      Array.isArray(value) ? value.map((v): [string, string] => [name, v]) : [[name, value]],
  );
}

/** A GET's header block: indexed `:method GET` and `:scheme http`, then literals not indexed. */
function requestBlock(path: string, authority: string): Buffer {
  return Buffer.concat([
    Buffer.from([0x82, 0x86, 0x04, path.length]),
    Buffer.from(path, 'latin1'),
    Buffer.from([0x01, authority.length]),
    Buffer.from(authority, 'latin1'),
  ]);
}

interface ResponseBlock {
  stream: number;
  block: Buffer;
}

/**
 * Sends `count` GETs one after another over a raw HTTP/2 connection and returns the response
 * header blocks (HEADERS and CONTINUATION payloads joined) in the order they arrived.
 */
function fetchHeaderBlocks(
  port: number,
  count: number,
  headerTableSize?: number,
): Promise<ResponseBlock[]> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    const authority = `127.0.0.1:${port}`;
    const blocks: ResponseBlock[] = [];
    let input = Buffer.alloc(0);
    let pending: { stream: number; fragments: Buffer[] } | undefined;
    let sent = 0;

    const request = () => {
      const block = requestBlock(`/r/${sent}`, authority);
      // END_STREAM | END_HEADERS
      socket.write(frame(0x1, 0x5, 2 * sent + 1, block));
      sent += 1;
    };
    const finish = () => {
      // GOAWAY, no error, then close.
      socket.end(frame(0x7, 0, 0, new Uint8Array(8)));
      resolve(blocks);
    };
    const complete = (stream: number, fragments: Buffer[]) => {
      blocks.push({ stream, block: Buffer.concat(fragments) });
      if (blocks.length === count) finish();
      else request();
    };

    socket.on('error', reject);
    socket.on('connect', () => {
      const settings = Buffer.alloc(headerTableSize === undefined ? 0 : 6);
      if (headerTableSize !== undefined) {
        settings.writeUInt16BE(0x1, 0);
        settings.writeUInt32BE(headerTableSize, 2);
      }
      socket.write(
        Buffer.concat([
          Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'),
          frame(0x4, 0, 0, settings),
        ]),
      );
      request();
    });
    socket.on('data', (data: Buffer) => {
      input = Buffer.concat([input, data]);
      while (input.length >= 9) {
        const length = input.readUIntBE(0, 3);
        if (input.length < 9 + length) break;
        const type = input[3] as number;
        const flags = input[4] as number;
        const stream = input.readUInt32BE(5) & 0x7fffffff;
        const payload = input.subarray(9, 9 + length);
        input = input.subarray(9 + length);
        if (type === 0x4 && (flags & 0x1) === 0) {
          socket.write(frame(0x4, 0x1, 0, new Uint8Array(0)));
        } else if (type === 0x1) {
          // PADDED: a pad length octet first and padding last; PRIORITY: 5 octets first.
          const padding = (flags & 0x8) !== 0 ? (payload[0] as number) : 0;
          const start = ((flags & 0x8) !== 0 ? 1 : 0) + ((flags & 0x20) !== 0 ? 5 : 0);
          const fragment = Buffer.from(payload.subarray(start, payload.length - padding));
          if ((flags & 0x4) !== 0) complete(stream, [fragment]);
          else pending = { stream, fragments: [fragment] };
        } else if (type === 0x9) {
          if (pending === undefined || pending.stream !== stream) {
            reject(new Error('CONTINUATION out of place'));
            return;
          }
          pending.fragments.push(Buffer.from(payload));
          if ((flags & 0x4) !== 0) {
            complete(stream, pending.fragments);
            pending = undefined;
          }
        } else if (type === 0x3 || type === 0x7) {
          reject(new Error(`server sent frame type ${type}`));
          return;
        }
      }
    });
  });
}

describe('createHpackDecoder: against node:http2 (nghttp2) responses', () => {
  const COUNT = 200;

  async function exchange(headerTableSize?: number): Promise<ResponseBlock[]> {
    const server = http2.createServer();
    server.on('session', (session) => session.on('error', () => {}));
    server.on('stream', (stream, headers) => {
      stream.on('error', () => {});
      const n = Number(String(headers[':path']).slice('/r/'.length));
      stream.respond(responseHeaders(n), { endStream: true });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      return await fetchHeaderBlocks(
        (server.address() as AddressInfo).port,
        COUNT,
        headerTableSize,
      );
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  }

  function check(blocks: ResponseBlock[], decoder: HpackDecoder, maxTableSize: number): number {
    expect(blocks.map((b) => b.stream)).toEqual(Array.from({ length: COUNT }, (_, n) => 2 * n + 1));
    let largest = 0;
    for (const { stream, block } of blocks) {
      const n = (stream - 1) / 2;
      expect(decoder.decode(block), `response ${n}`).toEqual(fieldList(responseHeaders(n)));
      expect(decoder.tableSize).toBeLessThanOrEqual(maxTableSize);
      largest = Math.max(largest, decoder.tableSize);
    }
    return largest;
  }

  it('decodes 200 responses on one connection with the default 4096-octet table', async () => {
    const blocks = await exchange();
    // Blocks longer than one 16 KiB frame arrived as HEADERS and CONTINUATION.
    expect(blocks.some((b) => b.block.length > 16_384)).toBe(true);
    const largest = check(blocks, createHpackDecoder(), 4096);
    // The table filled, so the later blocks were decoded across evictions.
    expect(largest).toBeGreaterThan(3500);
    // And the blocks lean on it: the last one alone refers to entries it does not carry.
    expect(() => createHpackDecoder().decode(blocks[COUNT - 1]?.block ?? EMPTY)).toThrow(
      'past the end',
    );
  });

  it('decodes them with a 256-octet table, announced in SETTINGS', async () => {
    const blocks = await exchange(256);
    // The encoder acknowledges the smaller table with a size update (section 6.3).
    expect((blocks[0]?.block[0] as number) & 0xe0).toBe(0x20);
    const largest = check(blocks, createHpackDecoder(256), 256);
    expect(largest).toBeGreaterThan(100);
  });
});
