/**
 * The static Huffman code of HPACK (RFC 7541 section 5.2 and Appendix B), decoding side.
 *
 * The code is canonical: within each length, codes are consecutive in symbol order, and each
 * length continues from the last code of the shorter ones. The 257 code lengths (octets 0 to
 * 255 and EOS) therefore determine every code, and only they are written down here.
 *
 * Decoding walks the code tree four bits at a time through a transition table built once, at
 * module load: one lookup per nibble, and since no code is shorter than five bits, a nibble
 * completes at most one symbol.
 * @packageDocumentation
 */

/**
 * A header block that cannot be decoded (RFC 7541 section 2.4): the connection's compression
 * state is lost with it, so HTTP/2 treats this as a connection error of type
 * `COMPRESSION_ERROR` (RFC 9113 section 4.3).
 */
export class HpackError extends Error {
  override readonly name = 'HpackError';
}

/**
 * Code lengths of symbols 0 to 256, one character each: length = char code - 60, so 'A' is 5
 * bits and 'Z' is 30 (EOS, the last one).
 */
const CODE_LENGTHS =
  'ISXXXXXXXTZXXZXXXXXXXXZXXXXXXXXXBFFHIBDGFFDGDBBBAAABBBBBBBCDKBHFIBCCCCCCCCCCCCCCCCCCCCCC' +
  'DCDIOIJBKABABABBBACCBBBABCBAABCCCCCKGJIXPRPPRRRSRSSSSSTSTTRSTSSSSQRSRSSTRQPRRSSQSRRTQRSSQQ' +
  'RQSRSSPRRRSRRSVVPORSRUVVVWWVTUOQVWWVWTQQVVXWWWPTPQRQQSRRUUTTVSVWVVWWWWWXWWWWWVZ';

const EOS = 256;
const SHORTEST = 5;
const LONGEST = 30;

/**
 * A transition's fields: the next state in bits 0-7, a completed symbol in bits 8-15 with
 * `EMITS` set, and `HITS_EOS` if the nibble reaches EOS, which no string may contain.
 */
const EMITS = 1 << 16;
const HITS_EOS = 1 << 17;

/**
 * `TRANSITIONS[state * 16 + nibble]`: where the nibble leads from `state` (an inner node of the
 * code tree, 0 the root), and which symbol it completes on the way.
 */
const TRANSITIONS = new Int32Array(256 * 16);

/**
 * Whether a string may end in `state`: at the root, or at most 7 bits into the all-ones path,
 * which is padding taken from the top of EOS (section 5.2).
 */
const MAY_END = new Uint8Array(256);

buildTables();

function buildTables(): void {
  // children[node * 2 + bit]: an inner node's id (> 0), or ~symbol for a leaf; 0 is unset,
  // as the root is nobody's child. A full binary tree with 257 leaves has 256 inner nodes.
  const children = new Int16Array(256 * 2);
  const depth = new Uint8Array(256);
  const allOnes = new Uint8Array(256);
  allOnes[0] = 1;
  let nodes = 1;
  let code = 0;
  let previousLength = SHORTEST;
  for (let length = SHORTEST; length <= LONGEST; length++) {
    for (let symbol = 0; symbol <= EOS; symbol++) {
      if (CODE_LENGTHS.charCodeAt(symbol) - 60 !== length) continue;
      code *= 2 ** (length - previousLength);
      previousLength = length;
      let node = 0;
      for (let bit = length - 1; bit > 0; bit--) {
        const branch = (code >>> bit) & 1;
        let child = children[node * 2 + branch] as number;
        if (child === 0) {
          child = nodes++;
          children[node * 2 + branch] = child;
          depth[child] = (depth[node] as number) + 1;
          allOnes[child] = (allOnes[node] as number) & branch;
        }
        node = child;
      }
      children[node * 2 + (code & 1)] = ~symbol;
      code += 1;
    }
  }

  for (let state = 0; state < 256; state++) {
    MAY_END[state] = state === 0 || (allOnes[state] === 1 && (depth[state] as number) <= 7) ? 1 : 0;
    for (let nibble = 0; nibble < 16; nibble++) {
      let node = state;
      let entry = 0;
      for (let bit = 3; bit >= 0; bit--) {
        const child = children[node * 2 + ((nibble >>> bit) & 1)] as number;
        if (child > 0) {
          node = child;
          continue;
        }
        const symbol = ~child;
        if (symbol === EOS) {
          entry |= HITS_EOS;
          break;
        }
        entry |= EMITS | (symbol << 8);
        node = 0;
      }
      TRANSITIONS[state * 16 + nibble] = entry | node;
    }
  }
}

/** Decoded octets, reused by every call: decoding is synchronous. */
let scratch = Buffer.allocUnsafe(1024);

/**
 * Decodes a Huffman-coded string literal.
 * @param bytes - holds the coded string
 * @param start - where it starts in `bytes`
 * @param end - where it ends in `bytes`
 * @returns the decoded octets as a latin1 string
 * @throws {@link HpackError} if the string contains EOS, or ends in padding that is longer than
 * 7 bits or is not all ones (RFC 7541 section 5.2)
 */
export function decodeHuffman(bytes: Uint8Array, start = 0, end = bytes.length): string {
  // Every code is at least 5 bits long.
  const most = Math.floor(((end - start) * 8) / SHORTEST);
  if (scratch.length < most) scratch = Buffer.allocUnsafe(Math.max(most, scratch.length * 2));
  const out = scratch;
  let length = 0;
  let state = 0;
  for (let at = start; at < end; at++) {
    const byte = bytes[at] as number;
    let entry = TRANSITIONS[state * 16 + (byte >>> 4)] as number;
    if ((entry & HITS_EOS) !== 0) throw new HpackError('Huffman string contains EOS');
    if ((entry & EMITS) !== 0) out[length++] = (entry >>> 8) & 0xff;
    state = entry & 0xff;
    entry = TRANSITIONS[state * 16 + (byte & 0x0f)] as number;
    if ((entry & HITS_EOS) !== 0) throw new HpackError('Huffman string contains EOS');
    if ((entry & EMITS) !== 0) out[length++] = (entry >>> 8) & 0xff;
    state = entry & 0xff;
  }
  if (MAY_END[state] !== 1) {
    throw new HpackError('Huffman string does not end in 0 to 7 padding bits of all ones');
  }
  return out.toString('latin1', 0, length);
}
