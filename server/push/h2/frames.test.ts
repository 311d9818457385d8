import { describe, expect, it } from 'vitest';
import { createFrameWriter, FRAME_HEADER_BYTES } from './frames.js';

/** Reads frames back: `[type, flags, streamId, payload]`. */
function frames(bytes: Buffer): Array<[number, number, number, Buffer]> {
  const out: Array<[number, number, number, Buffer]> = [];
  for (let at = 0; at < bytes.length; ) {
    const length = bytes.readUIntBE(at, 3);
    const payload = bytes.subarray(at + FRAME_HEADER_BYTES, at + FRAME_HEADER_BYTES + length);
    out.push([
      bytes[at + 3] as number,
      bytes[at + 4] as number,
      bytes.readUInt32BE(at + 5),
      payload,
    ]);
    at += FRAME_HEADER_BYTES + length;
  }
  return out;
}

describe('createFrameWriter', () => {
  it('hands out a tick’s frames in order, over as many chunks as they fill, without joining them', () => {
    const writer = createFrameWriter();
    expect(writer.take()).toEqual([]);
    // 100 frames of 2 KiB: about three 64 KiB chunks.
    const payloads = Array.from({ length: 100 }, (_, i) => Buffer.alloc(2048, i));
    payloads.forEach((payload, i) => {
      writer.frame(0x0, 0x1, 2 * i + 1, payload);
    });
    writer.word(0x8, 0, 65_535);
    const ranges = writer.take();
    expect(ranges.length).toBeGreaterThan(1);
    const read = frames(Buffer.concat(ranges));
    expect(read).toHaveLength(101);
    read.slice(0, 100).forEach(([type, flags, streamId, payload], i) => {
      expect([type, flags, streamId]).toEqual([0x0, 0x1, 2 * i + 1]);
      expect(payload.equals(payloads[i] as Buffer)).toBe(true);
    });
    expect(read[100]?.[3].readUInt32BE(0)).toBe(65_535);
    expect(writer.take()).toEqual([]);
  });

  it('never writes over a range it handed out: later frames go after it', () => {
    const writer = createFrameWriter();
    writer.frame(0x1, 0x4, 1, Buffer.from('first'));
    const [taken] = writer.take();
    const copy = Buffer.from(taken as Buffer);
    for (let i = 0; i < 40; i++) writer.frame(0x0, 0, 3, Buffer.alloc(4096, 0xff));
    const later = writer.take();
    expect((taken as Buffer).equals(copy)).toBe(true);
    expect(frames(Buffer.concat(later))).toHaveLength(40);
  });
});
