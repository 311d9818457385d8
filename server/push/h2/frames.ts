/**
 * HTTP/2 framing (RFC 9113 section 4 and 6): the constants a client needs and the one
 * buffer frames are written into before they go to the socket together.
 * @packageDocumentation
 */

/** Frame types (RFC 9113 section 6). */
export const FrameType = {
  DATA: 0x0,
  HEADERS: 0x1,
  PRIORITY: 0x2,
  RST_STREAM: 0x3,
  SETTINGS: 0x4,
  PUSH_PROMISE: 0x5,
  PING: 0x6,
  GOAWAY: 0x7,
  WINDOW_UPDATE: 0x8,
  CONTINUATION: 0x9,
} as const;

/** Frame flags; `ACK` shares its bit with `END_STREAM`. */
export const Flag = {
  END_STREAM: 0x1,
  ACK: 0x1,
  END_HEADERS: 0x4,
  PADDED: 0x8,
  PRIORITY: 0x20,
} as const;

/** Setting identifiers (RFC 9113 section 6.5.2). */
export const Setting = {
  HEADER_TABLE_SIZE: 0x1,
  ENABLE_PUSH: 0x2,
  MAX_CONCURRENT_STREAMS: 0x3,
  INITIAL_WINDOW_SIZE: 0x4,
  MAX_FRAME_SIZE: 0x5,
  MAX_HEADER_LIST_SIZE: 0x6,
} as const;

/** Error codes (RFC 9113 section 7). */
export const ErrorCode = {
  NO_ERROR: 0x0,
  PROTOCOL_ERROR: 0x1,
  INTERNAL_ERROR: 0x2,
  FLOW_CONTROL_ERROR: 0x3,
  STREAM_CLOSED: 0x5,
  FRAME_SIZE_ERROR: 0x6,
  REFUSED_STREAM: 0x7,
  CANCEL: 0x8,
  COMPRESSION_ERROR: 0x9,
} as const;

/** The client connection preface (RFC 9113 section 3.4). */
export const CLIENT_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

/** Bytes of a frame header. */
export const FRAME_HEADER_BYTES = 9;
/** The largest frame payload either side may send before SETTINGS say otherwise. */
export const DEFAULT_MAX_FRAME_SIZE = 16_384;
/** Flow-control windows start here (RFC 9113 section 6.9.2). */
export const DEFAULT_WINDOW = 65_535;
/** The largest window, stream id and window increment: 2^31 - 1. */
export const MAX_INT31 = 0x7fff_ffff;

/** Frames written in one tick, sent to the socket in one write. */
export interface FrameWriter {
  /**
   * Appends one frame.
   * @param type - frame type
   * @param flags - frame flags
   * @param streamId - 0 for connection frames
   * @param payload - the payload, or `undefined` for none
   */
  frame(type: number, flags: number, streamId: number, payload?: Uint8Array): void;
  /**
   * Appends a frame whose payload is one 32-bit word (WINDOW_UPDATE, RST_STREAM).
   * @param type - frame type
   * @param streamId - the stream, or 0
   * @param word - the payload
   */
  word(type: number, streamId: number, word: number): void;
  /**
   * Takes what was written, in order: ranges of the writer's chunks, none when nothing was.
   * Written together (corked), they leave as one write.
   */
  take(): Buffer[];
}

const CHUNK_BYTES = 64 * 1024;

/**
 * Creates a frame writer.
 * @returns the writer
 * @remarks Frames are copied into 64 KiB chunks, so a fan-out's hundreds of requests in one
 * tick become one corked socket write (one TLS record per 16 KiB) instead of two writes each.
 * The chunks are handed out as they are, never joined: a join allocated and copied every byte
 * of the tick again (a fan-out's bodies, megabytes per event) only to free it after the write.
 * A chunk range handed out by `take()` is never written again (the socket may still hold it):
 * later frames go after it, in the same chunk while it has room.
 */
export function createFrameWriter(): FrameWriter {
  let chunk = Buffer.allocUnsafe(CHUNK_BYTES);
  /** Where the bytes not taken yet begin: those before belong to the socket. */
  let start = 0;
  let at = 0;
  /** Ranges of earlier chunks not taken yet. */
  const full: Buffer[] = [];

  function reserve(bytes: number): void {
    if (at + bytes <= chunk.length) return;
    if (at > start) full.push(chunk.subarray(start, at));
    chunk = Buffer.allocUnsafe(Math.max(CHUNK_BYTES, bytes));
    start = 0;
    at = 0;
  }

  function header(length: number, type: number, flags: number, streamId: number): void {
    chunk[at] = length >>> 16;
    chunk[at + 1] = (length >>> 8) & 0xff;
    chunk[at + 2] = length & 0xff;
    chunk[at + 3] = type;
    chunk[at + 4] = flags;
    chunk.writeUInt32BE(streamId, at + 5);
    at += FRAME_HEADER_BYTES;
  }

  return {
    frame(type, flags, streamId, payload) {
      const length = payload === undefined ? 0 : payload.byteLength;
      reserve(FRAME_HEADER_BYTES + length);
      header(length, type, flags, streamId);
      if (payload !== undefined) {
        chunk.set(payload, at);
        at += length;
      }
    },
    word(type, streamId, word) {
      reserve(FRAME_HEADER_BYTES + 4);
      header(4, type, 0, streamId);
      chunk.writeUInt32BE(word >>> 0, at);
      at += 4;
    },
    take() {
      if (at > start) full.push(chunk.subarray(start, at));
      // What was taken belongs to the socket now; later frames go after it.
      start = at;
      return full.splice(0, full.length);
    },
  };
}
