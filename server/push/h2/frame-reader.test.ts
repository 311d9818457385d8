import { describe, expect, it } from 'vitest';
import { createFrameReader, type FrameHandlers } from './frame-reader.js';
import { ErrorCode, Flag, FrameType } from './frames.js';
import { rawFrame as frame } from './test-frames.js';

const SETTINGS = frame(FrameType.SETTINGS, 0, 0);

function record() {
  const calls: unknown[][] = [];
  const handlers = new Proxy({} as FrameHandlers, {
    get:
      (_target, name) =>
      (...args: unknown[]) =>
        calls.push([name, ...args]),
  });
  return { calls, reader: createFrameReader(handlers) };
}

describe('createFrameReader', () => {
  it('splits frames across reads, strips padding and priority, and joins CONTINUATIONs', () => {
    const { calls, reader } = record();
    const bytes = Buffer.concat([
      SETTINGS,
      // HEADERS, padded (2) with priority, not ending the block; then its CONTINUATION.
      frame(FrameType.HEADERS, Flag.PADDED | Flag.PRIORITY, 1, [2, 0, 0, 0, 0, 9, 0x88, 0, 0]),
      frame(FrameType.CONTINUATION, Flag.END_HEADERS, 1, [0x89]),
      // DATA, padded (3 bytes of padding), 2 bytes of body, ending the stream.
      frame(FrameType.DATA, Flag.PADDED | Flag.END_STREAM, 1, [3, 7, 7, 0, 0, 0]),
    ]);
    // One byte at a time: nothing depends on how the socket cuts the stream.
    for (const byte of bytes) reader.push(Buffer.from([byte]));
    expect(calls).toEqual([
      ['settings', Buffer.alloc(0)],
      ['headers', 1, Buffer.from([0x88, 0x89]), false],
      ['data', 1, 2, 6, true],
    ]);
  });

  it.each([
    [
      'a first frame other than SETTINGS',
      [frame(FrameType.PING, 0, 0, Buffer.alloc(8))],
      ErrorCode.PROTOCOL_ERROR,
    ],
    [
      'a frame over 16,384 bytes',
      [SETTINGS, frame(FrameType.DATA, 0, 1, Buffer.alloc(16_385))],
      ErrorCode.FRAME_SIZE_ERROR,
    ],
    ['DATA on stream 0', [SETTINGS, frame(FrameType.DATA, 0, 0, [1])], ErrorCode.PROTOCOL_ERROR],
    [
      'padding longer than the frame',
      [SETTINGS, frame(FrameType.DATA, Flag.PADDED, 1, [5, 1])],
      ErrorCode.PROTOCOL_ERROR,
    ],
    [
      'a header block interrupted',
      [SETTINGS, frame(FrameType.HEADERS, 0, 1, [0x88]), frame(FrameType.DATA, 0, 1, [1])],
      ErrorCode.PROTOCOL_ERROR,
    ],
    [
      'a CONTINUATION of another stream',
      [
        SETTINGS,
        frame(FrameType.HEADERS, 0, 1, [0x88]),
        frame(FrameType.CONTINUATION, Flag.END_HEADERS, 3, [0x88]),
      ],
      ErrorCode.PROTOCOL_ERROR,
    ],
    [
      'a SETTINGS of 7 bytes',
      [SETTINGS, frame(FrameType.SETTINGS, 0, 0, Buffer.alloc(7))],
      ErrorCode.FRAME_SIZE_ERROR,
    ],
    [
      'a PUSH_PROMISE',
      [SETTINGS, frame(FrameType.PUSH_PROMISE, Flag.END_HEADERS, 1, [0, 0, 0, 2])],
      ErrorCode.PROTOCOL_ERROR,
    ],
    [
      'a connection WINDOW_UPDATE of 0',
      [SETTINGS, frame(FrameType.WINDOW_UPDATE, 0, 0, [0, 0, 0, 0])],
      ErrorCode.PROTOCOL_ERROR,
    ],
    [
      'a malformed RST_STREAM',
      [SETTINGS, frame(FrameType.RST_STREAM, 0, 1, [0, 0])],
      ErrorCode.PROTOCOL_ERROR,
    ],
  ])('ends the connection on %s, and reads nothing after', (_name, frames, code) => {
    const { calls, reader } = record();
    reader.push(Buffer.concat([...frames, frame(FrameType.PING, 0, 0, Buffer.alloc(8))]));
    const errors = calls.filter(([name]) => name === 'error');
    expect(errors).toHaveLength(1);
    expect(errors[0]?.[1]).toBe(code);
    expect(calls.at(-1)?.[0]).toBe('error');
  });

  it('passes a stream WINDOW_UPDATE of 0 on: resetting that stream is the connection’s call', () => {
    const { calls, reader } = record();
    reader.push(Buffer.concat([SETTINGS, frame(FrameType.WINDOW_UPDATE, 0, 3, [0, 0, 0, 0])]));
    expect(calls.at(-1)).toEqual(['windowUpdate', 3, 0]);
  });

  it('ignores PRIORITY and unknown frame types, and SETTINGS and PING acks', () => {
    const { calls, reader } = record();
    reader.push(
      Buffer.concat([
        SETTINGS,
        frame(FrameType.PRIORITY, 0, 1, [0, 0, 0, 0, 9]),
        frame(0x42, 0, 0, [1, 2, 3]),
        frame(FrameType.SETTINGS, Flag.ACK, 0),
        frame(FrameType.PING, Flag.ACK, 0, Buffer.alloc(8)),
      ]),
    );
    expect(calls).toEqual([['settings', Buffer.alloc(0)]]);
  });
});
