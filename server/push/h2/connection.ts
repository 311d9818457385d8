/**
 * One HTTP/2 client connection (RFC 9113) over a TLS socket that negotiated `h2`: what a push
 * sender needs and no more. Requests are POSTs with a body of a few KiB and answers are a
 * status and a few headers, so this client sends HEADERS and DATA with flow control, reads
 * HEADERS, CONTINUATION and DATA, and keeps the connection's own rules (SETTINGS, PING, GOAWAY,
 * RST_STREAM, WINDOW_UPDATE); it never accepts server push.
 *
 * Why not `node:http2`: each of its requests is a stream object with events, a headers object
 * and several native calls, and a push sender's fan-out is thousands of requests at once. Here a
 * request is one header block and one DATA frame written into a shared buffer, and every frame
 * of a tick leaves in one socket write.
 * @packageDocumentation
 */
import type { TLSSocket } from 'node:tls';
import { createFrameReader } from './frame-reader.js';
import {
  CLIENT_PREFACE,
  createFrameWriter,
  DEFAULT_MAX_FRAME_SIZE,
  DEFAULT_WINDOW,
  ErrorCode,
  Flag,
  FRAME_HEADER_BYTES,
  FrameType,
  MAX_INT31,
  Setting,
} from './frames.js';
import { createHpackDecoder } from './hpack-decode.js';

/**
 * What a request hears back, with the tag it was opened with: one listener can serve every
 * stream, so a request costs no closures of its own.
 */
export interface StreamListener<T> {
  /**
   * The final response head arrived (informational 1xx heads are skipped).
   * @param tag - the request's tag
   * @param status - the `:status`
   * @param retryAfter - the first `retry-after`, if any
   */
  onResponse(tag: T, status: number, retryAfter: string | undefined): void;
  /**
   * Response body bytes arrived; they are discarded.
   * @param tag - the request's tag
   * @param bytes - how many
   */
  onData(tag: T, bytes: number): void;
  /**
   * The stream is over.
   * @param tag - the request's tag
   * @param error - `undefined` when the server ended it; else why it ended early (reset,
   * refused by GOAWAY, connection lost)
   */
  onClose(tag: T, error: Error | undefined): void;
}

/** An HTTP/2 client connection. */
export interface Http2Connection {
  /** Resolves when the server's SETTINGS (its connection preface) arrived; rejects if lost first. */
  readonly ready: Promise<void>;
  /** The server's `SETTINGS_MAX_CONCURRENT_STREAMS` (unlimited until it says). */
  readonly maxConcurrentStreams: number;
  /** Streams open. */
  readonly openStreams: number;
  /** Takes new streams: no GOAWAY, not closed, stream ids left. */
  readonly usable: boolean;
  /**
   * Opens a stream with a request.
   * @param headerBlock - the HPACK-encoded request header block
   * @param body - the request body (sent as flow control allows)
   * @param listener - receives the answer
   * @param tag - handed to `listener` with each event of this stream
   * @returns the stream id
   * @throws when the connection is not {@link Http2Connection.usable}
   */
  request<T>(
    headerBlock: Uint8Array,
    body: Uint8Array,
    listener: StreamListener<T>,
    tag: T,
  ): number;
  /** Resets a stream with CANCEL; its listener hears nothing more. */
  cancel(streamId: number): void;
  /** Says GOAWAY and closes; streams still open fail. */
  close(): void;
  /** Closes at once; streams still open fail with `error`. */
  destroy(error: Error): void;
  /** Lets the socket keep the process alive (while streams are open). */
  ref(): void;
  /** Lets the process exit while the connection idles. */
  unref(): void;
}

/** Options of {@link createHttp2Connection}. */
export interface Http2ConnectionOptions {
  /** Called once when the server says GOAWAY. */
  onGoaway?(): void;
  /** Called once when the connection is gone, for whatever reason. */
  onClose?(): void;
}

/**
 * One open stream. A class rather than an object literal, like every record a request keeps
 * until its answer: V8 allocates the objects of a literal whose objects tend to outlive a
 * young-generation collection straight in the old generation (allocation-site pretenuring),
 * and a request in flight always outlives one; the old generation then fills with dead requests
 * and the whole heap is marked every few events. Instances of a class are never pretenured.
 */
class Stream {
  sendWindow: number;
  /** The body while some of it is still to be sent. */
  body: Uint8Array | undefined;
  sent = 0;
  responded = false;
  constructor(
    readonly id: number,
    readonly listener: StreamListener<unknown>,
    readonly tag: unknown,
    sendWindow: number,
    body: Uint8Array | undefined,
  ) {
    this.sendWindow = sendWindow;
    this.body = body;
  }
}

/** Each stream may receive this much before it is cancelled; answers are tiny. */
const STREAM_RECEIVE_WINDOW = 128 * 1024;
/** The connection's receive window, topped up as DATA is read. */
const CONNECTION_RECEIVE_WINDOW = 1024 * 1024;

/** Why a connection ended: a protocol error by either side, or the socket. */
export class Http2ConnectionError extends Error {
  override readonly name = 'Http2ConnectionError';
}

/** Why one stream ended without an answer. */
export class Http2StreamError extends Error {
  override readonly name = 'Http2StreamError';
}

function settingsFrame(): Buffer {
  const settings = [
    [Setting.ENABLE_PUSH, 0],
    [Setting.INITIAL_WINDOW_SIZE, STREAM_RECEIVE_WINDOW],
  ] as const;
  const frame = Buffer.alloc(FRAME_HEADER_BYTES + settings.length * 6);
  frame.writeUIntBE(settings.length * 6, 0, 3);
  frame[3] = FrameType.SETTINGS;
  settings.forEach(([id, value], i) => {
    frame.writeUInt16BE(id, FRAME_HEADER_BYTES + i * 6);
    frame.writeUInt32BE(value, FRAME_HEADER_BYTES + i * 6 + 2);
  });
  return frame;
}

function windowUpdateFrame(increment: number): Buffer {
  const frame = Buffer.alloc(FRAME_HEADER_BYTES + 4);
  frame.writeUIntBE(4, 0, 3);
  frame[3] = FrameType.WINDOW_UPDATE;
  frame.writeUInt32BE(increment, FRAME_HEADER_BYTES);
  return frame;
}

/**
 * Starts HTTP/2 on a connected socket: sends the preface and SETTINGS.
 * @param socket - a TLS socket whose `alpnProtocol` is `h2`
 * @param options - callbacks for GOAWAY and close
 * @returns the connection
 * @remarks
 * - Frames written in one tick leave in one socket write, on `process.nextTick`.
 * - Flow control: DATA goes out as the connection's and the stream's send windows allow;
 *   a stream that has to wait is resumed, in order, by WINDOW_UPDATE or a larger
 *   `SETTINGS_INITIAL_WINDOW_SIZE`. The receive side tops the connection window up per read;
 *   streams get 128 KiB each, and the caller cancels a stream long before that.
 * - Header blocks are decoded for every stream, live or not, so the HPACK table stays in step.
 * - A protocol error by the server ends the connection with GOAWAY and the error code
 *   (RFC 9113 section 5.4.1); streams then fail, and the caller retries them elsewhere.
 */
export function createHttp2Connection(
  socket: TLSSocket,
  options: Http2ConnectionOptions = {},
): Http2Connection {
  const writer = createFrameWriter();
  const decoder = createHpackDecoder();
  const streams = new Map<number, Stream>();
  /** Streams waiting for send window, in the order they started waiting. */
  let blocked: Stream[] = [];
  let nextStreamId = 1;
  let connectionWindow = DEFAULT_WINDOW;
  let initialStreamWindow = DEFAULT_WINDOW;
  let maxFrameSize = DEFAULT_MAX_FRAME_SIZE;
  let maxConcurrentStreams = MAX_INT31;
  let receivedSettings = false;
  let unacknowledgedBytes = 0;
  let flushScheduled = false;
  let draining = false;
  let closed = false;

  let resolveReady: () => void = () => {};
  let rejectReady: (error: Error) => void = () => {};
  const ready = new Promise<void>((resolve, reject) => {
    resolveReady = resolve;
    rejectReady = reject;
  });
  // A connection lost before its first request still has a rejected `ready`.
  ready.catch(() => {});

  function flush(): void {
    flushScheduled = false;
    if (closed) return;
    const out = writer.take();
    if (out.length === 1) {
      socket.write(out[0] as Buffer);
    } else if (out.length > 1) {
      socket.cork();
      for (const chunk of out) socket.write(chunk);
      socket.uncork();
    }
  }

  function scheduleFlush(): void {
    if (flushScheduled) return;
    flushScheduled = true;
    process.nextTick(flush);
  }

  /** Sends what the windows allow of a stream's body; `true` once all of it is out. */
  function pump(stream: Stream): boolean {
    const body = stream.body;
    if (body === undefined) return true;
    while (stream.sent < body.byteLength) {
      const bytes = Math.min(
        body.byteLength - stream.sent,
        connectionWindow,
        stream.sendWindow,
        maxFrameSize,
      );
      if (bytes <= 0) return false;
      const end = stream.sent + bytes === body.byteLength;
      writer.frame(
        FrameType.DATA,
        end ? Flag.END_STREAM : 0,
        stream.id,
        body.subarray(stream.sent, stream.sent + bytes),
      );
      stream.sent += bytes;
      stream.sendWindow -= bytes;
      connectionWindow -= bytes;
    }
    stream.body = undefined;
    return true;
  }

  function resumeBlocked(): void {
    if (blocked.length === 0) return;
    const waiting = blocked;
    blocked = [];
    for (const stream of waiting) {
      // A stream still blocked keeps its place; those behind it may fit their own window.
      if (streams.get(stream.id) === stream && !pump(stream)) blocked.push(stream);
    }
    scheduleFlush();
  }

  function forget(stream: Stream): void {
    streams.delete(stream.id);
    if (stream.body !== undefined) {
      stream.body = undefined;
      blocked = blocked.filter((other) => other !== stream);
    }
    if (draining && streams.size === 0 && !closed) close();
  }

  function endStream(stream: Stream, error: Error | undefined): void {
    if (streams.get(stream.id) !== stream) return;
    if (error === undefined && stream.body !== undefined) {
      // The server answered before the whole body was sent (RFC 9113 section 8.1): the
      // answer stands, and the rest of the body is not wanted.
      writer.word(FrameType.RST_STREAM, stream.id, ErrorCode.CANCEL);
      scheduleFlush();
    }
    forget(stream);
    stream.listener.onClose(stream.tag, error);
  }

  function resetStream(stream: Stream, code: number, message: string): void {
    writer.word(FrameType.RST_STREAM, stream.id, code);
    scheduleFlush();
    endStream(stream, new Http2StreamError(message));
  }

  function fail(error: Error, destroySocket = true): void {
    if (closed) return;
    closed = true;
    draining = true;
    reader.stop();
    if (destroySocket) socket.destroy();
    rejectReady(error);
    const open = [...streams.values()];
    streams.clear();
    blocked = [];
    for (const stream of open) stream.listener.onClose(stream.tag, error);
    options.onClose?.();
  }

  function connectionError(code: number, message: string): void {
    if (closed) return;
    const payload = Buffer.alloc(8);
    // No stream of the server's was ever processed: the client accepts none.
    payload.writeUInt32BE(0, 0);
    payload.writeUInt32BE(code, 4);
    writer.frame(FrameType.GOAWAY, 0, 0, payload);
    endSocket();
    fail(new Http2ConnectionError(`HTTP/2 protocol error (code ${code}): ${message}`), false);
  }

  /** Sends what is written, then ends the socket; a server that never closes its side is cut. */
  function endSocket(): void {
    flushScheduled = false;
    for (const chunk of writer.take()) socket.write(chunk);
    socket.end();
    setTimeout(() => socket.destroy(), 1000).unref();
  }

  function onHead(stream: Stream, fields: Array<[string, string]>, endOfStream: boolean): void {
    if (stream.responded) {
      // Trailers: nothing in them matters to a push.
      if (endOfStream) endStream(stream, undefined);
      return;
    }
    let status: string | undefined;
    let retryAfter: string | undefined;
    for (const [name, value] of fields) {
      if (name === ':status') status = value;
      else if (name === 'retry-after' && retryAfter === undefined) retryAfter = value;
    }
    const code = status !== undefined && /^[1-5]\d\d$/.test(status) ? Number(status) : 0;
    if (code === 0) {
      resetStream(stream, ErrorCode.PROTOCOL_ERROR, 'response without a valid :status');
      return;
    }
    if (code < 200) {
      // Informational (RFC 9113 section 8.1): the final head follows.
      if (endOfStream) resetStream(stream, ErrorCode.PROTOCOL_ERROR, 'stream ended on a 1xx');
      return;
    }
    stream.responded = true;
    stream.listener.onResponse(stream.tag, code, retryAfter);
    if (endOfStream) endStream(stream, undefined);
  }

  function applySettings(payload: Buffer): boolean {
    for (let at = 0; at < payload.length; at += 6) {
      const id = payload.readUInt16BE(at);
      const value = payload.readUInt32BE(at + 2);
      if (id === Setting.MAX_CONCURRENT_STREAMS) {
        maxConcurrentStreams = value;
      } else if (id === Setting.INITIAL_WINDOW_SIZE) {
        if (value > MAX_INT31) {
          connectionError(ErrorCode.FLOW_CONTROL_ERROR, 'SETTINGS_INITIAL_WINDOW_SIZE too large');
          return false;
        }
        // Section 6.9.2: the change applies to every open stream's window.
        const delta = value - initialStreamWindow;
        initialStreamWindow = value;
        for (const stream of streams.values()) stream.sendWindow += delta;
      } else if (id === Setting.MAX_FRAME_SIZE) {
        if (value < DEFAULT_MAX_FRAME_SIZE || value > 0xff_ffff) {
          connectionError(ErrorCode.PROTOCOL_ERROR, 'SETTINGS_MAX_FRAME_SIZE out of range');
          return false;
        }
        maxFrameSize = value;
      } else if (id === Setting.ENABLE_PUSH && value > 1) {
        connectionError(ErrorCode.PROTOCOL_ERROR, 'SETTINGS_ENABLE_PUSH not 0 or 1');
        return false;
      }
      // HEADER_TABLE_SIZE: this client never indexes, so the server's table size is moot.
    }
    return true;
  }

  function onHeaders(streamId: number, block: Uint8Array, endOfStream: boolean): void {
    let fields: Array<[string, string]>;
    try {
      fields = decoder.decode(block);
    } catch (error) {
      connectionError(ErrorCode.COMPRESSION_ERROR, (error as Error).message);
      return;
    }
    // Decoded even for a stream no longer open: the HPACK table must stay in step.
    const stream = streams.get(streamId);
    if (stream !== undefined) onHead(stream, fields, endOfStream);
  }

  function onGoaway(lastStreamId: number, code: number): void {
    const first = !draining;
    draining = true;
    // Streams above the last one were not processed (section 6.8): safe to send again.
    for (const stream of [...streams.values()]) {
      if (stream.id > lastStreamId) {
        endStream(
          stream,
          new Http2StreamError(`GOAWAY (code ${code}): the server did not process the stream`),
        );
      }
    }
    if (first) options.onGoaway?.();
    if (streams.size === 0 && !closed) close();
  }

  function onWindowUpdate(streamId: number, increment: number): void {
    if (streamId === 0) {
      connectionWindow += increment;
      if (connectionWindow > MAX_INT31) {
        connectionError(ErrorCode.FLOW_CONTROL_ERROR, 'connection window overflow');
        return;
      }
    } else {
      const stream = streams.get(streamId);
      if (stream === undefined) return;
      if (increment === 0) {
        resetStream(stream, ErrorCode.PROTOCOL_ERROR, 'WINDOW_UPDATE of 0');
        return;
      }
      stream.sendWindow += increment;
      if (stream.sendWindow > MAX_INT31) {
        resetStream(stream, ErrorCode.FLOW_CONTROL_ERROR, 'stream window overflow');
        return;
      }
    }
    resumeBlocked();
  }

  const reader = createFrameReader({
    data(streamId, bytes, flowControlled, endOfStream) {
      unacknowledgedBytes += flowControlled;
      const stream = streams.get(streamId);
      if (stream === undefined) return;
      if (!stream.responded) {
        resetStream(stream, ErrorCode.PROTOCOL_ERROR, 'DATA before the response head');
        return;
      }
      if (bytes > 0) stream.listener.onData(stream.tag, bytes);
      if (endOfStream) endStream(stream, undefined);
    },
    headers: onHeaders,
    rstStream(streamId, code) {
      const stream = streams.get(streamId);
      if (stream !== undefined) {
        endStream(stream, new Http2StreamError(`stream reset by the server (code ${code})`));
      }
    },
    settings(payload) {
      if (!applySettings(payload)) return;
      writer.frame(FrameType.SETTINGS, Flag.ACK, 0);
      scheduleFlush();
      if (!receivedSettings) {
        receivedSettings = true;
        resolveReady();
      }
      resumeBlocked();
    },
    ping(payload) {
      writer.frame(FrameType.PING, Flag.ACK, 0, payload);
      scheduleFlush();
    },
    goaway: onGoaway,
    windowUpdate: onWindowUpdate,
    error: connectionError,
  });

  function onData(data: Buffer): void {
    reader.push(data);
    if (closed) return;
    // The connection's receive window, topped up once per read.
    if (unacknowledgedBytes > 0) {
      writer.word(FrameType.WINDOW_UPDATE, 0, unacknowledgedBytes);
      unacknowledgedBytes = 0;
      scheduleFlush();
    }
  }

  function close(): void {
    if (closed) return;
    // GOAWAY with last stream 0 and NO_ERROR: the server has no stream of ours to finish.
    writer.frame(FrameType.GOAWAY, 0, 0, Buffer.alloc(8));
    endSocket();
    fail(new Http2ConnectionError('HTTP/2 connection closed'), false);
  }

  socket.on('data', onData);
  socket.on('error', (error) =>
    fail(new Http2ConnectionError(`connection failed: ${error.message}`, { cause: error })),
  );
  socket.on('close', () => fail(new Http2ConnectionError('connection closed by the server')));
  socket.write(
    Buffer.concat([
      CLIENT_PREFACE,
      settingsFrame(),
      windowUpdateFrame(CONNECTION_RECEIVE_WINDOW - DEFAULT_WINDOW),
    ]),
  );

  return {
    ready,
    get maxConcurrentStreams() {
      return maxConcurrentStreams;
    },
    get openStreams() {
      return streams.size;
    },
    get usable() {
      return !draining && !closed && nextStreamId <= MAX_INT31;
    },
    request(headerBlock, body, listener, tag) {
      if (draining || closed || nextStreamId > MAX_INT31) {
        throw new Http2ConnectionError('the HTTP/2 connection takes no new streams');
      }
      const id = nextStreamId;
      nextStreamId += 2;
      const empty = body.byteLength === 0;
      if (headerBlock.byteLength <= maxFrameSize) {
        writer.frame(
          FrameType.HEADERS,
          Flag.END_HEADERS | (empty ? Flag.END_STREAM : 0),
          id,
          headerBlock,
        );
      } else {
        writer.frame(
          FrameType.HEADERS,
          empty ? Flag.END_STREAM : 0,
          id,
          headerBlock.subarray(0, maxFrameSize),
        );
        for (let at = maxFrameSize; at < headerBlock.byteLength; at += maxFrameSize) {
          const end = at + maxFrameSize >= headerBlock.byteLength;
          writer.frame(
            FrameType.CONTINUATION,
            end ? Flag.END_HEADERS : 0,
            id,
            headerBlock.subarray(at, at + maxFrameSize),
          );
        }
      }
      const stream = new Stream(
        id,
        listener as StreamListener<unknown>,
        tag,
        initialStreamWindow,
        empty ? undefined : body,
      );
      streams.set(id, stream);
      if (!pump(stream)) blocked.push(stream);
      scheduleFlush();
      return id;
    },
    cancel(streamId) {
      const stream = streams.get(streamId);
      if (stream === undefined) return;
      writer.word(FrameType.RST_STREAM, streamId, ErrorCode.CANCEL);
      scheduleFlush();
      forget(stream);
    },
    close,
    destroy(error) {
      fail(error);
    },
    ref() {
      socket.ref();
    },
    unref() {
      socket.unref();
    },
  };
}
