/**
 * Reads an HTTP/2 server's bytes as frames (RFC 9113 section 4 and 6): splits them, checks each
 * frame's shape, strips padding, joins HEADERS with their CONTINUATIONs, and hands each frame's
 * meaning to the connection. What depends on the connection's state (which streams are open,
 * flow-control windows, HPACK) is the connection's to judge.
 * @packageDocumentation
 */
import {
  DEFAULT_MAX_FRAME_SIZE,
  ErrorCode,
  Flag,
  FRAME_HEADER_BYTES,
  FrameType,
  MAX_INT31,
} from './frames.js';

/** What the frames say, one call per frame (a header block once whole). */
export interface FrameHandlers {
  /**
   * A DATA frame.
   * @param streamId - its stream
   * @param bytes - body bytes, padding excluded
   * @param flowControlled - the whole payload, padding included (section 6.9.1)
   * @param endStream - END_STREAM is set
   */
  data(streamId: number, bytes: number, flowControlled: number, endStream: boolean): void;
  /** A whole header block of a stream, padding and priority stripped. */
  headers(streamId: number, block: Uint8Array, endStream: boolean): void;
  rstStream(streamId: number, code: number): void;
  /** A SETTINGS frame that is not an ACK: its (id, value) pairs, 6 bytes each. */
  settings(payload: Buffer): void;
  /** A PING that is not an ACK: its 8 bytes, to echo. */
  ping(payload: Buffer): void;
  goaway(lastStreamId: number, code: number): void;
  /** A WINDOW_UPDATE; an increment of 0 on a stream is the connection's to reset. */
  windowUpdate(streamId: number, increment: number): void;
  /** The server broke the protocol: the connection ends with `code`. Nothing is read after. */
  error(code: number, message: string): void;
}

/** Reads the bytes of one connection. */
export interface FrameReader {
  /** The next bytes from the socket. */
  push(data: Buffer): void;
  /** Reads nothing more (the connection is gone). */
  stop(): void;
}

interface PendingHeaders {
  readonly streamId: number;
  readonly endStream: boolean;
  readonly fragments: Buffer[];
  bytes: number;
}

/** A header block (with its CONTINUATIONs) larger than this ends the connection. */
const MAX_HEADER_BLOCK_BYTES = 64 * 1024;

/**
 * Creates the reader of one connection.
 * @param on - what to call per frame
 * @returns the reader
 * @remarks The first frame must be SETTINGS (the server's connection preface, section 3.4). A
 * frame over 16,384 bytes is an error: this client never raises `SETTINGS_MAX_FRAME_SIZE`.
 * PRIORITY and frame types this client does not know are ignored (section 5.5).
 */
export function createFrameReader(on: FrameHandlers): FrameReader {
  let inbox: Buffer | undefined;
  let pending: PendingHeaders | undefined;
  let first = true;
  let stopped = false;

  function error(code: number, message: string): void {
    stopped = true;
    on.error(code, message);
  }

  function headers(flags: number, streamId: number, payload: Buffer) {
    if (streamId === 0) return error(ErrorCode.PROTOCOL_ERROR, 'HEADERS on stream 0');
    let start = 0;
    let padding = 0;
    if (flags & Flag.PADDED) {
      padding = payload[0] ?? 0;
      start = 1;
    }
    if (flags & Flag.PRIORITY) start += 5;
    if (start + padding > payload.length) {
      return error(ErrorCode.PROTOCOL_ERROR, 'HEADERS padding exceeds the frame');
    }
    const fragment = payload.subarray(start, payload.length - padding);
    const endStream = (flags & Flag.END_STREAM) !== 0;
    if (flags & Flag.END_HEADERS) return on.headers(streamId, fragment, endStream);
    // Copied: the block is only whole once a later frame, maybe a later read, ends it.
    pending = { streamId, endStream, fragments: [Buffer.from(fragment)], bytes: fragment.length };
  }

  function continuation(flags: number, streamId: number, payload: Buffer) {
    const block = pending;
    if (block === undefined || block.streamId !== streamId) {
      return error(ErrorCode.PROTOCOL_ERROR, 'CONTINUATION out of place');
    }
    block.fragments.push(Buffer.from(payload));
    block.bytes += payload.length;
    if (block.bytes > MAX_HEADER_BLOCK_BYTES) {
      return error(ErrorCode.PROTOCOL_ERROR, 'header block too large');
    }
    if (flags & Flag.END_HEADERS) {
      pending = undefined;
      on.headers(streamId, Buffer.concat(block.fragments, block.bytes), block.endStream);
    }
  }

  function frame(type: number, flags: number, streamId: number, payload: Buffer) {
    if (first && type !== FrameType.SETTINGS) {
      return error(ErrorCode.PROTOCOL_ERROR, 'the server preface is not SETTINGS');
    }
    first = false;
    if (pending !== undefined && type !== FrameType.CONTINUATION) {
      return error(ErrorCode.PROTOCOL_ERROR, 'a header block was interrupted');
    }
    switch (type) {
      case FrameType.DATA: {
        if (streamId === 0) return error(ErrorCode.PROTOCOL_ERROR, 'DATA on stream 0');
        const padding = flags & Flag.PADDED ? 1 + (payload[0] ?? 0) : 0;
        if (padding > payload.length) {
          return error(ErrorCode.PROTOCOL_ERROR, 'DATA padding exceeds the frame');
        }
        return on.data(
          streamId,
          payload.length - padding,
          payload.length,
          (flags & Flag.END_STREAM) !== 0,
        );
      }
      case FrameType.HEADERS:
        return headers(flags, streamId, payload);
      case FrameType.CONTINUATION:
        return continuation(flags, streamId, payload);
      case FrameType.RST_STREAM:
        if (streamId === 0 || payload.length !== 4) {
          return error(ErrorCode.PROTOCOL_ERROR, 'malformed RST_STREAM');
        }
        return on.rstStream(streamId, payload.readUInt32BE(0));
      case FrameType.SETTINGS:
        if (streamId !== 0) return error(ErrorCode.PROTOCOL_ERROR, 'SETTINGS on a stream');
        if (flags & Flag.ACK) {
          if (payload.length !== 0) error(ErrorCode.FRAME_SIZE_ERROR, 'SETTINGS ack with a body');
          return;
        }
        if (payload.length % 6 !== 0) return error(ErrorCode.FRAME_SIZE_ERROR, 'SETTINGS length');
        return on.settings(payload);
      case FrameType.PUSH_PROMISE:
        // This client sends SETTINGS_ENABLE_PUSH = 0 (section 8.4).
        return error(ErrorCode.PROTOCOL_ERROR, 'PUSH_PROMISE with push disabled');
      case FrameType.PING:
        if (streamId !== 0 || payload.length !== 8) {
          return error(ErrorCode.FRAME_SIZE_ERROR, 'malformed PING');
        }
        if (!(flags & Flag.ACK)) on.ping(payload);
        return;
      case FrameType.GOAWAY:
        if (streamId !== 0 || payload.length < 8) {
          return error(ErrorCode.PROTOCOL_ERROR, 'malformed GOAWAY');
        }
        return on.goaway(payload.readUInt32BE(0) & MAX_INT31, payload.readUInt32BE(4));
      case FrameType.WINDOW_UPDATE: {
        if (payload.length !== 4) return error(ErrorCode.FRAME_SIZE_ERROR, 'WINDOW_UPDATE length');
        const increment = payload.readUInt32BE(0) & MAX_INT31;
        if (streamId === 0 && increment === 0) {
          return error(ErrorCode.PROTOCOL_ERROR, 'WINDOW_UPDATE of 0');
        }
        return on.windowUpdate(streamId, increment);
      }
      default:
        return;
    }
  }

  return {
    push(data) {
      if (stopped) return;
      const bytes = inbox === undefined ? data : Buffer.concat([inbox, data]);
      let at = 0;
      while (bytes.length - at >= FRAME_HEADER_BYTES) {
        const length =
          (bytes[at] as number) * 65536 +
          (bytes[at + 1] as number) * 256 +
          (bytes[at + 2] as number);
        if (length > DEFAULT_MAX_FRAME_SIZE) {
          return error(ErrorCode.FRAME_SIZE_ERROR, `a frame of ${length} bytes`);
        }
        if (bytes.length - at < FRAME_HEADER_BYTES + length) break;
        const type = bytes[at + 3] as number;
        const flags = bytes[at + 4] as number;
        const streamId = bytes.readUInt32BE(at + 5) & MAX_INT31;
        const payload = bytes.subarray(at + FRAME_HEADER_BYTES, at + FRAME_HEADER_BYTES + length);
        at += FRAME_HEADER_BYTES + length;
        frame(type, flags, streamId, payload);
        if (stopped) return;
      }
      inbox = at < bytes.length ? Buffer.from(bytes.subarray(at)) : undefined;
    },
    stop() {
      stopped = true;
      inbox = undefined;
      pending = undefined;
    },
  };
}
