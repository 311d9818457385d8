/**
 * The bytes of a group message's push: each member's envelope (PROTOCOL.md), one of them alone
 * or several in a batch, written straight into one buffer.
 * @packageDocumentation
 */
import { PROTOCOL_VERSION } from '../../protocol/index.js';
import type { MemberRoute } from '../store/types.js';

/**
 * A member's envelope up to its `payload` (or its closing brace), as JSON text written by hand.
 * ASCII only, and no escaping needed: tab ids are checked against the protocol's base64url shape
 * when they arrive, registration ids are ours.
 * @param member - the member
 * @param seq - the group seq; the member's own is counted from its `base`
 * @param type - the envelope type
 * @returns the text
 */
export function envelopeHead(member: MemberRoute, seq: number, type: string): string {
  const own = seq - member.base;
  return `{"v":${PROTOCOL_VERSION},"id":"${member.id}:${own}","tab":"${member.tabId}","reg":"${member.id}","seq":${own},"type":"${type}"`;
}

/** Opens a batch of envelopes. */
export const BATCH_OPEN = `{"v":${PROTOCOL_VERSION},"batch":[`;
const BATCH_OPEN_BYTES = Buffer.from(BATCH_OPEN, 'latin1');

/** What of a member's envelope never changes: around its own seq, which comes twice. */
interface MemberParts {
  readonly tabId: string;
  /** `{"v":1,"id":"<registration>:` */
  readonly open: Buffer;
  /** `","tab":"<tab>","reg":"<registration>","seq":` */
  readonly middle: Buffer;
}

/** The fixed parts of a batch's members, in order: see {@link EnvelopeWriter.parts}. */
export type EnvelopeParts = readonly MemberParts[];

/** Writes push bytes for group messages. */
export interface EnvelopeWriter {
  /**
   * The fixed parts of `members`' envelopes, to keep with a batch that is pushed again.
   * @param members - the members of one push
   * @returns their parts, in order
   */
  parts(members: readonly MemberRoute[]): EnvelopeParts;
  /**
   * The members' envelopes of one message: the envelope itself for one member, else a batch.
   * @param members - who gets it, at least one
   * @param seq - the group seq of the message
   * @param type - `next`, `error` or `complete`
   * @param payload - the payload's JSON as UTF-8, made once per message and not changed after
   * (the end of its envelopes is joined once and kept for the message's other pushes)
   * @param parts - `parts(members)` if kept, else they are looked up
   * @returns the bytes of one push
   */
  batch(
    members: readonly MemberRoute[],
    seq: number,
    type: string,
    payload: Uint8Array | undefined,
    parts?: EnvelopeParts,
  ): Buffer;
}

const digits = (value: number): number => {
  let count = 1;
  for (let rest = value; rest >= 10; rest = Math.floor(rest / 10)) count += 1;
  return count;
};

/** Writes a non-negative integer in decimal ASCII; returns the offset after it. */
function writeInteger(out: Buffer, at: number, value: number): number {
  const end = at + digits(value);
  let rest = value;
  for (let i = end - 1; i >= at; i -= 1) {
    out[i] = 0x30 + (rest % 10);
    rest = Math.floor(rest / 10);
  }
  return end;
}

/**
 * Creates a writer that keeps each member's fixed parts as bytes.
 * @param maxMembers - members whose parts are kept; the oldest kept are forgotten first
 * @returns the writer
 * @remarks A fan-out writes the same members' ids and tabs on every event: kept as bytes, an
 * envelope costs a few copies and its seq's digits, and no string is made per member or per
 * push. The payload is copied into each envelope from the one UTF-8 encoding of the message.
 * Copies are `TypedArray#set`, a builtin, rather than `Buffer#copy`, whose argument handling
 * cost more than the copy of these few bytes.
 */
export function createEnvelopeWriter(maxMembers: number): EnvelopeWriter {
  const kept = new Map<string, MemberParts>();
  /** `,"type":"<type>"` and, with a payload, `,"payload":`: the same bytes for every envelope. */
  const tails = new Map<string, Buffer>();
  /** The parts of the batch being written, reused from push to push. */
  const scratch: MemberParts[] = [];

  function partsOf(member: MemberRoute): MemberParts {
    const known = kept.get(member.id);
    if (known !== undefined && known.tabId === member.tabId) return known;
    const parts = {
      tabId: member.tabId,
      open: Buffer.from(`{"v":${PROTOCOL_VERSION},"id":"${member.id}:`, 'latin1'),
      middle: Buffer.from(`","tab":"${member.tabId}","reg":"${member.id}","seq":`, 'latin1'),
    };
    if (kept.size >= maxMembers) {
      const oldest = kept.keys().next();
      if (!oldest.done) kept.delete(oldest.value);
    }
    kept.set(member.id, parts);
    return parts;
  }

  function tailOf(type: string, withPayload: boolean): Buffer {
    const key = withPayload ? `${type}+` : type;
    let tail = tails.get(key);
    if (tail === undefined) {
      tail = Buffer.from(`,"type":"${type}"${withPayload ? ',"payload":' : ''}`, 'latin1');
      tails.set(key, tail);
    }
    return tail;
  }

  /** The end of every envelope of the last message: its tail, its payload and `}`. */
  let last: { type: string; payload: Uint8Array | undefined; ending: Buffer } | undefined;

  /**
   * The end of every envelope of a message, joined once per message (its pushes all pass the
   * same payload): an envelope is then three copies and its seq twice.
   */
  function endingOf(type: string, payload: Uint8Array | undefined): Buffer {
    if (last !== undefined && last.type === type && last.payload === payload) return last.ending;
    const tail = tailOf(type, payload !== undefined);
    const length = payload === undefined ? 0 : payload.byteLength;
    const ending = Buffer.allocUnsafeSlow(tail.length + length + 1);
    ending.set(tail, 0);
    if (payload !== undefined) ending.set(payload, tail.length);
    ending[tail.length + length] = 0x7d; // }
    last = { type, payload, ending };
    return ending;
  }

  return {
    parts: (members) => members.map(partsOf),
    batch(members, seq, type, payload, kept) {
      const count = members.length;
      const parts: readonly MemberParts[] = kept ?? scratch;
      const ending = endingOf(type, payload);
      const single = count === 1;
      // Per envelope: its ending; and a `,` between envelopes of a batch.
      const each = ending.length;
      let size = single ? 0 : BATCH_OPEN_BYTES.length + count - 1 + 2;
      for (let i = 0; i < count; i += 1) {
        const member = members[i] as MemberRoute;
        const own = kept === undefined ? partsOf(member) : (kept[i] as MemberParts);
        if (kept === undefined) scratch[i] = own;
        size += own.open.length + own.middle.length + 2 * digits(seq - member.base) + each;
      }
      const out = Buffer.allocUnsafe(size);
      let at = 0;
      if (!single) {
        out.set(BATCH_OPEN_BYTES, 0);
        at = BATCH_OPEN_BYTES.length;
      }
      for (let i = 0; i < count; i += 1) {
        const member = parts[i] as MemberParts;
        const own = seq - (members[i] as MemberRoute).base;
        if (i > 0) out[at++] = 0x2c; // ,
        out.set(member.open, at);
        at = writeInteger(out, at + member.open.length, own);
        out.set(member.middle, at);
        at = writeInteger(out, at + member.middle.length, own);
        out.set(ending, at);
        at += ending.length;
      }
      if (!single) {
        out[at++] = 0x5d; // ]
        out[at++] = 0x7d; // }
      }
      // Nothing kept past the push: the parts stay in `kept`, not here.
      scratch.length = 0;
      return out;
    },
  };
}
