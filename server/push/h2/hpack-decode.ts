/**
 * HPACK decoding (RFC 7541): turns the header blocks a server sends into field lists, keeping
 * the connection's dynamic table in step with the server's encoder.
 *
 * Names and values are latin1 strings, one character per octet, so a string's `length` is its
 * size in octets, which is what the table's accounting counts (section 4.1).
 * @packageDocumentation
 */
import { decodeHuffman, HpackError } from './hpack-huffman.js';

export { HpackError } from './hpack-huffman.js';

/** The decoder of one connection's header blocks. */
export interface HpackDecoder {
  /**
   * Decodes one complete header block (a HEADERS frame's fragment and its CONTINUATIONs).
   * Blocks must be given in the order they arrive on the connection.
   * @param block - the block
   * @returns the fields, in order, as `[name, value]`
   * @throws {@link HpackError} if the block is malformed; the dynamic table is then in an
   * unknown state, and the connection must be closed
   */
  decode(block: Uint8Array): Array<[name: string, value: string]>;
  /** Octets the dynamic table holds now, counted as in RFC 7541 section 4.1. */
  readonly tableSize: number;
}

/** The static table (RFC 7541 Appendix A); index 0 is not a field and is never read. */
const STATIC_NAMES: readonly string[] = [
  '',
  ':authority',
  ':method',
  ':method',
  ':path',
  ':path',
  ':scheme',
  ':scheme',
  ':status',
  ':status',
  ':status',
  ':status',
  ':status',
  ':status',
  ':status',
  'accept-charset',
  'accept-encoding',
  'accept-language',
  'accept-ranges',
  'accept',
  'access-control-allow-origin',
  'age',
  'allow',
  'authorization',
  'cache-control',
  'content-disposition',
  'content-encoding',
  'content-language',
  'content-length',
  'content-location',
  'content-range',
  'content-type',
  'cookie',
  'date',
  'etag',
  'expect',
  'expires',
  'from',
  'host',
  'if-match',
  'if-modified-since',
  'if-none-match',
  'if-range',
  'if-unmodified-since',
  'last-modified',
  'link',
  'location',
  'max-forwards',
  'proxy-authenticate',
  'proxy-authorization',
  'range',
  'referer',
  'refresh',
  'retry-after',
  'server',
  'set-cookie',
  'strict-transport-security',
  'transfer-encoding',
  'user-agent',
  'vary',
  'via',
  'www-authenticate',
];

/** Values of the static entries that have one (indices 2 to 16); every other value is empty. */
const STATIC_VALUES: readonly string[] = [
  '',
  '',
  'GET',
  'POST',
  '/',
  '/index.html',
  'http',
  'https',
  '200',
  '204',
  '206',
  '304',
  '400',
  '404',
  '500',
  '',
  'gzip, deflate',
];

const STATIC_ENTRIES = STATIC_NAMES.length - 1;

const EMPTY = Buffer.alloc(0);

/** Octets an entry costs beyond its name and value (section 4.1). */
const ENTRY_OVERHEAD = 32;

/** The largest integer accepted: sizes and indices past it are not plausible. */
const MAX_INTEGER = 2 ** 31 - 1;
/** Continuation octets of an integer: five carry 35 bits, enough to pass `MAX_INTEGER`. */
const MAX_CONTINUATIONS = 5;

/**
 * Creates the decoder of one connection.
 * @param maxTableSize - the `SETTINGS_HEADER_TABLE_SIZE` this client announced in its first
 * SETTINGS frame, before any request (RFC 9113 section 6.5.2); the server's table size
 * updates may not exceed it
 * @returns the decoder
 * @throws RangeError if `maxTableSize` is not an integer from 0 to 2^31 - 1
 * @remarks The table starts at `maxTableSize`, not at the protocol's 4096: the server reads the
 * client's first SETTINGS before its first request, so it encodes no response for a larger
 * table. The dynamic table is a ring of names and values that grows by doubling, up to the
 * entries the largest table can hold; a block allocates little beyond its fields.
 */
export function createHpackDecoder(maxTableSize = 4096): HpackDecoder {
  if (!Number.isInteger(maxTableSize) || maxTableSize < 0 || maxTableSize > MAX_INTEGER) {
    throw new RangeError(`HPACK table size must be an integer from 0 to ${MAX_INTEGER}`);
  }
  // The table's limit until the server changes it (section 4.2).
  let limit = maxTableSize;
  let size = 0;
  // Oldest entry at `first`; newest at `first + count - 1`, modulo the ring's length.
  let names: string[] = new Array<string>(16).fill('');
  let values: string[] = new Array<string>(16).fill('');
  let first = 0;
  let count = 0;

  // The block being decoded, a latin1 view of it, and the offset of the next octet.
  let input: Uint8Array = EMPTY;
  let text: Buffer = EMPTY;
  let at = 0;

  /** Reads an integer whose first octet carries `mask` as its prefix (section 5.1). */
  function readInteger(mask: number): number {
    let value = (input[at] as number) & mask;
    at += 1;
    if (value < mask) return value;
    let factor = 1;
    for (let continuation = 0; continuation < MAX_CONTINUATIONS; continuation++) {
      if (at >= input.length) throw new HpackError('HPACK integer is truncated');
      const octet = input[at] as number;
      at += 1;
      value += (octet & 0x7f) * factor;
      if (value > MAX_INTEGER) throw new HpackError('HPACK integer is too large');
      if (octet < 0x80) return value;
      factor *= 128;
    }
    throw new HpackError('HPACK integer has too many continuation octets');
  }

  /** Reads a string literal (section 5.2): the H bit, a 7-bit-prefix length, the octets. */
  function readString(): string {
    if (at >= input.length) throw new HpackError('HPACK string literal is missing');
    const huffman = ((input[at] as number) & 0x80) !== 0;
    const length = readInteger(0x7f);
    const end = at + length;
    if (end > input.length) throw new HpackError('HPACK string literal is truncated');
    const value = huffman ? decodeHuffman(input, at, end) : text.toString('latin1', at, end);
    at = end;
    return value;
  }

  /** The ring position of index space entry `index` (section 2.3.3), which must be dynamic. */
  function slot(index: number): number {
    if (index > STATIC_ENTRIES + count) {
      throw new HpackError(`HPACK index ${index} is past the end of the table`);
    }
    // Index 62 is the newest entry.
    return (first + count - 1 - (index - STATIC_ENTRIES - 1)) % names.length;
  }

  function nameAt(index: number): string {
    if (index <= STATIC_ENTRIES) return STATIC_NAMES[index] as string;
    return names[slot(index)] as string;
  }

  function fieldAt(index: number): [string, string] {
    if (index === 0) throw new HpackError('HPACK index 0 is not a field');
    if (index <= STATIC_ENTRIES) {
      return [STATIC_NAMES[index] as string, STATIC_VALUES[index] ?? ''];
    }
    const position = slot(index);
    return [names[position] as string, values[position] as string];
  }

  /** Evicts the oldest entries until the table holds at most `target` octets (section 4.3). */
  function evictTo(target: number): void {
    while (size > target) {
      size -= (names[first] as string).length + (values[first] as string).length + ENTRY_OVERHEAD;
      // Let the strings go.
      names[first] = '';
      values[first] = '';
      first = (first + 1) % names.length;
      count -= 1;
    }
  }

  /** Adds an entry (section 4.4), evicting first; an entry larger than the table empties it. */
  function insert(name: string, value: string): void {
    const entrySize = name.length + value.length + ENTRY_OVERHEAD;
    if (entrySize > limit) {
      evictTo(0);
      return;
    }
    evictTo(limit - entrySize);
    if (count === names.length) grow();
    const position = (first + count) % names.length;
    names[position] = name;
    values[position] = value;
    count += 1;
    size += entrySize;
  }

  /** Doubles the ring, unrolling it so the oldest entry is at 0. */
  function grow(): void {
    const length = names.length * 2;
    const nextNames = new Array<string>(length).fill('');
    const nextValues = new Array<string>(length).fill('');
    for (let i = 0; i < count; i++) {
      const from = (first + i) % names.length;
      nextNames[i] = names[from] as string;
      nextValues[i] = values[from] as string;
    }
    names = nextNames;
    values = nextValues;
    first = 0;
  }

  // `tableSize` is a data property refreshed after each block: an object literal with a getter
  // costs V8 microseconds to create, a plain one does not.
  const decoder: { -readonly [K in keyof HpackDecoder]: HpackDecoder[K] } = {
    tableSize: 0,
    decode(block) {
      input = block;
      text = Buffer.isBuffer(block)
        ? block
        : Buffer.from(block.buffer, block.byteOffset, block.byteLength);
      at = 0;
      const fields: Array<[string, string]> = [];
      try {
        while (at < input.length) {
          const octet = input[at] as number;
          if (octet >= 0x80) {
            // Indexed field (section 6.1).
            fields.push(fieldAt(readInteger(0x7f)));
          } else if (octet >= 0x40) {
            // Literal with incremental indexing (section 6.2.1); index 0 means a new name.
            const index = readInteger(0x3f);
            const name = index === 0 ? readString() : nameAt(index);
            const value = readString();
            // The name is read before the insertion can evict the entry it came from.
            insert(name, value);
            fields.push([name, value]);
          } else if (octet >= 0x20) {
            // Dynamic table size update (section 6.3): only before the first field (section 4.2).
            if (fields.length > 0) {
              throw new HpackError('HPACK table size update after a field');
            }
            const next = readInteger(0x1f);
            if (next > maxTableSize) {
              throw new HpackError(`HPACK table size update to ${next} exceeds ${maxTableSize}`);
            }
            limit = next;
            evictTo(limit);
          } else {
            // Literal without indexing (0000, section 6.2.2) or never indexed (0001, section
            // 6.2.3): decoded alike, as neither touches the table.
            const index = readInteger(0x0f);
            const name = index === 0 ? readString() : nameAt(index);
            fields.push([name, readString()]);
          }
        }
      } finally {
        // Hold no reference to the block between calls.
        input = EMPTY;
        text = EMPTY;
        decoder.tableSize = size;
      }
      return fields;
    },
  };
  return decoder;
}
